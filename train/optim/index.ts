// Public API of the optimiser (pure functions on named Float32Arrays). The losses (label-smoothed CE,
// KD, exit ensembles) live with the supernet in train/supernet/loss.ts.
export * from './sgd.ts';
export * from './schedule.ts';
