// The supernet's layers (ofav2.md s1-s2). Each layer owns its variables, runs the part of itself that a
// geometry (space/geometry.ts) names, and hands back a static copy of that part (OFA's
// get_active_subnet). Shapes come only from the geometry objects: nothing here recomputes a width.
import * as tf from '@tensorflow/tfjs-core';
import type { HeadGeometry, LayerGeometry, StemGeometry } from '../../space/index.ts';
import { activeBranches } from '../../space/index.ts';
import type { StaticBatchNorm, StaticConv, StaticHead, StaticLayer, StaticMBConv, StaticTensor } from '../../subnet/index.ts';
import { BN_EPSILON, batchNorm, elasticKernel, hsigmoid, hswish, prefix, type BatchNormMode, type BatchNormParams } from './ops.ts';
import type { ParameterStore } from './store.ts';

export interface ForwardContext extends BatchNormMode {
  /** Dropout before the classifier (ofav2.md s1 head); only in training mode. */
  dropout: boolean;
  dropoutRate: number;
  dropoutSeed?: number;
}

// ---- static copies ---------------------------------------------------------------------------------

export function staticTensor(t: tf.Tensor): StaticTensor {
  return { shape: [...t.shape], data: Float32Array.from(t.dataSync() as Float32Array) };
}

function staticVector(v: tf.Tensor1D, count: number): Float32Array {
  return tf.tidy(() => Float32Array.from(prefix(v, count).dataSync() as Float32Array));
}

export function staticBatchNorm(bn: BatchNormParams, channels: number): StaticBatchNorm {
  return {
    gamma: staticVector(bn.gamma as tf.Tensor1D, channels),
    beta: staticVector(bn.beta as tf.Tensor1D, channels),
    runningMean: staticVector(bn.runningMean as tf.Tensor1D, channels),
    runningVariance: staticVector(bn.runningVariance as tf.Tensor1D, channels),
    epsilon: BN_EPSILON,
  };
}

function staticWeight(make: () => tf.Tensor): StaticTensor {
  const t = tf.tidy(make);
  const out = staticTensor(t);
  // `make` may hand back the variable itself (nothing sliced): never dispose that.
  if (!(t instanceof tf.Variable)) t.dispose();
  return out;
}

/** The first `shape` entries of every axis of a 4-D weight. */
function slice4(w: tf.Variable, shape: [number, number, number, number]): tf.Tensor4D {
  const full = w.shape as number[];
  if (shape.every((n, i) => n === full[i])) return w as unknown as tf.Tensor4D;
  return tf.slice(w as unknown as tf.Tensor4D, [0, 0, 0, 0], shape);
}

// ---- stem ------------------------------------------------------------------------------------------

/** ofav2.md s1: 3x3 conv (stride s0) + BN + h-swish, then a fixed MBConv (3x3 depthwise, expand 1, ReLU, residual). */
export class Stem {
  readonly convWeight: tf.Variable;
  readonly convBn: BatchNormParams;
  readonly depthwiseWeight: tf.Variable;
  readonly depthwiseBn: BatchNormParams;
  readonly projectWeight: tf.Variable;
  readonly projectBn: BatchNormParams;

  constructor(store: ParameterStore, g: StemGeometry) {
    const c = g.outChannels;
    this.convWeight = store.conv('stem.conv.weight', [g.kernel, g.kernel, g.inChannels, c]);
    this.convBn = store.batchNorm('stem.conv.bn', c);
    this.depthwiseWeight = store.conv('stem.block.depthwise.weight', [g.blockKernel, g.blockKernel, c, 1], true);
    this.depthwiseBn = store.batchNorm('stem.block.depthwise.bn', c);
    this.projectWeight = store.conv('stem.block.project.weight', [1, 1, c, c]);
    this.projectBn = store.batchNorm('stem.block.project.bn', c);
  }

  forward(images: tf.Tensor4D, g: StemGeometry, ctx: ForwardContext): tf.Tensor4D {
    const x = batchNorm(tf.conv2d(images, this.convWeight as tf.Tensor4D, g.stride, 'same'), this.convBn, ctx, 'hswish');
    let h = tf.depthwiseConv2d(x, this.depthwiseWeight as tf.Tensor4D, 1, 'same');
    h = batchNorm(h, this.depthwiseBn, ctx, 'relu');
    h = batchNorm(tf.conv2d(h, this.projectWeight as tf.Tensor4D, 1, 'same'), this.projectBn, ctx);
    return tf.add(h, x);
  }

  extract(g: StemGeometry): { geometry: StemGeometry; conv: StaticConv; block: StaticMBConv } {
    const c = g.outChannels;
    return {
      geometry: g,
      conv: { weight: staticTensor(this.convWeight), depthwise: false, stride: g.stride, batchNorm: staticBatchNorm(this.convBn, c), activation: 'hswish' },
      block: {
        depthwise: { weight: staticTensor(this.depthwiseWeight), depthwise: true, stride: 1, batchNorm: staticBatchNorm(this.depthwiseBn, c), activation: 'relu' },
        project: { weight: staticTensor(this.projectWeight), depthwise: false, stride: 1, batchNorm: staticBatchNorm(this.projectBn, c), activation: 'none' },
        residual: true,
      },
    };
  }
}

// ---- elastic MBConv --------------------------------------------------------------------------------

/** ofav2.md s1-s2: the elastic MBConv branch of one layer position, allocated at its largest geometry. */
export class ElasticMBConv {
  readonly expandWeight: tf.Variable;
  readonly expandBn: BatchNormParams;
  /** Only the 7x7 depthwise weight is stored (ofav2.md s2). */
  readonly depthwiseWeight: tf.Variable;
  readonly kernelTransform5: tf.Variable;
  readonly kernelTransform3: tf.Variable;
  readonly depthwiseBn: BatchNormParams;
  readonly se?: { reduceWeight: tf.Variable; reduceBias: tf.Variable; expandWeight: tf.Variable; expandBias: tf.Variable };
  readonly projectWeight: tf.Variable;
  readonly projectBn: BatchNormParams;

  constructor(store: ParameterStore, name: string, max: LayerGeometry, maxKernel: number) {
    const p = `${name}.mbconv`;
    this.expandWeight = store.conv(`${p}.expand.weight`, [1, 1, max.inChannels, max.mid]);
    this.expandBn = store.batchNorm(`${p}.expand.bn`, max.mid);
    this.depthwiseWeight = store.conv(`${p}.depthwise.weight`, [maxKernel, maxKernel, max.mid, 1], true);
    // Identity at initialisation: the 5x5 and 3x3 kernels start as centre crops of the 7x7.
    this.kernelTransform5 = store.constant(`${p}.kernelTransform5`, tf.eye(25));
    this.kernelTransform3 = store.constant(`${p}.kernelTransform3`, tf.eye(9));
    this.depthwiseBn = store.batchNorm(`${p}.depthwise.bn`, max.mid);
    if (max.squeezeExcite) {
      this.se = {
        reduceWeight: store.conv(`${p}.se.reduce.weight`, [1, 1, max.mid, max.seMid]),
        reduceBias: store.zeros(`${p}.se.reduce.bias`, [max.seMid]),
        expandWeight: store.conv(`${p}.se.expand.weight`, [1, 1, max.seMid, max.mid]),
        expandBias: store.zeros(`${p}.se.expand.bias`, [max.mid]),
      };
    }
    this.projectWeight = store.conv(`${p}.project.weight`, [1, 1, max.mid, max.outChannels]);
    this.projectBn = store.batchNorm(`${p}.project.bn`, max.outChannels);
  }

  /** The depthwise weight [k, k, mid, 1] of kernel size k on the first `mid` channels. */
  depthwiseKernel(kernelSize: number, mid: number): tf.Tensor4D {
    const w7 = this.depthwiseWeight as unknown as tf.Tensor4D;
    const sliced = slice4(this.depthwiseWeight, [w7.shape[0], w7.shape[1], mid, 1]);
    return elasticKernel(sliced, kernelSize, this.kernelTransform5 as tf.Tensor2D, this.kernelTransform3 as tf.Tensor2D);
  }

  forward(x: tf.Tensor4D, g: LayerGeometry, ctx: ForwardContext): tf.Tensor4D {
    const mid = g.mid;
    let h = tf.conv2d(x, slice4(this.expandWeight, [1, 1, g.inChannels, mid]), 1, 'same');
    h = batchNorm(h, this.expandBn, ctx, g.activation);
    h = tf.depthwiseConv2d(h, this.depthwiseKernel(g.kernel, mid), g.stride, 'same');
    h = batchNorm(h, this.depthwiseBn, ctx, g.activation);
    if (g.squeezeExcite && this.se) {
      // 1x1 convolutions on the pooled [N, 1, 1, mid] map, as the static forward and ONNX graph do.
      const pooled = tf.mean(h, [1, 2], true) as tf.Tensor4D;
      const reduceWeight = slice4(this.se.reduceWeight, [1, 1, mid, g.seMid]);
      const expandWeight = slice4(this.se.expandWeight, [1, 1, g.seMid, mid]);
      const reduced = tf.relu(tf.add(tf.conv2d(pooled, reduceWeight, 1, 'same'), prefix(this.se.reduceBias as tf.Tensor1D, g.seMid))) as tf.Tensor4D;
      const gate = hsigmoid(tf.add(tf.conv2d(reduced, expandWeight, 1, 'same'), prefix(this.se.expandBias as tf.Tensor1D, mid)));
      h = tf.mul(h, gate);
    }
    h = batchNorm(tf.conv2d(h, slice4(this.projectWeight, [1, 1, mid, g.outChannels]), 1, 'same'), this.projectBn, ctx);
    return g.residual ? tf.add(h, x) : h;
  }

  extract(g: LayerGeometry): StaticMBConv {
    const mid = g.mid;
    const out: StaticMBConv = {
      expandConv: {
        weight: staticWeight(() => slice4(this.expandWeight, [1, 1, g.inChannels, mid])),
        depthwise: false,
        stride: 1,
        batchNorm: staticBatchNorm(this.expandBn, mid),
        activation: g.activation,
      },
      depthwise: {
        weight: staticWeight(() => this.depthwiseKernel(g.kernel, mid)),
        depthwise: true,
        stride: g.stride,
        batchNorm: staticBatchNorm(this.depthwiseBn, mid),
        activation: g.activation,
      },
      project: {
        weight: staticWeight(() => slice4(this.projectWeight, [1, 1, mid, g.outChannels])),
        depthwise: false,
        stride: 1,
        batchNorm: staticBatchNorm(this.projectBn, g.outChannels),
        activation: 'none',
      },
      residual: g.residual,
    };
    if (g.squeezeExcite && this.se) {
      const se = this.se;
      out.squeezeExcite = {
        reduce: {
          weight: staticWeight(() => slice4(se.reduceWeight, [1, 1, mid, g.seMid])),
          depthwise: false,
          stride: 1,
          bias: staticVector(se.reduceBias as tf.Tensor1D, g.seMid),
          activation: 'relu',
        },
        expand: {
          weight: staticWeight(() => slice4(se.expandWeight, [1, 1, g.seMid, mid])),
          depthwise: false,
          stride: 1,
          bias: staticVector(se.expandBias as tf.Tensor1D, mid),
          activation: 'hsigmoid',
        },
      };
    }
    return out;
  }
}

// ---- one layer position (MBConv + the OFAv2 parallel branches) --------------------------------------

/** ofav2.md s1 "Parallel blocks": branch 1, a static 1x1 conv + BN + act with the layer's stride. */
class Conv1x1Branch {
  readonly weight: tf.Variable;
  readonly bn: BatchNormParams;
  constructor(store: ParameterStore, name: string, max: LayerGeometry) {
    this.weight = store.conv(`${name}.conv1x1.weight`, [1, 1, max.inChannels, max.outChannels]);
    this.bn = store.batchNorm(`${name}.conv1x1.bn`, max.outChannels);
  }
  forward(x: tf.Tensor4D, g: LayerGeometry, ctx: ForwardContext): tf.Tensor4D {
    return batchNorm(tf.conv2d(x, this.weight as tf.Tensor4D, g.stride, 'same'), this.bn, ctx, g.activation);
  }
  extract(g: LayerGeometry): StaticConv {
    return { weight: staticTensor(this.weight), depthwise: false, stride: g.stride, batchNorm: staticBatchNorm(this.bn, g.outChannels), activation: g.activation };
  }
}

/** Branch 2: max-pool (kernel = stride) when stride > 1, 1x1 conv when Cin != Cout, then BN + act. */
class TransformBranch {
  readonly weight?: tf.Variable;
  readonly bn: BatchNormParams;
  constructor(store: ParameterStore, name: string, max: LayerGeometry) {
    if (max.inChannels !== max.outChannels) this.weight = store.conv(`${name}.transform.conv.weight`, [1, 1, max.inChannels, max.outChannels]);
    this.bn = store.batchNorm(`${name}.transform.bn`, max.outChannels);
  }
  forward(x: tf.Tensor4D, g: LayerGeometry, ctx: ForwardContext): tf.Tensor4D {
    let h = g.stride > 1 ? tf.maxPool(x, g.stride, g.stride, 'same') : x;
    if (this.weight) h = tf.conv2d(h, this.weight as tf.Tensor4D, 1, 'same');
    return batchNorm(h, this.bn, ctx, g.activation);
  }
  extract(g: LayerGeometry): NonNullable<StaticLayer['transform']> {
    const bn = staticBatchNorm(this.bn, g.outChannels);
    if (this.weight) {
      return {
        poolKernel: g.stride,
        conv: { weight: staticTensor(this.weight), depthwise: false, stride: 1, batchNorm: bn, activation: g.activation },
        activation: g.activation,
      };
    }
    return { poolKernel: g.stride, batchNorm: bn, activation: g.activation };
  }
}

export class LayerPosition {
  readonly name: string;
  readonly mbconv: ElasticMBConv;
  readonly conv1x1?: Conv1x1Branch;
  readonly transform?: TransformBranch;

  constructor(store: ParameterStore, max: LayerGeometry, maxKernel: number, parallelBlocks: boolean) {
    this.name = `stage${max.stage}.layer${max.layer}`;
    this.mbconv = new ElasticMBConv(store, this.name, max, maxKernel);
    if (parallelBlocks) {
      this.conv1x1 = new Conv1x1Branch(store, this.name, max);
      this.transform = new TransformBranch(store, this.name, max);
    }
  }

  forward(x: tf.Tensor4D, g: LayerGeometry, ctx: ForwardContext): tf.Tensor4D {
    const on = activeBranches(g.branches);
    const outputs: tf.Tensor4D[] = [];
    if (on.mbconv) outputs.push(this.mbconv.forward(x, g, ctx));
    if (on.conv1x1 && this.conv1x1) outputs.push(this.conv1x1.forward(x, g, ctx));
    if (on.transform && this.transform) outputs.push(this.transform.forward(x, g, ctx));
    let total = outputs[0];
    for (let i = 1; i < outputs.length; i++) total = tf.add(total, outputs[i]);
    return total;
  }

  extract(g: LayerGeometry): StaticLayer {
    const on = activeBranches(g.branches);
    const out: StaticLayer = { geometry: g };
    if (on.mbconv) out.mbconv = this.mbconv.extract(g);
    if (on.conv1x1 && this.conv1x1) out.conv1x1 = this.conv1x1.extract(g);
    if (on.transform && this.transform) out.transform = this.transform.extract(g);
    return out;
  }
}

// ---- exit heads --------------------------------------------------------------------------------------

/** ofav2.md s1: 1x1 conv to 6W + BN + h-swish, GAP, 1x1 conv to 8W (no BN, no bias) + h-swish, dropout, linear. */
export class ExitHead {
  readonly expandWeight: tf.Variable;
  readonly expandBn: BatchNormParams;
  readonly featureMixWeight: tf.Variable;
  readonly classifierWeight: tf.Variable;
  readonly classifierBias: tf.Variable;

  constructor(store: ParameterStore, g: HeadGeometry) {
    const p = `exit${g.exit}`;
    this.expandWeight = store.conv(`${p}.expand.weight`, [1, 1, g.inChannels, g.expandChannels]);
    this.expandBn = store.batchNorm(`${p}.expand.bn`, g.expandChannels);
    this.featureMixWeight = store.conv(`${p}.featureMix.weight`, [1, 1, g.expandChannels, g.featureChannels]);
    this.classifierWeight = store.linear(`${p}.classifier.weight`, [g.featureChannels, g.numClasses]);
    this.classifierBias = store.zeros(`${p}.classifier.bias`, [g.numClasses]);
  }

  forward(x: tf.Tensor4D, g: HeadGeometry, ctx: ForwardContext): tf.Tensor2D {
    const h = batchNorm(tf.conv2d(x, this.expandWeight as tf.Tensor4D, 1, 'same'), this.expandBn, ctx, 'hswish');
    const pooled = tf.mean(h, [1, 2], true) as tf.Tensor4D;
    const mixed = hswish(tf.conv2d(pooled, this.featureMixWeight as tf.Tensor4D, 1, 'same'));
    let features = tf.reshape(mixed, [mixed.shape[0], g.featureChannels]) as tf.Tensor2D;
    if (ctx.training && ctx.dropout && ctx.dropoutRate > 0) features = tf.dropout(features, ctx.dropoutRate, undefined, ctx.dropoutSeed) as tf.Tensor2D;
    return tf.add(tf.matMul(features, this.classifierWeight as tf.Tensor2D), this.classifierBias);
  }

  extract(g: HeadGeometry): StaticHead {
    return {
      geometry: g,
      expand: { weight: staticTensor(this.expandWeight), depthwise: false, stride: 1, batchNorm: staticBatchNorm(this.expandBn, g.expandChannels), activation: 'hswish' },
      featureMix: { weight: staticTensor(this.featureMixWeight), depthwise: false, stride: 1, activation: 'hswish' },
      classifier: { weight: staticTensor(this.classifierWeight), bias: Float32Array.from(this.classifierBias.dataSync() as Float32Array) },
    };
  }
}
