// Public API of the trainer stage (pipeline.md), the names the other stages and the CLI use: openSupernet,
// the one boundary out of the elastic world (manifest facts, static subnets, evaluation), the data sets,
// and the two training entries. Nothing downstream knows about elasticity; the supernet, backend,
// checkpoint, optimiser and parallel modules are the stage's own (tests import them from their modules).
export { readSupernetFacts } from './facts.ts';
export {
  openSupernet,
  type OpenedSupernet,
  type OpenSupernetOptions,
  type SupernetFacts,
  type EvalData,
  type EvaluateOptions,
  type CheckpointChoice,
} from './open.ts';
export { loadDataset, PRESET_DATASETS, type DatasetLoadOptions, type DatasetSplits, type DatasetSpec, type ImageSet } from './data/index.ts';
export type { BackendPreference } from './backend/index.ts';
// A set's images at a resolution as the evaluation feeds them (NHWC float32): what a deploy scores its ONNX file on.
export { imagesAt } from './loop/evaluate.ts';
export { train, type TrainOptions, type TrainResult, type EvalResult } from './loop/index.ts';
export { trainEps, type EpsOptions, type EpsResult, type EpsTeacher } from './eps/schedule.ts';
export { packSupernet, PACKED_CHECKPOINT } from './pack.ts';
