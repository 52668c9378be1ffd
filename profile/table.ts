// The latency lookup table as data (ofav2.md s5, pipeline.md "Measuring latency"): what a table file holds,
// reading it, and an entry's latency at the table's reference speed. Building one is profile/lut.ts;
// this file is all the latency predictor needs of a table, so it imports no runtime.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { OfaError } from '../lib/errors.ts';
import { readJsonFile } from '../lib/json.ts';
import { count, formatTag, oneOf, parseWith, text, z } from '../lib/schema.ts';
import { PRESET_NAMES, VARIANT_NAMES, type BlockSpec } from '../space/index.ts';
import { ARTIFACT_FORMATS, artifactTag, checkArtifact } from './artifacts.ts';
import { DEVICE_KNOBS_SCHEMA, deviceDataDir, type DeviceProfile, type DevicesOptions } from './device.ts';
import { HOST_FACTS_SCHEMA } from './host.ts';

/**
 * The largest latency any file may state, in ms (one hour): anything above is a corrupt figure, not a
 * measurement, and would steer a search as surely as a negative one.
 */
export const MAX_LATENCY_MS = 3_600_000;
/** A measured latency: a finite number of ms > 0 and at most MAX_LATENCY_MS. */
export const latencyMs = () => z.number().positive().max(MAX_LATENCY_MS);
/** A duration that may be 0 (a spread, a session's creation on a cached model). */
const durationMs = () => z.number().nonnegative().max(MAX_LATENCY_MS);

/** The measuring protocol's numbers (profile/measure.ts), as recorded with every result. */
export const PROTOCOL_SCHEMA = z.strictObject({
  warmupRuns: count(),
  minSamples: z.int().min(1),
  minTimeMs: durationMs(),
});
export type Protocol = z.infer<typeof PROTOCOL_SCHEMA>;

/** What a table, calibration or validation records of the speed reference it was measured against (profile/reference.ts). */
export const REFERENCE_SCHEMA = z.strictObject({
  configId: text(),
  /** The median over chunks of the reference's median latency: the speed the figures are scaled to. */
  medianMs: latencyMs(),
  /** The same for its fastest run (the `min` statistic). */
  minMs: latencyMs().optional(),
});
export type ReferenceRecord = z.infer<typeof REFERENCE_SCHEMA>;

/**
 * Which figure of a model's timed runs the predictor works with. `min`, the fastest of at least 64
 * runs, is the default: measured here, the median of one model moved by up to 1.5x within seconds while
 * another tenant loaded the shared host, while its fastest run moved by under 4% (bench/profile.bench.ts
 * prints both spreads). The median stays available for dedicated devices.
 */
export type LatencyStatistic = 'min' | 'median';
export const LATENCY_STATISTICS: readonly LatencyStatistic[] = ['min', 'median'];
export const DEFAULT_STATISTIC: LatencyStatistic = 'min';

/** The figure of a measurement or reference record for a statistic; undefined without one. */
export function statisticOf(record: Pick<ReferenceRecord, 'medianMs' | 'minMs'> | undefined, statistic: LatencyStatistic): number | undefined {
  return statistic === 'min' ? record?.minMs : record?.medianMs;
}

const BLOCK_KINDS = ['stem', 'layer', 'stageOutput', 'head'] as const;

export const LUT_ENTRY_SCHEMA = z.strictObject({
  /** Median of the timed runs, ms, as measured. */
  medianMs: latencyMs(),
  /** Fastest timed run, ms, as measured (absent in older tables). */
  minMs: latencyMs().optional(),
  /**
   * Median (and fastest run) of the speed reference measured interleaved in the same chunk
   * (reference.ts). The predictor sums medianMs * table.reference.medianMs / referenceMs (or the same
   * with the minima): the entry at the table's speed.
   */
  referenceMs: latencyMs().optional(),
  referenceMinMs: latencyMs().optional(),
  p90Ms: durationMs(),
  madMs: durationMs(),
  samples: z.int().min(1),
  sessionCreateMs: durationMs(),
  firstRunMs: durationMs(),
  /** Index into `runs`: which build session measured it (host, protocol, date). */
  run: count(),
  /** The block, as space/blocks.ts describes it (for reading the table; the key is what counts). */
  block: z.looseObject({ kind: z.enum(BLOCK_KINDS) }).transform((block) => block as unknown as BlockSpec),
});
export type LutEntry = z.infer<typeof LUT_ENTRY_SCHEMA>;

export const LUT_RUN_SCHEMA = z.strictObject({
  startedAt: text(),
  host: HOST_FACTS_SCHEMA,
  protocol: PROTOCOL_SCHEMA,
  measured: count(),
  /** Wall-clock seconds this build session has spent so far (updated after every chunk). */
  seconds: z.number().nonnegative().optional(),
  /** The speed reference's median and fastest run in each chunk this session measured, in order. */
  referenceMs: z.array(latencyMs()).optional(),
  referenceMinMs: z.array(latencyMs()).optional(),
});
export type LutRun = z.infer<typeof LUT_RUN_SCHEMA>;

export const LUT_SCHEMA = z
  .strictObject({
    ...formatTag(ARTIFACT_FORMATS.lut),
    preset: oneOf(PRESET_NAMES),
    variant: oneOf(VARIANT_NAMES),
    device: DEVICE_KNOBS_SCHEMA,
    runtime: text(),
    /** Number of distinct blocks in the space; the table is complete when every one has an entry. */
    expectedEntries: count(),
    complete: z.boolean(),
    runs: z.array(LUT_RUN_SCHEMA),
    /** The speed reference every chunk measured; absent in tables built before it existed. */
    reference: REFERENCE_SCHEMA.optional(),
    entries: z.record(z.string().min(1), LUT_ENTRY_SCHEMA),
  })
  .superRefine((table, ctx) => {
    // Cross-references inside the file: each entry names a build session that is there.
    for (const [key, entry] of Object.entries(table.entries)) {
      if (entry.run >= table.runs.length) ctx.addIssue({ code: 'custom', path: ['entries', key, 'run'], input: entry.run, message: `must index one of the table's ${table.runs.length} runs (0..${table.runs.length - 1})` });
    }
    // One build writes every figure for every entry: an entry without one the others have is damaged
    // (it would fail the prediction that needs it far from the file).
    for (const field of ['minMs', 'referenceMs', 'referenceMinMs'] as const) {
      const keys = Object.keys(table.entries);
      const having = keys.filter((key) => table.entries[key][field] !== undefined).length;
      if (having === 0 || having === keys.length) continue;
      for (const key of keys) {
        if (table.entries[key][field] === undefined) ctx.addIssue({ code: 'custom', path: ['entries', key, field], message: `missing field "${field}" (the table's other entries have one)` });
      }
    }
    if (table.complete && Object.keys(table.entries).length < table.expectedEntries) {
      ctx.addIssue({ code: 'custom', path: ['complete'], input: table.complete, message: `is true, but the table has ${Object.keys(table.entries).length} of its ${table.expectedEntries} expected entries` });
    }
  });
export type LatencyTable = z.infer<typeof LUT_SCHEMA>;

/** An empty table (its tag first, as in every file). */
export function emptyTable(fields: Pick<LatencyTable, 'preset' | 'variant' | 'device' | 'runtime' | 'expectedEntries'>): LatencyTable {
  return { ...artifactTag('lut'), ...fields, complete: false, runs: [], entries: {} };
}

/**
 * An entry's latency (the statistic's figure) at the table's reference speed; as measured when the table
 * has no reference. A table without minima cannot give `min`.
 */
export function entryMs(entry: Pick<LutEntry, 'medianMs' | 'minMs' | 'referenceMs' | 'referenceMinMs'>, table: Pick<LatencyTable, 'reference'>, statistic: LatencyStatistic = 'median'): number {
  const value = statistic === 'min' ? entry.minMs : entry.medianMs;
  if (value === undefined) {
    throw new OfaError('E_LUT_OUTDATED', `the latency table has no ${statistic} figures (built by an older version)`, { hint: 'rebuild it with `ofa profile lut --fresh`', kind: 'failure' });
  }
  const chunkReference = statistic === 'min' ? entry.referenceMinMs : entry.referenceMs;
  const tableReference = statisticOf(table.reference, statistic);
  if (!chunkReference || !tableReference) return value;
  return (value * tableReference) / chunkReference;
}

/** <device data dir>/lut-<preset>-<variant>.json: where `--save` writes a table and the predictor reads it. */
export function tablePath(device: DeviceProfile, preset: string, variant: string, options: DevicesOptions = {}): string {
  return join(deviceDataDir(device, options), `lut-${preset}-${variant}.json`);
}

const LUT_HINT = 'rebuild it with `ofa profile lut --fresh`';

/**
 * Reads a table file: the shared JSON reader (lib/json.ts), its format tag, then LUT_SCHEMA (types,
 * finite latencies in range, entries that name a run of the file). Every refusal names the file.
 */
export function readTable(file: string): LatencyTable {
  const input = `latency table ${file}`;
  const value = readJsonFile(file, input, { code: 'E_LUT', hint: LUT_HINT });
  checkArtifact(value, 'lut', input, LUT_HINT);
  return parseWith(LUT_SCHEMA, value, input, { code: 'E_LUT', hint: LUT_HINT });
}

/**
 * The device's table for a space; a missing table is an error telling how to build it, and a table
 * made for another device, preset or variant (a copied or renamed file) is refused.
 */
export function loadTable(device: DeviceProfile, preset: string, variant: string, options: DevicesOptions = {}): LatencyTable {
  const file = tablePath(device, preset, variant, options);
  if (!existsSync(file)) {
    throw new OfaError('E_LUT_MISSING', `device ${device.name} has no latency table for ${preset}/${variant} (${file})`, {
      hint: `build it: ofa profile lut --device ${device.name} --preset ${preset} --variant ${variant} --save`,
    });
  }
  const table = readTable(file);
  checkMadeFor(`latency table ${file}`, { device: table.device.name, preset: table.preset, variant: table.variant }, { device: device.name, preset, variant }, LUT_HINT);
  return table;
}

/**
 * Refuses a device artifact (table, calibration, validation) whose recorded device, preset or variant
 * is not the one it is used for: its numbers would be another machine's or another space's.
 */
export function checkMadeFor(input: string, recorded: { device?: string; preset: string; variant: string }, wanted: { device: string; preset: string; variant: string }, hint: string): void {
  const differences = (['device', 'preset', 'variant'] as const)
    .filter((key) => recorded[key] !== undefined && recorded[key] !== wanted[key])
    .map((key) => `$.${key === 'device' && input.startsWith('latency table') ? 'device.name' : key} is ${JSON.stringify(recorded[key])}, not ${JSON.stringify(wanted[key])}`);
  if (differences.length > 0) {
    throw new OfaError('E_ARTIFACT_MISMATCH', `${input} was made for another ${differences.length === 1 ? (differences[0].includes('device') ? 'device' : 'space') : 'device or space'}: ${differences.join('; ')}`, { hint });
  }
}
