// Single-block export for the profiler's lookup tables (ofav2.md s5, pipeline.md "Measuring latency").
// What a block is, its key and its cost are facts of the search space (space/blocks.ts); this file emits
// one block as its own ONNX model with random weights.
//
// Block model inputs: a block whose input is a sum of n tensors (a layer with n dense-skip input terms,
// a stage-output sum of n terms) has n model inputs `input0` .. `input{n-1}`, summed inside the model
// in that order, as in the whole subnet; every other block has one input `input`. The output is `output`.
import { createRng } from '../lib/rng.ts';
import {
  blockCost,
  blockHeadGeometry,
  blockKey,
  blockLayerGeometry,
  blockStemGeometry,
  checkBlockSpec,
  convOutputSize,
  type BlockSpec,
} from '../space/index.ts';
import { emitHead, emitLayer, emitStem, emitSum, type EmitContext } from './emit.ts';
import type { StaticHead, StaticLayer, StaticSubnet } from '../subnet/index.ts';
import { GraphBuilder, type ModelProto, type TensorInfo } from './onnx.ts';
import { randomHead, randomLayer, randomStem } from './random.ts';
import { BATCH_DIM } from './subnet.ts';

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
  checkBlockSpec(spec);
  const rng = createRng(seed);
  switch (spec.kind) {
    case 'stem':
      return { kind: 'stem', stem: randomStem(rng, blockStemGeometry(spec)) };
    case 'layer':
      return { kind: 'layer', layer: randomLayer(rng, blockLayerGeometry(spec)) };
    case 'stageOutput':
      return { kind: 'stageOutput' };
    case 'head':
      return { kind: 'head', head: randomHead(rng, blockHeadGeometry(spec)) };
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
