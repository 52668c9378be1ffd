// Fitting the latency predictor on measured whole subnets, with the lookup table as the prior (issue 17:
// "block costs can be fitted to whole subnet measurements with the table as a prior; interactions ...
// can be keyed").
//
// The model: measured ~ the calibration's five terms (predictor.ts: scale * tableSum + perBlockMs *
// blocks + perMegaMacMs * MMACs + perMegaParamMs * Mparams + offsetMs) + the block terms (terms.ts: per
// block key, per block group, per pair of neighbouring groups, each a fraction of the entry it
// corrects). The five terms are fitted freely; the block terms are random effects with a prior
// N(0, rho * sigma^2) around "the table is right", where sigma is the relative measurement error (every
// subnet's error is taken as proportional to its latency, as in the five-term fit: the predictor is
// judged on relative error). A large rho trusts the measurements over the table; rho = 0 is exactly the
// five-term least squares. rho is chosen by k-fold cross-validation on the calibration subnets
// themselves, so a device whose measurements say nothing beyond the five terms keeps rho = 0.
//
// There are far more block terms (every key of the space: 276 for fashion ofa, 466 for ee-d) than
// measured subnets (40-60), so the fit is solved in the subnets' dimension: with C = diag(y_i^2) + rho Z Z'
// (Z: each subnet's entries summed per term column), beta = (X' C^-1 X)^-1 X' C^-1 y (generalised least
// squares for the five terms) and the terms' coefficients are rho Z' C^-1 (y - X beta) (their posterior
// mean). That is n x n work (n subnets), whatever the number of keys.
//
// Pure: imports nothing that measures (calibrate.ts calls it after measuring; tests call it on synthetic data).
import { OfaError } from '../lib/errors.ts';
import { fitCalibration, type CalibrationCoefficients } from './predictor.ts';
import { termColumns, termsFromColumns, termsMs, type BlockTerms, type TermBlock } from './terms.ts';

export interface FitSample {
  /** The measured latency (at the calibration's speed). */
  measuredMs: number;
  tableSumMs: number;
  blocks: number;
  megaMacs?: number;
  megaParams?: number;
  /** The subnet's blocks in network order, with their entries (block terms need them). */
  blockList?: readonly TermBlock[];
}

export interface LatencyFitOptions {
  /** The prior variance ratios tried (default DEFAULT_RHOS; include 0 to allow the five-term fit alone). */
  rhos?: readonly number[];
  /** Cross-validation folds (default 5). */
  folds?: number;
  /** The term families fitted (default all three; fewer: to measure what each buys). */
  families?: readonly TermFamily[];
}

export type TermFamily = 'block' | 'group' | 'pair';
export const TERM_FAMILIES: readonly TermFamily[] = ['block', 'group', 'pair'];

export interface LatencyFit {
  coefficients: CalibrationCoefficients;
  /** Absent when the fit could not use block terms (too few subnets, no block lists) or chose rho = 0. */
  terms?: BlockTerms;
  /**
   * What the cross-validation saw: the root mean squared relative error of held-out subnets per rho (a
   * rho whose fit failed in some fold, e.g. a scale <= 0, is left out).
   */
  cv?: { folds: number; rho: number; errors: { rho: number; rmsRelativeError: number }[] };
}

/** A grid from "the table is right" (0) to "the measurements decide" (10^4: sigma_term = 100 sigma). */
export const DEFAULT_RHOS: readonly number[] = [0, 1, 3, 10, 30, 100, 300, 1000, 3000, 10000];

/** Below this many subnets the five terms alone are fitted (predictor.ts fitCalibration, with its fallbacks). */
export const MIN_SUBNETS_FOR_TERMS = 20;

interface Design {
  x: number[][];
  y: number[];
  columns: Map<string, number>[];
}

const baseRow = (s: FitSample) => [s.tableSumMs, s.blocks, s.megaMacs!, s.megaParams!, 1];

function design(samples: readonly FitSample[], families: readonly TermFamily[]): Design {
  const columns = samples.map((s) => {
    const all = termColumns(s.blockList!);
    if (families.length === TERM_FAMILIES.length) return all;
    return new Map([...all].filter(([name]) => families.includes(name.slice(0, name.indexOf(':')) as TermFamily)));
  });
  return { x: samples.map(baseRow), y: samples.map((s) => s.measuredMs), columns };
}

function dot(a: ReadonlyMap<string, number>, b: ReadonlyMap<string, number>): number {
  const [small, large] = a.size <= b.size ? [a, b] : [b, a];
  let sum = 0;
  for (const [name, value] of small) {
    const other = large.get(name);
    if (other !== undefined) sum += value * other;
  }
  return sum;
}

/** Cholesky factor of a symmetric positive definite matrix (lower triangle, row-major); undefined if not SPD. */
function cholesky(a: Float64Array, n: number): Float64Array | undefined {
  const l = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      let sum = a[i * n + j];
      for (let k = 0; k < j; k++) sum -= l[i * n + k] * l[j * n + k];
      if (i === j) {
        if (!(sum > 0)) return undefined;
        l[i * n + i] = Math.sqrt(sum);
      } else l[i * n + j] = sum / l[j * n + j];
    }
  }
  return l;
}

/** Solves (L L') v = b in place of a copy of b. */
function choleskySolve(l: Float64Array, n: number, b: readonly number[]): number[] {
  const v = [...b];
  for (let i = 0; i < n; i++) {
    let sum = v[i];
    for (let k = 0; k < i; k++) sum -= l[i * n + k] * v[k];
    v[i] = sum / l[i * n + i];
  }
  for (let i = n - 1; i >= 0; i--) {
    let sum = v[i];
    for (let k = i + 1; k < n; k++) sum -= l[k * n + i] * v[k];
    v[i] = sum / l[i * n + i];
  }
  return v;
}

interface Solution {
  beta: number[];
  gamma: Map<string, number>;
}

/** The fit at one rho, on the rows `rows` of a design whose Gram matrix of term columns is `gram`. */
function solveAt(d: Design, gram: Float64Array, total: number, rows: readonly number[], rho: number): Solution | undefined {
  const n = rows.length;
  const q = 5;
  const c = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) c[i * n + j] = rho * gram[rows[i] * total + rows[j]];
    c[i * n + i] += d.y[rows[i]] ** 2;
  }
  const l = cholesky(c, n);
  if (!l) return undefined;
  const cx = Array.from({ length: q }, (_, a) => choleskySolve(l, n, rows.map((r) => d.x[r][a])));
  const cy = choleskySolve(l, n, rows.map((r) => d.y[r]));
  // X' C^-1 X beta = X' C^-1 y (5 x 5), by Gaussian elimination with partial pivoting.
  const m = Array.from({ length: q }, (_, a) => [
    ...Array.from({ length: q }, (_, b) => rows.reduce((s, r, i) => s + d.x[r][a] * cx[b][i], 0)),
    rows.reduce((s, r, i) => s + d.x[r][a] * cy[i], 0),
  ]);
  for (let col = 0; col < q; col++) {
    let pivot = col;
    for (let r = col + 1; r < q; r++) if (Math.abs(m[r][col]) > Math.abs(m[pivot][col])) pivot = r;
    [m[col], m[pivot]] = [m[pivot], m[col]];
    if (!(Math.abs(m[col][col]) > 1e-300)) return undefined;
    for (let r = 0; r < q; r++) {
      if (r === col) continue;
      const f = m[r][col] / m[col][col];
      for (let k = col; k <= q; k++) m[r][k] -= f * m[col][k];
    }
  }
  const beta = m.map((row, i) => row[q] / row[i]);
  if (!beta.every(Number.isFinite) || !(beta[0] > 0)) return undefined;
  const gamma = new Map<string, number>();
  if (rho > 0) {
    const residual = rows.map((r) => d.y[r] - d.x[r].reduce((s, v, a) => s + v * beta[a], 0));
    const alpha = choleskySolve(l, n, residual);
    rows.forEach((r, i) => {
      for (const [name, value] of d.columns[r]) gamma.set(name, (gamma.get(name) ?? 0) + rho * value * alpha[i]);
    });
  }
  return { beta, gamma };
}

function predictRow(d: Design, row: number, solution: Solution): number {
  let value = d.x[row].reduce((s, v, a) => s + v * solution.beta[a], 0);
  for (const [name, z] of d.columns[row]) value += z * (solution.gamma.get(name) ?? 0);
  return value;
}

const coefficientsOf = (beta: readonly number[]): CalibrationCoefficients => ({ scale: beta[0], perBlockMs: beta[1], perMegaMacMs: beta[2], perMegaParamMs: beta[3], offsetMs: beta[4] });

/**
 * Fits the calibration and the block terms (see the top of this file). With fewer than
 * MIN_SUBNETS_FOR_TERMS subnets, or without block lists and costs, it is fitCalibration (five terms or
 * its fallbacks) and no terms.
 */
export function fitLatencyModel(samples: readonly FitSample[], options: LatencyFitOptions = {}): LatencyFit {
  const usable = samples.length >= MIN_SUBNETS_FOR_TERMS && samples.every((s) => s.blockList && s.megaMacs !== undefined && s.megaParams !== undefined);
  if (!usable) return { coefficients: fitCalibration(samples) };
  const rhos = options.rhos ?? DEFAULT_RHOS;
  const folds = options.folds ?? 5;
  if (rhos.length === 0 || !rhos.every((rho) => Number.isFinite(rho) && rho >= 0)) {
    throw new OfaError('E_CALIBRATION_FIT', `the block-term fit's prior variance ratios ${JSON.stringify(rhos)} are not valid; allowed: a non-empty list of finite numbers >= 0`, {
      hint: 'pass rhos such as [0, 1, 10, 100, 1000]',
    });
  }
  if (!Number.isInteger(folds) || folds < 2 || folds > samples.length) {
    throw new OfaError('E_CALIBRATION_FIT', `the block-term fit's cross-validation folds ${folds} is not valid; allowed: an integer from 2 to the number of subnets (${samples.length})`, {
      hint: 'use the default, 5 folds',
    });
  }
  const families = options.families ?? TERM_FAMILIES;
  if (!families.every((family) => TERM_FAMILIES.includes(family))) {
    throw new OfaError('E_CALIBRATION_FIT', `the block-term fit's families ${JSON.stringify(families)} are not valid; allowed: some of ${TERM_FAMILIES.join(', ')}`, { hint: 'leave them out to fit all three' });
  }
  const d = design(samples, families);
  const n = samples.length;
  const gram = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = i; j < n; j++) {
      const value = dot(d.columns[i], d.columns[j]);
      gram[i * n + j] = value;
      gram[j * n + i] = value;
    }
  }
  const all = [...Array(n).keys()];
  const errors = rhos.flatMap((rho) => {
    let squared = 0;
    for (let fold = 0; fold < folds; fold++) {
      const train = all.filter((i) => i % folds !== fold);
      const solution = solveAt(d, gram, n, train, rho);
      if (!solution) return [];
      for (let i = fold; i < n; i += folds) squared += ((predictRow(d, i, solution) - d.y[i]) / d.y[i]) ** 2;
    }
    const rmsRelativeError = Math.sqrt(squared / n);
    return Number.isFinite(rmsRelativeError) ? [{ rho, rmsRelativeError }] : [];
  });
  // The smallest error; on a tie the smaller rho (closer to the table).
  const ranked = [...errors].sort((a, b) => a.rmsRelativeError - b.rmsRelativeError || a.rho - b.rho);
  for (const { rho } of ranked) {
    const solution = solveAt(d, gram, n, all, rho);
    if (!solution) continue;
    const cv = { folds, rho, errors };
    if (rho === 0) return { coefficients: coefficientsOf(solution.beta), cv };
    return { coefficients: coefficientsOf(solution.beta), terms: termsFromColumns(rho, solution.gamma), cv };
  }
  return { coefficients: fitCalibration(samples), cv: { folds, rho: 0, errors } };
}

/** A sample's prediction by a fit (the five terms plus the block terms when both are there). */
export function predictSample(sample: FitSample, fit: Pick<LatencyFit, 'coefficients' | 'terms'>): number {
  const c = fit.coefficients;
  const base = c.scale * sample.tableSumMs + c.perBlockMs * sample.blocks + (c.perMegaMacMs ?? 0) * (sample.megaMacs ?? 0) + (c.perMegaParamMs ?? 0) * (sample.megaParams ?? 0) + c.offsetMs;
  return fit.terms && sample.blockList ? base + termsMs(sample.blockList, fit.terms) : base;
}
