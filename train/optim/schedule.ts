// Learning rate per step (ofav2.md s3: cosine schedule with linear warm-up), following OFA's
// run_manager: during warm-up lr = start + (base - start) * (step + 1) / warmupSteps, so the last
// warm-up step reaches baseLr; then lr = baseLr * (1 + cos(pi * t / T)) / 2 over the remaining steps
// (t counted from the end of warm-up, T = the steps after warm-up), 0 from the end on.
// Unlike OFA, whose warm-up epochs come on top of n_epochs, `epochs` here is the whole phase INCLUDING
// the warm-up, so that `--epochs N` trains N epochs.
import { OfaError } from '../../lib/errors.ts';

export interface LearningRateSchedule {
  baseLr: number;
  /** Linear warm-up epochs at the start (may be 0 or fractional). */
  warmupEpochs: number;
  /** All epochs of the phase, warm-up included. */
  epochs: number;
  stepsPerEpoch: number;
  /** Where warm-up starts (default 0, as OFA). */
  warmupStartLr?: number;
  /**
   * 'linear' (default): a linear ramp inside `epochs`. 'constant-on-top' (ofav2.md s3, the paper's
   * code): the warm-up epochs run at the constant base LR and come on top of `epochs`, which the
   * cosine then covers whole.
   */
  warmup?: 'linear' | 'constant-on-top';
}

/** Optimiser steps of the whole schedule (warm-up included). */
export function scheduleSteps(schedule: LearningRateSchedule): number {
  const warmupSteps = Math.round(schedule.warmupEpochs * schedule.stepsPerEpoch);
  const steps = Math.round(schedule.epochs * schedule.stepsPerEpoch);
  return schedule.warmup === 'constant-on-top' ? warmupSteps + steps : steps;
}

export function checkSchedule(schedule: LearningRateSchedule): void {
  const { baseLr, warmupEpochs, epochs, stepsPerEpoch } = schedule;
  const problems: string[] = [];
  if (!(Number.isFinite(baseLr) && baseLr >= 0)) problems.push(`baseLr ${baseLr} (allowed: a finite number >= 0)`);
  if (!(Number.isFinite(epochs) && epochs > 0)) problems.push(`epochs ${epochs} (allowed: > 0)`);
  if (!(Number.isFinite(warmupEpochs) && warmupEpochs >= 0 && (schedule.warmup === 'constant-on-top' || warmupEpochs <= epochs))) problems.push(`warmupEpochs ${warmupEpochs} (allowed: 0..epochs)`);
  if (!(Number.isInteger(stepsPerEpoch) && stepsPerEpoch > 0)) problems.push(`stepsPerEpoch ${stepsPerEpoch} (allowed: a positive integer)`);
  if (problems.length > 0) throw new OfaError('E_SCHEDULE', `learning-rate schedule: ${problems.join('; ')}`);
}

/** The learning rate of optimiser step `step` (0-based, counted from the start of the phase). */
export function learningRate(schedule: LearningRateSchedule, step: number): number {
  checkSchedule(schedule);
  if (!Number.isInteger(step) || step < 0) throw new OfaError('E_SCHEDULE', `step ${step} is not allowed; allowed: an integer >= 0`);
  const { baseLr, stepsPerEpoch } = schedule;
  const warmupSteps = Math.round(schedule.warmupEpochs * stepsPerEpoch);
  if (schedule.warmup === 'constant-on-top') {
    if (step < warmupSteps) return baseLr;
    const cosineSteps = Math.round(schedule.epochs * stepsPerEpoch);
    const t = Math.min(step - warmupSteps, cosineSteps);
    return 0.5 * baseLr * (1 + Math.cos((Math.PI * t) / cosineSteps));
  }
  const totalSteps = Math.round(schedule.epochs * stepsPerEpoch);
  if (step < warmupSteps) {
    const start = schedule.warmupStartLr ?? 0;
    return start + ((baseLr - start) * (step + 1)) / warmupSteps;
  }
  const cosineSteps = totalSteps - warmupSteps;
  if (cosineSteps <= 0) return baseLr;
  const t = Math.min(step - warmupSteps, cosineSteps);
  return 0.5 * baseLr * (1 + Math.cos((Math.PI * t) / cosineSteps));
}
