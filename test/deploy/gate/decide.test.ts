// The gate's decision (deploy/gate/decide.ts) on generated samples: known distributions of the per-round
// log ratio with and without a shift, many seeded trials each; the false-alarm and detection rates are
// asserted (the targets: at most 1% of same-model comparisons flagged, at least 95% of 5%
// slowdowns caught).
import test from 'ava';
import { createRng, type Rng } from '../../../lib/rng.ts';
import { DECISION_EXIT_CODES, DEFAULT_SEQUENTIAL, classify, lookAlpha, runSequential, type Decision } from '../../../deploy/gate/decide.ts';

const SETTINGS = { ...DEFAULT_SEQUENTIAL, threshold: 0.05 };

/** Decisions of `trials` seeded runs of the sequential test. */
function rates(trials: number, draw: (rng: Rng) => number, maxRounds = 2000, baseline?: (rng: Rng) => number[], seed = 1) {
  const counts: Record<Decision, number> = { pass: 0, regression: 0, improvement: 0, inconclusive: 0 };
  let rounds = 0;
  for (let trial = 0; trial < trials; trial++) {
    const rng = createRng(seed * 100_003 + trial);
    const recorded = baseline?.(rng);
    const { decision, test } = runSequential(SETTINGS, () => draw(rng), maxRounds, recorded);
    counts[decision]++;
    rounds += test.rounds;
  }
  return { ...Object.fromEntries(Object.entries(counts).map(([k, v]) => [k, v / trials])), meanRounds: rounds / trials } as Record<Decision, number> & { meanRounds: number };
}

const shifted = (ratio: number, noise: (rng: Rng) => number) => (rng: Rng) => Math.log(ratio) + noise(rng);
const normal = (sd: number) => (rng: Rng) => sd * rng.normal();
/** Heavy tails: a tenth of the rounds hit by another tenant's burst on one of the two visits (+20..80%), at random. */
const bursts = (sd: number) => (rng: Rng) => {
  let value = sd * rng.normal();
  if (rng.next() < 0.1) value += (rng.next() < 0.5 ? 1 : -1) * Math.log(1.2 + 0.6 * rng.next());
  return value;
};

test('look alphas add up to the false-alarm budget; the exit codes are 0, 1, 3', (t) => {
  let sum = 0;
  for (let k = 1; k <= 10_000; k++) sum += lookAlpha(k, 0.01);
  t.true(sum < 0.01 && sum > 0.00999);
  t.deepEqual(DECISION_EXIT_CODES, { pass: 0, improvement: 0, regression: 1, inconclusive: 3 });
});

test('the decision rule on bounds (log ratios, threshold 5%)', (t) => {
  const L = Math.log;
  t.is(classify(L(1.01), L(1.09), 0.05), 'regression', 'a slowdown shown, one of 5% not ruled out');
  t.is(classify(L(1.06), L(1.09), 0.05), 'regression');
  t.is(classify(L(1.01), L(1.04), 0.05), 'pass', 'a small slowdown shown, one of 5% ruled out');
  t.is(classify(L(0.97), L(1.03), 0.05), 'pass');
  t.is(classify(L(0.90), L(0.97), 0.05), 'improvement');
  t.is(classify(L(0.96), L(0.99), 0.05), 'pass', 'faster, but by less than 5% for sure');
  t.is(classify(L(0.99), L(1.08), 0.05), 'unclear');
  t.is(classify(-Infinity, Infinity, 0.05), 'unclear');
});

test('A/B, same model (no shift), normal noise of 8% per round: at most 1% false alarms', (t) => {
  const r = rates(1500, normal(0.08));
  t.log(r);
  t.true(r.regression <= 0.015, `false alarms ${r.regression}`);
  t.true(r.pass + r.improvement >= 0.98);
});

test('A/B, same model, heavy-tailed noise (bursts on a tenth of the rounds): at most 1% false alarms', (t) => {
  const r = rates(1500, bursts(0.05));
  t.log(r);
  t.true(r.regression <= 0.015, `false alarms ${r.regression}`);
});

test('A/B, a 5% slowdown is caught at least 95% of the time, a 10% one at least 99%', (t) => {
  for (const noise of [normal(0.08), bursts(0.05)]) {
    const five = rates(600, shifted(1.05, noise));
    const ten = rates(600, shifted(1.1, noise));
    t.log({ five, ten });
    t.true(five.regression >= 0.95, `5%: caught ${five.regression}`);
    t.true(ten.regression >= 0.99, `10%: caught ${ten.regression}`);
    t.true(ten.meanRounds < five.meanRounds, 'a larger slowdown is decided sooner');
  }
});

test('A/B, small slowdowns pass, large speed-ups are improvements', (t) => {
  const one = rates(400, shifted(1.01, normal(0.05)));
  t.true(one.pass >= 0.95, `1% slowdown passes: ${one.pass}`);
  const faster = rates(400, shifted(0.85, normal(0.05)));
  t.true(faster.improvement >= 0.99, `15% faster: ${faster.improvement}`);
});

test('A/B, a slowdown at half the threshold in heavy noise with few rounds allowed is inconclusive, not guessed', (t) => {
  const r = rates(300, shifted(1.025, normal(0.25)), 60);
  t.log(r);
  t.true(r.inconclusive >= 0.8, `inconclusive ${r.inconclusive}`);
  t.true(r.regression <= 0.2);
});

test('baseline file (two samples): same model at most 1% false alarms; a 5% slowdown caught at least 95%', (t) => {
  const recorded = (rng: Rng) => Array.from({ length: 300 }, () => 0.04 * rng.normal());
  const same = rates(800, normal(0.04), 2000, recorded);
  t.log(same);
  t.true(same.regression <= 0.015, `false alarms ${same.regression}`);
  const five = rates(400, shifted(1.05, normal(0.04)), 2000, recorded, 2);
  t.log(five);
  t.true(five.regression >= 0.95, `caught ${five.regression}`);
});

test('baseline file: the recorded rounds bound the precision (a short record leaves a 2.5% shift inconclusive)', (t) => {
  const recorded = (rng: Rng) => Array.from({ length: 20 }, () => 0.1 * rng.normal());
  const r = rates(200, shifted(1.025, normal(0.1)), 3000, recorded, 3);
  t.log(r);
  t.true(r.inconclusive >= 0.8, `inconclusive ${r.inconclusive}`);
});
