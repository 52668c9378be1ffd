// Public API of the profiler (pipeline.md "Measuring latency", "Device profile"; ofav2.md s5): measuring
// models on devices, building lookup tables, calibrating and validating the latency predictor. The
// predictor itself, with device profiles, tables and calibrations as data, is also profile/predict.ts,
// a second entry that loads no runtime (re-exported here so that the CLI has one import).
export * from './predict.ts';

// Runtimes: plug-ins that time themselves (profile/runtimes/).
export { RUNTIMES, RUNTIME_NAMES, getRuntime } from './runtimes/index.ts';
export type { Runtime, RuntimeSession, RuntimeInfo, ValueInfo, InputSpec, InputPlan, TimingRequest, Timing } from './runtimes/index.ts';
export { checkDevice, probeModel } from './probe.ts';

// Measuring.
export { measureModel, measureInterleaved, resolveProtocol, dimsFor, DEFAULT_PROTOCOL } from './measure.ts';
export type { MeasureOptions, InterleavedOptions, Measurement, InterleavedMeasurement, Protocol } from './measure.ts';
export { planInputs, inputData } from './inputs.ts';
export { readOnnxFile, inspectOnnx, type OnnxSummary } from './model.ts';
export { hostFacts, type HostFacts } from './host.ts';
export { median, summarize, spearman, type SampleStats } from './stats.ts';
export { artifactTag } from './artifacts.ts';

// Lookup tables, calibration, validation.
export { buildTable, blockModel, type BuildTableOptions, type BuildTableResult } from './lut.ts';
export { calibrateDevice, validatePredictor, validationPath, randomSubnets } from './calibrate.ts';
export type { CalibrateOptions, CalibrateResult, ValidationResult, SubnetRunOptions } from './calibrate.ts';
export { fitCalibration } from './predictor.ts';
export { referenceConfig, referenceModel, REFERENCE_SEED } from './reference.ts';
