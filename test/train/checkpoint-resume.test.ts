// The pieces of a resumable run working together, on a small softmax regression (no supernet needed):
// data iterator + SGD + LR schedule + checkpoint. Stopping after k steps, saving, restoring into fresh
// variables and continuing gives the same losses as the uninterrupted run; names/shapes are checked.
import test from 'ava';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRng } from '../../lib/rng.ts';
import { registerCoreGradients } from '../../train/backend/index.ts';
import { OfaError } from '../../lib/errors.ts';
import { BatchIterator, type DatasetSpec, type ImageSet, type IteratorState } from '../../train/data/index.ts';
import { applySgd, learningRate, sgdStateSummary } from '../../train/optim/index.ts';
import { latestCheckpoint, loadCheckpoint, restoreTrainingState, saveCheckpoint, trainingStateTensors } from '../../train/checkpoint/index.ts';

test.before(async () => {
  await tf.setBackend('cpu');
  await registerCoreGradients(); // tfjs-core's CommonJS build registers no gradients (train/backend)
});

const CLASSES = 3;
const SIDE = 6;

/** Images whose mean brightness of one third of the rows tells the class: an easy, learnable task. */
function makeData(count: number): { set: ImageSet; spec: DatasetSpec } {
  const rng = createRng(21);
  const pixels = new Uint8Array(count * SIDE * SIDE);
  const labels = new Uint8Array(count);
  for (let i = 0; i < count; i++) {
    const label = rng.int(CLASSES);
    labels[i] = label;
    for (let y = 0; y < SIDE; y++) for (let x = 0; x < SIDE; x++) pixels[i * 36 + y * 6 + x] = Math.floor(y / 2) === label ? 150 + rng.int(100) : rng.int(100);
  }
  const spec: DatasetSpec = { name: 'bands', classes: CLASSES, height: SIDE, width: SIDE, channels: 1, mean: [0.3], std: [0.3], cropPadding: 1, horizontalFlip: true };
  return { set: { count, height: SIDE, width: SIDE, channels: 1, pixels, labels }, spec };
}

function makeModel(tag: string) {
  const rng = createRng(5);
  const parameters = new Map([
    ['fc.weight', tf.variable(tf.tensor(Array.from({ length: 36 * CLASSES }, () => 0.1 * rng.normal()), [36, CLASSES]), true, `${tag}.w`)],
    ['fc.bias', tf.variable(tf.zeros([CLASSES]), true, `${tag}.b`)],
  ]);
  // A stand-in for a BN running statistic: the running mean of the inputs, updated each step.
  const buffers = new Map([['input.runningMean', tf.variable(tf.zeros([1]), false, `${tag}.rm`)]]);
  return { parameters, buffers };
}

type Model = ReturnType<typeof makeModel>;
const schedule = { baseLr: 0.1, warmupEpochs: 1, epochs: 4, stepsPerEpoch: 4 };

async function trainSteps(model: Model, iterator: BatchIterator, momentum: Map<string, Float32Array>, fromStep: number, steps: number): Promise<number[]> {
  const losses: number[] = [];
  for (let step = fromStep; step < fromStep + steps; step++) {
    const batch = await iterator.next();
    const images = tf.tensor2d(batch.images, [batch.size, 36]);
    const labels = tf.oneHot(tf.tensor1d(batch.labels, 'int32'), CLASSES);
    const w = model.parameters.get('fc.weight')!;
    const b = model.parameters.get('fc.bias')!;
    const { value, grads } = tf.variableGrads(() => tf.losses.softmaxCrossEntropy(labels, tf.add(tf.matMul(images, w), b)) as tf.Scalar, [w, b]);
    losses.push(value.dataSync()[0]);
    const named = new Map([['fc.weight', grads[w.name]], ['fc.bias', grads[b.name]]]);
    applySgd(model.parameters, named, momentum, { learningRate: learningRate(schedule, step) });
    const running = model.buffers.get('input.runningMean')!;
    running.assign(tf.add(tf.mul(running, 0.9), tf.mul(tf.reshape(tf.mean(images), [1]), 0.1)));
    tf.dispose([images, labels, value, ...Object.values(grads)]);
  }
  return losses;
}

test('save after 6 steps, restore into a fresh model: the next 6 losses equal the uninterrupted run', async (t) => {
  const run = mkdtempSync(join(tmpdir(), 'ofav2-resume-'));
  t.teardown(() => rmSync(run, { recursive: true, force: true }));
  const { set, spec } = makeData(64);
  const options = { batchSize: 16, seed: 3, resolutions: [SIDE] };

  const straight = makeModel('a');
  const all = await trainSteps(straight, new BatchIterator(set, spec, options), new Map(), 0, 12);
  t.true(all[11] < all[0] * 0.6, `loss goes down: ${all.map((l) => l.toFixed(3)).join(" ")}`);

  const first = makeModel('b');
  const iterator = new BatchIterator(set, spec, options);
  const momentum = new Map<string, Float32Array>();
  const before = await trainSteps(first, iterator, momentum, 0, 6);
  t.deepEqual(before, all.slice(0, 6));
  saveCheckpoint(join(run, 'step-000006'), {
    manifest: {
      preset: 'micro', variant: 'ofa', phase: 'full', epoch: 1, step: 6, seed: 3, dataState: iterator.state(),
      optimizer: { name: 'sgd', hyperparameters: { ...schedule, momentum: 0.9, nesterov: true, weightDecay: 3e-5 }, state: sgdStateSummary(momentum) },
      metrics: { loss: before[5] },
    },
    tensors: trainingStateTensors({ ...first, momentum }),
  });
  for (const v of [...first.parameters.values(), ...first.buffers.values()]) v.dispose();

  // "New process": fresh variables (different initial values), state from the checkpoint only.
  const resumed = makeModel('c');
  resumed.parameters.get('fc.weight')!.assign(tf.zeros([36, CLASSES]));
  const checkpoint = loadCheckpoint(latestCheckpoint(run)!, { expectPreset: 'micro', expectVariant: 'ofa' });
  const restoredMomentum = restoreTrainingState(checkpoint.tensors, resumed, checkpoint.dir);
  t.deepEqual(checkpoint.manifest.optimizer.state, { momentumBuffers: 2, momentumValues: 36 * CLASSES + CLASSES });
  const resumedIterator = new BatchIterator(set, spec, { ...options, state: checkpoint.manifest.dataState as IteratorState });
  const after = await trainSteps(resumed, resumedIterator, restoredMomentum, checkpoint.manifest.step, 6);
  after.forEach((loss, i) => t.true(Math.abs(loss - all[6 + i]) <= 1e-6, `step ${6 + i}: ${loss} vs ${all[6 + i]}`));
  t.deepEqual(resumed.parameters.get('fc.weight')!.dataSync(), straight.parameters.get('fc.weight')!.dataSync());
  t.deepEqual(resumed.buffers.get('input.runningMean')!.dataSync(), straight.buffers.get('input.runningMean')!.dataSync());
  for (const v of [...straight.parameters.values(), ...straight.buffers.values(), ...resumed.parameters.values(), ...resumed.buffers.values()]) v.dispose();
});

test('restoring into a network of other names or shapes is refused before anything is assigned', (t) => {
  const model = makeModel('d');
  const tensors = trainingStateTensors({ ...model, momentum: new Map([['fc.bias', new Float32Array(CLASSES)]]) });
  const other = {
    parameters: new Map([['fc.weight', tf.variable(tf.ones([36, 4]), true, 'e.w')], ['fc.bias', tf.variable(tf.ones([4]), true, 'e.b')]]),
    buffers: new Map([['input.runningMean', tf.variable(tf.ones([1]), false, 'e.rm')]]),
  };
  // The momentum buffer of fc.bias [3] does not fit fc.bias [4].
  t.throws(() => restoreTrainingState(tensors, other, 'ckpt'), { message: /momentum buffer fc\.bias \[3\] fits no parameter/ });
  tensors.delete('momentum.fc.bias');
  const error = t.throws(() => restoreTrainingState(tensors, other, 'ckpt'), { instanceOf: OfaError });
  t.regex(error!.message, /parameters fc\.weight has shape \[36, 3\]; the network expects \[36, 4\]/);
  t.deepEqual([...other.parameters.get('fc.bias')!.dataSync()], [1, 1, 1, 1]);
  tensors.set('param.extra.weight', { shape: [1], data: new Float32Array(1) });
  t.throws(() => restoreTrainingState(tensors, model, 'ckpt'), { message: /parameters do not match the network \(0 missing; 1 unknown: extra\.weight\)/ });
  for (const v of [...model.parameters.values(), ...model.buffers.values(), ...other.parameters.values(), ...other.buffers.values()]) v.dispose();
});
