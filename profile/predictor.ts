// The latency predictor (ofav2.md s5, pipeline.md): the sum of a subnet's block entries, corrected by a
// per-device calibration fitted on measured whole subnets.
//
// Calibration model: latency ~ scale * tableSum + perBlockMs * blocks + perMegaMacMs * MMACs
// + perMegaParamMs * Mparams + offsetMs. Why these terms:
// - every table entry was timed as its own session run, so it carries one run's fixed cost (feeding
//   inputs, allocating outputs, waking threads); a whole subnet pays it once, not once per block: that
//   is perBlockMs (expected negative, about minus one run's overhead);
// - blocks measured alone run with colder caches and without the fusions that cross block boundaries
//   inside one graph: a proportional effect, `scale`;
// - the whole network's own fixed cost (its run overhead, flatten/output copies): `offsetMs`;
// - a block timed alone over and over keeps its weights and activations in cache; inside a whole
//   network they compete with every other block's: a cost that grows with the network's weights
//   (deployed parameters) and its work (MACs), not with any one block. Measured on the fashion `ee-d`
//   tables of cpu-1t (40 calibration, 100 held-out subnets), these two terms took the held-out share
//   within +-10% from 87% to 97%.
// It is fitted by least squares on relative error (weights 1/measured^2), because the predictor is judged
// on relative error (share within +-5% / +-10%, MAPE). With too few points or collinear columns it
// falls back to the three-term model (scale, perBlockMs, offsetMs), then to scale * tableSum + offsetMs.
//
// Block terms (issue 17; calibration formatVersion 2): per-key, per-group and neighbour-pair corrections
// of the entries (terms.ts), fitted with the table as their prior (fit.ts), added to the five terms.
// A version-1 calibration has none and predicts as before.
//
// A search makes hundreds of thousands of predictions: this file (and everything it imports) loads no
// runtime, ONNX library or training engine (test/profile/predict.test.ts checks the loaded modules).
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { OfaError, isOfaError } from '../lib/errors.ts';
import { readJsonFile } from '../lib/json.ts';
import { count, oneOf, parseWith, text, z } from '../lib/schema.ts';
import { PRESET_NAMES, VARIANT_NAMES, blockKey, blocksOfGeometry, geometryCost, subnetGeometry, type SubnetConfig } from '../space/index.ts';
import { ARTIFACT_FORMATS, checkArtifact, readableVersions } from './artifacts.ts';
import { deviceDataDir, type DeviceProfile, type DevicesOptions } from './device.ts';
import { leastSquares, spearman } from './stats.ts';
import { blockGroup, termsMs, type BlockTerms, type TermBlock } from './terms.ts';
import type { PredictorQuality } from './validation.ts';
import { DEFAULT_STATISTIC, MAX_LATENCY_MS, REFERENCE_SCHEMA, checkMadeFor, entryMs, latencyMs, loadTable, tablePath, type LatencyStatistic, type LatencyTable } from './table.ts';

/** A coefficient's largest magnitude: a fit on ms-scale latencies gives figures near 1; beyond is garbage. */
const MAX_COEFFICIENT = 1e6;
const coefficient = () => z.number().min(-MAX_COEFFICIENT).max(MAX_COEFFICIENT);

export const CALIBRATION_COEFFICIENTS_SCHEMA = z.strictObject({
  /** The table sum's factor: > 0 (fitCalibration only keeps fits with a positive scale). */
  scale: z.number().positive().max(MAX_COEFFICIENT),
  perBlockMs: coefficient(),
  offsetMs: coefficient(),
  /** Per million MACs and per million deployed parameters of the whole subnet (absent: 0). */
  perMegaMacMs: coefficient().optional(),
  perMegaParamMs: coefficient().optional(),
});
export type CalibrationCoefficients = z.infer<typeof CALIBRATION_COEFFICIENTS_SCHEMA>;

/** A relative correction of an entry (terms.ts): a fraction, finite and small in any sane fit. */
const correction = () => z.number().min(-MAX_COEFFICIENT).max(MAX_COEFFICIENT);

export const BLOCK_TERMS_SCHEMA = z.strictObject({
  rho: z.number().nonnegative().max(1e12),
  block: z.record(z.string(), correction()),
  group: z.record(z.string(), correction()),
  pair: z.record(z.string(), correction()),
});

export const CALIBRATION_POINT_SCHEMA = z.strictObject({
  configId: text(),
  /** As measured (the fit scales it by the calibration's reference over its chunk's: reference.ts). */
  measuredMs: latencyMs(),
  /** The speed reference's figure (the calibration's statistic) in the same chunk (reference.ts). */
  referenceMs: latencyMs().optional(),
  tableSumMs: latencyMs(),
  blocks: z.int().min(1),
  megaMacs: z.number().nonnegative().optional(),
  megaParams: z.number().nonnegative().optional(),
});
export type CalibrationPoint = z.infer<typeof CALIBRATION_POINT_SCHEMA>;

/**
 * A calibration file. What the predictor uses is required (tag, the device and space it was fitted for,
 * the coefficients); the fit's record (seed, points, quality, dates) is what `ofa profile calibrate`
 * writes and is checked when present: a hand-made calibration may leave it out.
 */
export const CALIBRATION_SCHEMA = z.strictObject({
  format: z.literal(ARTIFACT_FORMATS.calibration.format),
  /** Version 1 files (no block terms) are read as they are. */
  formatVersion: z.literal(readableVersions('calibration')),
  device: text(),
  preset: oneOf(PRESET_NAMES),
  variant: oneOf(VARIANT_NAMES),
  coefficients: CALIBRATION_COEFFICIENTS_SCHEMA,
  /** Corrections of the table's entries fitted on the measured subnets (terms.ts, fit.ts); absent: none. */
  terms: BLOCK_TERMS_SCHEMA.optional(),
  /** The figure of the timed runs that was fitted and is predicted (lut.ts); absent = median (older files). */
  statistic: z.enum(['min', 'median']).optional(),
  model: z.string().optional(),
  /** Measuring passes per chunk of subnets (a chunk measured off the table's speed is measured again). */
  passes: z.array(z.int().min(1)).optional(),
  /** Fresh sessions each subnet was measured in, the fastest kept (calibrate.ts; absent: 1). */
  sessions: z.int().min(1).optional(),
  seed: count().optional(),
  subnets: count().optional(),
  fit: z
    .strictObject({
      mape: z.number().nonnegative(),
      rawSumMape: z.number().nonnegative(),
      /** In-sample MAPE of the five terms alone (version 2). */
      fiveTermMape: z.number().nonnegative().optional(),
      /** The block-term fit's cross-validation (fit.ts): the rho chosen and every rho's held-out error. */
      cv: z
        .strictObject({ folds: z.int().min(2), rho: z.number().nonnegative(), errors: z.array(z.strictObject({ rho: z.number().nonnegative(), rmsRelativeError: z.number().nonnegative() })) })
        .optional(),
    })
    .optional(),
  /** When the table the calibration was fitted on was last extended (a rebuilt table needs a new fit). */
  tableRuns: count().optional(),
  /** The table's reference speed, and the reference as this calibration saw it: the speed its predictions are at. */
  tableReference: REFERENCE_SCHEMA.optional(),
  reference: REFERENCE_SCHEMA.optional(),
  date: z.string().optional(),
  points: z.array(CALIBRATION_POINT_SCHEMA).optional(),
});
export type Calibration = z.infer<typeof CALIBRATION_SCHEMA>;
/** A calibration as `ofa profile calibrate` writes it: its fit's record complete. */
export type FittedCalibration = Calibration & Required<Pick<Calibration, 'statistic' | 'model' | 'passes' | 'seed' | 'subnets' | 'fit' | 'tableRuns' | 'date' | 'points'>>;

export interface TableSum {
  tableSumMs: number;
  blocks: number;
  /** The whole subnet's MACs and deployed parameters, in millions (space/cost.ts). */
  megaMacs: number;
  megaParams: number;
  /** The calibration's block terms for this subnet, in ms (terms.ts), when they were asked for. */
  termsMs?: number;
}

function missingBlocks(missing: readonly string[]): OfaError {
  return new OfaError('E_LUT_MISSING_BLOCK', `the latency table has no entry for ${missing.length} block(s) of this subnet: ${[...new Set(missing)].slice(0, 3).join(', ')}${missing.length > 3 ? ', ...' : ''}`, {
    hint: 'finish the table: re-run `ofa profile lut --save` for this device, preset and variant (it resumes)',
    kind: 'failure',
  });
}

/**
 * A subnet's blocks in network order, each with its key, group and entry at the table's reference speed
 * (lut.ts entryMs), and the sum; a block the table lacks is an error naming its key.
 */
export function tableBlocks(config: SubnetConfig, table: Pick<LatencyTable, 'entries' | 'reference'>, statistic: LatencyStatistic = 'median'): { sum: Omit<TableSum, 'termsMs'>; blocks: TermBlock[] } {
  // One geometry for the keys and the costs (a search calls this 10^5 times: bench/predictor.bench.ts).
  const geometry = subnetGeometry(config);
  const specs = blocksOfGeometry(geometry);
  const blocks: TermBlock[] = [];
  let sum = 0;
  const missing: string[] = [];
  for (const spec of specs) {
    const key = blockKey(spec);
    const entry = table.entries[key];
    if (!entry) {
      missing.push(key);
      continue;
    }
    const ms = entryMs(entry, table, statistic);
    sum += ms;
    blocks.push({ key, group: blockGroup(spec), ms });
  }
  if (missing.length > 0) throw missingBlocks(missing);
  const cost = geometryCost(geometry);
  return { sum: { tableSumMs: sum, blocks: specs.length, megaMacs: cost.macs / 1e6, megaParams: cost.deployedParams / 1e6 }, blocks };
}

/**
 * The sum of a subnet's entries, each at the table's reference speed (lut.ts entryMs), with the block
 * terms' ms when `terms` are given; a block the table lacks is an error naming its key.
 */
export function tableSum(config: SubnetConfig, table: Pick<LatencyTable, 'entries' | 'reference'>, statistic: LatencyStatistic = 'median', terms?: BlockTerms): TableSum {
  if (terms) {
    const { sum, blocks } = tableBlocks(config, table, statistic);
    return { ...sum, termsMs: termsMs(blocks, terms) };
  }
  // Without terms: no block list, no group names (a search calls this 10^5 times: bench/predictor.bench.ts).
  const geometry = subnetGeometry(config);
  const specs = blocksOfGeometry(geometry);
  let sum = 0;
  const missing: string[] = [];
  for (const spec of specs) {
    const key = blockKey(spec);
    const entry = table.entries[key];
    if (!entry) missing.push(key);
    else sum += entryMs(entry, table, statistic);
  }
  if (missing.length > 0) throw missingBlocks(missing);
  const cost = geometryCost(geometry);
  return { tableSumMs: sum, blocks: specs.length, megaMacs: cost.macs / 1e6, megaParams: cost.deployedParams / 1e6 };
}

/** The calibrated latency: the five terms, plus the block terms' ms when the sum carries them. */
export function applyCalibration(sum: TableSum, coefficients: CalibrationCoefficients): number {
  return (
    coefficients.scale * sum.tableSumMs +
    coefficients.perBlockMs * sum.blocks +
    (coefficients.perMegaMacMs ?? 0) * sum.megaMacs +
    (coefficients.perMegaParamMs ?? 0) * sum.megaParams +
    coefficients.offsetMs +
    (sum.termsMs ?? 0)
  );
}

export const IDENTITY_CALIBRATION: CalibrationCoefficients = { scale: 1, perBlockMs: 0, offsetMs: 0 };

type FitPoint = Pick<CalibrationPoint, 'measuredMs' | 'tableSumMs' | 'blocks'> & Partial<Pick<TableSum, 'megaMacs' | 'megaParams'>>;

/** Fits the calibration on measured points; see the comment at the top for the model and fallbacks. */
export function fitCalibration(points: readonly FitPoint[]): CalibrationCoefficients {
  if (points.length < 3) throw new OfaError('E_CALIBRATION', `calibration needs at least 3 measured subnets, got ${points.length}`);
  const y = points.map((p) => p.measuredMs);
  const weights = points.map((p) => 1 / (p.measuredMs * p.measuredMs));
  const distinct = (values: number[]) => new Set(values).size;
  const attempt = (columns: (p: FitPoint) => number[]): number[] | undefined => {
    try {
      const coefficients = leastSquares(points.map(columns), y, weights);
      return coefficients.every(Number.isFinite) && coefficients[0] > 0 ? coefficients : undefined;
    } catch {
      return undefined; // collinear columns
    }
  };
  const hasCost = points.every((p) => p.megaMacs !== undefined && p.megaParams !== undefined);
  // Five coefficients want well over five points: at least 4 per coefficient.
  if (hasCost && points.length >= 20 && distinct(points.map((p) => p.blocks)) >= 2) {
    const five = attempt((p) => [p.tableSumMs, p.blocks, p.megaMacs!, p.megaParams!, 1]);
    if (five) return { scale: five[0], perBlockMs: five[1], perMegaMacMs: five[2], perMegaParamMs: five[3], offsetMs: five[4] };
  }
  if (points.length >= 4 && distinct(points.map((p) => p.blocks)) >= 2) {
    const three = attempt((p) => [p.tableSumMs, p.blocks, 1]);
    if (three) return { scale: three[0], perBlockMs: three[1], offsetMs: three[2] };
  }
  const [scale, offsetMs] = leastSquares(points.map((p) => [p.tableSumMs, 1]), y, weights);
  return { scale, perBlockMs: 0, offsetMs };
}

/** <device data dir>/calibration-<preset>-<variant>.json: where `--save` writes it and the predictor reads it. */
export function calibrationPath(device: DeviceProfile, preset: string, variant: string, options: DevicesOptions = {}): string {
  return join(deviceDataDir(device, options), `calibration-${preset}-${variant}.json`);
}

const CALIBRATION_HINT = 'run `ofa profile calibrate --save` again';

/** Reads a calibration file: the shared JSON reader, its format tag, then CALIBRATION_SCHEMA. */
export function readCalibration(file: string): Calibration {
  const input = `calibration ${file}`;
  const value = readJsonFile(file, input, { code: 'E_CALIBRATION', hint: CALIBRATION_HINT });
  checkArtifact(value, 'calibration', input, CALIBRATION_HINT);
  return parseWith(CALIBRATION_SCHEMA, value, input, { code: 'E_CALIBRATION', hint: CALIBRATION_HINT });
}

/**
 * The device's calibration for a space, or undefined when it has none; one fitted for another device or
 * space is refused.
 */
export function loadCalibration(device: DeviceProfile, preset: string, variant: string, options: DevicesOptions = {}): Calibration | undefined {
  const file = calibrationPath(device, preset, variant, options);
  if (!existsSync(file)) return undefined;
  const calibration = readCalibration(file);
  checkMadeFor(`calibration ${file}`, calibration, { device: device.name, preset, variant }, CALIBRATION_HINT);
  return calibration;
}

export interface Prediction {
  latencyMs: number;
  tableSumMs: number;
  blocks: number;
  /** The calibration's block terms for this subnet, ms (calibrations of version 2 that have them). */
  termsMs?: number;
  calibrated: boolean;
  statistic: LatencyStatistic;
}

export interface LatencyPredictor {
  device: string;
  preset: string;
  variant: string;
  predict(config: SubnetConfig): Prediction;
}

/**
 * A predicted latency that cannot be a measurement (not a finite number > 0, or above MAX_LATENCY_MS) is
 * refused before anyone prints or compares it, naming what produced it: the calibration's terms for this
 * subnet when the table sum was sound, else the table.
 */
export function checkPrediction(latencyMs: number, sum: TableSum, coefficients: CalibrationCoefficients, source: { table?: string; calibration?: string }): void {
  if (Number.isFinite(latencyMs) && latencyMs > 0 && latencyMs <= MAX_LATENCY_MS) return;
  const shown = (value: number) => (Number.isFinite(value) ? Number(value.toPrecision(6)).toString() : String(value));
  if (!(Number.isFinite(sum.tableSumMs) && sum.tableSumMs > 0 && sum.tableSumMs <= MAX_LATENCY_MS * sum.blocks)) {
    throw new OfaError('E_PREDICTION', `predicted latency ${shown(latencyMs)} ms is not a latency: the table sum over ${sum.blocks} entries of ${source.table ?? 'the latency table'} is ${shown(sum.tableSumMs)} ms`, {
      hint: 'rebuild the table with `ofa profile lut --fresh`',
    });
  }
  const terms = [
    `scale ${shown(coefficients.scale)} x table sum ${shown(sum.tableSumMs)} ms`,
    `perBlockMs ${shown(coefficients.perBlockMs)} x ${sum.blocks} blocks`,
    ...(coefficients.perMegaMacMs ? [`perMegaMacMs ${shown(coefficients.perMegaMacMs)} x ${shown(sum.megaMacs)} MMACs`] : []),
    ...(coefficients.perMegaParamMs ? [`perMegaParamMs ${shown(coefficients.perMegaParamMs)} x ${shown(sum.megaParams)} Mparams`] : []),
    `offsetMs ${shown(coefficients.offsetMs)}`,
    ...(sum.termsMs ? [`block terms ${shown(sum.termsMs)} ms ($.terms)`] : []),
  ];
  throw new OfaError('E_PREDICTION', `predicted latency ${shown(latencyMs)} ms is not a latency (allowed: > 0 and <= ${MAX_LATENCY_MS} ms): $.coefficients of ${source.calibration ?? 'the calibration'} give ${terms.join(' + ')}`, {
    hint: 'fit the calibration again (`ofa profile calibrate --save`): it does not fit this subnet',
  });
}

/**
 * The statistic is the calibration's (median for files that predate the choice), else `statistic`.
 * `source` names the table and calibration files in the errors of predictions that cannot be right.
 */
export function makePredictor(
  table: LatencyTable,
  calibration?: Pick<Calibration, 'coefficients' | 'statistic' | 'terms'>,
  device = table.device.name,
  statistic: LatencyStatistic = 'median',
  source: { table?: string; calibration?: string } = {},
): LatencyPredictor {
  const coefficients = calibration?.coefficients ?? IDENTITY_CALIBRATION;
  const used: LatencyStatistic = calibration ? (calibration.statistic ?? 'median') : statistic;
  return {
    device,
    preset: table.preset,
    variant: table.variant,
    predict(config) {
      if (config.preset !== table.preset || config.variant !== table.variant) {
        throw new OfaError('E_PREDICTOR_SPACE', `subnet config is ${config.preset}/${config.variant}; this predictor's table is for ${table.preset}/${table.variant}`);
      }
      let sum: TableSum;
      try {
        sum = tableSum(config, table, used, calibration?.terms);
      } catch (error) {
        // A table that cannot give this subnet's sum: the error names the table file (issue 18).
        if (isOfaError(error) && source.table && !error.message.startsWith(source.table)) throw new OfaError(error.code, `${source.table}: ${error.message}`, { hint: error.hint, cause: error });
        throw error;
      }
      const latencyMs = applyCalibration(sum, coefficients);
      checkPrediction(latencyMs, sum, coefficients, source);
      return { latencyMs, ...sum, calibrated: calibration !== undefined, statistic: used };
    },
  };
}

/** The device's predictor for a space: its table plus its calibration (uncalibrated when there is none). */
export function loadPredictor(device: DeviceProfile, preset: string, variant: string, options: DevicesOptions = {}): LatencyPredictor {
  return makePredictor(loadTable(device, preset, variant, options), loadCalibration(device, preset, variant, options), device.name, DEFAULT_STATISTIC, {
    table: `latency table ${tablePath(device, preset, variant, options)}`,
    calibration: `calibration ${calibrationPath(device, preset, variant, options)}`,
  });
}

/** pipeline.md: the predictor's quality is the share of subnets within +-5% and +-10% of measured, and rank correlation. */
export function predictorQuality(predicted: readonly number[], measured: readonly number[]): PredictorQuality {
  const errors = predicted.map((p, i) => Math.abs(p - measured[i]) / measured[i]);
  return {
    subnets: measured.length,
    within5: errors.filter((e) => e <= 0.05).length / errors.length,
    within10: errors.filter((e) => e <= 0.1).length / errors.length,
    mape: errors.reduce((a, b) => a + b, 0) / errors.length,
    spearman: spearman(predicted, measured),
  };
}
