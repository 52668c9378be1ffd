// The latency predictor's public entry (pipeline.md "profile/ ... a pure predictor"): device profiles,
// lookup tables and calibrations as data, and predictions from them. A search, a CI gate or a report
// imports this entry, not profile/index.ts: nothing reachable from here loads a runtime, an ONNX library
// or a training engine (test/profile/predict.test.ts checks the loaded modules in a fresh process).
// Measuring is profile/index.ts's.
export {
  loadDevice,
  listDeviceNames,
  validateDevice,
  findDeviceFaults,
  formatDeviceFault,
  deviceDataDir,
  DEFAULT_DEVICES_DIR,
  type DeviceProfile,
  type DevicesOptions,
  type DeviceFault,
  DEVICE_KNOBS_SCHEMA,
  type DeviceKnobs,
} from './device.ts';
// The schemas of what a table records of its host and device, for the readers of other stages' files.
export { HOST_FACTS_SCHEMA, type HostFacts } from './host.ts';
export {
  readTable,
  loadTable,
  tablePath,
  entryMs,
  DEFAULT_STATISTIC,
  LATENCY_STATISTICS,
  type LatencyTable,
  type LutEntry,
  type LatencyStatistic,
  type ReferenceRecord,
} from './table.ts';
export {
  makePredictor,
  loadPredictor,
  tableSum,
  applyCalibration,
  readCalibration,
  loadCalibration,
  calibrationPath,
  predictorQuality,
  checkPrediction,
  type LatencyPredictor,
  type Prediction,
  type TableSum,
  type Calibration,
  type CalibrationCoefficients,
} from './predictor.ts';
export type { PredictorQuality } from './validation.ts';
export { readValidation, loadValidation, validationPath, type ValidationResult } from './validation.ts';
export { ARTIFACT_FORMATS, type ArtifactKind } from './artifacts.ts';
// The default settings of `ofa profile device` (light: the CLI declares its flags from them).
export { PROFILE_DEVICE_DEFAULTS, estimatePlan, type ProfileDeviceSettings } from './onboard-plan.ts';
