// The supernet's forward, static extraction, channel sorting, BN state and memory hygiene (issue 3),
// on the `micro` preset, every variant, on tfjs's cpu backend. Gradients: supernet-gradients.test.ts.
import test from 'ava';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { createRng } from '../../../lib/rng.ts';
import { isOfaError } from '../../../lib/errors.ts';
import { VARIANT_NAMES, sampleMax, sampleMin, sampleRandom, subnetGeometry, type SubnetConfig } from '../../../space/index.ts';
import { staticForward } from '../../../subnet/index.ts';
import { Supernet, computeGradients } from '../../../train/supernet/index.ts';
import { maxAbs, maxAbsDiff, perturb, randomImages, roundingFloor, trainForwards, withExpand } from '../fixtures/supernet.ts';

await tf.setBackend('cpu');

const PRESET = 'micro';

function configs(variant: string, seed: number, count: number): SubnetConfig[] {
  const rng = createRng(seed);
  return Array.from({ length: count }, () => sampleRandom({ preset: PRESET, variant }, rng));
}

/** Eval-mode logits of several configs, as plain arrays. */
function evalOutputs(net: Supernet, list: SubnetConfig[], seed: number, count = 3): Float32Array[] {
  return list.map((config, i) => {
    const images = randomImages(count, config.resolution, 1, seed + i);
    const logits = net.forward(config, images, { training: false });
    const out = Float32Array.from(logits.dataSync() as Float32Array);
    tf.dispose([images, logits]);
    return out;
  });
}

function maxDiffArrays(a: Float32Array, b: Float32Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

test('forward gives [N, classes] logits for random subnets of every variant; same seed, same network', (t) => {
  for (const variant of VARIANT_NAMES) {
    const a = new Supernet({ preset: PRESET, variant, seed: 7 });
    const b = new Supernet({ preset: PRESET, variant, seed: 7 });
    const c = new Supernet({ preset: PRESET, variant, seed: 8 });
    t.deepEqual([...a.parameters.keys()], [...b.parameters.keys()]);
    for (const config of [...configs(variant, 11, 3), sampleMin({ preset: PRESET, variant })]) {
      const images = randomImages(2, config.resolution, 1, 5);
      for (const training of [true, false]) {
        const ya = a.forward(config, images, { training });
        const yb = b.forward(config, images, { training });
        const yc = c.forward(config, images, { training });
        t.deepEqual(ya.shape, [2, 4], `${variant} ${JSON.stringify(config)}`);
        t.is(maxAbsDiff(ya, yb), 0, `${variant}: same seed, same outputs`);
        if (training) t.true(maxAbsDiff(ya, yc) > 0, `${variant}: another seed, other outputs`);
        tf.dispose([ya, yb, yc]);
      }
      images.dispose();
    }
    if (a.variant.earlyExits) {
      const full = sampleMax({ preset: PRESET, variant });
      const images = randomImages(2, full.resolution, 1, 6);
      const all = a.forwardAllExits(full, images, { training: false });
      t.is(all.length, 5);
      const last = a.forward(full, images, { training: false });
      t.is(maxAbsDiff(all[4], last), 0, 'exit 5 of forwardAllExits is the forward of the config');
      // Exit 2 of the all-exits pass equals the forward of the same first two stages with exit 2.
      const two = { ...full, exit: 2, stages: full.stages.slice(0, 2) };
      const y2 = a.forward(two, images, { training: false });
      t.true(maxAbsDiff(all[1], y2) < 1e-6);
      tf.dispose([...all, last, y2, images]);
    }
    for (const net of [a, b, c]) net.dispose();
  }
});

test('bad inputs are refused with OfaError naming the value', (t) => {
  const net = new Supernet({ preset: PRESET, variant: 'ee-d', seed: 1 });
  const config = sampleMax({ preset: PRESET, variant: 'ee-d' });
  const wrongSize = randomImages(2, 8, 1, 1);
  const error = t.throws(() => net.forward(config, wrongSize, { training: false }));
  t.true(isOfaError(error) && error.code === 'E_SUPERNET_INPUT' && /12/.test(error.message), error?.message);
  const other = sampleMax({ preset: PRESET, variant: 'd' });
  t.true(isOfaError(t.throws(() => net.forward(other, randomImages(1, 12, 1, 1), { training: false }))));
  const bad = { ...config, stages: config.stages.map((s) => ({ ...s, layers: s.layers.map((l) => ({ ...l, kernel: 4 })) })) };
  t.true(isOfaError(t.throws(() => net.forward(bad, randomImages(1, 12, 1, 1), { training: false }))));
  const plain = new Supernet({ preset: PRESET, variant: 'd', seed: 1 });
  t.true(isOfaError(t.throws(() => plain.forwardAllExits(other, randomImages(1, 12, 1, 1), { training: false }))));
  t.throws(() => new Supernet({ preset: 'nope', variant: 'ofa', seed: 1 }), { message: /nope/ });
  tf.dispose(wrongSize);
  net.dispose();
  plain.dispose();
});

test('kernel transforms start as identity: the 3x3 and 5x5 kernels of a fresh net are centre crops of the 7x7', (t) => {
  const variant = 'ofa';
  const net = new Supernet({ preset: PRESET, variant, seed: 3 });
  const base = sampleMax({ preset: PRESET, variant });
  for (const kernel of [3, 5]) {
    const config = { ...base, stages: base.stages.map((s) => ({ ...s, layers: s.layers.map((l) => ({ ...l, kernel })) })) };
    const subnet = net.extractSubnet(config);
    for (const stage of subnet.stages) {
      for (const layer of stage.layers) {
        const name = `stage${stage.index}.layer${layer.geometry.layer}.mbconv.depthwise.weight`;
        const w7 = net.parameters.get(name)!;
        const start = (7 - kernel) / 2;
        const crop = tf.slice(w7, [start, start, 0, 0], [kernel, kernel, layer.geometry.mid, 1]);
        const extracted = layer.mbconv!.depthwise.weight;
        t.deepEqual(extracted.shape, [kernel, kernel, layer.geometry.mid, 1]);
        t.true(maxAbsDiff(crop, tf.tensor(extracted.data, extracted.shape)) < 1e-7, name);
        crop.dispose();
      }
    }
  }
  net.dispose();
});

test('eval forward equals the forward of the extracted static subnet (max abs diff <= 1e-5), every variant', (t) => {
  for (const [v, variant] of VARIANT_NAMES.entries()) {
    const net = new Supernet({ preset: PRESET, variant, seed: 20 + v });
    perturb(net, 100 + v);
    const list = [sampleMax({ preset: PRESET, variant }), sampleMin({ preset: PRESET, variant }), ...configs(variant, 40 + v, 4)];
    trainForwards(net, list.slice(0, 3), 300 + v, 1);
    for (const [i, config] of list.entries()) {
      // Realistic BN statistics (ofav2.md s3 recalibration): perturbed random ones blow the logits up
      // to thousands, where 1e-5 is below float32 resolution.
      const batches = [0, 1].map((b) => randomImages(4, config.resolution, 1, 900 + 10 * i + b));
      net.recalibrateBatchNorm(config, batches);
      tf.dispose(batches);
      const subnet = net.extractSubnet(config);
      const geometry = subnetGeometry(config);
      t.is(subnet.stages.length, geometry.stages.length);
      t.deepEqual(subnet.stages.map((s) => s.layers.map((l) => l.geometry)), geometry.stages.map((s) => s.layers));
      const images = randomImages(3, config.resolution, 1, 77 + v);
      const live = net.forward(config, images, { training: false });
      const frozen = staticForward(subnet, images);
      const diff = maxAbsDiff(live, frozen);
      t.true(maxAbs(live) > 1e-2, `${variant}: logits of a meaningful scale (${maxAbs(live)})`);
      t.true(diff <= 1e-5, `${variant} ${JSON.stringify(config)}: max abs diff ${diff} scale ${maxAbs(live)}`);
      tf.dispose([images, live, frozen]);
    }
    net.dispose();
  }
});

const SORT_BATCH = 16;

test('sortChannels keeps every full-expand subnet (and, with keepExpandRatios, every subnet) unchanged, every variant', (t) => {
  for (const [v, variant] of VARIANT_NAMES.entries()) {
    for (const [i, random] of configs(variant, 60 + v, 3).entries()) {
      // A fresh, unsorted net per subnet, its BN statistics recalibrated on the batch evaluated (other
      // images would meet channels whose variance on a few images is tiny, and blow the logits up).
      const images = randomImages(SORT_BATCH, random.resolution, 1, 70 + i);
      const prepare = (config: SubnetConfig) => {
        const net = new Supernet({ preset: PRESET, variant, seed: 50 + 10 * v + i });
        perturb(net, 500 + 10 * v + i, { classifierStd: 0.05 });
        net.recalibrateBatchNorm(config, [images]);
        return net;
      };
      const logits = (net: Supernet, config: SubnetConfig) => tf.tidy(() => Float32Array.from(net.forward(config, images, { training: false }).dataSync() as Float32Array));
      // "Unchanged" = within 1e-5, or within 10x the float32 rounding floor of this net where that is
      // larger (measured: up to ~3e-5 on logits of size 1 for some max-depth `ofa` subnets). A wrong
      // permutation moves the logits by a good fraction of their size.
      const tolerance = (net: Supernet, config: SubnetConfig, scale: number) => {
        const floor = roundingFloor(net, config, images, 7);
        t.true(floor < 1e-3 * scale, `${variant}: rounding floor ${floor} is small against logits of size ${scale}`);
        return Math.max(1e-5, 10 * floor);
      };
      const full = withExpand(random, 6);
      const small = withExpand(random, 3);
      const net = prepare(full);
      const [beforeFull, beforeSmall] = [logits(net, full), logits(net, small)];
      const scale = Math.max(...Array.from(beforeFull, Math.abs));
      t.true(scale > 0.05, `${variant}: logits of a meaningful size (${scale})`);
      const limit = tolerance(net, full, scale);
      net.sortChannels();
      const [afterFull, afterSmall] = [logits(net, full), logits(net, small)];
      t.true(maxDiffArrays(afterFull, beforeFull) <= limit, `${variant} full expand #${i}: ${maxDiffArrays(afterFull, beforeFull)} > ${limit} (logits up to ${scale})`);
      if (process.env.OFA_LOG_SORT) t.log(variant, i, scale, maxDiffArrays(afterFull, beforeFull), limit);
      // The sort did something: the expand-3 subnet now runs the most important channels.
      t.true(maxDiffArrays(afterSmall, beforeSmall) > 1e-3 * scale, `${variant}: the sort changed the expand-3 subnet #${i}`);
      if (i === 0) {
        for (const [name, w] of net.parameters) {
          if (!name.endsWith('.mbconv.project.weight')) continue;
          const importance = tf.tidy(() => tf.sum(tf.abs(w), [0, 1, 3]).dataSync() as Float32Array);
          for (let c = 1; c < importance.length; c++) t.true(importance[c] <= importance[c - 1] + 1e-7, `${name} sorted at ${c}`);
        }
      }
      net.dispose();
      // With every expand ratio kept, the sort (inside the blocks between the ratios' widths) changes no subnet.
      const kept = prepare(random);
      const beforeMixed = logits(kept, random);
      const keptLimit = tolerance(kept, random, Math.max(...Array.from(beforeMixed, Math.abs)));
      kept.sortChannels({ keepExpandRatios: [3, 4, 6] });
      const afterMixed = logits(kept, random);
      t.true(maxDiffArrays(afterMixed, beforeMixed) <= keptLimit, `${variant} kept ratios #${i}: ${maxDiffArrays(afterMixed, beforeMixed)} > ${keptLimit}`);
      kept.dispose();
      images.dispose();
    }
  }
});

test('training-mode forwards update the running statistics of the channels they use (momentum 0.1)', (t) => {
  const variant = 'ofa';
  const net = new Supernet({ preset: PRESET, variant, seed: 4 });
  const config = withExpand(sampleMin({ preset: PRESET, variant }), 3);
  const images = randomImages(4, config.resolution, 1, 9);
  const stemMean = tf.tidy(() => tf.mean(tf.conv2d(images, net.parameters.get('stem.conv.weight') as tf.Tensor4D, 2, 'same'), [0, 1, 2]));
  const stemVar = tf.tidy(() => tf.moments(tf.conv2d(images, net.parameters.get('stem.conv.weight') as tf.Tensor4D, 2, 'same'), [0, 1, 2]).variance);
  tf.dispose(net.forward(config, images, { training: false }));
  t.is(maxAbs(net.buffers.get('stem.conv.bn.runningMean')!), 0, 'eval mode leaves the statistics alone');
  tf.dispose(net.forward(config, images, { training: true }));
  const n = 4 * (config.resolution / 2) ** 2;
  t.true(maxAbsDiff(net.buffers.get('stem.conv.bn.runningMean')!, tf.mul(stemMean, 0.1)) < 1e-6);
  t.true(maxAbsDiff(net.buffers.get('stem.conv.bn.runningVariance')!, tf.add(0.9, tf.mul(stemVar, 0.1 * n / (n - 1)))) < 1e-5);
  // Elastic expand: only the first `mid` channels of the expand BN moved.
  const mid = subnetGeometry(config).stages[0].layers[0].mid;
  const running = net.buffers.get('stage1.layer1.mbconv.expand.bn.runningMean')!.dataSync();
  t.true(mid < running.length);
  t.true(Array.from(running.slice(0, mid)).some((x) => x !== 0));
  t.true(Array.from(running.slice(mid)).every((x) => x === 0));
  // Layers beyond the active depth are untouched.
  t.is(maxAbs(net.buffers.get('stage1.layer4.mbconv.expand.bn.runningMean')!), 0);
  tf.dispose([images, stemMean, stemVar]);
  net.dispose();
});

test('BN recalibration sets the exact batch statistics: eval forward then equals the training-mode forward', (t) => {
  for (const variant of ['ofa', 'ee-d-p']) {
    const net = new Supernet({ preset: PRESET, variant, seed: 6 });
    perturb(net, 66);
    const config = configs(variant, 13, 1)[0];
    const images = randomImages(4, config.resolution, 1, 14);
    const untouched = new Map([...net.buffers].map(([name, v]) => [name, Float32Array.from(v.dataSync() as Float32Array)]));
    const before = tf.memory().numTensors;
    net.recalibrateBatchNorm(config, [images]);
    t.is(tf.memory().numTensors, before);
    const evalLogits = net.forward(config, images, { training: false });
    const trainLogits = net.forward(config, images, { training: true });
    t.true(maxAbsDiff(evalLogits, trainLogits) < 1e-4, `${variant}: ${maxAbsDiff(evalLogits, trainLogits)}`);
    t.true(maxAbs(trainLogits) > 1e-2);
    // BNs the config does not run keep their statistics.
    const geometry = subnetGeometry(config);
    const depthOf = (stage: number) => geometry.stages[stage - 1]?.depth ?? 0;
    let checked = 0;
    for (const [name, values] of untouched) {
      const m = /^stage(\d)\.layer(\d)\./.exec(name);
      if (m && Number(m[2]) > depthOf(Number(m[1]))) {
        checked++;
        t.deepEqual(Array.from(net.buffers.get(name)!.dataSync()), Array.from(values), name);
      }
    }
    t.true(checked > 0 || geometry.stages.every((s) => s.depth === 4));
    tf.dispose([images, evalLogits, trainLogits]);
    net.dispose();
  }
});

test('BN recalibration with allExits sets the statistics of every exit head', (t) => {
  const variant = 'ee-d';
  const net = new Supernet({ preset: PRESET, variant, seed: 8 });
  perturb(net, 88);
  const config = sampleMax({ preset: PRESET, variant });
  const images = randomImages(6, config.resolution, 1, 15);
  net.recalibrateBatchNorm(config, [images], { allExits: true });
  const evalLogits = net.forwardAllExits(config, images, { training: false });
  const trainLogits = net.forwardAllExits(config, images, { training: true });
  for (let e = 0; e < 5; e++) t.true(maxAbsDiff(evalLogits[e], trainLogits[e]) < 1e-4, `exit ${e + 1}: ${maxAbsDiff(evalLogits[e], trainLogits[e])}`);
  t.true(isOfaError(t.throws(() => net.recalibrateBatchNorm({ ...config, exit: 2, stages: config.stages.slice(0, 2) }, [images], { allExits: true }))));
  tf.dispose([images, ...evalLogits, ...trainLogits]);
  net.dispose();
});

test('computeGradients frees every intermediate tensor and names only parameters the configs touch', (t) => {
  const variant = 'ee-d-p';
  const net = new Supernet({ preset: PRESET, variant, seed: 5 });
  const list = configs(variant, 12, 6);
  const resolution = list[0].resolution;
  const step = list.filter((c) => c.resolution === resolution).slice(0, 2);
  const images = randomImages(4, resolution, 1, 3);
  const labels = [0, 1, 2, 3];
  const run = () => {
    const result = computeGradients(net, step, images, labels, { dropout: true, dropoutSeed: 1 });
    const names = [...result.grads.keys()];
    for (const g of result.grads.values()) g.dispose();
    return { names, loss: result.loss, losses: result.losses };
  };
  run();
  const before = tf.memory().numTensors;
  const first = run();
  t.is(tf.memory().numTensors, before, 'no tensor leaks');
  t.is(first.losses.length, step.length);
  t.true(Math.abs(first.loss - first.losses.reduce((a, b) => a + b, 0)) < 1e-9);
  // Exits and stages that no config runs get no gradient.
  const exits = new Set(step.map((c) => c.exit));
  for (const name of first.names) {
    const exit = /^exit(\d)\./.exec(name);
    if (exit) t.true(exits.has(Number(exit[1])), name);
    const stage = /^stage(\d)\.layer(\d)\./.exec(name);
    if (stage) t.true(step.some((c) => c.stages.length >= Number(stage[1]) && c.stages[Number(stage[1]) - 1].depth >= Number(stage[2])), name);
  }
  t.true(first.names.includes('stem.conv.weight'));
  images.dispose();
  net.dispose();
});
