// Random static weights for a subnet or a single block (issue 5: `--random-init --seed S`, latency work
// without training, and the exporter's tests). Shapes come only from space/geometry.ts.
//
// BN statistics are deliberately far from the identity (mean != 0, variance != 1, gamma != 1, beta != 0):
// with trivial statistics a wrong BN folding would go unnoticed by the ONNX-vs-tfjs comparison.
//
// BN statistics are calibrated, as BN recalibration does (ofav2.md s3), on one batch of random images, then
// perturbed (per-channel mean shifted by 0.2 std; variance = the layer's mean variance x 0.6..1.5), and the
// classifier is scaled to RMS-1 logits: activations keep the scale of a trained net (O(1), so that a 1e-4
// comparison is meaningful) while the statistics stay non-trivial. The calibration runs on the current
// tfjs backend (cpu by default here); backends round differently, so the weights are reproducible from
// (config, seed) up to float rounding across backends.
//
// `--random-init` builds the StaticSubnet here directly (not through a seeded Supernet + extractSubnet):
// it needs no supernet, is fast, and its weights depend only on (config, seed).
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { createRng, type Rng } from '../lib/rng.ts';
import { ensureBackend, staticForward } from '../subnet/index.ts';
import {
  activeBranches,
  configContext,
  subnetGeometry,
  validateConfig,
  type Activation,
  type HeadGeometry,
  type LayerGeometry,
  type StemGeometry,
  type SubnetConfig,
} from '../space/index.ts';
import type {
  StaticBatchNorm,
  StaticConv,
  StaticHead,
  StaticLayer,
  StaticMBConv,
  StaticSubnet,
  StaticTensor,
} from '../subnet/index.ts';

export const BN_EPSILON = 1e-5;
/** BN gamma scale at the end of every branch: keeps deep random nets with residual, branch and dense sums O(1). */
const BRANCH_END_GAMMA = 0.3;
/**
 * A BN followed by an activation gets gamma x0.5 and beta +1: activations then work mostly in their
 * near-linear range. With gamma ~1, beta ~0 the random nets were chaotic (a few inputs gave logits x100,
 * and float rounding grew to 2e-4 on the logits); with these, 240 micro nets stayed within 3e-5.
 */
const ACT_GAMMA = 0.5;
const ACT_BETA = 1;

function uniform(rng: Rng, low: number, high: number): number {
  return low + (high - low) * rng.next();
}

/** He-normal weights scaled by `gain` (fanIn = all inputs of one output). */
function randomTensor(rng: Rng, shape: number[], fanIn: number, gain = 1): StaticTensor {
  const size = shape.reduce((a, b) => a * b, 1);
  const data = new Float32Array(size);
  const std = gain * Math.sqrt(2 / fanIn);
  for (let i = 0; i < size; i++) data[i] = std * rng.normal();
  return { shape, data };
}

function randomVector(length: number, make: () => number): Float32Array {
  const out = new Float32Array(length);
  for (let i = 0; i < length; i++) out[i] = make();
  return out;
}

/** `gammaScale` < 1 for the BN that ends a branch, so that branch, residual and dense-skip sums stay O(1). */
export function randomBatchNorm(rng: Rng, channels: number, gammaScale = 1, betaShift = 0): StaticBatchNorm {
  return {
    gamma: randomVector(channels, () => gammaScale * uniform(rng, 0.5, 1.5)),
    beta: randomVector(channels, () => betaShift + 0.2 * rng.normal()),
    runningMean: randomVector(channels, () => 0.3 * rng.normal()),
    runningVariance: randomVector(channels, () => uniform(rng, 0.5, 2)),
    epsilon: BN_EPSILON,
  };
}

export interface RandomConvSpec {
  inChannels: number;
  outChannels: number;
  kernel: number;
  stride: number;
  depthwise?: boolean;
  batchNorm?: boolean;
  bias?: boolean;
  activation: StaticConv['activation'];
  gain?: number;
  /** Scale of the BN gamma (see randomBatchNorm). */
  gammaScale?: number;
}

export function randomConv(rng: Rng, spec: RandomConvSpec): StaticConv {
  const depthwise = spec.depthwise ?? false;
  const k = spec.kernel;
  const shape = depthwise ? [k, k, spec.inChannels, 1] : [k, k, spec.inChannels, spec.outChannels];
  const fanIn = (depthwise ? 1 : spec.inChannels) * k * k;
  const conv: StaticConv = {
    weight: randomTensor(rng, shape, fanIn, spec.gain),
    depthwise,
    stride: spec.stride,
    activation: spec.activation,
  };
  if (spec.bias) conv.bias = randomVector(spec.outChannels, () => 0.1 * rng.normal());
  if (spec.batchNorm ?? true) {
    const activated = spec.activation !== 'none';
    conv.batchNorm = randomBatchNorm(rng, spec.outChannels, (spec.gammaScale ?? 1) * (activated ? ACT_GAMMA : 1), activated ? ACT_BETA : 0);
  }
  return conv;
}

/** The MBConv branch of a layer (ofav2.md s1); `expand: false` for the stem's fixed block (expand 1). */
export function randomMBConv(
  rng: Rng,
  shape: { inChannels: number; outChannels: number; mid: number; kernel: number; stride: number; activation: Activation; seMid: number; residual: boolean },
  expand = true,
): StaticMBConv {
  // Drawn in data-flow order: expand, depthwise, SE, project.
  const expandConv = expand
    ? randomConv(rng, { inChannels: shape.inChannels, outChannels: shape.mid, kernel: 1, stride: 1, activation: shape.activation })
    : undefined;
  const depthwise = randomConv(rng, { inChannels: shape.mid, outChannels: shape.mid, kernel: shape.kernel, stride: shape.stride, depthwise: true, activation: shape.activation });
  const squeezeExcite =
    shape.seMid > 0
      ? {
          reduce: randomConv(rng, { inChannels: shape.mid, outChannels: shape.seMid, kernel: 1, stride: 1, bias: true, batchNorm: false, activation: 'relu' }),
          expand: randomConv(rng, { inChannels: shape.seMid, outChannels: shape.mid, kernel: 1, stride: 1, bias: true, batchNorm: false, activation: 'hsigmoid' }),
        }
      : undefined;
  const project = randomConv(rng, { inChannels: shape.mid, outChannels: shape.outChannels, kernel: 1, stride: 1, activation: 'none', gammaScale: BRANCH_END_GAMMA });
  const block: StaticMBConv = { depthwise, project, residual: shape.residual };
  if (expandConv) block.expandConv = expandConv;
  if (squeezeExcite) block.squeezeExcite = squeezeExcite;
  return block;
}

export function randomStem(rng: Rng, geometry: StemGeometry): StaticSubnet['stem'] {
  const c = geometry.outChannels;
  return {
    geometry,
    conv: randomConv(rng, { inChannels: geometry.inChannels, outChannels: c, kernel: geometry.kernel, stride: geometry.stride, activation: 'hswish' }),
    // ofav2.md s1: one fixed MBConv (3x3, expand 1, ReLU, residual).
    block: randomMBConv(rng, { inChannels: c, outChannels: c, mid: c, kernel: geometry.blockKernel, stride: 1, activation: 'relu', seMid: 0, residual: true }, false),
  };
}

/** One layer position with exactly its active branches (ofav2.md s1, "Parallel blocks"). */
export function randomLayer(rng: Rng, geometry: LayerGeometry): StaticLayer {
  const active = activeBranches(geometry.branches);
  const layer: StaticLayer = { geometry };
  if (active.mbconv) layer.mbconv = randomMBConv(rng, geometry);
  if (active.conv1x1) {
    layer.conv1x1 = randomConv(rng, {
      inChannels: geometry.inChannels,
      outChannels: geometry.outChannels,
      kernel: 1,
      stride: geometry.stride,
      activation: geometry.activation,
      gammaScale: BRANCH_END_GAMMA,
    });
  }
  if (active.transform) {
    const needsConv = geometry.inChannels !== geometry.outChannels;
    layer.transform = {
      poolKernel: geometry.stride,
      activation: geometry.activation,
      ...(needsConv
        ? { conv: randomConv(rng, { inChannels: geometry.inChannels, outChannels: geometry.outChannels, kernel: 1, stride: 1, activation: geometry.activation, gammaScale: BRANCH_END_GAMMA }) }
        : { batchNorm: randomBatchNorm(rng, geometry.outChannels, BRANCH_END_GAMMA * ACT_GAMMA, ACT_BETA) }),
    };
  }
  return layer;
}

export function randomHead(rng: Rng, geometry: HeadGeometry): StaticHead {
  const classifierWeight = randomTensor(rng, [geometry.featureChannels, geometry.numClasses], geometry.featureChannels, 0.5);
  return {
    geometry,
    expand: randomConv(rng, { inChannels: geometry.inChannels, outChannels: geometry.expandChannels, kernel: 1, stride: 1, activation: 'hswish' }),
    featureMix: randomConv(rng, {
      inChannels: geometry.expandChannels,
      outChannels: geometry.featureChannels,
      kernel: 1,
      stride: 1,
      batchNorm: false,
      activation: 'hswish',
    }),
    classifier: { weight: classifierWeight, bias: randomVector(geometry.numClasses, () => 0.1 * rng.normal()) },
  };
}

/** A StaticSubnet of `config` with random weights and non-trivial BN statistics, reproducible from `seed`. */
export function randomStaticSubnet(config: SubnetConfig, seed: number): StaticSubnet {
  ensureBackend();
  const canonical = validateConfig(config);
  const { preset, variant } = configContext(canonical);
  const geometry = subnetGeometry(canonical);
  const rng = createRng(seed);
  const subnet: StaticSubnet = {
    config: canonical,
    inputChannels: preset.inputChannels,
    numClasses: preset.numClasses,
    resolution: canonical.resolution,
    stem: randomStem(rng, geometry.stem),
    stages: geometry.stages.map((stage) => ({
      index: stage.index,
      denseSkip: variant.denseSkip,
      layers: stage.layers.map((layer) => randomLayer(rng, layer)),
    })),
    head: randomHead(rng, geometry.head),
  };
  calibrateBatchNorm(subnet, rng);
  return subnet;
}

/**
 * Images in the calibration batch: enough for 32 values per channel on the smallest map (the head's
 * input); 8 values per channel (8 images, 1x1 maps) gave statistics that fit those images only.
 */
const CALIBRATION_VALUES = 32;

function calibrationBatch(subnet: StaticSubnet): number {
  const area = subnet.head.geometry.inputSize ** 2;
  return Math.min(CALIBRATION_VALUES, Math.max(4, Math.ceil(CALIBRATION_VALUES / area)));
}

function calibrateBatchNorm(subnet: StaticSubnet, rng: Rng): void {
  const r = subnet.resolution;
  const batch = calibrationBatch(subnet);
  const pixels = randomVector(batch * r * r * subnet.inputChannels, () => rng.normal());
  tf.tidy(() => {
    const images = tf.tensor4d(pixels, [batch, r, r, subnet.inputChannels]);
    const logits = staticForward(subnet, images, {
      beforeBatchNorm: (input, bn) => {
        const { mean, variance } = tf.moments(input, [0, 1, 2]);
        const means = mean.dataSync();
        const variances = variance.dataSync();
        // The variance is the layer's mean over channels, not per channel: per-channel estimates are
        // noisy, and normalising each channel by its own estimate compounds that noise layer by layer.
        let layerVariance = 0;
        for (const v of variances) layerVariance += v / variances.length;
        layerVariance += 1e-3;
        for (let c = 0; c < bn.runningMean.length; c++) {
          bn.runningMean[c] = means[c] + 0.2 * Math.sqrt(layerVariance) * rng.normal();
          bn.runningVariance[c] = layerVariance * uniform(rng, 0.6, 1.5);
        }
      },
    });
    // Logits of a trained classifier are O(1); random deep nets give O(10..100). Rescale the classifier so
    // that the logits' root mean square on the calibration batch is 1 (RMS, not the standard deviation:
    // random nets give nearly the same logits for every image, and dividing by that small spread would
    // blow the common part up): an absolute tolerance on the logits (the tests: 1e-4) then means the
    // same on every random net.
    const rms = Math.sqrt(tf.mean(tf.square(logits)).dataSync()[0]) + 1e-6;
    const { weight, bias } = subnet.head.classifier;
    for (let i = 0; i < weight.data.length; i++) weight.data[i] /= rms;
    for (let i = 0; i < bias.length; i++) bias[i] /= rms;
  });
}
