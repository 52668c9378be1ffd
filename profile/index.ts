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
export { measureModel, measureInterleaved, dimsFor } from './measure.ts';
export type { MeasureOptions, InterleavedOptions, Measurement, InterleavedMeasurement, Protocol } from './measure.ts';
export { planInputs } from './inputs.ts';
export { readOnnxFile, type OnnxSummary } from './model.ts';
export type { HostFacts } from './host.ts';
export type { SampleStats } from './stats.ts';
export { artifactTag } from './artifacts.ts';

// Lookup tables, calibration, validation; the speed reference measured beside them.
export { buildTable, type BuildTableOptions, type BuildTableResult } from './lut.ts';
export { calibrateDevice, validatePredictor, validationPath } from './calibrate.ts';
export type { CalibrateOptions, CalibrateResult, ValidationResult, SubnetRunOptions } from './calibrate.ts';
export { referenceModel } from './reference.ts';
