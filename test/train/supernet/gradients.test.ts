// Gradients of the supernet's training loss (issue 3): the analytic gradient of a subnet's loss agrees
// with central finite differences on weights of every kind, for every variant of the `micro` preset,
// on tfjs's cpu backend. Float32 forward passes: the step and the tolerance are chosen so that rounding
// stays well below the tolerance while a wrong gradient (a dropped term, a wrong slice) does not.
import test, { type ExecutionContext } from 'ava';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { createRng } from '../../../lib/rng.ts';
import { VARIANT_NAMES, getVariant, sampleMax, sampleMin, sampleRandom, type SubnetConfig } from '../../../space/index.ts';
import { EXIT_WEIGHTS, Supernet, computeGradients, subnetLoss, type LossOptions } from '../../../train/supernet/index.ts';
import { perturb, randomImages } from '../fixtures/supernet.ts';

await tf.setBackend('cpu');

const PRESET = 'micro';
// Measured on this setup: training-mode BN over few values per channel and the many ReLU/h-swish kinks
// make the loss rough in single weights (per-entry differences scattered by 5-50% at steps 1e-2..1e-5);
// directional probes along the gradient (checkGradients) at resolution 12 (>= 16 values per BN channel)
// agree within about 4% at a 3e-4 step, while float32 rounding stays near 1e-4 in the derivative.
const RESOLUTION = 12;
const BATCH = 4;
const EPSILON = 3e-4;
const RELATIVE_TOLERANCE = 0.08;
const ABSOLUTE_TOLERANCE = 1e-3;
// (A dropped transform or a wrong slice gives errors of 20% and more: see the report of issue 3.)

const L2 = 'stage2.layer1'; // SE stage; transform branch = max-pool + BN (8 -> 8 channels, stride 2)
const L3 = 'stage3.layer1'; // no SE; transform branch = 1x1 conv (8 -> 16 channels)

/**
 * A small subnet (depth 2, kernel 3, expand 3) except: stage1.layer1 at kernel 7 and expand 6 (the 7x7
 * weight read directly, all channels), stage2.layer1 at kernel 3 and expand 4 (T75 then T53 on a channel
 * slice), stage3.layer1 at kernel 5 (T75 only); all three branches there. Few layers keep the float32
 * finite differences well conditioned and the test fast.
 */
function gradientConfig(variant: string): SubnetConfig {
  const v = getVariant(variant);
  const base = sampleMin({ preset: PRESET, variant, dimensions: { resolutions: [RESOLUTION], exits: v.earlyExits ? [3] : [5], branchMasks: v.parallelBlocks ? [1] : undefined } });
  const set = (stage: number, kernel: number, expand: number) => {
    const layer = base.stages[stage - 1].layers[0];
    layer.kernel = kernel;
    layer.expand = expand;
    if (v.parallelBlocks) layer.branches = 7;
  };
  set(1, 7, 6);
  set(2, 3, 4);
  set(3, 5, 3);
  return base;
}

function weightNames(variant: string, exit: number): string[] {
  const names = [
    'stem.conv.weight',
    'stem.conv.bn.gamma',
    'stem.block.depthwise.weight',
    'stem.block.project.weight',
    'stage1.layer1.mbconv.depthwise.weight',
    `${L2}.mbconv.expand.weight`,
    `${L2}.mbconv.expand.bn.gamma`,
    `${L2}.mbconv.depthwise.weight`,
    `${L2}.mbconv.kernelTransform5`,
    `${L2}.mbconv.kernelTransform3`,
    `${L2}.mbconv.depthwise.bn.beta`,
    `${L2}.mbconv.se.reduce.weight`,
    `${L2}.mbconv.se.reduce.bias`,
    `${L2}.mbconv.se.expand.weight`,
    `${L2}.mbconv.se.expand.bias`,
    `${L2}.mbconv.project.weight`,
    `${L2}.mbconv.project.bn.gamma`,
    `${L3}.mbconv.depthwise.weight`,
    `${L3}.mbconv.kernelTransform5`,
    `${L3}.mbconv.project.bn.gamma`,
    `exit${exit}.expand.weight`,
    `exit${exit}.expand.bn.gamma`,
    `exit${exit}.featureMix.weight`,
    `exit${exit}.classifier.weight`,
    `exit${exit}.classifier.bias`,
  ];
  if (getVariant(variant).parallelBlocks) {
    names.push(`${L3}.conv1x1.weight`, `${L3}.conv1x1.bn.beta`, `${L3}.transform.conv.weight`, `${L3}.transform.bn.gamma`, `${L2}.transform.bn.gamma`, `${L2}.conv1x1.weight`);
  }
  return names;
}

/**
 * The loss of ofav2.md s3 recomputed in float64 from the float32 logits: an independent statement of the
 * formula, and it removes the rounding of the loss itself, the largest noise of the differences.
 */
function lossValue(net: Supernet, config: SubnetConfig, images: tf.Tensor4D, labels: number[], options: LossOptions): number {
  const forwardOptions = { training: options.training ?? true, dropout: false };
  const outputs = options.exitWeights ? net.forwardAllExits(config, images, forwardOptions) : [net.forward(config, images, forwardOptions)];
  const weights = options.exitWeights ?? [1];
  const teacher = options.teacherLogits ? (options.teacherLogits.dataSync() as Float32Array) : undefined;
  const smoothing = options.labelSmoothing ?? 0.1;
  const kdWeight = options.kdWeight ?? 1;
  let total = 0;
  for (const [e, logits] of outputs.entries()) {
    const [n, k] = logits.shape;
    const z = logits.dataSync() as Float32Array;
    let loss = 0;
    for (let i = 0; i < n; i++) {
      const row = Array.from(z.subarray(i * k, (i + 1) * k));
      const top = Math.max(...row);
      const logSum = top + Math.log(row.reduce((acc, x) => acc + Math.exp(x - top), 0));
      for (let c = 0; c < k; c++) {
        const logP = row[c] - logSum;
        const target = (c === labels[i] ? 1 - smoothing : 0) + smoothing / k;
        loss -= target * logP;
        if (teacher) {
          const t = Array.from(teacher.subarray(i * k, (i + 1) * k));
          const tTop = Math.max(...t);
          const tSum = t.reduce((acc, x) => acc + Math.exp(x - tTop), 0);
          loss -= kdWeight * (Math.exp(t[c] - tTop) / tSum) * logP;
        }
      }
    }
    total += (weights[e] * loss) / n;
  }
  tf.dispose(outputs);
  return total;
}

function setValues(v: tf.Variable, data: Float32Array): void {
  const next = tf.tensor(data, v.shape, 'float32');
  v.assign(next);
  next.dispose();
}

interface Check {
  name: string;
  /** 'all' entries or a random 'half' of them. */
  subset: string;
  analytic: number;
  numeric: number;
}

/**
 * Directional probes: along d = g_S / |g_S| (the analytic gradient restricted to a subset S of the
 * tensor's entries, normalised), the directional derivative must be |g_S|. A gradient that is wrong in
 * size or in direction (a missing term, a wrong slice) fails it; and |g_S| is a larger signal than any
 * single entry, which keeps the float32 rounding and the ReLU kinks crossed by the step below tolerance.
 */
function checkGradients(t: ExecutionContext, net: Supernet, config: SubnetConfig, names: string[], options: LossOptions, seed: number, subsets = ['all', 'half']): Check[] {
  const images = randomImages(BATCH, config.resolution, 1, seed);
  const labels = Array.from({ length: BATCH }, (_, i) => i % 4);
  const { grads, loss } = computeGradients(net, [config], images, labels, options);
  const reference = lossValue(net, config, images, labels, options);
  t.true(Math.abs(loss - reference) < 1e-5 * Math.max(1, reference), `loss ${loss} vs float64 reference ${reference}`);
  const rng = createRng(seed);
  const checks: Check[] = [];
  for (const name of names) {
    const grad = grads.get(name);
    t.truthy(grad, `${net.variant.name}: gradient of ${name} present`);
    if (!grad) continue;
    const values = grad.dataSync() as Float32Array;
    t.true(values.some((x) => x !== 0), `${net.variant.name}: gradient of ${name} not all zero`);
    const variable = net.parameters.get(name)!;
    const original = Float32Array.from(variable.dataSync() as Float32Array);
    for (const subset of subsets) {
      const direction = Float64Array.from(values, (g) => (subset === 'all' || rng.next() < 0.5 ? g : 0));
      const norm = Math.sqrt(direction.reduce((acc, x) => acc + x * x, 0));
      if (norm === 0) continue;
      const central = (step: number) => {
        setValues(variable, Float32Array.from(original, (w, i) => w + (step * direction[i]) / norm));
        const plus = lossValue(net, config, images, labels, options);
        setValues(variable, Float32Array.from(original, (w, i) => w - (step * direction[i]) / norm));
        const minus = lossValue(net, config, images, labels, options);
        setValues(variable, original);
        return (plus - minus) / (2 * step);
      };
      if (process.env.OFA_FD_SWEEP === name) t.log(name, subset, norm, [1e-2, 3e-3, 1e-3, 3e-4, 1e-4, 3e-5].map((h) => `${h}: ${central(h).toFixed(5)}`).join(' '));
      checks.push({ name, subset, analytic: norm, numeric: central(EPSILON) });
    }
  }
  tf.dispose([...grads.values(), images]);
  return checks;
}

function agree(check: Check): boolean {
  const error = Math.abs(check.analytic - check.numeric);
  return error <= RELATIVE_TOLERANCE * Math.max(Math.abs(check.analytic), Math.abs(check.numeric)) + ABSOLUTE_TOLERANCE;
}

for (const [v, variant] of VARIANT_NAMES.entries()) {
  test(`${variant}: gradients agree with central finite differences on every kind of weight`, (t) => {
    const net = new Supernet({ preset: PRESET, variant, seed: 200 + v });
    perturb(net, 210 + v);
    const config = gradientConfig(variant);
    const exit = config.exit ?? 5;
    // Half the variants also distil from a teacher (ofav2.md s3 KD term).
    const teacherLogits = v % 2 === 1 ? tf.tidy(() => tf.mul(tf.reshape(randomImages(BATCH, 2, 1, 230 + v), [BATCH, 4]), 2) as tf.Tensor2D) : undefined;
    const training = !process.env.OFA_FD_EVAL;
    if (!training) net.recalibrateBatchNorm(config, [0, 1].map((b) => randomImages(16, RESOLUTION, 1, 250 + b)));
    const options: LossOptions = { labelSmoothing: 0.1, teacherLogits, dropout: false, training };
    const checks = checkGradients(t, net, config, weightNames(variant, exit), options, 240 + v);
    const bad = checks.filter((c) => !agree(c));
    if (process.env.OFA_LOG_PROBES) for (const c of checks) t.log(c.name, c.subset, c.analytic.toFixed(5), c.numeric.toFixed(5));
    t.deepEqual(bad, [], `${variant}: ${bad.length} of ${checks.length} probes disagree`);
    t.log(`${variant}: ${checks.length} probes, worst relative error ${Math.max(...checks.map((c) => Math.abs(c.analytic - c.numeric) / Math.max(Math.abs(c.analytic), 1e-3))).toExponential(2)}`);
    // A 5x5 layer never reads its 3x3 transform: no gradient (absent from the map).
    const images = randomImages(BATCH, RESOLUTION, 1, 1);
    const { grads } = computeGradients(net, [config], images, Array(BATCH).fill(0), options);
    t.false(grads.has(`${L3}.mbconv.kernelTransform3`));
    tf.dispose([...grads.values(), images]);
    teacherLogits?.dispose();
    net.dispose();
  });
}

test('ee-d full phase: the loss sum_i alpha_i CE_i sends agreeing gradients to every exit', (t) => {
  const variant = 'ee-d';
  const net = new Supernet({ preset: PRESET, variant, seed: 300 });
  perturb(net, 301);
  const config = sampleMax({ preset: PRESET, variant, dimensions: { resolutions: [RESOLUTION] } });
  const names = [1, 2, 3, 4, 5].flatMap((e) => [`exit${e}.expand.weight`, `exit${e}.classifier.weight`]).concat(['stage5.layer4.mbconv.project.weight', 'stage1.layer1.mbconv.expand.weight']);
  const checks = checkGradients(t, net, config, names, { exitWeights: EXIT_WEIGHTS, dropout: false }, 302);
  const bad = checks.filter((c) => !agree(c));
  t.deepEqual(bad, [], `${bad.length} of ${checks.length} probes disagree`);
  net.dispose();
});

test('the gradients of several subnets in one step are the sums of their gradients', (t) => {
  const variant = 'ee-d-p';
  const net = new Supernet({ preset: PRESET, variant, seed: 400 });
  perturb(net, 401);
  const rng = createRng(402);
  const configs = [0, 1, 2].map(() => sampleRandom({ preset: PRESET, variant, dimensions: { resolutions: [12] } }, rng));
  const images = randomImages(4, 12, 1, 403);
  const labels = [3, 2, 1, 0];
  const options: LossOptions = { dropout: false };
  const together = computeGradients(net, configs, images, labels, options);
  const alone = configs.map((c) => computeGradients(net, [c], images, labels, options));
  t.true(Math.abs(together.loss - alone.reduce((s, r) => s + r.loss, 0)) < 1e-5);
  const names = new Set(alone.flatMap((r) => [...r.grads.keys()]));
  t.deepEqual(new Set(together.grads.keys()), names);
  for (const name of names) {
    const sum = tf.tidy(() => tf.addN(alone.map((r) => r.grads.get(name)).filter((g): g is tf.Tensor => g !== undefined)));
    const diff = tf.tidy(() => tf.max(tf.abs(tf.sub(sum, together.grads.get(name)!))).dataSync()[0]);
    t.true(diff < 1e-5, `${name}: ${diff}`);
    sum.dispose();
  }
  tf.dispose([...together.grads.values(), ...alone.flatMap((r) => [...r.grads.values()]), images]);
  net.dispose();
});
