// deploy/gate/stats.ts against known values: scipy.stats 1.17 (wilcoxon, mannwhitneyu 'asymptotic') on
// the same data, the signed-rank critical values of the published tables, and Hodges-Lehmann estimates
// computed independently (numpy median of the Walsh averages / of all pairwise differences).
import test from 'ava';
import { createRng } from '../../../lib/rng.ts';
import { median, pairedShift, rankSumCut, rankSumTest, signedRankCut, signedRankPValue, twoSampleShift } from '../../../deploy/gate/stats.ts';

// numpy.random.default_rng(7): normal(0.02, 0.1, 60) and normal(0.05, 0.1, 40), rounded to 6 digits.
const X = [0.020123, 0.049875, -0.007414, -0.069059, -0.025467, -0.079165, 0.026014, 0.154022, -0.029221, -0.042047, 0.068984, 0.055689, 0.030541, -0.073047, 0.017075, 0.08953, -0.114421, -0.025762, -0.170122, -0.108954, -0.164174, -0.003509, -0.106745, 0.047126, 0.035675, 0.001307, -0.231676, -0.033869, 0.01515, 0.031331, -0.133014, -0.027775, -0.077852, -0.060884, 0.12609, -0.060753, 0.016748, 0.108439, -0.03836, 0.00883, 0.031046, 0.026378, -0.102506, 0.027614, 0.155882, -0.134714, 0.105938, 0.031935, -0.044147, 0.220042, 0.096226, -0.099929, 0.027452, 0.077669, 0.001122, 0.088291, 0.013348, 0.086725, 0.163852, -0.047566];
const Y = [0.070314, 0.003669, 0.062727, -0.068719, -0.00793, 0.03038, 0.139876, 0.164522, -0.082353, -0.029464, 0.11469, -0.149242, 0.003683, 0.040271, 0.175701, 0.11894, 0.017279, 0.013142, 0.02498, 0.202353, 0.007198, 0.019632, 0.085259, 0.037923, 0.030272, -0.061407, 0.048848, 0.005642, 0.166613, 0.115309, 0.047586, 0.116838, 0.016013, 0.155213, 0.04946, 0.108338, -0.079089, 0.084668, -0.11882, -0.153533];

const close = (actual: number, expected: number, tolerance = 1e-9) => Math.abs(actual - expected) <= tolerance * Math.max(1, Math.abs(expected));

test('signed-rank p-values are scipy.stats.wilcoxon\'s (exact below 50 pairs, normal approximation with continuity correction above)', (t) => {
  // scipy.stats.wilcoxon(x[:25]).pvalue (exact); wilcoxon(x, correction=True, method='approx').pvalue.
  t.true(close(signedRankPValue(X.slice(0, 25)), 0.3809836506843567), String(signedRankPValue(X.slice(0, 25))));
  t.true(close(signedRankPValue(X), 0.9559695509669096, 1e-6), String(signedRankPValue(X)));
  // The stdlib documentation's example (scipy: 0.041259765625).
  t.true(close(signedRankPValue([6, 8, 14, 16, 23, 24, 28, 29, 41, -48, 49, 56, 60, -67, 75]), 0.041259765625));
  t.is(signedRankPValue([0, 0, 0]), 1);
});

test('signed-rank confidence cuts are the published critical values + 1', (t) => {
  // Two-sided 0.05 and 0.01 critical values of the signed-rank statistic: n=10: 8, 3; n=20: 52, 37; n=30: 137, 109.
  t.is(signedRankCut(10, 0.025), 9);
  t.is(signedRankCut(20, 0.025), 53);
  t.is(signedRankCut(30, 0.025), 138);
  t.is(signedRankCut(10, 0.005), 4);
  t.is(signedRankCut(20, 0.005), 38);
  t.is(signedRankCut(30, 0.005), 110);
  // Too few pairs for a bound at this alpha: none (P(T = 0) = 1/64 for 6 pairs).
  t.is(signedRankCut(6, 0.01), 0);
  // Normal approximation above 50 pairs: continuous with the exact cut at 50 (exact 324 at alpha 0.001, from the DP).
  t.is(signedRankCut(50, 0.001), 324);
  t.true(Math.abs(signedRankCut(51, 0.001) - 324 - 15) < 8, String(signedRankCut(51, 0.001)));
});

test('Hodges-Lehmann estimates match numpy; bounds are ordered around them', (t) => {
  const one = pairedShift(X, 0.005);
  t.true(close(one.estimate, -0.000551), String(one.estimate));
  t.true(one.low < one.estimate && one.estimate < one.high);
  const two = twoSampleShift(X, Y, 0.025);
  t.true(close(two.estimate, 0.039066), String(two.estimate));
  t.true(two.low < two.estimate && two.estimate < two.high);
  t.true(two.low > 0, 'a shift of 0.03 in 100 values of sd 0.1: the 95% interval leaves 0 (p = 0.033)');
  t.is(median([3, 1, 2, 10]), 2.5);
});

test('rank-sum p-values are scipy.stats.mannwhitneyu\'s (asymptotic, continuity, tie correction)', (t) => {
  // scipy.stats.mannwhitneyu(y, x, method='asymptotic').
  const result = rankSumTest(X, Y);
  t.true(close(result.pValue, 0.032726836927350574, 1e-9), String(result.pValue));
  const ties = rankSumTest([1, 2, 2, 3, 3, 3, 4, 5], [2, 3, 4, 4, 5, 6, 6, 7, 7]);
  t.is(ties.u, 59);
  t.true(close(ties.pValue, 0.0282733678139673, 1e-9), String(ties.pValue));
  t.is(rankSumCut(40, 60, 0.025), Math.floor(1200 + 0.5 - 1.959963984540054 * Math.sqrt((2400 * 101) / 12)));
});

test('the bounds cover the true shift as often as their level says (generated samples)', (t) => {
  const rng = createRng(11);
  const trials = 2000;
  let pairedMisses = 0;
  let twoSampleMisses = 0;
  for (let trial = 0; trial < trials; trial++) {
    // Paired: a skewed but symmetric-difference case (difference of two lognormal-ish draws), shift 0.05.
    const d = Array.from({ length: 30 }, () => 0.05 + 0.1 * (Math.exp(rng.normal() * 0.5) - Math.exp(rng.normal() * 0.5)));
    const paired = pairedShift(d, 0.025);
    if (paired.low > 0.05 || paired.high < 0.05) pairedMisses++;
    const x = Array.from({ length: 25 }, () => rng.normal());
    const y = Array.from({ length: 35 }, () => 0.3 + rng.normal());
    const two = twoSampleShift(x, y, 0.025);
    if (two.low > 0.3 || two.high < 0.3) twoSampleMisses++;
  }
  // Nominal miss rate 5% (2.5% each side); binomial sd at 2000 trials ~0.5%.
  t.true(pairedMisses / trials < 0.065 && pairedMisses / trials > 0.03, `paired misses ${pairedMisses / trials}`);
  t.true(twoSampleMisses / trials < 0.065 && twoSampleMisses / trials > 0.03, `two-sample misses ${twoSampleMisses / trials}`);
});

test('without materialising the pairwise values (long runs), the estimate and bounds are the same order statistics', (t) => {
  const rng = createRng(5);
  for (const [n, m] of [[7, 5], [40, 31], [120, 90]]) {
    const d = Array.from({ length: n }, () => Math.round(rng.normal() * 1000) / 1000);
    const x = Array.from({ length: m }, () => Math.round(rng.normal() * 100) / 100);
    for (const [exact, counted] of [
      [pairedShift(d, 0.01), pairedShift(d, 0.01, 0)],
      [twoSampleShift(x, d, 0.01), twoSampleShift(x, d, 0.01, 0)],
    ]) {
      for (const key of ['estimate', 'low', 'high'] as const) {
        t.true(Math.abs(exact[key] - counted[key]) < 1e-9 || exact[key] === counted[key], `${key}: ${exact[key]} vs ${counted[key]} (n ${n})`);
      }
    }
  }
  // 30,000 rounds: 450 million Walsh averages are counted, not stored.
  const long = Array.from({ length: 30_000 }, () => 0.01 + 0.05 * rng.normal());
  const shift = pairedShift(long, 0.001);
  t.true(shift.low < 0.01 && 0.01 < shift.high && shift.high - shift.low < 0.005, JSON.stringify(shift));
});
