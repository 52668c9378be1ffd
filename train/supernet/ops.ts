// Small differentiable building blocks of the supernet: activations, batch normalisation over a channel
// prefix (elastic expand), and the elastic-kernel transforms. Everything here is plain tfjs-core ops,
// so gradients come from tfjs and any backend (cpu, wasm + the project's kernels) can run them.
import * as tf from '@tensorflow/tfjs-core';
import type { Activation } from '../../space/index.ts';
import { BATCH_NORM_ACTIVATE, BATCH_NORM_ACTIVATE_GRAD, BATCH_NORM_MOMENTS, type BatchNormAttrs, readInto } from '../backend/index.ts';

/** The BN epsilon and running-statistics momentum of the contract (PyTorch defaults). */
export const BN_EPSILON = 1e-5;
export const BN_MOMENTUM = 0.1;

/** ofav2.md s1: h-swish(x) = x * relu6(x + 3) / 6 (MobileNetV3). */
export function hswish(x: tf.Tensor): tf.Tensor {
  return tf.mul(x, tf.div(tf.relu6(tf.add(x, 3)), 6));
}

/** h-sigmoid(x) = relu6(x + 3) / 6: the SE gate. */
export function hsigmoid(x: tf.Tensor): tf.Tensor {
  return tf.div(tf.relu6(tf.add(x, 3)), 6);
}

export function activate<T extends tf.Tensor>(x: T, activation: Activation | 'hsigmoid' | 'none'): T {
  switch (activation) {
    case 'relu':
      return tf.relu(x);
    case 'hswish':
      return hswish(x) as T;
    case 'hsigmoid':
      return hsigmoid(x) as T;
    case 'none':
      return x;
  }
}

/** The first `count` entries of a 1-D variable (elastic expand keeps the first `mid` channels). */
export function prefix(v: tf.Tensor1D, count: number): tf.Tensor1D {
  return count === v.shape[0] ? v : tf.slice(v, [0], [count]);
}

export interface BatchNormParams {
  gamma: tf.Variable;
  beta: tf.Variable;
  runningMean: tf.Variable;
  runningVariance: tf.Variable;
}

/** BN recalibration (ofav2.md s3): sums of exact batch statistics per BN, instead of momentum updates. */
export type StatisticsAccumulator = Map<BatchNormParams, { mean: tf.Tensor1D; variance: tf.Tensor1D; batches: number }>;

export interface BatchNormMode {
  training: boolean;
  /** When set (training mode only), batch statistics are summed here and the running ones left alone. */
  statistics?: StatisticsAccumulator;
  /**
   * Eval mode only: BN + activation as the project's one fused kernel (SIMD on wasm) with the running
   * statistics, instead of tfjs's BN then separate activation kernels. About 40% of an eval forward
   * was tfjs-wasm's FusedBatchNorm; evaluation (validation, `ofa eval`) uses this path. Rounding
   * differs from the static forward's tf.batchNorm by float ulps (tested to 1e-4 of the logits).
   */
  fusedEval?: boolean;
}

/**
 * BN over the first `channels` channels of an NHWC (or NC) tensor, then `activation`. Training mode
 * normalises with the batch statistics and updates the running statistics of those channels in place
 * (running = 0.9 * running + 0.1 * batch, the batch variance unbiased as in PyTorch); eval mode uses
 * the running statistics. In training, backends with the project's fused kernels (wasm, cpu:
 * train/backend/kernels/batch_norm.ts) run BN + activation as one kernel forward and one backward;
 * others compose it from tfjs ops.
 */
export function batchNorm<T extends tf.Tensor>(x: T, bn: BatchNormParams, mode: BatchNormMode, activation: Activation | 'none' = 'none'): T {
  const channels = x.shape[x.rank - 1] as number;
  const gamma = prefix(bn.gamma as tf.Tensor1D, channels);
  const beta = prefix(bn.beta as tf.Tensor1D, channels);
  if (!mode.training) {
    // The fused kernel, as the static forward (subnet/forward.ts) uses: eval outputs agree to
    // float rounding even where a channel's variance is tiny and amplifies every rounding difference.
    const mean = prefix(bn.runningMean as tf.Tensor1D, channels);
    const variance = prefix(bn.runningVariance as tf.Tensor1D, channels);
    if (mode.fusedEval && tf.getKernel(BATCH_NORM_ACTIVATE, tf.getBackend()) !== undefined) {
      const attrs: BatchNormAttrs = { activation, epsilon: BN_EPSILON };
      return tf.engine().runKernel(BATCH_NORM_ACTIVATE, { x, mean, variance, gamma, beta }, attrs as unknown as tf.NamedAttrMap) as T;
    }
    return activate(tf.batchNorm(x, mean, variance, beta, gamma, BN_EPSILON) as T, activation);
  }
  if (tf.getKernel(BATCH_NORM_ACTIVATE, tf.getBackend()) !== undefined) {
    const [mean, variance] = tf.engine().runKernel(BATCH_NORM_MOMENTS, { x }) as tf.Tensor1D[];
    if (mode.statistics) accumulateStatistics(mode.statistics, bn, mean, variance);
    else updateRunningStatistics(bn, mean, variance, x.size / channels);
    return fusedBatchNorm(x, gamma, beta, mean, variance, activation) as T;
  }
  const axes = Array.from({ length: x.rank - 1 }, (_, i) => i);
  const { mean, variance } = tf.moments(x, axes);
  if (mode.statistics) accumulateStatistics(mode.statistics, bn, mean as tf.Tensor1D, variance as tf.Tensor1D);
  else updateRunningStatistics(bn, mean as tf.Tensor1D, variance as tf.Tensor1D, x.size / channels);
  const scale = tf.mul(gamma, tf.rsqrt(tf.add(variance, BN_EPSILON)));
  return activate(tf.add(tf.mul(tf.sub(x, mean), scale), beta) as T, activation);
}

/**
 * act(BN(x)) with the batch statistics `mean` and `variance` of x, as one kernel with one gradient
 * kernel. The gradient kernel differentiates through the statistics itself (they are functions of x),
 * so they are not inputs of the differentiated op.
 */
function fusedBatchNorm(x: tf.Tensor, gamma: tf.Tensor1D, beta: tf.Tensor1D, mean: tf.Tensor1D, variance: tf.Tensor1D, activation: Activation | 'none'): tf.Tensor {
  const attrs: BatchNormAttrs = { activation, epsilon: BN_EPSILON };
  const op = tf.customGrad(((input: tf.Tensor, scale: tf.Tensor, shift: tf.Tensor, save: tf.GradSaveFunc) => {
    const value = tf.engine().runKernel(BATCH_NORM_ACTIVATE, { x: input, mean, variance, gamma: scale, beta: shift }, attrs as unknown as tf.NamedAttrMap) as tf.Tensor;
    save([input, scale, shift, mean, variance]);
    return {
      value,
      gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
        const [savedX, savedGamma, savedBeta, savedMean, savedVariance] = saved;
        const inputs = { dy: dy as tf.Tensor, x: savedX, mean: savedMean, variance: savedVariance, gamma: savedGamma, beta: savedBeta };
        return tf.engine().runKernel(BATCH_NORM_ACTIVATE_GRAD, inputs, attrs as unknown as tf.NamedAttrMap) as tf.Tensor[];
      },
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  return op(x, gamma, beta);
}

function accumulateStatistics(statistics: StatisticsAccumulator, bn: BatchNormParams, mean: tf.Tensor1D, variance: tf.Tensor1D): void {
  const previous = statistics.get(bn);
  if (previous && previous.mean.shape[0] !== mean.shape[0]) {
    throw new Error('BN recalibration: one BN seen with two channel counts in one subnet');
  }
  const next = tf.tidy(() => ({
    mean: tf.keep(previous ? tf.add(previous.mean, mean) : tf.clone(mean)) as tf.Tensor1D,
    variance: tf.keep(previous ? tf.add(previous.variance, variance) : tf.clone(variance)) as tf.Tensor1D,
  }));
  if (previous) tf.dispose([previous.mean, previous.variance]);
  statistics.set(bn, { ...next, batches: (previous?.batches ?? 0) + 1 });
}

/** Sets the running statistics of the accumulated channels to the averages (and frees the sums). */
export function applyStatistics(statistics: StatisticsAccumulator): void {
  for (const [bn, sums] of statistics) {
    const channels = sums.mean.shape[0];
    for (const [running, sum] of [
      [bn.runningMean, sums.mean],
      [bn.runningVariance, sums.variance],
    ] as const) {
      const total = running.shape[0] as number;
      const next = tf.tidy(() => {
        const head = tf.div(sum, sums.batches);
        return channels === total ? head : tf.concat([head, tf.slice(running, [channels], [total - channels])]);
      });
      running.assign(next);
      next.dispose();
    }
    tf.dispose([sums.mean, sums.variance]);
  }
  statistics.clear();
}

function updateRunningStatistics(bn: BatchNormParams, mean: tf.Tensor1D, variance: tf.Tensor1D, count: number): void {
  // The running statistics are state, not part of the loss: no gradient reaches them from the loss.
  // A few hundred floats per BN, blended in JavaScript: as tfjs ops this was a dozen kernels per BN.
  const unbiased = count > 1 ? count / (count - 1) : 1;
  for (const [running, batch, factor] of [[bn.runningMean, mean, 1], [bn.runningVariance, variance, unbiased]] as const) {
    const values = new Float32Array(running.size);
    readInto(running, values);
    const update = new Float32Array(batch.size);
    readInto(batch, update);
    for (let c = 0; c < update.length; c++) values[c] = values[c] * (1 - BN_MOMENTUM) + update[c] * factor * BN_MOMENTUM;
    const next = tf.tensor1d(values);
    running.assign(next);
    next.dispose();
  }
}

/**
 * ofav2.md s2 elastic kernel: the depthwise weight of kernel size k from the stored 7x7 one
 * [7, 7, C, 1]: 5x5 = T75 applied to its centre 5x5, 3x3 = T53 applied to the centre 3x3 of that 5x5.
 * A transform [k*k, k*k] maps the k*k taps of each channel (row-major), shared by all channels.
 */
export function elasticKernel(weight7: tf.Tensor4D, kernelSize: number, transform75: tf.Tensor2D, transform53: tf.Tensor2D): tf.Tensor4D {
  const maxSize = weight7.shape[0];
  if (kernelSize === maxSize) return weight7;
  const channels = weight7.shape[2];
  const transformed = (source: tf.Tensor4D, from: number, to: number, matrix: tf.Tensor2D): tf.Tensor4D => {
    const start = (from - to) / 2;
    const crop = tf.slice(source, [start, start, 0, 0], [to, to, channels, 1]);
    const taps = tf.reshape(crop, [to * to, channels]);
    return tf.reshape(tf.matMul(matrix, taps), [to, to, channels, 1]);
  };
  const weight5 = transformed(weight7, maxSize, 5, transform75);
  if (kernelSize === 5) return weight5;
  return transformed(weight5, 5, 3, transform53);
}
