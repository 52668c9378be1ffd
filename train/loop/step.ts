// One training step (ofav2.md s3): the data-parallel gradients of the step's subnets, the NaN/Inf
// guard, then the SGD update of the shared parameters. The seam between the parallel trainer (which
// computes) and the optimiser (which owns its state).
import { OfaError } from '../../lib/errors.ts';
import type { SubnetConfig } from '../../space/index.ts';
import { firstNonFinite, type SgdOptimizer, type SgdOptions } from '../optim/index.ts';
import type { GradientOptions, GradientStep, ParallelTrainer, StepInput } from '../parallel/index.ts';

export interface StepOptions extends GradientOptions, Omit<SgdOptions, 'learningRate'> {
  /** Learning rate of this step (the schedule is the caller's). */
  lr: number;
}

export async function trainStep(trainer: ParallelTrainer, optimizer: SgdOptimizer, configs: readonly SubnetConfig[], input: StepInput, options: StepOptions): Promise<GradientStep> {
  const { lr, momentum, weightDecay, nesterov, decayExcluded, ...gradientOptions } = options;
  const result = await trainer.computeGradients(configs, input, gradientOptions);
  // The NaN/Inf guard: a non-finite loss or gradient never reaches the parameters or the momentum.
  const badGradient = Number.isFinite(result.loss) && !trainer.lastGradientsFinite ? (firstNonFinite(result.gradients) ?? 'an unused parameter') : undefined;
  if (!Number.isFinite(result.loss) || badGradient !== undefined) {
    const what = badGradient === undefined ? `the loss is ${result.loss}` : `the gradient of ${badGradient} holds NaN or Inf (loss ${result.loss})`;
    throw new OfaError('E_NON_FINITE', `${what}; no parameter was updated`, { hint: 'lower the learning rate or resume from the last checkpoint', kind: 'failure' });
  }
  const started = performance.now();
  optimizer.step(trainer.parameters, result.gradients, { learningRate: lr, momentum, weightDecay, nesterov, decayExcluded });
  result.timings.update = performance.now() - started;
  result.timings.total += result.timings.update;
  return result;
}
