// Latency lookup tables (ofav2.md s5, pipeline.md "Measuring latency"): every distinct block of a space
// measured on one device, written beside the device profile as devices/<name>/lut-<preset>-<variant>.json
// with the host facts. Built incrementally: the file is rewritten atomically after every entry, so a
// crash loses at most the entry in flight and a re-run measures only what is missing.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeJsonAtomic } from '../lib/atomic.ts';
import { OfaError } from '../lib/errors.ts';
import { ProgressBar } from '../lib/progress.ts';
import { getPreset, getVariant } from '../space/index.ts';
import { blockModel, enumerateBlocks, type BlockSpec } from './blocks.ts';
import { deviceDataDir, type DeviceProfile } from './device.ts';
import { hostFacts, type HostFacts } from './host.ts';
import { deviceKnobs, measureInterleaved, resolveProtocol, type MeasureOptions, type Measurement, type Protocol } from './measure.ts';
import { getRuntime } from './runtimes/index.ts';
import { configId } from '../space/index.ts';
import { referenceConfig, statisticOf, referenceModel, type ReferenceRecord } from './reference.ts';
import { median } from './stats.ts';

export const LUT_FORMAT = 'ofav2-latency-table/1';

export interface LutEntry {
  /** Median of the timed runs, ms, as measured. */
  medianMs: number;
  /** Fastest timed run, ms, as measured (absent in older tables). */
  minMs?: number;
  /**
   * Median (and fastest run) of the speed reference measured interleaved in the same chunk
   * (reference.ts). The predictor sums medianMs * table.reference.medianMs / referenceMs (or the same
   * with the minima): the entry at the table's speed.
   */
  referenceMs?: number;
  referenceMinMs?: number;
  p90Ms: number;
  madMs: number;
  samples: number;
  sessionCreateMs: number;
  firstRunMs: number;
  /** Index into `runs`: which build session measured it (host, protocol, date). */
  run: number;
  /** The block, as the exporter describes it (for reading the table; the key is what counts). */
  block: BlockSpec;
}

export interface LutRun {
  startedAt: string;
  host: HostFacts;
  protocol: Protocol;
  measured: number;
  /** Wall-clock seconds this build session has spent so far (updated after every chunk). */
  seconds?: number;
  /** The speed reference's median and fastest run in each chunk this session measured, in order. */
  referenceMs?: number[];
  referenceMinMs?: number[];
}

/**
 * Which figure of a model's timed runs the predictor works with. `min`, the fastest of at least 64
 * runs, is the default: measured here, the median of one model moved by up to 1.5x within seconds while
 * another tenant loaded the shared host, while its fastest run moved by under 4% (bench/profile.bench.ts
 * prints both spreads). The median stays available for dedicated devices.
 */
export type LatencyStatistic = 'min' | 'median';
export const LATENCY_STATISTICS: readonly LatencyStatistic[] = ['min', 'median'];
export const DEFAULT_STATISTIC: LatencyStatistic = 'min';

export interface LatencyTable {
  format: typeof LUT_FORMAT;
  preset: string;
  variant: string;
  device: Measurement['device'];
  runtime: string;
  /** Number of distinct blocks in the space; the table is complete when every one has an entry. */
  expectedEntries: number;
  complete: boolean;
  runs: LutRun[];
  /** The speed reference every chunk measured; absent in tables built before it existed. */
  reference?: ReferenceRecord;
  entries: Record<string, LutEntry>;
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

/** The median over every chunk of the reference's median and fastest run, over all build sessions. */
function referenceOf(table: LatencyTable, id: string): ReferenceRecord | undefined {
  const medians = table.runs.flatMap((run) => run.referenceMs ?? []);
  const minima = table.runs.flatMap((run) => run.referenceMinMs ?? []);
  if (medians.length === 0) return undefined;
  return { configId: id, medianMs: median(medians), ...(minima.length > 0 ? { minMs: median(minima) } : {}) };
}

export function tablePath(device: DeviceProfile, preset: string, variant: string): string {
  return join(deviceDataDir(device), `lut-${preset}-${variant}.json`);
}

export function readTable(file: string): LatencyTable {
  let table: LatencyTable;
  try {
    table = JSON.parse(readFileSync(file, 'utf8')) as LatencyTable;
  } catch (error) {
    throw new OfaError('E_LUT', `latency table ${file} cannot be read: ${(error as Error).message}`, { hint: 'rebuild it with `ofa profile lut --fresh`' });
  }
  if (table.format !== LUT_FORMAT || typeof table.entries !== 'object') {
    throw new OfaError('E_LUT', `latency table ${file}: format ${JSON.stringify(table.format)} is not ${JSON.stringify(LUT_FORMAT)}`, { hint: 'rebuild it with `ofa profile lut --fresh`' });
  }
  return table;
}

/** The device's table for a space; a missing table is an error telling how to build it. */
export function loadTable(device: DeviceProfile, preset: string, variant: string): LatencyTable {
  const file = tablePath(device, preset, variant);
  if (!existsSync(file)) {
    throw new OfaError('E_LUT_MISSING', `device ${device.name} has no latency table for ${preset}/${variant} (${file})`, {
      hint: `build it: ofa profile lut --device ${device.name} --preset ${preset} --variant ${variant}`,
    });
  }
  return readTable(file);
}

export interface BuildTableOptions {
  device: DeviceProfile;
  preset: string;
  variant: string;
  /** Per-entry protocol (defaults: 10 warm-up runs, 64 samples, 750 ms). */
  protocol?: Pick<MeasureOptions, 'warmupRuns' | 'minSamples' | 'minTimeMs'>;
  /** Start from an empty table. */
  fresh?: boolean;
  quiet?: boolean;
  /** Write the table here instead of beside the device profile (tests). */
  file?: string;
  /** Stop after measuring this many new entries (tests of resumption). */
  limit?: number;
  /** Blocks measured interleaved per chunk (default 16); the file is written after each chunk. */
  chunkSize?: number;
}

export interface BuildTableResult {
  file: string;
  table: LatencyTable;
  entries: number;
  measured: number;
  skipped: number;
  seconds: number;
}

function sameKnobs(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

export async function buildTable(options: BuildTableOptions): Promise<BuildTableResult> {
  const started = process.hrtime.bigint();
  const { device, preset, variant } = options;
  getPreset(preset, '--preset');
  getVariant(variant, '--variant');
  const protocol = resolveProtocol({ minTimeMs: 750, ...options.protocol });
  const runtime = await getRuntime(device.runtime);
  await runtime.check(device);
  const runtimeVersion = (await runtime.info(device)).version;
  const file = options.file ?? tablePath(device, preset, variant);
  const blocks = enumerateBlocks({ preset, variant });
  const knobs = deviceKnobs(device);
  const host = hostFacts();
  const referenceId = configId(referenceConfig(preset, variant));

  let table: LatencyTable | undefined;
  if (!options.fresh && existsSync(file)) {
    table = readTable(file);
    // A table mixes entries only from one device setting, runtime and CPU: anything else is a new table.
    let mismatch =
      table.preset !== preset || table.variant !== variant
        ? `it is for ${table.preset}/${table.variant}`
        : !sameKnobs(table.device, knobs)
          ? 'the device settings changed'
          : table.runtime !== runtimeVersion
            ? `it was measured with ${table.runtime}, this is ${runtimeVersion}`
            : table.runs.some((r) => r.host.cpuModel !== host.cpuModel || r.host.logicalCores !== host.logicalCores)
              ? `it was measured on ${table.runs[0].host.cpuModel} (${table.runs[0].host.logicalCores} cores)`
              : undefined;
    if (!mismatch && Object.keys(table.entries).length > 0 && table.reference?.configId !== referenceId) {
      mismatch = 'it was built without the speed reference this version measures in every chunk';
    }
    if (mismatch) {
      throw new OfaError('E_LUT_MISMATCH', `latency table ${file} cannot be resumed: ${mismatch}`, { hint: 'rebuild it with --fresh (or move the old table away)' });
    }
  }
  table ??= { format: LUT_FORMAT, preset, variant, device: knobs, runtime: runtimeVersion, expectedEntries: blocks.size, complete: false, runs: [], entries: {} };
  table.expectedEntries = blocks.size;
  const todo = [...blocks.entries()].filter(([key]) => !(key in table.entries));
  const skipped = blocks.size - todo.length;
  const run = table.runs.length;
  const runRecord: LutRun = { startedAt: host.date, host, protocol, measured: 0, referenceMs: [], referenceMinMs: [] };
  if (todo.length > 0) table.runs.push(runRecord);

  const reference = todo.length > 0 ? referenceModel(preset, variant) : new Uint8Array();
  const bar = new ProgressBar({ label: `lut ${device.name} ${preset}/${variant}`, total: todo.length, unit: 'blocks', quiet: options.quiet || todo.length === 0 });
  let measured = 0;
  const chunkSize = options.chunkSize ?? 16;
  const limit = options.limit ?? Infinity;
  // Blocks are measured interleaved in chunks (measure.ts), and the table is written after each chunk.
  for (let start = 0; start < todo.length && measured < limit; start += chunkSize) {
    const chunk = todo.slice(start, Math.min(start + chunkSize, start + (limit - measured)));
    const results = await measureInterleaved([...chunk.map(([, spec]) => blockModel(spec)), reference], device, protocol);
    const referenceMs = results[chunk.length].stats.medianMs;
    const referenceMinMs = results[chunk.length].stats.minMs;
    runRecord.referenceMs!.push(referenceMs);
    runRecord.referenceMinMs!.push(referenceMinMs);
    chunk.forEach(([key, spec], i) => {
      const result = results[i];
      table.entries[key] = {
        medianMs: result.stats.medianMs,
        minMs: result.stats.minMs,
        referenceMs,
        referenceMinMs,
        p90Ms: result.stats.p90Ms,
        madMs: result.stats.madMs,
        samples: result.stats.count,
        sessionCreateMs: result.sessionCreateMs,
        firstRunMs: result.firstRunMs,
        run,
        block: spec,
      };
    });
    measured += chunk.length;
    table.reference = referenceOf(table, referenceId);
    runRecord.measured = measured;
    runRecord.seconds = Number(process.hrtime.bigint() - started) / 1e9;
    table.complete = Object.keys(table.entries).length >= blocks.size;
    writeJsonAtomic(file, table, { createParents: true });
    bar.tick(chunk.length, { last: `${results[results.length - 1].stats.medianMs.toFixed(3)}ms` });
  }
  table.complete = [...blocks.keys()].every((key) => key in table.entries);
  if (measured === 0) writeJsonAtomic(file, table, { createParents: true });
  return { file, table, entries: Object.keys(table.entries).length, measured, skipped, seconds: Number(process.hrtime.bigint() - started) / 1e9 };
}
