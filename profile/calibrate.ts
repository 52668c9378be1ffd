// Calibration and validation of the latency predictor on measured whole subnets (pipeline.md: "a
// per-device calibration fitted on measured whole subnets; its quality is reported as the share of
// held-out subnets within +-5% and +-10% of measured, and rank correlation").
import { join } from 'node:path';
import { writeJsonAtomic } from '../lib/atomic.ts';
import { OfaError } from '../lib/errors.ts';
import { ProgressBar } from '../lib/progress.ts';
import { createRng } from '../lib/rng.ts';
import { configId, sampleRandom, type SubnetConfig } from '../space/index.ts';
import { artifactTag, type ArtifactTag } from './artifacts.ts';
import { deviceDataDir, type DeviceProfile, type DevicesOptions } from './device.ts';
import { hostFacts, type HostFacts } from './host.ts';
import { measureInterleaved, resolveProtocol, type MeasureOptions } from './measure.ts';
import {
  applyCalibration,
  fitCalibration,
  loadCalibration,
  predictorQuality,
  tableSum,
  type Calibration,
  type FittedCalibration,
  type CalibrationPoint,
} from './predictor.ts';
import type { ValidationResult } from './validation.ts';
import { cachedSubnetModel, referenceConfig, referenceModel } from './reference.ts';
import { median } from './stats.ts';
import { DEFAULT_STATISTIC, loadTable, statisticOf, type LatencyStatistic, type LatencyTable, type Protocol, type ReferenceRecord } from './table.ts';

export interface SubnetRunOptions {
  device: DeviceProfile;
  preset: string;
  variant: string;
  /** Number of random subnets. */
  count: number;
  seed: number;
  protocol?: Pick<MeasureOptions, 'warmupRuns' | 'minSamples' | 'minTimeMs'>;
  quiet?: boolean;
  /** Use this table instead of the device's file. */
  table?: LatencyTable;
  /** Where the device's table (and a validation's calibration) are read from, for a device built in code. */
  devices?: DevicesOptions;
  /**
   * Write the result here (`--out FILE`, or the device folder's path for `--save`); without it nothing
   * is written: the result is only returned.
   */
  out?: string;
  /**
   * A chunk whose speed reference ran more than this fraction slower than the target speed (the table's
   * for a calibration, the calibration's for a validation) was measured while the shared machine was in
   * another state (another tenant busy): it is measured again, up to `retries` times, keeping the pass
   * closest to the target (defaults 0.1 and 2).
   */
  maxDrift?: number;
  retries?: number;
}

export interface CalibrateOptions extends SubnetRunOptions {
  /** The figure of the timed runs to fit and predict (default: lut.ts DEFAULT_STATISTIC). */
  statistic?: LatencyStatistic;
}

/** `count` distinct random subnets from `seed` (distinct networks: canonical ids differ). */
export function randomSubnets(preset: string, variant: string, count: number, seed: number, exclude: ReadonlySet<string> = new Set()): SubnetConfig[] {
  const rng = createRng(seed);
  const seen = new Set(exclude);
  const out: SubnetConfig[] = [];
  for (let attempts = 0; out.length < count; attempts++) {
    if (attempts > count * 100) throw new OfaError('E_SPACE_SMALL', `could not draw ${count} distinct subnets of ${preset}/${variant} (got ${out.length})`);
    const config = sampleRandom({ preset, variant }, rng);
    const id = configId(config);
    if (seen.has(id)) continue;
    seen.add(id);
    out.push(config);
  }
  return out;
}

interface MeasuredSubnet extends CalibrationPoint {
  config: SubnetConfig;
  /** Machine speed in this subnet's chunk against the target's: referenceMs / the target reference. */
  speed: number;
  /** The median of its runs, whatever the statistic (for reading the files). */
  medianMs: number;
  megaMacs: number;
  megaParams: number;
}

/**
 * Measures whole subnets interleaved (pipeline.md), in equal chunks of at most 50 to bound memory, with the speed
 * reference (reference.ts) in every chunk. `speed` is against `targetReferenceMs` (1 without one).
 */
async function measureSubnets(
  options: SubnetRunOptions,
  configs: SubnetConfig[],
  table: LatencyTable,
  protocol: Protocol,
  label: string,
  statistic: LatencyStatistic,
  targetReferenceMs: number | undefined,
): Promise<{ points: MeasuredSubnet[]; reference: ReferenceRecord; passes: number[] }> {
  const sums = configs.map((config) => tableSum(config, table, statistic));
  const pick = (stats: { medianMs: number; minMs: number }) => statisticOf(stats, statistic)!;
  const bar = new ProgressBar({ label: `${label}: export`, total: configs.length + 1, unit: 'subnets', quiet: options.quiet });
  const models = configs.map((config, i) => {
    const bytes = cachedSubnetModel(config, options.seed + i);
    bar.tick();
    return bytes;
  });
  const referenceBytes = referenceModel(options.preset, options.variant);
  bar.tick();
  const points: MeasuredSubnet[] = [];
  const chunkReferences: { medianMs: number; minMs: number }[] = [];
  const passes: number[] = [];
  // Chunks of at most 50, all the same size (60 subnets: 30 + 30): how many sessions are interleaved
  // changes how warm each one's caches are, so every chunk should interleave as many.
  const chunkSize = Math.ceil(configs.length / Math.ceil(configs.length / 50));
  const maxDrift = options.maxDrift ?? 0.1;
  const retries = options.retries ?? 2;
  const measureBar = new ProgressBar({ label: `${label}: measure`, total: configs.length, unit: 'subnets', quiet: options.quiet });
  for (let start = 0; start < configs.length; start += chunkSize) {
    const chunk = models.slice(start, start + chunkSize);
    let best: { results: Awaited<ReturnType<typeof measureInterleaved>>; speed: number } | undefined;
    let pass = 0;
    for (; pass <= retries; pass++) {
      const results = await measureInterleaved([...chunk, referenceBytes], options.device, protocol);
      const speed = targetReferenceMs ? pick(results[chunk.length].stats) / targetReferenceMs : 1;
      if (!best || Math.abs(Math.log(speed)) < Math.abs(Math.log(best.speed))) best = { results, speed };
      // Only a slower machine is another tenant's doing; a faster one is a quieter moment: keep it.
      if (speed <= 1 + maxDrift) break;
      if (pass < retries && !options.quiet) {
        process.stderr.write(`\n${label}: the machine ran at x${speed.toFixed(3)} of the target speed during subnets ${start + 1}..${start + chunk.length}; measuring them again\n`);
      }
    }
    passes.push(Math.min(pass + 1, retries + 1));
    const { results, speed } = best!;
    chunkReferences.push(results[chunk.length].stats);
    const referenceMs = pick(results[chunk.length].stats);
    results.slice(0, chunk.length).forEach((result, j) => {
      const i = start + j;
      points.push({ config: configs[i], configId: configId(configs[i]), measuredMs: pick(result.stats), medianMs: result.stats.medianMs, referenceMs, speed, ...sums[i] });
    });
    measureBar.tick(chunk.length);
  }
  // The reference as these measurements saw it: the median over subnets of their chunk's reference
  // figures (a chunk counts as many times as it has subnets).
  const perSubnet = (figure: (stats: { medianMs: number; minMs: number }) => number) =>
    chunkReferences.flatMap((stats, k) => new Array<number>(Math.min(chunkSize, configs.length - k * chunkSize)).fill(figure(stats)));
  const reference = {
    configId: configId(referenceConfig(options.preset, options.variant)),
    medianMs: median(perSubnet((r) => r.medianMs)),
    minMs: median(perSubnet((r) => r.minMs)),
  };
  return { points, reference, passes };
}

export interface CalibrateResult {
  /** Where it was written (options.out), if anywhere. */
  file?: string;
  calibration: FittedCalibration;
}

export async function calibrateDevice(options: CalibrateOptions): Promise<CalibrateResult> {
  const statistic = options.statistic ?? DEFAULT_STATISTIC;
  const table = options.table ?? loadTable(options.device, options.preset, options.variant, options.devices);
  const protocol = resolveProtocol({ minTimeMs: 750, ...options.protocol });
  const configs = randomSubnets(options.preset, options.variant, options.count, options.seed);
  const tableReferenceMs = statisticOf(table.reference, statistic);
  const { points: measured, reference, passes } = await measureSubnets(options, configs, table, protocol, `calibrate ${options.device.name}`, statistic, tableReferenceMs);
  // Fitted at this calibration's speed (the median over its chunks of the reference): each measurement
  // scaled by its chunk's reference against that (reference.ts). Predictions are then milliseconds as
  // this protocol measures whole subnets; the table's own speed only enters through `scale`.
  const calibrationReferenceMs = statisticOf(reference, statistic)!;
  const points = measured.map((p) => ({ ...p, measuredMs: p.referenceMs ? (p.measuredMs * calibrationReferenceMs) / p.referenceMs : p.measuredMs }));
  const coefficients = fitCalibration(points);
  const mape = (predict: (p: MeasuredSubnet) => number) => points.reduce((s, p) => s + Math.abs(predict(p) - p.measuredMs) / p.measuredMs, 0) / points.length;
  const calibration: FittedCalibration = {
    ...artifactTag('calibration'),
    device: options.device.name,
    preset: options.preset,
    variant: options.variant,
    model: 'latencyMs = scale * tableSumMs + perBlockMs * blocks + perMegaMacMs * MMACs + perMegaParamMs * Mparams + offsetMs (least squares on relative error)',
    coefficients,
    statistic,
    passes,
    seed: options.seed,
    subnets: points.length,
    fit: { mape: mape((p) => applyCalibration(p, coefficients)), rawSumMape: mape((p) => p.tableSumMs) },
    tableRuns: table.runs.length,
    ...(table.reference ? { tableReference: table.reference, reference } : {}),
    date: new Date().toISOString(),
    points: measured.map(({ configId: id, measuredMs, referenceMs, tableSumMs, blocks, megaMacs, megaParams }) => ({ configId: id, measuredMs, referenceMs, tableSumMs, blocks, megaMacs, megaParams })),
  };
  if (options.out) writeJsonAtomic(options.out, calibration, { createParents: true });
  return { ...(options.out ? { file: options.out } : {}), calibration };
}

export async function validatePredictor(options: SubnetRunOptions & { calibration?: Calibration }): Promise<ValidationResult> {
  const started = process.hrtime.bigint();
  const table = options.table ?? loadTable(options.device, options.preset, options.variant, options.devices);
  const calibration = options.calibration ?? loadCalibration(options.device, options.preset, options.variant, options.devices);
  if (!calibration) {
    throw new OfaError('E_CALIBRATION_MISSING', `device ${options.device.name} has no calibration for ${options.preset}/${options.variant}`, {
      hint: `run: ofa profile calibrate --device ${options.device.name} --preset ${options.preset} --variant ${options.variant} --save`,
    });
  }
  if (calibration.seed === options.seed) {
    throw new OfaError('E_SEED', `--seed ${options.seed} is the calibration's seed; held-out subnets need another seed`, { hint: 'pass a different --seed' });
  }
  const protocol = resolveProtocol({ minTimeMs: 750, ...options.protocol });
  const host = hostFacts();
  // Held out: a different seed, and no network the calibration measured.
  const configs = randomSubnets(options.preset, options.variant, options.count, options.seed, new Set((calibration.points ?? []).map((p) => p.configId)));
  const statistic = calibration.statistic ?? 'median';
  // Speeds are against the calibration's (its predictions are at that speed); older files: the table's.
  const targetReferenceMs = statisticOf(calibration.reference ?? table.reference, statistic);
  const { points, reference, passes } = await measureSubnets(options, configs, table, protocol, `validate ${options.device.name}`, statistic, targetReferenceMs);
  const measured = points.map((p) => p.measuredMs);
  const predicted = points.map((p) => applyCalibration(p, calibration.coefficients));
  const driftCorrected = points.map((p, i) => predicted[i] * p.speed);
  const result: ValidationResult = {
    ...artifactTag('validation'),
    device: options.device.name,
    preset: options.preset,
    variant: options.variant,
    seed: options.seed,
    ...(calibration.seed !== undefined ? { calibrationSeed: calibration.seed } : {}),
    statistic,
    protocol,
    host,
    quality: predictorQuality(predicted, measured),
    rawSum: predictorQuality(points.map((p) => p.tableSumMs), measured),
    drift: {
      ...(table.reference ? { reference } : {}),
      factors: [...new Set(points.map((p) => p.speed))],
      passes,
      quality: predictorQuality(driftCorrected, measured),
    },
    measuredRangeMs: [Math.min(...measured), Math.max(...measured)],
    seconds: Number(process.hrtime.bigint() - started) / 1e9,
    subnets: points.map((p, i) => ({ configId: p.configId, measuredMs: p.measuredMs, medianMs: p.medianMs, predictedMs: predicted[i], tableSumMs: p.tableSumMs, blocks: p.blocks })),
  };
  if (options.out) writeJsonAtomic(options.out, result, { createParents: true });
  return result;
}

// The validation file's schema, type and path live with its reader (validation.ts, light like the predictor).
export { validationPath, type ValidationResult } from './validation.ts';
