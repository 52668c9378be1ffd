// Public API of the trainer stage (pipeline.md): the supernet, its backend, data sets, checkpoints,
// the optimiser, the data-parallel step and the training loop. Downstream stages use only the static
// world (StaticSubnet, staticForward) and checkpoints; nothing downstream knows about elasticity.
export { openSupernet, resolveCheckpointDir, readSupernetCheckpoint, type OpenedSupernet, type OpenSupernetOptions, type SupernetFacts, type EvalData, type EvaluateOptions, type CheckpointChoice } from './open.ts';
export { Supernet, computeGradients, subnetLoss, EXIT_WEIGHTS, type ForwardOptions, type SupernetOptions } from './supernet/index.ts';
export { initBackend, type BackendInfo, type BackendOptions, type BackendPreference } from './backend/index.ts';
export { loadDataset, DATASETS, PRESET_DATASETS, BatchIterator, type DatasetSplits, type DatasetSpec, type ImageSet } from './data/index.ts';
export { saveCheckpoint, loadCheckpoint, latestCheckpoint, type Checkpoint, type CheckpointManifest } from './checkpoint/index.ts';
export { learningRate, sgdStep, type LearningRateSchedule } from './optim/index.ts';
export { ParallelTrainer, type ParallelTrainerOptions } from './parallel/index.ts';
export { train, phasesFor, getPhase, evaluateSubnet, type Phase, type PhaseName, type TrainOptions, type TrainResult } from './loop/index.ts';
export { trainEps, planEps, EPS_STATE_FILE, EPS_TEACHERS, type EpsOptions, type EpsState, type EpsPhaseState, type EpsTeacher, type EpsResult } from './eps/schedule.ts';
