// ONNX node emitters for the parts of a static subnet (ofav2.md s1), one small function per part, shared
// by the whole-subnet export and the single-block export. Every emitter takes its input value name and
// spatial size and returns its output value name; node names are dotted paths (`stage2.layer1.mbconv.depthwise`).
//
// MAC conventions (space/cost.ts) hold node by node in what is emitted here: BN is folded into its conv
// (or, alone, becomes Mul + Add), sums are chains of binary Adds (one per extra term), SE is
// GlobalAveragePool -> Conv -> Relu -> Conv -> HardSigmoid -> Mul.
import { activeBranches, convOutputSize, denseSkipTerms, samePadding } from '../space/index.ts';
import type { StaticBatchNorm, StaticConv, StaticHead, StaticLayer, StaticMBConv, StaticStage, StaticSubnet } from '../subnet/index.ts';
import { batchNormAffine, convWeights } from './layout.ts';
import type { GraphBuilder } from './onnx.ts';

export interface EmitContext {
  graph: GraphBuilder;
  /** Fold BN into the preceding conv (the deployed form); false emits BatchNormalization nodes (benchmarks). */
  foldBatchNorm: boolean;
}

export interface Value {
  name: string;
  /** Spatial size (square maps). */
  size: number;
}

export function emitActivation(ctx: EmitContext, name: string, input: string, activation: StaticConv['activation']): string {
  switch (activation) {
    case 'relu':
      return ctx.graph.node('Relu', `${name}.relu`, [input]);
    case 'hswish':
      return ctx.graph.node('HardSwish', `${name}.hswish`, [input]);
    case 'hsigmoid':
      // ONNX HardSigmoid defaults to alpha 0.2; MobileNetV3's h-sigmoid is relu6(x + 3) / 6.
      return ctx.graph.node('HardSigmoid', `${name}.hsigmoid`, [input], { alpha: { float: 1 / 6 }, beta: { float: 0.5 } });
    case 'none':
      return input;
  }
}

function vectorInitializer(ctx: EmitContext, name: string, values: ArrayLike<number>, dims = [values.length]): string {
  return ctx.graph.initializer(name, dims, Float32Array.from(values));
}

function emitBatchNormNode(ctx: EmitContext, name: string, input: string, bn: StaticBatchNorm): string {
  const inputs = [
    input,
    vectorInitializer(ctx, `${name}.gamma`, bn.gamma),
    vectorInitializer(ctx, `${name}.beta`, bn.beta),
    vectorInitializer(ctx, `${name}.mean`, bn.runningMean),
    vectorInitializer(ctx, `${name}.variance`, bn.runningVariance),
  ];
  return ctx.graph.node('BatchNormalization', name, inputs, { epsilon: { float: bn.epsilon } });
}

/** Convolution with TF SAME padding as explicit pads (space/presets.ts samePadding), BN, activation. */
export function emitConv(ctx: EmitContext, name: string, input: Value, conv: StaticConv): Value {
  const weights = convWeights(conv, ctx.foldBatchNorm);
  const [before, after] = samePadding(input.size, weights.kernel, conv.stride);
  const inputs = [input.name, ctx.graph.initializer(`${name}.weight`, weights.dims, weights.weight)];
  if (weights.bias) inputs.push(vectorInitializer(ctx, `${name}.bias`, weights.bias));
  let out = ctx.graph.node('Conv', name, inputs, {
    kernel_shape: [weights.kernel, weights.kernel],
    strides: [conv.stride, conv.stride],
    pads: [before, before, after, after],
    dilations: [1, 1],
    group: weights.group,
  });
  if (!ctx.foldBatchNorm && conv.batchNorm) out = emitBatchNormNode(ctx, `${name}.bn`, out, conv.batchNorm);
  return { name: emitActivation(ctx, name, out, conv.activation), size: convOutputSize(input.size, conv.stride) };
}

/** A BN with no conv before it (transform branch, Cin == Cout): per-channel Mul + Add (space/cost.ts). */
export function emitStandaloneBatchNorm(ctx: EmitContext, name: string, input: string, bn: StaticBatchNorm): string {
  if (!ctx.foldBatchNorm) return emitBatchNormNode(ctx, name, input, bn);
  const { scale, shift } = batchNormAffine(bn);
  const dims = [scale.length, 1, 1]; // broadcasts over [N, C, H, W]
  const scaled = ctx.graph.node('Mul', `${name}.scale`, [input, vectorInitializer(ctx, `${name}.scale.value`, scale, dims)]);
  return ctx.graph.node('Add', `${name}.shift`, [scaled, vectorInitializer(ctx, `${name}.shift.value`, shift, dims)]);
}

/** Left-to-right chain of Adds named `${name}.add1`, `${name}.add2`, ... (the order static_forward uses). */
export function emitSum(ctx: EmitContext, name: string, terms: string[]): string {
  let total = terms[0];
  for (let i = 1; i < terms.length; i++) total = ctx.graph.node('Add', `${name}.add${i}`, [total, terms[i]]);
  return total;
}

export function emitMBConv(ctx: EmitContext, name: string, input: Value, block: StaticMBConv): Value {
  let x = block.expandConv ? emitConv(ctx, `${name}.expand`, input, block.expandConv) : input;
  x = emitConv(ctx, `${name}.depthwise`, x, block.depthwise);
  if (block.squeezeExcite) {
    const pooled = ctx.graph.node('GlobalAveragePool', `${name}.se.pool`, [x.name]);
    const reduced = emitConv(ctx, `${name}.se.reduce`, { name: pooled, size: 1 }, block.squeezeExcite.reduce);
    const gate = emitConv(ctx, `${name}.se.expand`, reduced, block.squeezeExcite.expand);
    x = { name: ctx.graph.node('Mul', `${name}.se.scale`, [x.name, gate.name]), size: x.size };
  }
  x = emitConv(ctx, `${name}.project`, x, block.project);
  if (block.residual) x = { name: ctx.graph.node('Add', `${name}.residual`, [x.name, input.name]), size: x.size };
  return x;
}

/** One layer position: active branches (0 mbconv, 1 conv1x1, 2 transform) summed in that order. */
export function emitLayer(ctx: EmitContext, name: string, input: Value, layer: StaticLayer): Value {
  const active = activeBranches(layer.geometry.branches);
  const outputs: Value[] = [];
  const missing = (what: string) => new Error(`${name}: branch mask ${layer.geometry.branches} needs ${what}, which the static subnet lacks`);
  if (active.mbconv) {
    if (!layer.mbconv) throw missing('mbconv');
    outputs.push(emitMBConv(ctx, `${name}.mbconv`, input, layer.mbconv));
  }
  if (active.conv1x1) {
    if (!layer.conv1x1) throw missing('conv1x1');
    outputs.push(emitConv(ctx, `${name}.branch1.conv`, input, layer.conv1x1));
  }
  if (active.transform) {
    const transform = layer.transform;
    if (!transform) throw missing('transform');
    let x = input;
    if (transform.poolKernel > 1) {
      const k = transform.poolKernel;
      const [before, after] = samePadding(x.size, k, k);
      x = {
        name: ctx.graph.node('MaxPool', `${name}.branch2.pool`, [x.name], { kernel_shape: [k, k], strides: [k, k], pads: [before, before, after, after] }),
        size: convOutputSize(x.size, k),
      };
    }
    if (transform.conv) x = emitConv(ctx, `${name}.branch2.conv`, x, transform.conv);
    else {
      if (!transform.batchNorm) throw missing('transform.batchNorm');
      const normed = emitStandaloneBatchNorm(ctx, `${name}.branch2.bn`, x.name, transform.batchNorm);
      x = { name: emitActivation(ctx, `${name}.branch2.bn`, normed, transform.activation), size: x.size };
    }
    outputs.push(x);
  }
  return { name: emitSum(ctx, `${name}.sum`, outputs.map((o) => o.name)), size: outputs[0].size };
}

/** A stage with dense skips (ofav2.md s1): layer d >= 2 reads y_{d-1} + y_1 + ... + y_{d-3}; the output is y_D + y_1 + ... + y_{D-2}. */
export function emitStage(ctx: EmitContext, input: Value, stage: StaticStage): Value {
  const outputs: Value[] = [];
  const denseSum = (name: string): Value => {
    const terms = denseSkipTerms(outputs.length).map((j) => outputs[j]);
    return { name: emitSum(ctx, name, terms.map((o) => o.name)), size: terms[0].size };
  };
  let x = input;
  stage.layers.forEach((layer, l) => {
    const name = `stage${stage.index}.layer${l + 1}`;
    if (stage.denseSkip && l >= 1) x = denseSum(`${name}.input`);
    const y = emitLayer(ctx, name, x, layer);
    outputs.push(y);
    x = y;
  });
  if (!stage.denseSkip) return x;
  return denseSum(`stage${stage.index}.output`);
}

/** Exit head (ofav2.md s1): expand conv + BN + h-swish, GAP, feature mix + h-swish, flatten, classifier. */
export function emitHead(ctx: EmitContext, name: string, input: Value, head: StaticHead): string {
  const expanded = emitConv(ctx, `${name}.expand`, input, head.expand);
  const pooled = ctx.graph.node('GlobalAveragePool', `${name}.pool`, [expanded.name]);
  const features = emitConv(ctx, `${name}.featureMix`, { name: pooled, size: 1 }, head.featureMix);
  const flat = ctx.graph.node('Flatten', `${name}.flatten`, [features.name], { axis: 1 });
  const [inFeatures, classes] = head.classifier.weight.shape;
  const weight = ctx.graph.initializer(`${name}.classifier.weight`, [inFeatures, classes], head.classifier.weight.data);
  const bias = vectorInitializer(ctx, `${name}.classifier.bias`, head.classifier.bias);
  return ctx.graph.node('Gemm', `${name}.classifier`, [flat, weight, bias], { transA: 0, transB: 0 });
}

export function emitStem(ctx: EmitContext, input: Value, stem: StaticSubnet['stem']): Value {
  const x = emitConv(ctx, 'stem.conv', input, stem.conv);
  return emitMBConv(ctx, 'stem.block', x, stem.block);
}
