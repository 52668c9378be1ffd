// Single-block export (issue 5, item 3): each block model computes what the tfjs reference computes and
// its graph counts match its analytic cost (test/space/blocks.test.ts: what a block is, its key, its cost).
import test from 'ava';
import { encodeModel, exportBlock } from '../../export/index.ts';
import { randomBlockWeights } from '../../export/blocks.ts';
import { isOfaError } from '../../lib/errors.ts';
import { createRng } from '../../lib/rng.ts';
import { blockCost, blockKey, sampleRandom, type BlockSpec } from '../../space/index.ts';
import { blocksOfConfig } from '../../space/blocks.ts';
import { applyConv, applyHead, applyLayer, applyMBConv } from '../../subnet/forward.ts';
import { countGraph } from './graph-counter.ts';
import { closeSessions, maxAbsDiff, nhwcToNchw, openSessions, randomImages, runNode, runWeb, tf, useCpuBackend } from './harness.ts';

test.before(useCpuBackend);

function reference(spec: BlockSpec, inputs: tf.Tensor4D[], seed: number): Float32Array {
  const weights = randomBlockWeights(spec, seed);
  return tf.tidy(() => {
    let x = inputs[0];
    for (let i = 1; i < inputs.length; i++) x = tf.add(x, inputs[i]);
    switch (weights.kind) {
      case 'stem':
        return applyMBConv(applyConv(x, weights.stem.conv), weights.stem.block).dataSync() as Float32Array;
      case 'layer':
        return applyLayer(x, weights.layer).dataSync() as Float32Array;
      case 'stageOutput':
        return x.dataSync() as Float32Array;
      case 'head':
        return applyHead(x, weights.head).dataSync() as Float32Array;
    }
  });
}

function inputShape(spec: BlockSpec): { count: number; size: number; channels: number } {
  switch (spec.kind) {
    case 'stem':
      return { count: 1, size: spec.inputSize, channels: spec.inChannels };
    case 'layer':
      return { count: spec.inputTerms, size: spec.inputSize, channels: spec.inChannels };
    case 'stageOutput':
      return { count: spec.terms, size: spec.size, channels: spec.channels };
    case 'head':
      return { count: 1, size: spec.inputSize, channels: spec.inChannels };
  }
}

for (const variant of ['ofa', 'ee-d', 'd-p', 'ee-d-p']) {
  test(`${variant}: every distinct block of 4 micro subnets: ONNX (node, web) == tfjs, graph MACs/params == blockCost`, async (t) => {
    const specs = new Map<string, BlockSpec>();
    for (let seed = 0; seed < 4; seed++) for (const block of blocksOfConfig(sampleRandom({ preset: 'micro', variant }, createRng(100 + seed)))) specs.set(blockKey(block), block);
    let worst = 0;
    for (const [n, [key, spec]] of [...specs.entries()].entries()) {
      const bytes = encodeModel(exportBlock(spec, { seed: n }));
      const cost = blockCost(spec);
      const counted = countGraph(bytes);
      t.is(counted.macs, cost.macs, `${key} MACs`);
      t.is(counted.params, cost.deployedParams, `${key} params`);
      const { count, size, channels } = inputShape(spec);
      const batch = 2;
      const raw = Array.from({ length: count }, (_, i) => randomImages(31 * n + i, batch, size, channels));
      const expected = reference(spec, raw.map((data) => tf.tensor4d(data, [batch, size, size, channels])), n);
      const feeds: Record<string, { data: Float32Array; dims: number[] }> = {};
      raw.forEach((data, i) => {
        feeds[count === 1 ? 'input' : `input${i}`] = { data: nhwcToNchw(data, batch, size, channels), dims: [batch, channels, size, size] };
      });
      const sessions = await openSessions(bytes, 'basic');
      try {
        const fromNode = await runNode(sessions.node, feeds);
        const fromWeb = await runWeb(sessions.web, feeds);
        // tfjs gives NHWC; the block's output is NCHW (or [N, classes] for heads).
        const outChannels = fromNode.dims.length === 4 ? fromNode.dims[1] : 0;
        const outSize = fromNode.dims.length === 4 ? fromNode.dims[2] : 0;
        const want = outChannels ? nhwcToNchw(expected, batch, outSize, outChannels) : expected;
        const d = Math.max(maxAbsDiff(fromNode.data, want), maxAbsDiff(fromWeb.data, want));
        worst = Math.max(worst, d);
        t.true(d <= 1e-4, `${key}: max abs diff ${d}`);
      } finally {
        await closeSessions(sessions);
      }
    }
    t.log(`${variant}: ${specs.size} distinct blocks, worst max abs diff ${worst.toExponential(2)}`);
  });
}

test('bad block specs are refused with E_BLOCK', (t) => {
  const layer: BlockSpec = { kind: 'layer', inputSize: 8, inChannels: 8, outChannels: 16, stride: 1, kernel: 3, mid: 24, seMid: 0, activation: 'relu', residual: true, branches: 1, inputTerms: 1 };
  const bad = [layer, { ...layer, residual: false, branches: 9 }, { ...layer, residual: false, inputTerms: 0 }, { kind: 'stageOutput', size: 4, channels: 8, terms: 1 }, { kind: 'nope' }];
  for (const spec of bad) {
    const error = t.throws(() => exportBlock(spec as BlockSpec));
    t.true(isOfaError(error) && error.code === 'E_BLOCK', String(error?.message));
  }
});
