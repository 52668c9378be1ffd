// The gate's statistics: location shifts of log latency ratios with distribution-free confidence bounds.
//
// - Paired (A/B mode): per round, d = log(candidate / baseline), both measured in the same round. The
//   shift is the Hodges-Lehmann estimate (median of the Walsh averages), its bounds come from inverting
//   the Wilcoxon signed-rank test, and the p-value is that test's (@stdlib/stats-wilcoxon: exact below
//   50 rounds, normal approximation above). The visit order within a round is random, so with identical
//   models d is symmetric about 0: what the signed-rank test assumes, without assuming a distribution.
// - Two samples (baseline-file mode): the candidate's per-round log(model / reference) against the
//   baseline file's. The shift is the two-sample Hodges-Lehmann estimate (median of all differences), its
//   bounds and p-value those of the Mann-Whitney (Wilcoxon rank-sum) test, normal approximation with tie
//   and continuity corrections (as scipy.stats.mannwhitneyu's 'asymptotic' method; tested against it).
// The distributions come from @stdlib (signed-rank CDF, normal CDF and quantile), not from hand-written code.
import wilcoxon from '@stdlib/stats-wilcoxon';
import signrankCdf from '@stdlib/stats-base-dists-signrank-cdf';
import normalCdf from '@stdlib/stats-base-dists-normal-cdf';
import normalQuantile from '@stdlib/stats-base-dists-normal-quantile';

export interface ShiftEstimate {
  /** Hodges-Lehmann estimate of the shift (in the units of the data: here log ratios). */
  estimate: number;
  /** Lower and upper confidence bounds, each one-sided at the given alpha (-Infinity/Infinity when the sample is too small). */
  low: number;
  high: number;
  /** Two-sided p-value of "no shift". */
  pValue: number;
  /** Sample sizes. */
  n: number;
  m?: number;
}

/** Above this many rounds the signed-rank distribution is approximated by a normal one (as @stdlib/stats-wilcoxon does). */
const EXACT_SIGNED_RANK_MAX = 50;

const sortedFloat64 = (values: ArrayLike<number>) => Float64Array.from(values as ArrayLike<number>).sort();

function medianOfSorted(sorted: Float64Array): number {
  const n = sorted.length;
  if (n === 0) return NaN;
  return n % 2 === 1 ? sorted[(n - 1) / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
}

export function median(values: readonly number[]): number {
  return medianOfSorted(sortedFloat64(values));
}

/**
 * How many order statistics to cut from each end of the `total` pairwise averages or differences: the
 * largest k with P(statistic <= k - 1) <= alpha, for a statistic whose null CDF is `cdf`. The one-sided
 * bound is then the k-th smallest (and the k-th largest); k = 0 means no finite bound at this alpha.
 */
function cutFromCdf(total: number, alpha: number, cdf: (x: number) => number): number {
  if (cdf(0) > alpha) return 0;
  let low = 1;
  let high = Math.floor(total / 2) + 1;
  // Invariant: cdf(low - 1) <= alpha < cdf(high - 1).
  while (high - low > 1) {
    const mid = Math.floor((low + high) / 2);
    if (cdf(mid - 1) <= alpha) low = mid;
    else high = mid;
  }
  return Math.min(low, Math.floor(total / 2));
}

/** The same cut from a normal approximation of a statistic with the given mean and standard deviation (continuity-corrected). */
function cutFromNormal(mean: number, sd: number, alpha: number, total: number): number {
  const k = Math.floor(mean + 0.5 + normalQuantile(alpha, 0, 1) * sd);
  return Math.max(0, Math.min(k, Math.floor(total / 2)));
}

/** The number of cut order statistics of the signed-rank CI for n pairs at one-sided alpha. */
export function signedRankCut(n: number, alpha: number): number {
  const total = (n * (n + 1)) / 2;
  if (n <= EXACT_SIGNED_RANK_MAX) return cutFromCdf(total, alpha, (x) => signrankCdf(x, n));
  return cutFromNormal(total / 2, Math.sqrt((n * (n + 1) * (2 * n + 1)) / 24), alpha, total);
}

/** The number of cut order statistics of the rank-sum CI for samples of m and n at one-sided alpha (normal approximation). */
export function rankSumCut(m: number, n: number, alpha: number): number {
  const total = m * n;
  return cutFromNormal(total / 2, Math.sqrt((m * n * (m + n + 1)) / 12), alpha, total);
}

/**
 * Above this many pairwise values (Walsh averages, differences) they are not materialised: a long gate run
 * on a small model reaches tens of thousands of rounds, whose Walsh averages would not fit in memory. The
 * order statistics are then found by bisection on the value, counting the pairs below it in O(n).
 */
export const MATERIALIZE_MAX = 2_000_000;

/**
 * Order statistics of the pairwise values, 1-based: the k-th smallest, from a count of the values <= v.
 * Bisection between the smallest and the largest value to a relative precision far below timing noise.
 */
function orderStatistic(k: number, countAtMost: (value: number) => number, low: number, high: number): number {
  for (let i = 0; i < 200 && high - low > 1e-12 * Math.max(1, Math.abs(low), Math.abs(high)); i++) {
    const mid = (low + high) / 2;
    if (countAtMost(mid) >= k) high = mid;
    else low = mid;
  }
  return high;
}

/** Estimate (median) and bounds (k-th smallest and largest) of `total` pairwise values, materialised or counted. */
function pairwiseSummary(total: number, k: number, materialize: () => Float64Array, countAtMost: (value: number) => number, range: [number, number], limit: number) {
  if (total <= limit) {
    const sorted = materialize().sort();
    return { estimate: medianOfSorted(sorted), ...(k < 1 ? { low: -Infinity, high: Infinity } : { low: sorted[k - 1], high: sorted[total - k] }) };
  }
  const at = (rank: number) => orderStatistic(rank, countAtMost, range[0], range[1]);
  const estimate = total % 2 === 1 ? at((total + 1) / 2) : (at(total / 2) + at(total / 2 + 1)) / 2;
  return { estimate, ...(k < 1 ? { low: -Infinity, high: Infinity } : { low: at(k), high: at(total - k + 1) }) };
}

/** The two-sided signed-rank p-value of "no shift" (@stdlib/stats-wilcoxon; zero differences dropped). */
export function signedRankPValue(d: readonly number[]): number {
  if (d.every((value) => value === 0)) return 1;
  return wilcoxon([...d], { alternative: 'two-sided' }).pValue;
}

/**
 * The shift of paired differences `d` (one per round): Hodges-Lehmann estimate, signed-rank confidence
 * bounds at one-sided `alpha` each, two-sided p-value.
 */
export function pairedShift(d: readonly number[], alpha: number, materializeMax = MATERIALIZE_MAX): ShiftEstimate {
  const n = d.length;
  if (n === 0) return { estimate: NaN, low: -Infinity, high: Infinity, pValue: 1, n };
  const sorted = sortedFloat64(d);
  const total = (n * (n + 1)) / 2;
  const walsh = () => {
    const values = new Float64Array(total);
    let w = 0;
    for (let i = 0; i < n; i++) for (let j = i; j < n; j++) values[w++] = (sorted[i] + sorted[j]) / 2;
    return values;
  };
  // Walsh averages <= v: pairs i <= j of the sorted values with d_i + d_j <= 2v (two pointers).
  const countAtMost = (value: number) => {
    let count = 0;
    let j = n - 1;
    for (let i = 0; i < n && i <= j; i++) {
      while (j >= i && sorted[i] + sorted[j] > 2 * value) j--;
      if (j >= i) count += j - i + 1;
    }
    return count;
  };
  const summary = pairwiseSummary(total, signedRankCut(n, alpha), walsh, countAtMost, [sorted[0], sorted[n - 1]], materializeMax);
  return { ...summary, pValue: signedRankPValue(d), n };
}

/**
 * The Mann-Whitney U of `y` against `x` (pairs with y > x, ties counting one half) and its two-sided
 * p-value, normal approximation with tie and continuity corrections.
 */
export function rankSumTest(x: readonly number[], y: readonly number[]): { u: number; pValue: number } {
  const m = x.length;
  const n = y.length;
  const pooled = [...x.map((value) => ({ value, fromY: false })), ...y.map((value) => ({ value, fromY: true }))].sort((a, b) => a.value - b.value);
  let rankSumY = 0;
  let tieTerm = 0;
  for (let i = 0; i < pooled.length; ) {
    let j = i;
    while (j + 1 < pooled.length && pooled[j + 1].value === pooled[i].value) j++;
    const midRank = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) if (pooled[k].fromY) rankSumY += midRank;
    const t = j - i + 1;
    tieTerm += t ** 3 - t;
    i = j + 1;
  }
  const u = rankSumY - (n * (n + 1)) / 2;
  const total = m + n;
  const variance = ((m * n) / 12) * (total + 1 - tieTerm / (total * (total - 1)));
  if (!(variance > 0)) return { u, pValue: 1 };
  const z = (Math.abs(u - (m * n) / 2) - 0.5) / Math.sqrt(variance);
  return { u, pValue: Math.min(1, 2 * (1 - normalCdf(Math.max(z, 0), 0, 1))) };
}

/**
 * The shift of `y` against `x` (two independent samples): two-sample Hodges-Lehmann estimate, rank-sum
 * confidence bounds at one-sided `alpha` each, two-sided p-value.
 */
export function twoSampleShift(x: readonly number[], y: readonly number[], alpha: number, materializeMax = MATERIALIZE_MAX): ShiftEstimate {
  const m = x.length;
  const n = y.length;
  if (m === 0 || n === 0) return { estimate: NaN, low: -Infinity, high: Infinity, pValue: 1, n, m };
  const xs = sortedFloat64(x);
  const ys = sortedFloat64(y);
  const differences = () => {
    const values = new Float64Array(m * n);
    let k = 0;
    for (const yi of ys) for (const xj of xs) values[k++] = yi - xj;
    return values;
  };
  // Differences y_j - x_i <= v: for each y (ascending), the x at or above y - v (a pointer that only moves up).
  const countAtMost = (value: number) => {
    let count = 0;
    let i = 0;
    for (let j = 0; j < n; j++) {
      while (i < m && ys[j] - xs[i] > value) i++;
      count += m - i;
    }
    return count;
  };
  const summary = pairwiseSummary(m * n, rankSumCut(m, n, alpha), differences, countAtMost, [ys[0] - xs[m - 1], ys[n - 1] - xs[0]], materializeMax);
  return { ...summary, pValue: rankSumTest(x, y).pValue, n, m };
}
