// How an accuracy predictor is judged (ofav2.md s4: by rank correlation on held-out pairs), and the two
// baselines it is judged beside: ranking by MACs, and a ridge regression on the same encoding.
// Spearman's rho is simple-statistics' sampleRankCorrelation (Pearson on midranks, ties averaged);
// Kendall's tau-b is counted here over all pairs (held-out sets are hundreds of pairs).
import { sampleRankCorrelation } from 'simple-statistics';

export interface PredictionQuality {
  /** Root mean squared error, in top-1 (fraction) units; null for a ranking without values. */
  rmse: number | null;
  spearman: number;
  kendallTau: number;
}

export function rmse(predicted: ArrayLike<number>, actual: ArrayLike<number>): number {
  let sum = 0;
  for (let i = 0; i < actual.length; i++) sum += (predicted[i] - actual[i]) ** 2;
  return Math.sqrt(sum / actual.length);
}

export function spearman(a: ArrayLike<number>, b: ArrayLike<number>): number {
  return sampleRankCorrelation(Array.from(a), Array.from(b));
}

/** Kendall's tau-b: (concordant - discordant) / sqrt((n0 - ties in a) (n0 - ties in b)). */
export function kendallTau(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let concordant = 0;
  let discordant = 0;
  let tiesA = 0;
  let tiesB = 0;
  let pairs = 0;
  for (let i = 0; i < a.length; i++) {
    for (let j = i + 1; j < a.length; j++) {
      const da = Math.sign(a[i] - a[j]);
      const db = Math.sign(b[i] - b[j]);
      pairs++;
      if (da === 0) tiesA++;
      if (db === 0) tiesB++;
      if (da !== 0 && db !== 0) {
        if (da === db) concordant++;
        else discordant++;
      }
    }
  }
  const denominator = Math.sqrt((pairs - tiesA) * (pairs - tiesB));
  return denominator === 0 ? NaN : (concordant - discordant) / denominator;
}

export function quality(predicted: ArrayLike<number>, actual: ArrayLike<number>, withRmse = true): PredictionQuality {
  return { rmse: withRmse ? rmse(predicted, actual) : null, spearman: spearman(predicted, actual), kendallTau: kendallTau(predicted, actual) };
}

/** Solves the symmetric positive definite system A x = b (A n x n row-major, overwritten) by Cholesky. */
function choleskySolve(a: Float64Array, b: Float64Array, n: number): Float64Array {
  for (let j = 0; j < n; j++) {
    let diagonal = a[j * n + j];
    for (let k = 0; k < j; k++) diagonal -= a[j * n + k] ** 2;
    if (!(diagonal > 0)) throw new Error('matrix is not positive definite');
    const root = Math.sqrt(diagonal);
    a[j * n + j] = root;
    for (let i = j + 1; i < n; i++) {
      let sum = a[i * n + j];
      for (let k = 0; k < j; k++) sum -= a[i * n + k] * a[j * n + k];
      a[i * n + j] = sum / root;
    }
  }
  const y = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let sum = b[i];
    for (let k = 0; k < i; k++) sum -= a[i * n + k] * y[k];
    y[i] = sum / a[i * n + i];
  }
  const x = new Float64Array(n);
  for (let i = n - 1; i >= 0; i--) {
    let sum = y[i];
    for (let k = i + 1; k < n; k++) sum -= a[k * n + i] * x[k];
    x[i] = sum / a[i * n + i];
  }
  return x;
}

export interface RidgeModel {
  lambda: number;
  intercept: number;
  coefficients: Float64Array;
}

/** Ridge regression on centred columns (the intercept is not penalised). */
export function fitRidge(x: Float32Array, y: ArrayLike<number>, width: number, lambda: number): RidgeModel {
  const n = y.length;
  const means = new Float64Array(width);
  let yMean = 0;
  for (let r = 0; r < n; r++) {
    yMean += y[r];
    for (let c = 0; c < width; c++) means[c] += x[r * width + c];
  }
  yMean /= n;
  for (let c = 0; c < width; c++) means[c] /= n;
  const gram = new Float64Array(width * width);
  const moment = new Float64Array(width);
  const row = new Float64Array(width);
  for (let r = 0; r < n; r++) {
    for (let c = 0; c < width; c++) row[c] = x[r * width + c] - means[c];
    const target = y[r] - yMean;
    for (let i = 0; i < width; i++) {
      const v = row[i];
      if (v === 0) continue;
      moment[i] += v * target;
      for (let j = 0; j < width; j++) gram[i * width + j] += v * row[j];
    }
  }
  for (let i = 0; i < width; i++) gram[i * width + i] += lambda;
  const coefficients = choleskySolve(gram, moment, width);
  let intercept = yMean;
  for (let c = 0; c < width; c++) intercept -= coefficients[c] * means[c];
  return { lambda, intercept, coefficients };
}

export function predictRidge(model: RidgeModel, x: Float32Array, width: number, count: number): Float64Array {
  const out = new Float64Array(count);
  for (let r = 0; r < count; r++) {
    let sum = model.intercept;
    for (let c = 0; c < width; c++) sum += model.coefficients[c] * x[r * width + c];
    out[r] = sum;
  }
  return out;
}

/** Ridge with its penalty chosen by k-fold cross-validation (lowest mean squared error) from `lambdas`. */
export function fitRidgeCv(x: Float32Array, y: ArrayLike<number>, width: number, lambdas: readonly number[] = [1e-3, 1e-2, 1e-1, 1, 10, 100], folds = 5): RidgeModel {
  const n = y.length;
  const k = Math.max(2, Math.min(folds, n));
  let best = { lambda: lambdas[0], error: Infinity };
  for (const lambda of lambdas) {
    let error = 0;
    for (let fold = 0; fold < k; fold++) {
      const train: number[] = [];
      const test: number[] = [];
      for (let r = 0; r < n; r++) (r % k === fold ? test : train).push(r);
      if (train.length === 0 || test.length === 0) continue;
      const model = fitRidge(rowsOf(x, width, train), train.map((r) => y[r]), width, lambda);
      const predicted = predictRidge(model, rowsOf(x, width, test), width, test.length);
      for (let i = 0; i < test.length; i++) error += (predicted[i] - y[test[i]]) ** 2;
    }
    if (error < best.error) best = { lambda, error };
  }
  return fitRidge(x, y, width, best.lambda);
}

export function rowsOf(x: Float32Array, width: number, rows: readonly number[]): Float32Array {
  const out = new Float32Array(rows.length * width);
  rows.forEach((row, i) => out.set(x.subarray(row * width, (row + 1) * width), i * width));
  return out;
}

/** Least squares y ~ a + b t for one feature (the MACs baseline's values). */
export function fitLine(t: ArrayLike<number>, y: ArrayLike<number>): { intercept: number; slope: number } {
  const n = y.length;
  let mt = 0;
  let my = 0;
  for (let i = 0; i < n; i++) {
    mt += t[i];
    my += y[i];
  }
  mt /= n;
  my /= n;
  let covariance = 0;
  let variance = 0;
  for (let i = 0; i < n; i++) {
    covariance += (t[i] - mt) * (y[i] - my);
    variance += (t[i] - mt) ** 2;
  }
  const slope = variance === 0 ? 0 : covariance / variance;
  return { intercept: my - slope * mt, slope };
}
