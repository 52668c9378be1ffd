// A subnet's blocks (space/blocks.ts): they cover every op of the subnet (costs add up to space/cost.ts),
// keys identify specs, and enumerating a space yields every block that its subnets use.
import test from 'ava';
import { isOfaError } from '../../lib/errors.ts';
import { createRng } from '../../lib/rng.ts';
import {
  VARIANT_NAMES,
  blockCost,
  blockKey,
  checkBlockSpec,
  enumerateBlocks,
  sampleRandom,
  subnetCost,
  type BlockSpec,
} from '../../space/index.ts';
import { blockKeysOf, blocksOfConfig, sumCosts } from '../../space/blocks.ts';

test('blocks of a config: costs add up to subnetCost exactly (every variant, fashion and micro)', (t) => {
  for (const preset of ['fashion', 'micro', 'tiny-imagenet'])
    for (const variant of VARIANT_NAMES)
      for (let seed = 0; seed < 10; seed++) {
        const config = sampleRandom({ preset, variant }, createRng(seed));
        const total = sumCosts(blocksOfConfig(config).map(blockCost));
        t.deepEqual(total, subnetCost(config), `${preset} ${variant} seed ${seed}`);
      }
});

test('blockKey: equal keys <=> equal specs; stage-output sums appear exactly for the dense stages of depth >= 3', (t) => {
  const byKey = new Map<string, string>();
  for (const variant of VARIANT_NAMES)
    for (let seed = 0; seed < 30; seed++) {
      const config = sampleRandom({ preset: 'fashion', variant }, createRng(seed));
      const blocks = blocksOfConfig(config);
      t.is(blocks[0].kind, 'stem');
      t.is(blocks[blocks.length - 1].kind, 'head');
      const sums = blocks.filter((b) => b.kind === 'stageOutput');
      // ofav2.md s1 dense skips: a stage of depth D sums y_D + y_1 + ... + y_{D-2}, a sum of D - 1 terms
      // (a block) only from depth 3 on.
      const summed = config.stages.filter((stage) => stage.depth >= 3);
      t.deepEqual(sums.map((b) => b.kind === 'stageOutput' && b.terms), variant.includes('d') ? summed.map((stage) => stage.depth - 1) : [], `${variant}: stage-output blocks`);
      for (const block of blocks) {
        const key = blockKey(block);
        const json = JSON.stringify(block);
        const seen = byKey.get(key);
        if (seen !== undefined) t.is(seen, json, `key ${key} names two different specs`);
        byKey.set(key, json);
      }
    }
  t.true(byKey.size > 100);
  // A layer whose MBConv branch is off does not depend on kernel/expand: those fields are zeroed, one key.
  let off = 0;
  for (let seed = 0; seed < 5; seed++) {
    for (const block of blocksOfConfig(sampleRandom({ preset: 'micro', variant: 'p' }, createRng(seed)))) {
      if (block.kind !== 'layer' || (block.branches & 1) !== 0) continue;
      off++;
      t.deepEqual([block.kernel, block.mid, block.seMid, block.residual], [0, 0, 0, false]);
    }
  }
  t.true(off > 0);
});

test('the enumerated blocks cover every block that 1000 random subnets need, for every variant', (t) => {
  for (const variant of VARIANT_NAMES) {
    const blocks = enumerateBlocks({ preset: 'micro', variant });
    const rng = createRng(42);
    const missing = new Set<string>();
    const used = new Set<string>();
    for (let i = 0; i < 1000; i++) {
      for (const key of blockKeysOf(sampleRandom({ preset: 'micro', variant }, rng))) {
        used.add(key);
        if (!blocks.has(key)) missing.add(key);
      }
    }
    t.deepEqual([...missing], [], variant);
    // Enumeration is not padding: most of its blocks do occur in random subnets.
    t.true(used.size >= 0.8 * blocks.size, `${variant}: ${used.size} of ${blocks.size} used`);
  }
  // By hand for micro/ofa: per resolution (8, 12) one stem and one head; per stage 9 (kernel x expand)
  // first-layer geometries plus 9 for positions 2..4, shared where geometries coincide: stage 1's first
  // layer (stride 1, 8 -> 8) is like its later ones, and stage 5's layers are like stage 4's later ones
  // (same map size, 16 -> 16, hswish, SE). So 9 + 18 + 18 + 18 + 0 = 63 layers per resolution:
  // 2 * (1 + 63 + 1) = 130.
  t.is(enumerateBlocks({ preset: 'micro', variant: 'ofa' }).size, 130);
});

test('bad block specs are refused with E_BLOCK, naming the field and what is allowed', (t) => {
  const layer: BlockSpec = { kind: 'layer', inputSize: 8, inChannels: 8, outChannels: 16, stride: 1, kernel: 3, mid: 24, seMid: 0, activation: 'relu', residual: true, branches: 1, inputTerms: 1 };
  const bad: [unknown, RegExp][] = [
    [layer, /residual true is not valid; allowed: true only with stride 1 and inChannels == outChannels/],
    [{ ...layer, residual: false, branches: 9 }, /branches 9 is not valid; allowed: 1\.\.7/],
    [{ ...layer, residual: false, inputTerms: 0 }, /inputTerms 0 is not valid; allowed: an integer >= 1/],
    [{ kind: 'stageOutput', size: 4, channels: 8, terms: 1 }, /terms 1 is not valid; allowed: an integer >= 2/],
    [{ kind: 'nope' }, /unknown kind "nope"; allowed: stem, layer, stageOutput, head/],
  ];
  for (const [spec, message] of bad) {
    const error = t.throws(() => checkBlockSpec(spec as BlockSpec), { message });
    t.true(isOfaError(error) && error.code === 'E_BLOCK', String(error?.message));
  }
  for (const spec of blocksOfConfig(sampleRandom({ preset: 'micro', variant: 'ee-d-p' }, createRng(1)))) t.notThrows(() => checkBlockSpec(spec));
});
