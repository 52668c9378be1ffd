// The block-term fit (profile/fit.ts) on synthetic data whose block costs and interaction are known:
// a table that is wrong about one block and blind to one neighbour interaction, whole subnets "measured"
// as the truth plus a little noise. The fit must recover both, predict held-out subnets, and reduce to
// the five-term fit at rho = 0.
import test from 'ava';
import { createRng } from '../../lib/rng.ts';
import { fitLatencyModel, predictSample, MIN_SUBNETS_FOR_TERMS, type FitSample, type LatencyFit } from '../../profile/fit.ts';
import { ARTIFACT_FORMATS } from '../../profile/artifacts.ts';
import { applyCalibration, fitCalibration, makePredictor, predictorQuality, readCalibration, tableBlocks } from '../../profile/predictor.ts';
import { sampleUniform } from '../../space/index.ts';
import { syntheticTable } from '../search/fixtures.ts';
import { tempDir, writeTemp } from './fixtures.ts';
import { pairKey, termColumns, termsMs, type BlockTerms, type TermBlock } from '../../profile/terms.ts';

const GROUPS = ['g0', 'g1', 'g2', 'g3'];
const KEYS = GROUPS.flatMap((group) => [0, 1, 2, 3].map((k) => ({ key: `${group}-k${k}`, group })));
/** The table's entries (ms): what each block costs alone. */
const ENTRY: Record<string, number> = Object.fromEntries(KEYS.map(({ key }, i) => [key, 0.05 + ((i * 7) % 16) * 0.03]));

// The truth inside a whole network: every block at 0.9 of its entry, plus
const SCALE = 0.9;
/** one block that costs 30% of its entry more than the table says (it fuses worse, say), */
const DEAR_KEY = 'g0-k2';
const DEAR = 0.3;
/** and an interaction: a g2 block right after a g1 block costs 25% of its entry more. */
const PAIR = pairKey('g1', 'g2');
const INTERACTION = 0.25;
const OFFSET_MS = 0.02;
const PER_BLOCK_MS = -0.004;

function trueLatency(blocks: readonly TermBlock[]): number {
  let ms = OFFSET_MS + PER_BLOCK_MS * blocks.length;
  blocks.forEach((block, i) => {
    let factor = SCALE + (block.key === DEAR_KEY ? DEAR : 0);
    if (i > 0 && pairKey(blocks[i - 1].group, block.group) === PAIR) factor += INTERACTION;
    ms += block.ms * factor;
  });
  return ms;
}

/** Random subnets of 6-12 blocks, "measured" as the truth with `noise` relative error. */
function subnets(count: number, seed: number, noise = 0.002): FitSample[] {
  const rng = createRng(seed);
  return Array.from({ length: count }, () => {
    const length = 6 + rng.int(7);
    const blockList = Array.from({ length }, () => {
      const { key, group } = rng.pick(KEYS);
      return { key, group, ms: ENTRY[key] };
    });
    const tableSumMs = blockList.reduce((s, b) => s + b.ms, 0);
    return {
      measuredMs: trueLatency(blockList) * (1 + noise * rng.normal()),
      tableSumMs,
      blocks: length,
      // MACs and parameters that do not matter here (their coefficients should come out near 0).
      megaMacs: rng.next() * 10,
      megaParams: rng.next(),
      blockList,
    };
  });
}

/**
 * A block's fitted cost inside a network, in ms, after a block of `previousGroup`: its entry times (scale +
 * its key's, its group's and its pair's terms) plus the per-block term. (The factor alone is not
 * identifiable apart from perBlockMs when entries vary little; the block's cost is.)
 */
function fittedCostMs(fit: Required<LatencyFit>, key: string, group: string, previousGroup: string): number {
  const { terms, coefficients } = fit;
  const factor = coefficients.scale + (terms.block[key] ?? 0) + (terms.group[group] ?? 0) + (terms.pair[pairKey(previousGroup, group)] ?? 0);
  return ENTRY[key] * factor + coefficients.perBlockMs;
}

test('the fit recovers a known block cost and a known neighbour interaction that the table misses', (t) => {
  const fit = fitLatencyModel(subnets(240, 1));
  t.truthy(fit.terms, 'block terms fitted');
  t.truthy(fit.cv && fit.cv.rho > 0, `cross-validation chose rho ${fit.cv?.rho}`);
  const fitted = fit as Required<LatencyFit>;
  // Each block's cost after a g3 block (no interaction there): 0.9 of its entry (1.2 for the dear
  // block) plus the per-block term, within 2% of its entry.
  for (const { key, group } of KEYS) {
    const expected = ENTRY[key] * (SCALE + (key === DEAR_KEY ? DEAR : 0)) + PER_BLOCK_MS;
    const cost = fittedCostMs(fitted, key, group, 'g3');
    t.true(Math.abs(cost - expected) < 0.02 * ENTRY[key], `${key}: fitted ${cost.toFixed(5)} ms, true ${expected.toFixed(5)} ms (entry ${ENTRY[key]})`);
  }
  // The interaction: a g2 block after g1 against after each other group costs 25% of its entry more.
  for (const { key } of KEYS.filter((k) => k.group === 'g2')) {
    for (const other of ['g0', 'g2', 'g3']) {
      const extra = (fittedCostMs(fitted, key, 'g2', 'g1') - fittedCostMs(fitted, key, 'g2', other)) / ENTRY[key];
      t.true(Math.abs(extra - INTERACTION) < 0.02, `${key} after g1 vs after ${other}: +${extra.toFixed(4)} of its entry, true +${INTERACTION}`);
    }
  }
  t.true(Math.abs(fitted.coefficients.offsetMs - OFFSET_MS) < 0.01, `offset ${fitted.coefficients.offsetMs}`);

  // Held out: within 1% nearly everywhere, where the five terms alone cannot be.
  const heldOut = subnets(200, 2);
  const measured = heldOut.map((s) => s.measuredMs);
  const withTerms = predictorQuality(heldOut.map((s) => predictSample(s, fit)), measured);
  const fiveTerms = predictorQuality(heldOut.map((s) => predictSample(s, { coefficients: fitCalibration(subnets(240, 1)) })), measured);
  const within1 = (predict: (s: FitSample) => number) => heldOut.filter((s) => Math.abs(predict(s) / s.measuredMs - 1) <= 0.01).length / heldOut.length;
  t.true(within1((s) => predictSample(s, fit)) >= 0.95, `with terms: ${within1((s) => predictSample(s, fit))} within 1%`);
  t.true(withTerms.mape < fiveTerms.mape / 3, `MAPE ${withTerms.mape} with terms, ${fiveTerms.mape} without`);
  t.true(withTerms.spearman > 0.999);
});

test('rho 0 is the five-term least squares; no block terms below the subnet minimum or without block lists', (t) => {
  const samples = subnets(60, 3);
  const zero = fitLatencyModel(samples, { rhos: [0] });
  t.is(zero.terms, undefined);
  const reference = fitCalibration(samples);
  for (const name of ['scale', 'perBlockMs', 'perMegaMacMs', 'perMegaParamMs', 'offsetMs'] as const) {
    t.true(Math.abs(zero.coefficients[name]! - reference[name]!) < 1e-9 * Math.max(1, Math.abs(reference[name]!)), name);
  }
  t.deepEqual(fitLatencyModel(samples.slice(0, MIN_SUBNETS_FOR_TERMS - 1)), { coefficients: fitCalibration(samples.slice(0, MIN_SUBNETS_FOR_TERMS - 1)) });
  const withoutLists = samples.map(({ blockList: _, ...rest }) => rest);
  t.deepEqual(fitLatencyModel(withoutLists), { coefficients: fitCalibration(withoutLists) });
});

test('measurements that say nothing beyond the five terms keep the table (rho 0 or terms near 0)', (t) => {
  // A world where the table is right up to scale: the truth has no block or pair effects.
  const rng = createRng(9);
  const samples = subnets(80, 4).map((s) => {
    const ms = OFFSET_MS + PER_BLOCK_MS * s.blocks + SCALE * s.tableSumMs;
    return { ...s, measuredMs: ms * (1 + 0.02 * rng.normal()) };
  });
  const fit = fitLatencyModel(samples);
  const largest = fit.terms ? Math.max(...(['block', 'group', 'pair'] as const).flatMap((f) => Object.values(fit.terms![f]).map(Math.abs))) : 0;
  t.true(largest < 0.05, `largest term ${largest} (rho ${fit.cv?.rho})`);
});

test('bad fit settings are refused naming the value and what is allowed', (t) => {
  const samples = subnets(30, 5);
  const rhos = t.throws(() => fitLatencyModel(samples, { rhos: [-1] }));
  t.is((rhos as { code?: string }).code, 'E_CALIBRATION_FIT');
  t.regex(rhos!.message, /ratios \[-1\] are not valid; allowed: a non-empty list of finite numbers >= 0/);
  const folds = t.throws(() => fitLatencyModel(samples, { folds: 1 }));
  t.regex(folds!.message, /folds 1 is not valid; allowed: an integer from 2 to the number of subnets \(30\)/);
});

test('terms.ts: the columns and the terms agree (a fit column times its coefficient is the term)', (t) => {
  const blocks: TermBlock[] = [
    { key: 'a', group: 'g1', ms: 0.5 },
    { key: 'b', group: 'g2', ms: 0.25 },
    { key: 'a', group: 'g1', ms: 0.5 },
  ];
  const terms: BlockTerms = { rho: 1, block: { a: 0.1 }, group: { g2: -0.2 }, pair: { [pairKey('g1', 'g2')]: 0.4, [pairKey('g2', 'g1')]: 1 } };
  // a: 0.5 * 0.1; b: 0.25 * (-0.2 + 0.4); a after b: 0.5 * (0.1 + 1).
  t.true(Math.abs(termsMs(blocks, terms) - (0.05 + 0.05 + 0.55)) < 1e-12);
  const columns = termColumns(blocks);
  const coefficient = (name: string) => {
    const [family, rest] = [name.slice(0, name.indexOf(':')), name.slice(name.indexOf(':') + 1)] as ['block' | 'group' | 'pair', string];
    return terms[family][rest] ?? 0;
  };
  t.true(Math.abs([...columns].reduce((s, [name, value]) => s + value * coefficient(name), 0) - termsMs(blocks, terms)) < 1e-12);
  t.is(columns.get('block:a'), 1);
  t.is(columns.get(`pair:${pairKey('g1', 'g2')}`), 0.25);
});

test('calibration files: version 1 predicts as the five terms; version 2 adds its block terms; another version is refused with the rebuild hint', (t) => {
  const space = { preset: 'micro', variant: 'ee-d' } as const;
  const table = syntheticTable(space, 3, 'tiny');
  const config = sampleUniform(space, { kernel: 5, expand: 4, depth: 3 });
  const coefficients = { scale: 0.8, perBlockMs: -0.001, perMegaMacMs: 0.01, perMegaParamMs: 0.02, offsetMs: 0.03 };
  const dir = tempDir();
  const base = { format: ARTIFACT_FORMATS.calibration.format, device: 'tiny', ...space, coefficients, statistic: 'min' };
  const v1 = readCalibration(writeTemp(dir, 'v1.json', JSON.stringify({ ...base, formatVersion: 1 })));
  const { sum, blocks } = tableBlocks(config, table, 'min');
  t.true(Math.abs(makePredictor(table, v1).predict(config).latencyMs - applyCalibration(sum, coefficients)) < 1e-12);

  // Version 2 with terms: the stem 10% dearer, the block right after the stem 5% cheaper (a pair term).
  const stem = blocks[0];
  const terms: BlockTerms = { rho: 10, block: { [stem.key]: 0.1 }, group: {}, pair: { [pairKey(stem.group, blocks[1].group)]: -0.05 } };
  const v2 = readCalibration(writeTemp(dir, 'v2.json', JSON.stringify({ ...base, formatVersion: 2, terms })));
  const prediction = makePredictor(table, v2).predict(config);
  const expected = applyCalibration(sum, coefficients) + 0.1 * stem.ms - 0.05 * blocks[1].ms;
  t.true(Math.abs(prediction.latencyMs - expected) < 1e-12, `${prediction.latencyMs} vs ${expected}`);
  t.true(Math.abs(prediction.termsMs! - (0.1 * stem.ms - 0.05 * blocks[1].ms)) < 1e-12);

  const v3 = t.throws(() => readCalibration(writeTemp(dir, 'v3.json', JSON.stringify({ ...base, formatVersion: 3 }))));
  t.is((v3 as { code?: string }).code, 'E_ARTIFACT_FORMAT');
  t.regex(v3!.message, /has formatVersion 3; expected "format": "ofav2\/calibration", "formatVersion": 2 \(or 1\)/);
  t.regex((v3 as { hint?: string }).hint!, /ofa profile calibrate --save/);
});
