// The project's SIMD kernels (train/backend/simd) against what tfjs-wasm runs without them, side by
// side in one run, at the fashion max subnet's shapes (32-image shards): the depthwise convolution
// against XNNPACK's, and training BN + activation (forward and backward) against the same maths
// composed from tfjs ops (the path tfjs-node takes). The depthwise gradients have no tfjs-wasm kernel
// to compare with (the earlier composition from other kernels is in git history: ~10x slower).
// Run alone: `flock /tmp/ofav2-heavy.lock npm run bench -- kernels`.
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../train/backend/index.ts';
import { runOriginal } from '../train/backend/kernels/compose.ts';
import { BN_EPSILON, batchNorm, hswish, type BatchNormParams } from '../train/supernet/ops.ts';

const fmt = (value: number, digits = 2) => value.toFixed(digits);

/** Fastest of `repeats` timed runs (ms) after one warm-up: the least disturbed by other load. */
function fastest(run: () => void, repeats = 7): number {
  run();
  let best = Infinity;
  for (let i = 0; i < repeats; i++) {
    const started = performance.now();
    run();
    best = Math.min(best, performance.now() - started);
  }
  return best;
}

function depthwise(): void {
  const backend = tf.backend();
  console.log('depthwise forward, batch 32 (fastest of 7): XNNPACK vs project SIMD');
  for (const [size, channels, kernel, stride] of [[14, 96, 7, 1], [14, 96, 7, 2], [7, 144, 7, 1], [7, 192, 5, 1], [4, 384, 7, 1], [14, 96, 3, 1]]) {
    const x = tf.randomNormal([32, size, size, channels]);
    const filter = tf.randomNormal([kernel, kernel, channels, 1]);
    const attrs = { strides: [stride, stride], pad: 'same', dilations: [1, 1] } as unknown as tf.NamedAttrMap;
    const args = { inputs: { x, filter } as unknown as tf.NamedTensorInfoMap, backend, attrs };
    const project = tf.getKernel(tf.DepthwiseConv2dNative, 'wasm')!.kernelFunc;
    const time = (call: () => tf.TensorInfo) => fastest(() => backend.disposeData(call().dataId));
    const xnnpack = time(() => runOriginal(tf.DepthwiseConv2dNative, args));
    const simd = time(() => project(args) as tf.TensorInfo);
    console.log(`  ${size}x${size}x${channels} k${kernel} s${stride}: XNNPACK ${fmt(xnnpack)} ms, project ${fmt(simd)} ms, x${fmt(xnnpack / simd, 1)}`);
    tf.dispose([x, filter]);
  }
}

function batchNormActivation(): void {
  console.log('training BN + h-swish, forward + backward, batch 32 (fastest of 7): tfjs ops vs fused project kernels');
  for (const [size, channels] of [[14, 96], [7, 192], [4, 384]]) {
    const x = tf.randomNormal([32, size, size, channels]);
    const dy = tf.randomNormal([32, size, size, channels]);
    const bn: BatchNormParams = {
      gamma: tf.variable(tf.ones([channels])),
      beta: tf.variable(tf.zeros([channels])),
      runningMean: tf.variable(tf.zeros([channels]), false),
      runningVariance: tf.variable(tf.ones([channels]), false),
    };
    const composed = (input: tf.Tensor) => {
      const { mean, variance } = tf.moments(input, [0, 1, 2]);
      return hswish(tf.add(tf.mul(tf.sub(input, mean), tf.mul(bn.gamma, tf.rsqrt(tf.add(variance, BN_EPSILON)))), bn.beta));
    };
    const fused = (input: tf.Tensor) => batchNorm(input, bn, { training: true }, 'hswish');
    const time = (f: (input: tf.Tensor) => tf.Tensor) =>
      fastest(() => tf.tidy(() => {
        const grads = tf.grads((input: tf.Tensor) => tf.sum(tf.mul(f(input), dy)))([x]);
        grads[0].dataSync();
      }));
    const tfjs = time(composed);
    const project = time(fused);
    console.log(`  ${size}x${size}x${channels}: tfjs ops ${fmt(tfjs)} ms, fused ${fmt(project)} ms, x${fmt(tfjs / project, 1)}`);
    tf.dispose([x, dy, bn.gamma, bn.beta, bn.runningMean, bn.runningVariance]);
  }
}

export async function run(): Promise<void> {
  await initBackend({ prefer: 'wasm', log: false });
  depthwise();
  batchNormActivation();
}
