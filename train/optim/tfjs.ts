// The SGD step (sgd.ts) applied to tfjs variables and gradient tensors, e.g. those of
// train/supernet computeGradients: values are read once, updated with the pure function, written back.
// Reading and writing a few million floats costs a few ms per step on the cpu and wasm backends.
import * as tf from '@tensorflow/tfjs-core';
import { OfaError } from '../../lib/errors.ts';
import { firstNonFinite, sgdStep, type SgdOptions } from './sgd.ts';

export interface ApplySgdOptions extends SgdOptions {
  /** Refuse non-finite gradients before touching any variable (default true): the NaN/Inf guard. */
  checkFinite?: boolean;
}

/**
 * One SGD step on `parameters` with `gradients` (absent = not used this step: left alone). Momentum
 * buffers live in `momentumBuffers` (plain arrays, so that checkpoints and workers can hold them).
 * Does not dispose the gradients. Throws E_NON_FINITE, with nothing changed, when a gradient is NaN/Inf.
 */
export function applySgd(
  parameters: Map<string, tf.Variable>,
  gradients: Map<string, tf.Tensor>,
  momentumBuffers: Map<string, Float32Array>,
  options: ApplySgdOptions,
): number {
  const values = new Map<string, Float32Array>();
  const grads = new Map<string, Float32Array>();
  for (const [name, gradient] of gradients) {
    const variable = parameters.get(name);
    if (!variable) throw new OfaError('E_OPTIMIZER', `gradient ${JSON.stringify(name)} has no parameter of that name`, { kind: 'failure' });
    if (gradient.shape.join('x') !== variable.shape.join('x')) {
      throw new OfaError('E_OPTIMIZER', `gradient ${JSON.stringify(name)} has shape [${gradient.shape.join(', ')}], its parameter [${variable.shape.join(', ')}]`, { kind: 'failure' });
    }
    grads.set(name, gradient.dataSync() as Float32Array);
  }
  if (options.checkFinite ?? true) {
    const bad = firstNonFinite(grads);
    if (bad !== undefined) {
      throw new OfaError('E_NON_FINITE', `the gradient of ${bad} holds NaN or Inf; no parameter was updated`, {
        hint: 'lower the learning rate or resume from the last checkpoint', kind: 'failure',
      });
    }
  }
  for (const name of grads.keys()) values.set(name, Float32Array.from(parameters.get(name)!.dataSync() as Float32Array));
  const updated = sgdStep(values, grads, momentumBuffers, options);
  for (const [name, value] of values) {
    const variable = parameters.get(name)!;
    const next = tf.tensor(value, variable.shape, 'float32');
    variable.assign(next);
    next.dispose();
  }
  return updated;
}
