// The latency lookup table as data (ofav2.md s5, pipeline.md "Measuring latency"): what a table file holds,
// reading it, and an entry's latency at the table's reference speed. Building one is profile/lut.ts;
// this file is all the latency predictor needs of a table, so it imports no runtime.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { OfaError } from '../lib/errors.ts';
import type { BlockSpec } from '../space/index.ts';
import { artifactTag, checkArtifact, type ArtifactTag } from './artifacts.ts';
import { deviceDataDir, type DeviceKnobs, type DeviceProfile, type DevicesOptions } from './device.ts';
import type { HostFacts } from './host.ts';

/** The measuring protocol's numbers (profile/measure.ts), as recorded with every result. */
export interface Protocol {
  warmupRuns: number;
  minSamples: number;
  minTimeMs: number;
}

/** What a table, calibration or validation records of the speed reference it was measured against (profile/reference.ts). */
export interface ReferenceRecord {
  configId: string;
  /** The median over chunks of the reference's median latency: the speed the figures are scaled to. */
  medianMs: number;
  /** The same for its fastest run (the `min` statistic). */
  minMs?: number;
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

/** The figure of a measurement or reference record for a statistic; undefined without one. */
export function statisticOf(record: Pick<ReferenceRecord, 'medianMs' | 'minMs'> | undefined, statistic: LatencyStatistic): number | undefined {
  return statistic === 'min' ? record?.minMs : record?.medianMs;
}

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
  /** The block, as space/blocks.ts describes it (for reading the table; the key is what counts). */
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

export interface LatencyTable extends ArtifactTag<'lut'> {
  preset: string;
  variant: string;
  device: DeviceKnobs;
  runtime: string;
  /** Number of distinct blocks in the space; the table is complete when every one has an entry. */
  expectedEntries: number;
  complete: boolean;
  runs: LutRun[];
  /** The speed reference every chunk measured; absent in tables built before it existed. */
  reference?: ReferenceRecord;
  entries: Record<string, LutEntry>;
}

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

/** Reads a table file, checking its format tag. */
export function readTable(file: string): LatencyTable {
  let table: unknown;
  try {
    table = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new OfaError('E_LUT', `latency table ${file} cannot be read: ${(error as Error).message}`, { hint: 'rebuild it with `ofa profile lut --fresh`' });
  }
  checkArtifact(table, 'lut', `latency table ${file}`, 'rebuild it with `ofa profile lut --fresh`');
  if (typeof (table as LatencyTable).entries !== 'object' || (table as LatencyTable).entries === null) {
    throw new OfaError('E_LUT', `latency table ${file} has no "entries" object`, { hint: 'rebuild it with `ofa profile lut --fresh`' });
  }
  return table as LatencyTable;
}

/** The device's table for a space; a missing table is an error telling how to build it. */
export function loadTable(device: DeviceProfile, preset: string, variant: string, options: DevicesOptions = {}): LatencyTable {
  const file = tablePath(device, preset, variant, options);
  if (!existsSync(file)) {
    throw new OfaError('E_LUT_MISSING', `device ${device.name} has no latency table for ${preset}/${variant} (${file})`, {
      hint: `build it: ofa profile lut --device ${device.name} --preset ${preset} --variant ${variant} --save`,
    });
  }
  return readTable(file);
}
