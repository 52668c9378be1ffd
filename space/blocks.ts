// A subnet as a sequence of blocks (ofav2.md s5; pipeline.md "Measuring latency"): stem, every layer
// (with its dense-skip input sum), every stage-output dense sum, the exit head. A block's key names
// every field that changes its cost, so a latency lookup table keyed by blockKey covers every op of every
// subnet, and the block costs add up to the subnet's exactly (space/cost.ts). These are facts of the
// search space: the exporter emits a block's ONNX model from its spec (export/blocks.ts), the profiler
// measures it, and the latency predictor only needs the keys (profile/predict.ts), so nothing here
// imports a training engine, an ONNX library or a runtime.
import { OfaError } from '../lib/errors.ts';
import type { SubnetConfig } from './config.ts';
import { addCost, headCost, layerCost, stemCost, type Cost } from './cost.ts';
import { activeBranches, subnetGeometry, type HeadGeometry, type LayerGeometry, type StemGeometry, type SubnetGeometry } from './geometry.ts';
import { convOutputSize, type Activation } from './presets.ts';
import { resolveDimensions, sampleUniform, type SpaceRef } from './sample.ts';

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
  /** Dense-skip tensors summed to form the input (1 = a plain input); from space/geometry.ts. */
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
  return blocksOfGeometry(subnetGeometry(config));
}

/** blocksOfConfig of a geometry already derived. */
export function blocksOfGeometry(geometry: SubnetGeometry): BlockSpec[] {
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

/** The keys of a subnet's blocks, in network order (a key appears once per block that uses it). */
export function blockKeysOf(config: SubnetConfig): string[] {
  return blocksOfConfig(config).map(blockKey);
}

/**
 * Every distinct block of the space, keyed. A block's geometry depends only on the resolution, its
 * stage and position, its own layer choice (kernel, expand, branch mask), the stage depth (dense
 * stage sums) and the exit, never on the choices of other layers. So the uniform configurations over
 * resolution x exit x depth x (kernel, expand, mask) produce every block; the tests check the claim
 * against 1000 random subnets.
 */
export function enumerateBlocks(space: SpaceRef): Map<string, BlockSpec> {
  const dims = resolveDimensions(space);
  const blocks = new Map<string, BlockSpec>();
  for (const resolution of dims.resolutions)
    for (const exit of dims.exits)
      for (const depth of dims.depths)
        for (const kernel of dims.kernelSizes)
          for (const expand of dims.expandRatios)
            for (const branches of dims.branchMasks) {
              const config = sampleUniform(space, { kernel, expand, depth, resolution, exit, branches });
              for (const spec of blocksOfConfig(config)) {
                const key = blockKey(spec);
                if (!blocks.has(key)) blocks.set(key, spec);
              }
            }
  return blocks;
}

/** The layer geometry a layer block stands for (position fields 0: a block does not know where it sits). */
export function blockLayerGeometry(spec: LayerBlockSpec): LayerGeometry {
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

export function blockStemGeometry(spec: StemBlockSpec): StemGeometry {
  const { kind: _, ...stem } = spec;
  return { ...stem, outputSize: convOutputSize(spec.inputSize, spec.stride) };
}

export function blockHeadGeometry(spec: HeadBlockSpec): HeadGeometry {
  const { kind: _, ...head } = spec;
  return { exit: 0, ...head };
}

/** MACs and params of one block, by space/cost.ts (the sum over blocksOfConfig equals subnetCost). */
export function blockCost(spec: BlockSpec): Cost {
  switch (spec.kind) {
    case 'stem':
      return stemCost(blockStemGeometry(spec));
    case 'layer':
      return layerCost(blockLayerGeometry(spec));
    case 'stageOutput':
      return { macs: spec.size * spec.size * spec.channels * (spec.terms - 1), params: 0, deployedParams: 0 };
    case 'head':
      return headCost(blockHeadGeometry(spec));
  }
}

export function sumCosts(costs: readonly Cost[]): Cost {
  return costs.reduce(addCost, { macs: 0, params: 0, deployedParams: 0 });
}

/** Throws E_BLOCK naming the field, its bad value and what is allowed when `spec` is no valid block. */
export function checkBlockSpec(spec: BlockSpec): void {
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
