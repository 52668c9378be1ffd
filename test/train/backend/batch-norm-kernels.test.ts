// The fused training BN + activation kernels (train/backend/kernels/batch_norm.ts) against tfjs's own
// ops composed on the cpu backend: forward values, batch statistics, the running-statistics update
// and the gradients for x, gamma and beta, for every activation, on wasm (SIMD when the channel
// count is a multiple of 4, JavaScript otherwise) and on cpu (JavaScript). Serial: switches backends.
import test from 'ava';
import * as tf from '@tensorflow/tfjs-core';
import { createRng } from '../../../lib/rng.ts';
import { relativeError } from '../fixtures/relative-error.ts';
import { BATCH_NORM_ACTIVATE, initBackend } from '../../../train/backend/index.ts';
import { BN_EPSILON, batchNorm, hswish, type BatchNormParams } from '../../../train/supernet/ops.ts';

type Activation = 'none' | 'relu' | 'hswish';
const ACTIVATIONS: Activation[] = ['none', 'relu', 'hswish'];
/** [shape, stored channels (elastic: BN params hold more channels than x uses)] */
const SHAPES: [number[], number][] = [
  [[2, 5, 5, 8], 8], // SIMD
  [[3, 4, 4, 12], 16], // SIMD, a channel prefix of the stored BN
  [[2, 3, 3, 6], 6], // not a multiple of 4: the JavaScript path on wasm too
  [[7, 20], 24], // 2-D (BN of a head)
  [[32, 7, 7, 96], 96], // a real layer's size
];

const setup = initBackend({ prefer: 'wasm', log: false });

interface Case {
  x: Float32Array;
  shape: number[];
  gamma: Float32Array;
  beta: Float32Array;
  mean: Float32Array;
  variance: Float32Array;
  /** Weights of the scalar loss sum(y * w): a gradient with structure, not all ones. */
  w: Float32Array;
}

function makeCase(shape: number[], stored: number, seed: number): Case {
  const rng = createRng(seed);
  const size = shape.reduce((a, b) => a * b, 1);
  const channels = shape[shape.length - 1];
  // Per-channel offsets and scales, so that h-swish sees inputs on both sides of -3 and 3.
  const offsets = Array.from({ length: channels }, () => rng.normal());
  const scales = Array.from({ length: channels }, () => 0.5 + 2 * rng.next());
  return {
    shape,
    x: Float32Array.from({ length: size }, (_, i) => offsets[i % channels] + scales[i % channels] * rng.normal()),
    gamma: Float32Array.from({ length: stored }, () => 0.5 + rng.next() * 2),
    beta: Float32Array.from({ length: stored }, () => rng.normal()),
    mean: Float32Array.from({ length: stored }, () => rng.normal() * 0.1),
    variance: Float32Array.from({ length: stored }, () => 0.5 + rng.next()),
    w: Float32Array.from({ length: size }, () => rng.normal()),
  };
}

interface Result {
  y: Float32Array;
  dx: Float32Array;
  dgamma: Float32Array;
  dbeta: Float32Array;
  runningMean: Float32Array;
  runningVariance: Float32Array;
}

function params(c: Case): BatchNormParams {
  return {
    gamma: tf.variable(tf.tensor1d(c.gamma)),
    beta: tf.variable(tf.tensor1d(c.beta)),
    runningMean: tf.variable(tf.tensor1d(c.mean), false),
    runningVariance: tf.variable(tf.tensor1d(c.variance), false),
  };
}

/** The reference: tfjs ops only, written out here (not train/supernet's code path). */
function composite(x: tf.Tensor, bn: BatchNormParams, activation: Activation): tf.Tensor {
  const channels = x.shape[x.rank - 1];
  const gamma = tf.slice(bn.gamma, [0], [channels]);
  const beta = tf.slice(bn.beta, [0], [channels]);
  const { mean, variance } = tf.moments(x, Array.from({ length: x.rank - 1 }, (_, i) => i));
  const count = x.size / channels;
  const blend = (running: tf.Variable, batch: tf.Tensor) => {
    const head = tf.add(tf.mul(tf.slice(running, [0], [channels]), 0.9), tf.mul(batch, 0.1));
    return running.shape[0] === channels ? head : tf.concat([head, tf.slice(running, [channels], [running.shape[0]! - channels])]);
  };
  bn.runningMean.assign(blend(bn.runningMean, mean));
  bn.runningVariance.assign(blend(bn.runningVariance, tf.mul(variance, count / (count - 1))));
  const y = tf.add(tf.mul(tf.div(tf.sub(x, mean), tf.sqrt(tf.add(variance, BN_EPSILON))), gamma), beta);
  return activation === 'relu' ? tf.relu(y) : activation === 'hswish' ? hswish(y) : y;
}

async function run(backend: 'cpu' | 'wasm', c: Case, activation: Activation, reference: boolean): Promise<Result> {
  await tf.setBackend(backend);
  const bn = params(c);
  const x = tf.variable(tf.tensor(c.x, c.shape));
  const w = tf.tensor(c.w, c.shape);
  let y: tf.Tensor | undefined;
  const { grads } = tf.variableGrads(() => {
    const out = reference ? composite(x, bn, activation) : batchNorm(x, bn, { training: true }, activation);
    y = tf.keep(out.clone());
    return tf.sum(tf.mul(out, w));
  }, [x, bn.gamma, bn.beta]);
  const result: Result = {
    y: (await y!.data()) as Float32Array,
    dx: (await grads[x.name].data()) as Float32Array,
    dgamma: (await grads[bn.gamma.name].data()) as Float32Array,
    dbeta: (await grads[bn.beta.name].data()) as Float32Array,
    runningMean: (await bn.runningMean.data()) as Float32Array,
    runningVariance: (await bn.runningVariance.data()) as Float32Array,
  };
  tf.dispose([x, w, y!, ...Object.values(grads), bn.gamma, bn.beta, bn.runningMean, bn.runningVariance]);
  return result;
}

test.serial('the fused BN kernels are registered for wasm and cpu, and batchNorm uses them in training', async (t) => {
  await setup;
  t.truthy(tf.getKernel(BATCH_NORM_ACTIVATE, 'wasm'));
  t.truthy(tf.getKernel(BATCH_NORM_ACTIVATE, 'cpu'));
  await tf.setBackend('wasm');
  const c = makeCase([2, 3, 3, 8], 8, 1);
  const bn = params(c);
  const profile = await tf.profile(() => batchNorm(tf.tensor(c.x, c.shape), bn, { training: true }, 'hswish'));
  t.true(profile.kernels.some((k) => k.name === BATCH_NORM_ACTIVATE), profile.kernels.map((k) => k.name).join(', '));
  tf.dispose([bn.gamma, bn.beta, bn.runningMean, bn.runningVariance]);
});

for (const backend of ['wasm', 'cpu'] as const) {
  for (const activation of ACTIVATIONS) {
    test.serial(`fused BN + ${activation} on ${backend} equals tfjs's composed ops on cpu: output, running statistics, dx, dgamma, dbeta`, async (t) => {
      await setup;
      let worst = 0;
      for (const [index, [shape, stored]] of SHAPES.entries()) {
        const c = makeCase(shape, stored, 100 + index);
        const expected = await run('cpu', c, activation, true);
        const actual = await run(backend, c, activation, false);
        for (const key of Object.keys(expected) as (keyof Result)[]) {
          t.is(actual[key].length, expected[key].length, `${key} [${shape}]`);
          const error = relativeError(actual[key], expected[key]);
          t.true(error <= 1e-4, `${key} [${shape}] ${activation}: relative error ${error}`);
          worst = Math.max(worst, error);
        }
      }
      t.log(`${SHAPES.length} shapes, worst relative error ${worst.toExponential(2)}`);
    });
  }
}
