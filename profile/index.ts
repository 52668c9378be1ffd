// Public API of the profiler (pipeline.md "Measuring latency", "Device profile"; ofav2.md s5): measuring
// models on devices, building lookup tables, calibrating and validating the latency predictor; the names
// the CLI uses. The predictor itself, with device profiles, tables and calibrations as data, is
// profile/predict.ts, a second entry that loads no runtime; the few of its names the measuring commands
// need are re-exported here so that the CLI has one import.
export {
  loadDevice,
  listDeviceNames,
  tablePath,
  calibrationPath,
  type DeviceProfile,
  type DevicesOptions,
  type Calibration,
} from './predict.ts';
export { checkDevice } from './probe.ts';

// Measuring.
export { measureModel } from './measure.ts';
export type { MeasureOptions, Measurement, Protocol } from './measure.ts';
export type { RuntimeInfo } from './runtimes/index.ts';
export type { HostFacts } from './host.ts';
export type { SampleStats } from './stats.ts';
export { readOnnxFile, type OnnxSummary } from './model.ts';
export { openInference, type InferenceSession } from './infer.ts';
export { scoreModel, scoringDevice, nhwcToNchw, type ModelScore, type ScoreOptions, type LabelledImages } from './score.ts';
export { hostFacts } from './host.ts';
export { artifactTag } from './artifacts.ts';
// Interleaved rounds driven by the caller (the CI gate decides as it measures), and the speed reference
// that puts figures measured at different times on one scale.
export { openRounds, type RoundsOptions, type RoundsModel, type InterleavedRounds } from './rounds.ts';
export { referenceConfig, referenceModel, REFERENCE_SEED } from './reference.ts';
export { deviceKnobs, type DeviceKnobs } from './device.ts';
export type { ValueInfo } from './runtimes/index.ts';

// Lookup tables, calibration, validation.
export { buildTable, type BuildTableOptions, type BuildTableResult } from './lut.ts';
export { calibrateDevice, validatePredictor, validationPath } from './calibrate.ts';
export type { CalibrateOptions, CalibrateResult, ValidationResult, SubnetRunOptions } from './calibrate.ts';

// Profiling a new device in one run (issue 17): table, calibration and a short validation with its ceiling.
export { profileDevice, profilingFiles, profilingDir, type ProfileDeviceOptions, type ProfileDeviceResult, type ProfilingRecord } from './onboard.ts';
export type { ValidateOptions } from './calibrate.ts';
