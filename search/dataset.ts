// The accuracy data set (issue 13 item 1; ofav2.md s4): seeded random subnets of a trained supernet,
// each measured on the validation split after BN recalibration (ofav2.md s3), one JSON line per subnet
// after a header line. The file is appended to as subnets are measured, so a killed run keeps what it
// measured: the same command skips the ids already in the file (and cuts a line the kill left half-written).
import { appendFileSync, closeSync, existsSync, fsyncSync, openSync, readFileSync, truncateSync } from 'node:fs';
import { writeFileAtomic } from '../lib/atomic.ts';
import { OfaError, describeValue } from '../lib/errors.ts';
import { createRng } from '../lib/rng.ts';
import { configId, findFaults, formatFault, resolveDimensions, sampleRandom, subnetCost, type SpaceRef, type SubnetConfig } from '../space/index.ts';
import type { EvalData, OpenedSupernet } from '../train/index.ts';
import { searchTag, tagFault } from './artifacts.ts';

/** Where the measured subnets came from: the header line of the file. */
export interface DatasetHeader {
  format: 'ofav2/accuracy-dataset';
  formatVersion: 1;
  preset: string;
  variant: string;
  supernet: SupernetRecord;
  split: string;
  /** Images of the split each subnet is scored on. */
  images: number;
  recalibrationImages: number;
  /**
   * What scored the subnets: `onnxruntime` (the subnet exported with BN recalibrated, run by
   * onnxruntime-node; the default) or `tfjs` (the supernet's own evaluation). Absent in older files: tfjs.
   */
  scorer?: DatasetScorer;
  /** Seed of the subnet sequence (and of the recalibration images). */
  seed: number;
  createdAt: string;
}

export type DatasetScorer = 'onnxruntime' | 'tfjs';
export const DATASET_SCORERS: readonly DatasetScorer[] = ['onnxruntime', 'tfjs'];

/** The supernet a data set (and a predictor fitted on it) was measured on. */
export interface SupernetRecord {
  /** The checkpoint folder as given on the command line, and the checkpoint it stood for. */
  checkpoint: string;
  dir: string;
  checksum: string;
  phase: string;
  epoch: number;
  step: number;
}

export interface DatasetRow {
  id: string;
  config: SubnetConfig;
  top1: number;
  loss: number;
  macs: number;
  params: number;
  images: number;
  /** Wall-clock seconds per subnet of the batch it was measured in. */
  seconds?: number;
}

export interface AccuracyDataset {
  file: string;
  header: DatasetHeader;
  rows: DatasetRow[];
  /** The byte length of the complete lines; less than the file's when its last line was cut by a kill. */
  completeBytes: number;
  truncatedTail: boolean;
}

const HINT_REMEASURE = 'remove the bad line (the subnets before it are kept), or measure into another --out file';

function rowFault(value: unknown, header: Pick<DatasetHeader, 'preset' | 'variant'>): string | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return `is not a JSON object`;
  const row = value as Record<string, unknown>;
  for (const field of ['top1', 'loss', 'macs'] as const) {
    if (typeof row[field] !== 'number' || !Number.isFinite(row[field])) return `field "${field}" is ${describeValue(row[field])}; expected a finite number`;
  }
  if ((row.top1 as number) < 0 || (row.top1 as number) > 1) return `field "top1" is ${row.top1}; expected a fraction from 0 to 1`;
  const faults = findFaults(row.config);
  if (faults.length > 0) return `field "config": ${formatFault(faults[0])}`;
  const config = row.config as SubnetConfig;
  if (config.preset !== header.preset || config.variant !== header.variant) {
    return `field "config" is a ${config.preset}/${config.variant} subnet; the data set is ${header.preset}/${header.variant}`;
  }
  const id = configId(config);
  if (row.id !== id) return `field "id" is ${describeValue(row.id)}; the config's id is "${id}"`;
  return undefined;
}

function headerFault(value: unknown): string | undefined {
  const tag = tagFault(value, 'dataset');
  if (tag) return tag;
  const header = value as Record<string, unknown>;
  for (const field of ['preset', 'variant', 'split'] as const) if (typeof header[field] !== 'string') return `field "${field}" is ${describeValue(header[field])}; expected a string`;
  for (const field of ['images', 'recalibrationImages', 'seed'] as const) if (typeof header[field] !== 'number') return `field "${field}" is ${describeValue(header[field])}; expected a number`;
  if (header.scorer !== undefined && !DATASET_SCORERS.includes(header.scorer as DatasetScorer)) return `field "scorer" is ${describeValue(header.scorer)}; allowed: ${DATASET_SCORERS.join(', ')}`;
  const supernet = header.supernet as Record<string, unknown> | undefined;
  if (typeof supernet !== 'object' || supernet === null || typeof supernet.checksum !== 'string') return `field "supernet" has no "checksum"`;
  return undefined;
}

/**
 * Reads an accuracy data set. A last line without its newline is what a kill mid-write leaves: it is
 * left out (truncatedTail) and the rows before it are kept. Any other bad line is an error naming the
 * file, the line and the fault.
 */
export function readAccuracyDataset(file: string): AccuracyDataset {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new OfaError('E_ACCURACY_DATA', `accuracy data set ${file} cannot be read: ${(error as Error).message}`, { hint: 'pass the file `ofa search dataset --out` wrote' });
  }
  const lines = text.split('\n');
  // The text after the last newline: empty for a complete file, else a line cut by a kill.
  const tail = lines.pop() as string;
  const truncatedTail = tail.length > 0;
  const completeBytes = Buffer.byteLength(text, 'utf8') - Buffer.byteLength(tail, 'utf8');
  if (lines.length === 0) {
    throw new OfaError('E_ACCURACY_DATA', `accuracy data set ${file} has no complete header line${truncatedTail ? ' (its first line was cut off)' : ' (the file is empty)'}`, {
      hint: 'measure it again with `ofa search dataset`',
    });
  }
  let header: DatasetHeader;
  try {
    header = JSON.parse(lines[0]);
  } catch (error) {
    throw new OfaError('E_ACCURACY_DATA', `accuracy data set ${file} line 1 (the header) is not valid JSON: ${(error as Error).message}`, { hint: 'pass the file `ofa search dataset --out` wrote' });
  }
  const fault = headerFault(header);
  if (fault) throw new OfaError('E_ACCURACY_DATA', `accuracy data set ${file} line 1 (the header) ${fault}`, { hint: 'pass the file `ofa search dataset --out` wrote' });
  const rows: DatasetRow[] = [];
  for (let i = 1; i < lines.length; i++) {
    if (lines[i].trim() === '') continue;
    let value: unknown;
    try {
      value = JSON.parse(lines[i]);
    } catch (error) {
      throw new OfaError('E_ACCURACY_DATA', `accuracy data set ${file} line ${i + 1} is not valid JSON: ${(error as Error).message}`, { hint: HINT_REMEASURE });
    }
    const bad = rowFault(value, header);
    if (bad) throw new OfaError('E_ACCURACY_DATA', `accuracy data set ${file} line ${i + 1}: ${bad}`, { hint: HINT_REMEASURE });
    rows.push(value as DatasetRow);
  }
  return { file, header, rows, completeBytes, truncatedTail };
}

/**
 * The data set's subnets: `count` distinct seeded random subnets, each exit and each resolution taking
 * its turn (a shuffled round per value list), every other dimension uniform (space/sample.ts). A longer
 * list for the same seed starts with the shorter one, so a data set can be extended.
 */
export function datasetConfigs(space: SpaceRef, count: number, seed: number): SubnetConfig[] {
  const rng = createRng(seed);
  const dims = resolveDimensions(space);
  const turns = (values: readonly number[]) => {
    let round: number[] = [];
    return () => {
      if (round.length === 0) round = rng.shuffle([...values]);
      return round.pop() as number;
    };
  };
  const nextExit = turns(dims.exits);
  const nextResolution = turns(dims.resolutions);
  const seen = new Set<string>();
  const configs: SubnetConfig[] = [];
  for (let i = 0; i < count; i++) {
    const exit = nextExit();
    const resolution = nextResolution();
    let config: SubnetConfig | undefined;
    // Bounded: a space too small for `count` distinct subnets is an error, not a loop.
    for (let attempt = 0; attempt < 1000 && !config; attempt++) {
      const candidate = sampleRandom({ ...space, dimensions: { ...space.dimensions, exits: [exit], resolutions: [resolution] } }, rng);
      const id = configId(candidate);
      if (!seen.has(id)) {
        seen.add(id);
        config = candidate;
      }
    }
    if (!config) throw new OfaError('E_SPACE_SMALL', `${space.preset}/${space.variant}: found only ${configs.length} distinct subnets of ${count} asked for (exit ${exit}, resolution ${resolution})`, { hint: 'ask for fewer --subnets' });
    configs.push(config);
  }
  return configs;
}

export interface MeasureDatasetOptions {
  /** Total number of subnets the file should hold (the ones already there count). */
  subnets: number;
  seed: number;
  out: string;
  /** The checkpoint as the user named it (recorded in the header). */
  checkpoint: string;
  /** Default 2000 (ofav2.md s3). */
  recalibrationImages?: number;
  /** Images of the split to score on (default all). */
  maxImages?: number;
  workers?: number;
  /** Subnets per evaluation call, written after each (default 8): what a kill can lose. */
  chunkSize?: number;
  /** Default onnxruntime (DatasetHeader.scorer). */
  scorer?: DatasetScorer;
  /** Name of the split `data.set` is (recorded; default 'validation'). */
  split?: string;
  /** Stop after this many newly measured subnets (tests: a kill). */
  stopAfter?: number;
  onProgress?: (done: number, total: number, row: DatasetRow) => void;
}

export interface MeasureDatasetResult {
  file: string;
  total: number;
  /** Subnets found in the file and not measured again. */
  skipped: number;
  measured: number;
  /** Whether a line cut by an earlier kill was removed. */
  repaired: boolean;
  seconds: number;
  secondsPerSubnet: number;
}

/** What the data set needs of an opened supernet (train/index.ts openSupernet). */
export type DatasetSupernet = Pick<OpenedSupernet, 'facts' | 'evaluateMany' | 'subnet'>;

function headerFor(supernet: DatasetSupernet, data: EvalData, options: MeasureDatasetOptions): DatasetHeader {
  const { facts } = supernet;
  return {
    ...searchTag('dataset'),
    preset: facts.preset,
    variant: facts.variant,
    supernet: { checkpoint: options.checkpoint, dir: facts.dir, checksum: facts.checksum, phase: facts.phase, epoch: facts.epoch, step: facts.step },
    split: options.split ?? 'validation',
    images: Math.min(data.set.count, options.maxImages ?? data.set.count),
    recalibrationImages: options.recalibrationImages ?? 2000,
    scorer: options.scorer ?? 'onnxruntime',
    seed: options.seed,
    createdAt: new Date().toISOString(),
  };
}

/** Refuses to extend a file measured under other settings: its rows would not be comparable. */
function checkResumable(file: string, found: DatasetHeader, wanted: DatasetHeader): void {
  const differences: string[] = [];
  if (found.preset !== wanted.preset || found.variant !== wanted.variant) differences.push(`space ${found.preset}/${found.variant} (now ${wanted.preset}/${wanted.variant})`);
  if (found.supernet.checksum !== wanted.supernet.checksum) differences.push(`supernet ${found.supernet.checksum} (now ${wanted.supernet.checksum}, ${wanted.supernet.dir})`);
  if ((found.scorer ?? 'tfjs') !== wanted.scorer) differences.push(`scorer ${found.scorer ?? 'tfjs'} (now ${wanted.scorer})`);
  for (const field of ['split', 'images', 'recalibrationImages', 'seed'] as const) {
    if (found[field] !== wanted[field]) differences.push(`${field} ${describeValue(found[field])} (now ${describeValue(wanted[field])})`);
  }
  if (differences.length > 0) {
    throw new OfaError('E_ACCURACY_DATA_MISMATCH', `accuracy data set ${file} was measured with ${differences.join(', ')}; its subnets would not be comparable`, {
      hint: 'run with the settings it was started with, or measure into another --out file',
    });
  }
}

/**
 * Measures the data set into `options.out` (appending; resuming a file of the same settings) on the
 * supernet's evaluation workers, `chunkSize` subnets per call, each chunk's lines written and synced
 * before the next starts.
 */
export async function measureAccuracyDataset(supernet: DatasetSupernet, data: EvalData, options: MeasureDatasetOptions): Promise<MeasureDatasetResult> {
  if (!Number.isInteger(options.subnets) || options.subnets < 1) throw new OfaError('E_SEARCH_OPTIONS', `--subnets ${options.subnets} is not valid; allowed: an integer >= 1`);
  const started = performance.now();
  const wanted = headerFor(supernet, data, options);
  const file = options.out;
  let done = new Set<string>();
  let repaired = false;
  let resuming = false;
  const text = existsSync(file) ? readFileSync(file, 'utf8') : '';
  // No newline yet: at most a header cut by a kill, and nothing measured; the file starts again.
  if (text.includes('\n')) {
    const existing = readAccuracyDataset(file);
    checkResumable(file, existing.header, wanted);
    if (existing.truncatedTail) {
      truncateSync(file, existing.completeBytes);
      repaired = true;
    }
    done = new Set(existing.rows.map((row) => row.id));
    resuming = true;
  }
  if (!resuming) writeFileAtomic(file, `${JSON.stringify(wanted)}\n`);
  const configs = datasetConfigs({ preset: wanted.preset, variant: wanted.variant }, options.subnets, options.seed);
  const pending = configs.filter((config) => !done.has(configId(config)));
  const skipped = configs.length - pending.length;
  const chunkSize = Math.max(1, options.chunkSize ?? 8);
  const limit = Math.min(pending.length, options.stopAfter ?? pending.length);
  let measured = 0;
  for (let start = 0; start < limit; start += chunkSize) {
    const chunk = pending.slice(start, Math.min(limit, start + chunkSize));
    const chunkStarted = performance.now();
    const results =
      wanted.scorer === 'tfjs'
        ? await supernet.evaluateMany(chunk, data, { recalibrationImages: wanted.recalibrationImages, maxImages: options.maxImages, seed: options.seed, workers: options.workers })
        : await scoreWithOnnxruntime(supernet, chunk, data, wanted, options);
    const seconds = (performance.now() - chunkStarted) / 1000 / chunk.length;
    const rows: DatasetRow[] = results.map((result) => {
      const cost = subnetCost(result.config);
      return { id: result.id, config: result.config, top1: result.top1, loss: result.loss, macs: cost.macs, params: cost.params, images: result.images, seconds };
    });
    appendLines(file, rows.map((row) => JSON.stringify(row)));
    for (const row of rows) {
      measured++;
      options.onProgress?.(skipped + measured, configs.length, row);
    }
  }
  const totalSeconds = (performance.now() - started) / 1000;
  return { file, total: skipped + measured, skipped, measured, repaired, seconds: totalSeconds, secondsPerSubnet: measured > 0 ? totalSeconds / measured : 0 };
}

/**
 * Each subnet's static weights with BN recalibrated (ofav2.md s3: the same images and seed as the tfjs
 * evaluation), exported to ONNX and scored by onnxruntime-node on every core (`workers` threads when given).
 */
async function scoreWithOnnxruntime(supernet: DatasetSupernet, chunk: readonly SubnetConfig[], data: EvalData, wanted: DatasetHeader, options: MeasureDatasetOptions): Promise<{ id: string; config: SubnetConfig; top1: number; loss: number; images: number }[]> {
  const [{ encodeModel, exportSubnet }, { scoreModel, scoringDevice }, { imagesAt }] = await Promise.all([import('../export/index.ts'), import('../profile/index.ts'), import('../train/index.ts')]);
  const device = scoringDevice(options.workers);
  const results = [];
  for (const config of chunk) {
    const subnet = supernet.subnet(config, { recalibrate: { images: data.calibration, spec: data.spec, count: wanted.recalibrationImages, seed: wanted.seed } });
    const model = encodeModel(exportSubnet(subnet, { source: supernet.facts.checksum }));
    const { images, labels } = imagesAt(data.set, data.spec, config.resolution, { limit: options.maxImages, seed: wanted.seed });
    const score = await scoreModel(model, device, { images, labels, resolution: config.resolution, channels: data.spec.channels });
    results.push({ id: configId(config), config, top1: score.top1, loss: score.loss, images: score.images });
  }
  return results;
}

/** Appends whole lines and syncs them to disk (a kill leaves at most one line without its newline). */
function appendLines(file: string, lines: string[]): void {
  const fd = openSync(file, 'a');
  try {
    appendFileSync(fd, lines.map((line) => `${line}\n`).join(''));
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
