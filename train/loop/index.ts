// Public API of the training loop.
export * from './phases.ts';
export * from './trainer.ts';
export * from './evaluate.ts';
export * from './step.ts';
