// Single-block export for the profiler's lookup tables (ofav2.md s5, pipeline.md "Measuring latency").
// A subnet is the sequence blocksOfConfig(config): stem, every layer (with its dense-skip input sum),
// every stage-output dense sum, the exit head. Their costs add up to the subnet's exactly
// (space/cost.ts), so a table keyed by blockKey covers every op of every subnet.
//
// Block model inputs: a block whose input is a sum of n tensors (a layer with n dense-skip input terms,
// a stage-output sum of n terms) has n model inputs `input0` .. `input{n-1}`, summed inside the model
// in that order, as in the whole subnet; every other block has one input `input`. The output is `output`.
import { OfaError } from '../lib/errors.ts';
import { createRng } from '../lib/rng.ts';
import {
  activeBranches,
  addCost,
  convOutputSize,
  headCost,
  layerCost,
  stemCost,
  subnetGeometry,
  type Activation,
  type Cost,
  type HeadGeometry,
  type LayerGeometry,
  type StemGeometry,
  type SubnetConfig,
} from '../space/index.ts';
import { emitHead, emitLayer, emitStem, emitSum, type EmitContext } from './emit.ts';
import type { StaticHead, StaticLayer, StaticSubnet } from '../train/static.ts';
import { GraphBuilder, type ModelProto, type TensorInfo } from './onnx.ts';
import { randomHead, randomLayer, randomStem } from './random.ts';
import { BATCH_DIM } from './subnet.ts';

export interface StemBlockSpec {
  kind: 'stem';
  inputSize: number;
  inChannels: number;
  outChannels: number;
  kernel: number;
  stride: number;
  blockKernel: number;
}

/**
 * One layer position. When the MBConv branch is off (P variants), kernel, mid and seMid are 0 and
 * residual false: they do not change the block (as in the canonical SubnetConfig).
 */
export interface LayerBlockSpec {
  kind: 'layer';
  inputSize: number;
  inChannels: number;
  outChannels: number;
  stride: number;
  kernel: number;
  mid: number;
  /** SE reduced channels; 0 without SE. */
  seMid: number;
  activation: Activation;
  residual: boolean;
  /** Branch mask 1..7 (bit 0 MBConv, bit 1 1x1 conv, bit 2 transform). */
  branches: number;
  /** Dense-skip tensors summed to form the input (1 = a plain input). */
  inputTerms: number;
}

/** The dense-skip sum that forms a stage's output: `terms` tensors of [channels, size, size]. */
export interface StageOutputBlockSpec {
  kind: 'stageOutput';
  size: number;
  channels: number;
  terms: number;
}

/** An exit head (the final head is exit 5): expand, pool, feature mix, classifier. */
export interface HeadBlockSpec {
  kind: 'head';
  inputSize: number;
  inChannels: number;
  expandChannels: number;
  featureChannels: number;
  numClasses: number;
}

export type BlockSpec = StemBlockSpec | LayerBlockSpec | StageOutputBlockSpec | HeadBlockSpec;

export function stemBlock(stem: StemGeometry): StemBlockSpec {
  const { inputSize, inChannels, outChannels, kernel, stride, blockKernel } = stem;
  return { kind: 'stem', inputSize, inChannels, outChannels, kernel, stride, blockKernel };
}

export function layerBlock(layer: LayerGeometry): LayerBlockSpec {
  const mbconv = activeBranches(layer.branches).mbconv;
  return {
    kind: 'layer',
    inputSize: layer.inputSize,
    inChannels: layer.inChannels,
    outChannels: layer.outChannels,
    stride: layer.stride,
    kernel: mbconv ? layer.kernel : 0,
    mid: mbconv ? layer.mid : 0,
    seMid: mbconv ? layer.seMid : 0,
    activation: layer.activation,
    residual: mbconv && layer.residual,
    branches: layer.branches,
    inputTerms: layer.inputTerms,
  };
}

export function headBlock(head: HeadGeometry): HeadBlockSpec {
  const { inputSize, inChannels, expandChannels, featureChannels, numClasses } = head;
  return { kind: 'head', inputSize, inChannels, expandChannels, featureChannels, numClasses };
}

/** The blocks of a subnet, in execution order. */
export function blocksOfConfig(config: SubnetConfig): BlockSpec[] {
  const geometry = subnetGeometry(config);
  const blocks: BlockSpec[] = [stemBlock(geometry.stem)];
  for (const stage of geometry.stages) {
    for (const layer of stage.layers) blocks.push(layerBlock(layer));
    if (stage.outputTerms > 1) {
      const last = stage.layers[stage.layers.length - 1];
      blocks.push({ kind: 'stageOutput', size: last.outputSize, channels: last.outChannels, terms: stage.outputTerms });
    }
  }
  blocks.push(headBlock(geometry.head));
  return blocks;
}

/** A stable, readable lookup-table key: every field that changes the block's cost, in a fixed order. */
export function blockKey(spec: BlockSpec): string {
  switch (spec.kind) {
    case 'stem':
      return `stem:r${spec.inputSize}-c${spec.inChannels}-o${spec.outChannels}-k${spec.kernel}-s${spec.stride}-bk${spec.blockKernel}`;
    case 'layer':
      return (
        `layer:r${spec.inputSize}-c${spec.inChannels}-o${spec.outChannels}-s${spec.stride}-k${spec.kernel}-m${spec.mid}` +
        `-se${spec.seMid}-${spec.activation}-res${spec.residual ? 1 : 0}-b${spec.branches}-t${spec.inputTerms}`
      );
    case 'stageOutput':
      return `sum:r${spec.size}-c${spec.channels}-t${spec.terms}`;
    case 'head':
      return `head:r${spec.inputSize}-c${spec.inChannels}-e${spec.expandChannels}-f${spec.featureChannels}-n${spec.numClasses}`;
  }
}

function layerGeometryOf(spec: LayerBlockSpec): LayerGeometry {
  return {
    stage: 0,
    layer: 0,
    inputSize: spec.inputSize,
    outputSize: convOutputSize(spec.inputSize, spec.stride),
    inChannels: spec.inChannels,
    outChannels: spec.outChannels,
    stride: spec.stride,
    kernel: spec.kernel,
    expand: 0,
    mid: spec.mid,
    squeezeExcite: spec.seMid > 0,
    seMid: spec.seMid,
    activation: spec.activation,
    residual: spec.residual,
    branches: spec.branches,
    inputTerms: spec.inputTerms,
  };
}

function headGeometryOf(spec: HeadBlockSpec): HeadGeometry {
  return { exit: 0, ...spec };
}

/** MACs and params of one block, by space/cost.ts (the sum over blocksOfConfig equals subnetCost). */
export function blockCost(spec: BlockSpec): Cost {
  switch (spec.kind) {
    case 'stem':
      return stemCost({ ...spec, outputSize: convOutputSize(spec.inputSize, spec.stride) });
    case 'layer':
      return layerCost(layerGeometryOf(spec));
    case 'stageOutput':
      return { macs: spec.size * spec.size * spec.channels * (spec.terms - 1), params: 0, deployedParams: 0 };
    case 'head':
      return headCost(headGeometryOf(spec));
  }
}

export function sumCosts(costs: Cost[]): Cost {
  return costs.reduce(addCost, { macs: 0, params: 0, deployedParams: 0 });
}

function checkSpec(spec: BlockSpec): void {
  const bad = (field: string, value: unknown, allowed: string) =>
    new OfaError('E_BLOCK', `block spec ${spec.kind}: ${field} ${JSON.stringify(value)} is not valid; allowed: ${allowed}`);
  const positive = (field: string, value: number) => {
    if (!Number.isInteger(value) || value < 1) throw bad(field, value, 'an integer >= 1');
  };
  switch (spec.kind) {
    case 'stem':
      for (const f of ['inputSize', 'inChannels', 'outChannels', 'kernel', 'stride', 'blockKernel'] as const) positive(f, spec[f]);
      return;
    case 'layer': {
      for (const f of ['inputSize', 'inChannels', 'outChannels', 'stride', 'inputTerms'] as const) positive(f, spec[f]);
      if (!Number.isInteger(spec.branches) || spec.branches < 1 || spec.branches > 7) throw bad('branches', spec.branches, '1..7');
      if (spec.activation !== 'relu' && spec.activation !== 'hswish') throw bad('activation', spec.activation, 'relu, hswish');
      if (activeBranches(spec.branches).mbconv) {
        positive('kernel', spec.kernel);
        positive('mid', spec.mid);
        if (!Number.isInteger(spec.seMid) || spec.seMid < 0) throw bad('seMid', spec.seMid, 'an integer >= 0 (0 = no SE)');
        if (spec.residual && (spec.stride !== 1 || spec.inChannels !== spec.outChannels)) {
          throw bad('residual', spec.residual, 'true only with stride 1 and inChannels == outChannels');
        }
      }
      return;
    }
    case 'stageOutput':
      positive('size', spec.size);
      positive('channels', spec.channels);
      if (!Number.isInteger(spec.terms) || spec.terms < 2) throw bad('terms', spec.terms, 'an integer >= 2 (one term is no block)');
      return;
    case 'head':
      for (const f of ['inputSize', 'inChannels', 'expandChannels', 'featureChannels', 'numClasses'] as const) positive(f, spec[f]);
      return;
    default:
      throw new OfaError('E_BLOCK', `block spec: unknown kind ${JSON.stringify((spec as { kind: unknown }).kind)}; allowed: stem, layer, stageOutput, head`);
  }
}

export const BLOCK_OUTPUT_NAME = 'output';

export interface BlockExportOptions {
  /** Seed of the random weights (latency does not depend on them). Default 0. */
  seed?: number;
  foldBatchNorm?: boolean;
}

function summedInputs(count: number, channels: number, size: number): TensorInfo[] {
  if (count === 1) return [{ name: 'input', shape: [BATCH_DIM, channels, size, size] }];
  return Array.from({ length: count }, (_, i) => ({ name: `input${i}`, shape: [BATCH_DIM, channels, size, size] }));
}

export type BlockWeights =
  | { kind: 'stem'; stem: StaticSubnet['stem'] }
  | { kind: 'layer'; layer: StaticLayer }
  | { kind: 'stageOutput' }
  | { kind: 'head'; head: StaticHead };

/** The random weights exportBlock uses for `spec` and `seed` (uncalibrated BN: latency needs no scale). */
export function randomBlockWeights(spec: BlockSpec, seed = 0): BlockWeights {
  checkSpec(spec);
  const rng = createRng(seed);
  switch (spec.kind) {
    case 'stem':
      return { kind: 'stem', stem: randomStem(rng, { ...spec, outputSize: convOutputSize(spec.inputSize, spec.stride) }) };
    case 'layer':
      return { kind: 'layer', layer: randomLayer(rng, layerGeometryOf(spec)) };
    case 'stageOutput':
      return { kind: 'stageOutput' };
    case 'head':
      return { kind: 'head', head: randomHead(rng, headGeometryOf(spec)) };
  }
}

/** One block as its own ONNX model with random weights (see the file comment for inputs and outputs). */
export function exportBlock(spec: BlockSpec, options: BlockExportOptions = {}): ModelProto {
  const weights = randomBlockWeights(spec, options.seed ?? 0);
  const graph = new GraphBuilder();
  const ctx: EmitContext = { graph, foldBatchNorm: options.foldBatchNorm ?? true };
  let inputs: TensorInfo[];
  let output: TensorInfo;
  let last: string;
  if (spec.kind === 'stem' && weights.kind === 'stem') {
    inputs = summedInputs(1, spec.inChannels, spec.inputSize);
    const size = convOutputSize(spec.inputSize, spec.stride);
    last = emitStem(ctx, { name: 'input', size: spec.inputSize }, weights.stem).name;
    output = { name: BLOCK_OUTPUT_NAME, shape: [BATCH_DIM, spec.outChannels, size, size] };
  } else if (spec.kind === 'layer' && weights.kind === 'layer') {
    inputs = summedInputs(spec.inputTerms, spec.inChannels, spec.inputSize);
    const x = emitSum(ctx, 'layer.input', inputs.map((i) => i.name));
    const size = convOutputSize(spec.inputSize, spec.stride);
    last = emitLayer(ctx, 'layer', { name: x, size: spec.inputSize }, weights.layer).name;
    output = { name: BLOCK_OUTPUT_NAME, shape: [BATCH_DIM, spec.outChannels, size, size] };
  } else if (spec.kind === 'stageOutput') {
    inputs = summedInputs(spec.terms, spec.channels, spec.size);
    last = emitSum(ctx, 'stage.output', inputs.map((i) => i.name));
    output = { name: BLOCK_OUTPUT_NAME, shape: [BATCH_DIM, spec.channels, spec.size, spec.size] };
  } else if (spec.kind === 'head' && weights.kind === 'head') {
    inputs = summedInputs(1, spec.inChannels, spec.inputSize);
    last = emitHead(ctx, 'head', { name: 'input', size: spec.inputSize }, weights.head);
    output = { name: BLOCK_OUTPUT_NAME, shape: [BATCH_DIM, spec.numClasses] };
  } else {
    throw new Error(`exportBlock: weights of kind ${weights.kind} for a ${spec.kind} block`);
  }
  graph.renameLastOutput(last, BLOCK_OUTPUT_NAME);
  const cost = blockCost(spec);
  const key = blockKey(spec);
  return graph.build({
    graphName: `ofav2-block-${spec.kind}`,
    inputs,
    outputs: [output],
    docString: `OFAv2 block ${key}, random weights, exported by ofav2`,
    metadata: {
      block_key: key,
      block_spec: JSON.stringify(spec),
      macs: String(cost.macs),
      params: String(cost.deployedParams),
    },
  });
}
