// Public API of the parallel trainer (issue 3: both cores, same weights as one worker).
export { ParallelTrainer, type GradientOptions, type GradientStep, type ParallelTrainerOptions, type StepInput, type StepTimings, type EvaluationJob, type EvaluationResult } from './trainer.ts';
export { type Layout, type TensorSlot, layoutOf } from './layout.ts';
