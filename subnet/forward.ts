// The eval-mode forward of one static subnet in TensorFlow.js (NHWC). It is the reference the exporter's
// ONNX graphs are checked against (issue 5), and what the supernet's eval forward must agree with: the
// same blocks, in the same order, with BN using its moving statistics (ofav2.md s1).
//
// Summation order of dense skips (ofav2.md s1, "Dense skip connections"): the input of layer d >= 2 is
// y_{d-1} + y_1 + ... + y_{d-3} summed left to right, the stage output y_D + y_1 + ... + y_{D-2}
// (space/geometry.ts denseSkipTerms); the ONNX exporter emits the Adds in the same order so that both
// agree to float rounding.
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { activeBranches, denseSkipTerms } from '../space/index.ts';
import type { StaticBatchNorm, StaticConv, StaticHead, StaticLayer, StaticMBConv, StaticSqueezeExcite, StaticStage, StaticSubnet, StaticTensor } from './types.ts';

type Act = StaticConv['activation'];

export interface StaticForwardOptions {
  /**
   * Called with the input of every BN just before it is applied (BN recalibration, ofav2.md s3; the
   * exporter's random weights use it to give BN statistics of the right scale). It may change `bn`.
   */
  beforeBatchNorm?: (input: tf.Tensor4D, bn: StaticBatchNorm) => void;
}

const NO_OPTIONS: StaticForwardOptions = {};

/**
 * A process that has not chosen a tfjs backend yet gets the cpu one. Without this, the first op picks
 * the highest-priority REGISTERED backend (wasm, once train/ is loaded), which needs an async init
 * first and fails ("backend 'wasm' has not yet been initialized"). A backend already chosen (the
 * trainer's wasm) is kept. The cpu backend initialises synchronously, so this works in sync code.
 */
export function ensureBackend(): void {
  const engine = tf.engine() as unknown as { backendName?: string | null };
  if (!engine.backendName) void tf.setBackend('cpu');
}

/** h-swish x * relu6(x + 3) / 6 and h-sigmoid relu6(x + 3) / 6 (MobileNetV3; ONNX HardSwish/HardSigmoid). */
export function applyActivation<T extends tf.Tensor>(x: T, activation: Act): T {
  switch (activation) {
    case 'relu':
      return tf.relu(x);
    case 'hswish':
      return tf.mul(x, tf.div(tf.relu6(tf.add(x, 3)), 6)) as T;
    case 'hsigmoid':
      return tf.div(tf.relu6(tf.add(x, 3)), 6) as T;
    case 'none':
      return x;
  }
}

function tensorOf(t: StaticTensor): tf.Tensor {
  return tf.tensor(t.data, t.shape, 'float32');
}

function batchNorm(x: tf.Tensor4D, bn: StaticBatchNorm, options: StaticForwardOptions): tf.Tensor4D {
  options.beforeBatchNorm?.(x, bn);
  return tf.batchNorm4d(x, tf.tensor1d(bn.runningMean), tf.tensor1d(bn.runningVariance), tf.tensor1d(bn.beta), tf.tensor1d(bn.gamma), bn.epsilon);
}

/** Convolution ('same' padding) -> bias -> BN (moving statistics) -> activation. */
export function applyConv(x: tf.Tensor4D, conv: StaticConv, options = NO_OPTIONS): tf.Tensor4D {
  const weight = tensorOf(conv.weight) as tf.Tensor4D;
  let y = conv.depthwise
    ? tf.depthwiseConv2d(x, weight, conv.stride, 'same')
    : tf.conv2d(x, weight, conv.stride, 'same');
  if (conv.bias) y = tf.add(y, tf.tensor1d(conv.bias));
  if (conv.batchNorm) y = batchNorm(y, conv.batchNorm, options);
  return applyActivation(y, conv.activation);
}

function squeezeExcite(x: tf.Tensor4D, se: StaticSqueezeExcite, options: StaticForwardOptions): tf.Tensor4D {
  const pooled = tf.mean(x, [1, 2], true) as tf.Tensor4D;
  const scale = applyConv(applyConv(pooled, se.reduce, options), se.expand, options);
  return tf.mul(x, scale);
}

export function applyMBConv(x: tf.Tensor4D, block: StaticMBConv, options = NO_OPTIONS): tf.Tensor4D {
  let y = block.expandConv ? applyConv(x, block.expandConv, options) : x;
  y = applyConv(y, block.depthwise, options);
  if (block.squeezeExcite) y = squeezeExcite(y, block.squeezeExcite, options);
  y = applyConv(y, block.project, options);
  return block.residual ? tf.add(y, x) : y;
}

/** One layer position: the active parallel branches (ofav2.md s1, "Parallel blocks"), summed in order 0, 1, 2. */
export function applyLayer(x: tf.Tensor4D, layer: StaticLayer, options = NO_OPTIONS): tf.Tensor4D {
  const active = activeBranches(layer.geometry.branches);
  const outputs: tf.Tensor4D[] = [];
  if (active.mbconv) outputs.push(applyMBConv(x, required(layer.mbconv, layer, 'mbconv'), options));
  if (active.conv1x1) outputs.push(applyConv(x, required(layer.conv1x1, layer, 'conv1x1'), options));
  if (active.transform) {
    const transform = required(layer.transform, layer, 'transform');
    let y = x;
    if (transform.poolKernel > 1) y = tf.maxPool(y, transform.poolKernel, transform.poolKernel, 'same');
    if (transform.conv) y = applyConv(y, transform.conv, options);
    else {
      y = batchNorm(y, required(transform.batchNorm, layer, 'transform.batchNorm'), options);
      y = applyActivation(y, transform.activation);
    }
    outputs.push(y);
  }
  return sumInOrder(outputs);
}

function required<T>(value: T | undefined, layer: StaticLayer, what: string): T {
  if (value === undefined) {
    throw new Error(`static subnet stage${layer.geometry.stage}.layer${layer.geometry.layer}: branch mask ${layer.geometry.branches} needs ${what}, which is missing`);
  }
  return value;
}

function sumInOrder(terms: tf.Tensor4D[]): tf.Tensor4D {
  let total = terms[0];
  for (let i = 1; i < terms.length; i++) total = tf.add(total, terms[i]);
  return total;
}

/** A stage, with dense skips when the variant has them (ofav2.md s1). */
export function applyStage(x: tf.Tensor4D, stage: StaticStage, options = NO_OPTIONS): tf.Tensor4D {
  const outputs: tf.Tensor4D[] = [];
  let input = x;
  for (const layer of stage.layers) {
    const y = applyLayer(input, layer, options);
    outputs.push(y);
    input = stage.denseSkip ? sumInOrder(denseSkipTerms(outputs.length).map((j) => outputs[j])) : y;
  }
  return input;
}

export function applyHead(x: tf.Tensor4D, head: StaticHead, options = NO_OPTIONS): tf.Tensor2D {
  const expanded = applyConv(x, head.expand, options);
  const pooled = tf.mean(expanded, [1, 2], true) as tf.Tensor4D;
  const features = applyConv(pooled, head.featureMix, options);
  const flat = tf.reshape(features, [features.shape[0], features.shape[3]]) as tf.Tensor2D;
  const weight = tensorOf(head.classifier.weight) as tf.Tensor2D;
  return tf.add(tf.matMul(flat, weight), tf.tensor1d(head.classifier.bias));
}

/** Eval-mode logits [N, classes] of a static subnet; images NHWC float32 at the subnet's resolution. */
export function staticForward(subnet: StaticSubnet, images: tf.Tensor4D, options: StaticForwardOptions = NO_OPTIONS): tf.Tensor2D {
  ensureBackend();
  const [, height, width, channels] = images.shape;
  if (height !== subnet.resolution || width !== subnet.resolution || channels !== subnet.inputChannels) {
    throw new Error(
      `staticForward: images of shape [${images.shape.join(', ')}] do not match the subnet's input [N, ${subnet.resolution}, ${subnet.resolution}, ${subnet.inputChannels}]`,
    );
  }
  return tf.tidy(() => {
    let x = applyConv(images, subnet.stem.conv, options);
    x = applyMBConv(x, subnet.stem.block, options);
    for (const stage of subnet.stages) x = applyStage(x, stage, options);
    return applyHead(x, subnet.head, options);
  });
}
