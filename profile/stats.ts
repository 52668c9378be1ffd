// Summary statistics for latency samples and predictor quality (pipeline.md "Measuring latency").

/** Linear-interpolated quantile (q in [0, 1]) of ascending-sorted values. */
export function quantileSorted(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return NaN;
  const position = (sorted.length - 1) * q;
  const low = Math.floor(position);
  const high = Math.ceil(position);
  return sorted[low] + (sorted[high] - sorted[low]) * (position - low);
}

export function median(values: readonly number[]): number {
  return quantileSorted([...values].sort((a, b) => a - b), 0.5);
}

export interface SampleStats {
  count: number;
  medianMs: number;
  p90Ms: number;
  p99Ms: number;
  /** Median absolute deviation from the median (unscaled). */
  madMs: number;
  meanMs: number;
  minMs: number;
  maxMs: number;
}

export function summarize(samplesMs: readonly number[]): SampleStats {
  const sorted = [...samplesMs].sort((a, b) => a - b);
  const med = quantileSorted(sorted, 0.5);
  const deviations = sorted.map((v) => Math.abs(v - med)).sort((a, b) => a - b);
  return {
    count: sorted.length,
    medianMs: med,
    p90Ms: quantileSorted(sorted, 0.9),
    p99Ms: quantileSorted(sorted, 0.99),
    madMs: quantileSorted(deviations, 0.5),
    meanMs: sorted.reduce((s, v) => s + v, 0) / Math.max(1, sorted.length),
    minMs: sorted[0] ?? NaN,
    maxMs: sorted[sorted.length - 1] ?? NaN,
  };
}

/** Ranks with ties averaged (1-based). */
export function ranks(values: readonly number[]): number[] {
  const order = values.map((v, i) => [v, i] as const).sort((a, b) => a[0] - b[0]);
  const out = new Array<number>(values.length);
  for (let i = 0; i < order.length; ) {
    let j = i;
    while (j + 1 < order.length && order[j + 1][0] === order[i][0]) j++;
    const rank = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) out[order[k][1]] = rank;
    i = j + 1;
  }
  return out;
}

export function pearson(a: readonly number[], b: readonly number[]): number {
  const n = a.length;
  const ma = a.reduce((s, v) => s + v, 0) / n;
  const mb = b.reduce((s, v) => s + v, 0) / n;
  let num = 0;
  let da = 0;
  let db = 0;
  for (let i = 0; i < n; i++) {
    num += (a[i] - ma) * (b[i] - mb);
    da += (a[i] - ma) ** 2;
    db += (b[i] - mb) ** 2;
  }
  return num / Math.sqrt(da * db);
}

export function spearman(a: readonly number[], b: readonly number[]): number {
  return pearson(ranks(a), ranks(b));
}

/**
 * Weighted least squares: minimises sum_i w_i (y_i - x_i . beta)^2 via the normal equations
 * (a handful of columns, so Gaussian elimination with partial pivoting is enough).
 */
export function leastSquares(rows: readonly number[][], y: readonly number[], weights?: readonly number[]): number[] {
  const p = rows[0].length;
  const a = Array.from({ length: p }, () => new Array<number>(p + 1).fill(0));
  rows.forEach((row, i) => {
    const w = weights ? weights[i] : 1;
    for (let r = 0; r < p; r++) {
      for (let c = 0; c < p; c++) a[r][c] += w * row[r] * row[c];
      a[r][p] += w * row[r] * y[i];
    }
  });
  for (let col = 0; col < p; col++) {
    let pivot = col;
    for (let r = col + 1; r < p; r++) if (Math.abs(a[r][col]) > Math.abs(a[pivot][col])) pivot = r;
    [a[col], a[pivot]] = [a[pivot], a[col]];
    if (Math.abs(a[col][col]) < 1e-300) throw new Error('least squares: singular system (collinear columns)');
    for (let r = 0; r < p; r++) {
      if (r === col) continue;
      const f = a[r][col] / a[col][col];
      for (let c = col; c <= p; c++) a[r][c] -= f * a[col][c];
    }
  }
  return a.map((row, i) => row[p] / row[i]);
}
