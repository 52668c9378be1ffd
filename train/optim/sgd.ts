// SGD with Nesterov momentum and weight decay (ofav2.md s3: momentum 0.9, weight decay 3e-5, not on BN
// parameters or biases), with PyTorch's semantics, as pure functions on named Float32Arrays so that they
// work with any tfjs backend and inside worker threads:
//   d = g + weightDecay * w          (weightDecay = 0 for names ending .gamma / .beta / .bias)
//   buf = momentum * buf + d          (buf starts at 0, so the first step gives buf = d, as PyTorch)
//   step = d + momentum * buf         (Nesterov; plain momentum: step = buf)
//   w -= learningRate * step
// A parameter without a gradient this step (a weight no sampled subnet used) is left alone, momentum
// included, like PyTorch skips parameters whose .grad is None.
import { OfaError } from '../../lib/errors.ts';

export interface SgdOptions {
  learningRate: number;
  /** Default 0.9. */
  momentum?: number;
  /** Default 3e-5. */
  weightDecay?: number;
  /** Default true. */
  nesterov?: boolean;
  /** Names that get no weight decay; default: BN parameters and biases (isDecayExcluded). */
  decayExcluded?: (name: string) => boolean;
}

export const SGD_DEFAULTS = { momentum: 0.9, weightDecay: 3e-5, nesterov: true } as const;

/** ofav2.md s3 and the supernet contract: no weight decay on BN gamma/beta and on biases. */
export function isDecayExcluded(name: string): boolean {
  return name.endsWith('.gamma') || name.endsWith('.beta') || name.endsWith('.bias');
}

/**
 * One SGD step in place on `parameters`, creating momentum buffers on first use in `momentumBuffers`.
 * Returns the number of parameters updated.
 */
export function sgdStep(
  parameters: Map<string, Float32Array>,
  gradients: Map<string, Float32Array>,
  momentumBuffers: Map<string, Float32Array>,
  options: SgdOptions,
): number {
  const { learningRate } = options;
  const momentum = options.momentum ?? SGD_DEFAULTS.momentum;
  const weightDecay = options.weightDecay ?? SGD_DEFAULTS.weightDecay;
  const nesterov = options.nesterov ?? SGD_DEFAULTS.nesterov;
  const excluded = options.decayExcluded ?? isDecayExcluded;
  if (!Number.isFinite(learningRate) || learningRate < 0) throw new OfaError('E_OPTIMIZER', `learning rate ${learningRate} is not allowed; allowed: a finite number >= 0`);
  if (!(momentum >= 0 && momentum < 1)) throw new OfaError('E_OPTIMIZER', `momentum ${momentum} is not allowed; allowed: [0, 1)`);
  if (!(weightDecay >= 0)) throw new OfaError('E_OPTIMIZER', `weight decay ${weightDecay} is not allowed; allowed: >= 0`);
  let updated = 0;
  for (const [name, gradient] of gradients) {
    const weights = parameters.get(name);
    if (!weights) throw new OfaError('E_GRADIENT', `gradient ${JSON.stringify(name)} has no parameter of that name`, { kind: 'failure' });
    if (gradient.length !== weights.length) {
      throw new OfaError('E_GRADIENT', `gradient ${JSON.stringify(name)} has ${gradient.length} values, its parameter ${weights.length}`, { kind: 'failure' });
    }
    let buffer = momentumBuffers.get(name);
    if (!buffer) {
      buffer = new Float32Array(weights.length);
      momentumBuffers.set(name, buffer);
    } else if (buffer.length !== weights.length) {
      throw new OfaError('E_GRADIENT', `momentum buffer ${JSON.stringify(name)} has ${buffer.length} values, its parameter ${weights.length}`, { kind: 'failure' });
    }
    const decay = excluded(name) ? 0 : weightDecay;
    for (let i = 0; i < weights.length; i++) {
      const d = gradient[i] + decay * weights[i];
      const b = momentum * buffer[i] + d;
      buffer[i] = b;
      weights[i] -= learningRate * (nesterov ? d + momentum * b : b);
    }
    updated++;
  }
  return updated;
}

/**
 * Accumulates `gradients` (times `scale`) into `into` (ofav2.md s3: the gradients of the subnets
 * sampled in one step are accumulated before the update). Missing entries are created.
 */
export function accumulateGradients(into: Map<string, Float32Array>, gradients: Map<string, Float32Array>, scale = 1): void {
  for (const [name, gradient] of gradients) {
    const sum = into.get(name);
    if (!sum) {
      const copy = new Float32Array(gradient.length);
      for (let i = 0; i < gradient.length; i++) copy[i] = gradient[i] * scale;
      into.set(name, copy);
    } else {
      if (sum.length !== gradient.length) throw new OfaError('E_GRADIENT', `gradient ${JSON.stringify(name)} has ${gradient.length} values, the accumulated one ${sum.length}`, { kind: 'failure' });
      for (let i = 0; i < gradient.length; i++) sum[i] += gradient[i] * scale;
    }
  }
}

/** True when every value is finite (the trainer's NaN/Inf guard). Returns the first bad name otherwise. */
export function firstNonFinite(values: Map<string, Float32Array>): string | undefined {
  for (const [name, array] of values) {
    for (let i = 0; i < array.length; i++) if (!Number.isFinite(array[i])) return name;
  }
  return undefined;
}

/** For the checkpoint manifest's optimiser summary. */
export function sgdStateSummary(momentumBuffers: Map<string, Float32Array>): { momentumBuffers: number; momentumValues: number } {
  let values = 0;
  for (const buffer of momentumBuffers.values()) values += buffer.length;
  return { momentumBuffers: momentumBuffers.size, momentumValues: values };
}

/** SGD with its state: the momentum buffers, by parameter name (what a checkpoint saves). */
export class SgdOptimizer {
  readonly momentum = new Map<string, Float32Array>();

  /** One update in place on `parameters`; returns the number of parameters updated. */
  step(parameters: Map<string, Float32Array>, gradients: Map<string, Float32Array>, options: SgdOptions): number {
    return sgdStep(parameters, gradients, this.momentum, options);
  }
}
