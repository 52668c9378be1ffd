// Shared fixtures of the supernet tests (test/train/supernet*.test.ts): seeded inputs, and weights and
// BN statistics moved away from their initial values so that comparisons are not trivially satisfied.
import * as tf from '@tensorflow/tfjs-core';
import { createRng, type Rng } from '../../lib/rng.ts';
import type { SubnetConfig } from '../../space/index.ts';
import type { Supernet } from '../../train/supernet/index.ts';

export function randomImages(count: number, resolution: number, channels: number, seed: number): tf.Tensor4D {
  const rng = createRng(seed);
  const data = Float32Array.from({ length: count * resolution * resolution * channels }, () => rng.normal());
  return tf.tensor4d(data, [count, resolution, resolution, channels]);
}

function setRandom(v: tf.Variable, rng: Rng, value: (rng: Rng, i: number) => number): void {
  const data = Float32Array.from({ length: v.size }, (_, i) => value(rng, i));
  const next = tf.tensor(data, v.shape, 'float32');
  v.assign(next);
  next.dispose();
}

/**
 * Moves BN scales and shifts, biases, the kernel transforms (identity + noise) and the BN running
 * statistics away from their initial values.
 */
export function perturb(net: Supernet, seed: number, options: { classifierStd?: number } = {}): void {
  const classifierStd = options.classifierStd ?? 0.5;
  const rng = createRng(seed);
  for (const [name, v] of net.parameters) {
    if (name.endsWith('.gamma')) setRandom(v, rng, (r) => 1 + 0.25 * r.normal());
    else if (name.endsWith('.beta') || name.endsWith('.bias')) setRandom(v, rng, (r) => 0.1 * r.normal());
    // A trained-size classifier (std 0.5): the 0.01-std initial one scales every other gradient down to
    // the rounding floor of float32 finite differences. Function-preservation tests choose a smaller one:
    // these random micro nets amplify one-ulp weight changes to ~4e-6 of the logits' size (measured).
    else if (name.endsWith('.classifier.weight')) setRandom(v, rng, (r) => classifierStd * r.normal());
    else if (name.endsWith('.kernelTransform5') || name.endsWith('.kernelTransform3')) {
      const size = v.shape[0];
      setRandom(v, rng, (r, i) => (i % (size + 1) === 0 ? 1 : 0) + 0.1 * r.normal());
    }
  }
  for (const [name, v] of net.buffers) {
    if (name.endsWith('.runningMean')) setRandom(v, rng, (r) => 0.2 * r.normal());
    else setRandom(v, rng, (r) => 0.5 + r.next());
  }
}

/** A few training-mode forwards, which blend batch statistics into the running ones. */
export function trainForwards(net: Supernet, configs: SubnetConfig[], seed: number, rounds = 2): void {
  for (let round = 0; round < rounds; round++) {
    for (const [i, config] of configs.entries()) {
      const images = randomImages(4, config.resolution, net.preset.inputChannels, seed + 31 * round + i);
      tf.dispose(net.forward(config, images, { training: true }));
      images.dispose();
    }
  }
}

export function maxAbsDiff(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]);
}

export function maxAbs(a: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(a)).dataSync()[0]);
}

/** The same config with every layer at the given expand ratio. */
export function withExpand(config: SubnetConfig, expand: number): SubnetConfig {
  return { ...config, stages: config.stages.map((s) => ({ ...s, layers: s.layers.map((l) => ({ ...l, expand })) })) };
}

/**
 * How far one-ulp changes of every weight move a subnet's eval logits on a batch: the float32 rounding
 * floor of any function-preservation check (these small random nets amplify rounding by up to ~1e2).
 */
export function roundingFloor(net: Supernet, config: SubnetConfig, images: tf.Tensor4D, seed: number): number {
  const rng = createRng(seed);
  const saved = new Map([...net.parameters].map(([name, v]) => [name, Float32Array.from(v.dataSync() as Float32Array)]));
  const before = net.forward(config, images, { training: false });
  for (const [name, v] of net.parameters) setRandom(v, rng, (r, i) => saved.get(name)![i] * (1 + (r.next() < 0.5 ? -1 : 1) * 2 ** -23));
  const after = net.forward(config, images, { training: false });
  for (const [name, v] of net.parameters) {
    const next = tf.tensor(saved.get(name)!, v.shape, 'float32');
    v.assign(next);
    next.dispose();
  }
  const floor = maxAbsDiff(before, after);
  tf.dispose([before, after]);
  return floor;
}
