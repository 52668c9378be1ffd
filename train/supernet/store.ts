// Creation of the supernet's variables under stable dotted names, initialised from one seeded stream
// (lib/rng.ts) so that two supernets built with the same seed are identical.
import * as tf from '@tensorflow/tfjs-core';
import { OfaError } from '../../lib/errors.ts';
import type { Rng } from '../../lib/rng.ts';
import type { BatchNormParams } from './ops.ts';

export class ParameterStore {
  readonly parameters = new Map<string, tf.Variable>();
  readonly buffers = new Map<string, tf.Variable>();
  constructor(private readonly rng: Rng) {}

  private register(map: Map<string, tf.Variable>, name: string, values: tf.Tensor, trainable: boolean): tf.Variable {
    if (this.parameters.has(name) || this.buffers.has(name)) {
      throw new OfaError('E_SUPERNET_NAME', `supernet variable ${JSON.stringify(name)} is defined twice`, { kind: 'failure' });
    }
    // No engine-level name: several supernets (teacher, student, workers) live in one process, and tfjs
    // refuses two variables with one name. Our names live in the maps.
    const variable = tf.variable(values, trainable);
    values.dispose();
    map.set(name, variable);
    return variable;
  }

  private normal(shape: number[], std: number): tf.Tensor {
    const size = shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(size);
    for (let i = 0; i < size; i++) data[i] = this.rng.normal() * std;
    return tf.tensor(data, shape, 'float32');
  }

  /**
   * A convolution weight [k, k, in, out] (depthwise: [k, k, C, 1]) with OFA's "he_fout" init:
   * normal(0, sqrt(2 / (k * k * outChannels))), outChannels = C for a depthwise conv.
   */
  conv(name: string, shape: [number, number, number, number], depthwise = false): tf.Variable {
    const fanOut = shape[0] * shape[1] * (depthwise ? shape[2] : shape[3]);
    return this.register(this.parameters, name, this.normal(shape, Math.sqrt(2 / fanOut)), true);
  }

  /** A linear weight [in, out]: normal(0, 0.01) (a small classifier at the start). */
  linear(name: string, shape: [number, number]): tf.Variable {
    return this.register(this.parameters, name, this.normal(shape, 0.01), true);
  }

  constant(name: string, values: tf.Tensor): tf.Variable {
    return this.register(this.parameters, name, values, true);
  }

  zeros(name: string, shape: number[]): tf.Variable {
    return this.register(this.parameters, name, tf.zeros(shape), true);
  }

  /** BN with gamma 1, beta 0, running mean 0, running variance 1. */
  batchNorm(prefix: string, channels: number): BatchNormParams {
    return {
      gamma: this.register(this.parameters, `${prefix}.gamma`, tf.ones([channels]), true),
      beta: this.register(this.parameters, `${prefix}.beta`, tf.zeros([channels]), true),
      runningMean: this.register(this.buffers, `${prefix}.runningMean`, tf.zeros([channels]), false),
      runningVariance: this.register(this.buffers, `${prefix}.runningVariance`, tf.ones([channels]), false),
    };
  }
}
