// Public API of the search stage (pipeline.md; ofav2.md s4): the accuracy data set measured on a trained
// supernet, the accuracy predictor fitted on it, and the evolutionary search per device that reads each
// latency budget's pick off one front. Nothing reachable from here loads a training engine or a runtime
// at import: the data set takes an opened supernet (train/index.ts openSupernet) from its caller, and the
// search predicts latency with profile/predict.ts and accuracy with a plain-TypeScript MLP.
export {
  measureAccuracyDataset,
  readAccuracyDataset,
  datasetConfigs,
  type AccuracyDataset,
  type DatasetHeader,
  type DatasetRow,
  type DatasetSupernet,
  type MeasureDatasetOptions,
  type MeasureDatasetResult,
  type SupernetRecord,
} from './dataset.ts';
export {
  fitAccuracyPredictor,
  readAccuracyPredictor,
  loadAccuracyPredictor,
  accuracyPredictorOf,
  checkPredictorCheckpoint,
  PREDICTOR_DEFAULTS,
  MIN_FIT_SUBNETS,
  type AccuracyPredictor,
  type FitOptions,
  type HeldOutReport,
  type PredictorFile,
} from './predictor.ts';
export type { PredictionQuality } from './metrics.ts';
export {
  searchDevices,
  prepareDevice,
  searchPrepared,
  smallestSubnet,
  checkAccuracySpace,
  SEARCH_ALGORITHMS,
  type SearchAlgorithm,
  type SearchDevice,
  type SearchOptions,
  type DeviceSearchResult,
  type PickRecord,
  type PreparedDevice,
} from './search.ts';
export { loadSearchDevice, type SearchDeviceOptions } from './devices.ts';
export { NSGA2_DEFAULTS, EVOLUTION_DEFAULTS, type Nsga2Settings, type EvolutionSettings } from './evolve.ts';
export type { AccuracyModel, LatencyModel } from './candidates.ts';
export { SEARCH_FORMATS, searchTag } from './artifacts.ts';
