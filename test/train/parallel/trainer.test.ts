// train/parallel: one training step on 2 workers and on 1 worker gives the same weights (issue 3:
// max abs diff at most 1e-5), for every variant, and the workers' step equals the same step computed
// in this thread (Supernet + computeGradients + sgdStep). Each variant's two trainers start at once
// (worker start-up, not the step, is most of the time); the ofa 2-worker trainer is reused, reset to
// its initial weights, for the in-thread comparison.
import test from 'ava';
import * as tf from '@tensorflow/tfjs-core';
import { createRng } from '../../../lib/rng.ts';
import { VARIANT_NAMES, sampleMax, sampleRandom, type SubnetConfig } from '../../../space/index.ts';
import { initBackend } from '../../../train/backend/index.ts';
import { sgdStep } from '../../../train/optim/index.ts';
import { ParallelTrainer, type StepInput } from '../../../train/parallel/index.ts';
import { trainStep } from '../../../train/loop/index.ts';
import { SgdOptimizer } from '../../../train/optim/index.ts';
import { Supernet, computeGradients } from '../../../train/supernet/index.ts';

const PRESET = 'micro';

function maxAbsDiff(a: Map<string, Float32Array>, b: Map<string, Float32Array>): number {
  let worst = 0;
  for (const [name, values] of a) {
    const other = b.get(name)!;
    for (let i = 0; i < values.length; i++) worst = Math.max(worst, Math.abs(values[i] - other[i]));
  }
  return worst;
}

function batchFor(config: SubnetConfig, batch: number, seed: number): StepInput {
  const rng = createRng(seed);
  const r = config.resolution;
  return {
    images: Float32Array.from({ length: batch * r * r }, () => rng.normal()),
    imageShape: [batch, r, r, 1],
    labels: Array.from({ length: batch }, () => rng.int(4)),
  };
}

/** Two subnets per step (ofav2.md s3: gradients accumulated over the sampled subnets). */
function configsFor(variant: string): SubnetConfig[] {
  const max = sampleMax({ preset: PRESET, variant });
  const random = { ...sampleRandom({ preset: PRESET, variant }, createRng(7)), resolution: max.resolution };
  return [max, random];
}

/** The ofa 2-worker trainer and its initial state, kept for the in-thread comparison. */
let kept: { trainer: ParallelTrainer; parameters: Map<string, Float32Array>; buffers: Map<string, Float32Array> } | undefined;

test.after.always(async () => {
  await kept?.trainer.close();
});

for (const variant of VARIANT_NAMES) {
  test.serial(`${variant}: one step on 2 workers and on 1 worker gives the same weights and BN statistics`, async (t) => {
    const configs = configsFor(variant);
    const input = batchFor(configs[0], 10, 11); // 10 rows: shards of 5 and 5
    const options = { lr: 0.5, dropout: true, dropoutSeed: 5 };
    const started = await Promise.allSettled([2, 1].map((workers) => ParallelTrainer.create({ preset: PRESET, variant, seed: 42, workers, shards: 2, backend: 'wasm' })));
    const trainers = started.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
    let keep = false;
    try {
      for (const s of started) if (s.status === 'rejected') throw s.reason;
      const results = [];
      for (const [i, workers] of [2, 1].entries()) {
        const trainer = trainers[i];
        t.is(trainer.workerCount, workers);
        const before = trainer.getParameters();
        const beforeBuffers = trainer.getBuffers();
        const step = await trainStep(trainer, new SgdOptimizer(), configs, input, options);
        t.true(Number.isFinite(step.loss) && step.loss > 0, `loss ${step.loss}`);
        results.push({ before, beforeBuffers, after: trainer.getParameters(), buffers: trainer.getBuffers(), loss: step.loss });
      }
      const [two, one] = results;
      t.is(maxAbsDiff(two.before, one.before), 0, 'both start from the same seed');
      t.true(maxAbsDiff(two.after, two.before) > 1e-3, 'the step changed the weights');
      const weights = maxAbsDiff(two.after, one.after);
      const buffers = maxAbsDiff(two.buffers, one.buffers);
      t.log(`max abs diff: weights ${weights.toExponential(2)}, BN statistics ${buffers.toExponential(2)}, loss ${two.loss} vs ${one.loss}`);
      t.true(weights <= 1e-5, `weights differ by ${weights}`);
      t.true(buffers <= 1e-5, `BN statistics differ by ${buffers}`);
      t.true(Math.abs(two.loss - one.loss) <= 1e-5);
      if (variant === 'ofa') {
        kept = { trainer: trainers[0], parameters: two.before, buffers: two.beforeBuffers };
        keep = true;
      }
    } finally {
      await Promise.all(trainers.filter((trainer, i) => !(keep && i === 0)).map((trainer) => trainer.close()));
    }
  });
}

test.serial('ofa: the workers compute the step this thread computes (2 shards: per-shard BN, losses weighted by shard size)', async (t) => {
  const variant = 'ofa';
  const configs = configsFor(variant);
  const input = batchFor(configs[0], 7, 13); // 7 rows: shards of 3 and 4, unequal weights
  // The ofa 2-worker trainer of the test above, back at its initial weights, BN statistics and
  // momentum (workers hold no other state between steps); a fresh one when that test did not run.
  const trainer = kept?.trainer ?? (await ParallelTrainer.create({ preset: PRESET, variant, seed: 42, workers: 2, shards: 2, backend: 'wasm' }));
  if (kept) {
    // A fresh SgdOptimizer below: no momentum from the first test's step.
    trainer.load({ parameters: kept.parameters, buffers: kept.buffers });
    kept = undefined;
  }
  let parallel: Map<string, Float32Array>;
  let parallelBuffers: Map<string, Float32Array>;
  let parallelLoss: number;
  try {
    parallelLoss = (await trainStep(trainer, new SgdOptimizer(), configs, input, { lr: 0.5, dropout: false })).loss;
    parallel = trainer.getParameters();
    parallelBuffers = trainer.getBuffers();
  } finally {
    await trainer.close();
  }

  await initBackend({ prefer: 'wasm', log: false });
  const net = new Supernet({ preset: PRESET, variant, seed: 42 });
  const start = new Map([...net.buffers].map(([n, v]) => [n, v.dataSync().slice() as Float32Array]));
  const gradients = new Map<string, Float32Array>();
  const buffers = new Map<string, Float32Array>();
  let loss = 0;
  const [n, r] = [input.imageShape[0], input.imageShape[1]];
  for (const [begin, end] of [[0, 3], [3, 7]]) {
    for (const [name, v] of net.buffers) v.assign(tf.tensor(start.get(name)!, v.shape));
    const images = tf.tensor4d(input.images.subarray(begin * r * r, end * r * r), [end - begin, r, r, 1]);
    const result = computeGradients(net, configs, images, (input.labels as number[]).slice(begin, end), { dropout: false });
    const weight = (end - begin) / n;
    loss += weight * result.loss;
    for (const [name, g] of result.grads) {
      const scaled = tf.mul(g, weight);
      const values = scaled.dataSync() as Float32Array;
      const sum = gradients.get(name);
      if (sum) for (let i = 0; i < sum.length; i++) sum[i] += values[i];
      else gradients.set(name, values.slice());
      tf.dispose([scaled, g]);
    }
    for (const [name, v] of net.buffers) {
      const values = v.dataSync() as Float32Array;
      const sum = buffers.get(name);
      if (sum) for (let i = 0; i < sum.length; i++) sum[i] = (sum[i] + values[i]) / 2;
      else buffers.set(name, values.slice());
    }
    images.dispose();
  }
  const parameters = new Map([...net.parameters].map(([name, v]) => [name, v.dataSync().slice() as Float32Array]));
  sgdStep(parameters, gradients, new Map(), { learningRate: 0.5 });
  net.dispose();
  t.true(Math.abs(parallelLoss - loss) <= 1e-5, `loss ${parallelLoss} vs ${loss}`);
  const weights = maxAbsDiff(parallel, parameters);
  const statistics = maxAbsDiff(parallelBuffers, buffers);
  t.log(`max abs diff against this thread: weights ${weights.toExponential(2)}, BN statistics ${statistics.toExponential(2)}`);
  t.true(weights <= 1e-5, `weights differ by ${weights}`);
  t.true(statistics <= 1e-5, `BN statistics differ by ${statistics}`);
});

test.serial('bad settings are rejected with OfaError', async (t) => {
  await t.throwsAsync(ParallelTrainer.create({ preset: PRESET, variant: 'ofa', seed: 1, workers: 0 }), { message: /workers 0 is not allowed/ });
  await t.throwsAsync(ParallelTrainer.create({ preset: PRESET, variant: 'ofa', seed: 1, shards: 1.5 }), { message: /shards 1.5 is not allowed/ });
});
