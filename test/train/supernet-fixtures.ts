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
export function perturb(net: Supernet, seed: number): void {
  const rng = createRng(seed);
  for (const [name, v] of net.parameters) {
    if (name.endsWith('.gamma')) setRandom(v, rng, (r) => 1 + 0.25 * r.normal());
    else if (name.endsWith('.beta') || name.endsWith('.bias')) setRandom(v, rng, (r) => 0.1 * r.normal());
    // A trained-size classifier: the 0.01-std initial one scales every other gradient down to the
    // rounding floor of float32 finite differences.
    else if (name.endsWith('.classifier.weight')) setRandom(v, rng, (r) => 0.5 * r.normal());
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
