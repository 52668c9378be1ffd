// The accuracy data set (issue 13 item 1; ofav2.md s4): seeded random subnets of a trained supernet,
// each measured on the validation split after BN recalibration (ofav2.md s3), one JSON line per subnet
// after a header line. The file is appended to as subnets are measured, so a killed run keeps what it
// measured: the same command skips the ids already in the file (and cuts a line the kill left half-written).
import { appendFileSync, closeSync, existsSync, fsyncSync, openSync, readFileSync, truncateSync } from 'node:fs';
import { writeFileAtomic } from '../lib/atomic.ts';
import { OfaError, describeValue } from '../lib/errors.ts';
import { parseJsonText, readTextInput } from '../lib/json.ts';
import { count, faultsError, formatTag, oneOf, parseWith, schemaFaults, text, z, type SchemaFault } from '../lib/schema.ts';
import { createRng } from '../lib/rng.ts';
import { PRESET_NAMES, VARIANT_NAMES, configId, findFaults, resolveDimensions, sampleRandom, subnetCost, type SpaceRef, type SubnetConfig } from '../space/index.ts';
import type { EvalData, OpenedSupernet } from '../train/index.ts';
import { SEARCH_FORMATS, searchTag, tagFault } from './artifacts.ts';

export type DatasetScorer = 'onnxruntime' | 'tfjs';
export const DATASET_SCORERS: readonly DatasetScorer[] = ['onnxruntime', 'tfjs'];

/** The supernet a data set (and a predictor fitted on it) was measured on. */
export const SUPERNET_RECORD_SCHEMA = z.strictObject({
  /** The checkpoint folder as given on the command line, and the checkpoint it stood for. */
  checkpoint: text(),
  dir: text(),
  checksum: z.string().regex(/^sha256:[0-9a-f]+$/),
  phase: text(),
  epoch: count(),
  step: count(),
});
export type SupernetRecord = z.infer<typeof SUPERNET_RECORD_SCHEMA>;

/** Where the measured subnets came from: the header line of the file. */
export const DATASET_HEADER_SCHEMA = z.strictObject({
  ...formatTag(SEARCH_FORMATS.dataset),
  preset: oneOf(PRESET_NAMES),
  variant: oneOf(VARIANT_NAMES),
  supernet: SUPERNET_RECORD_SCHEMA,
  split: text(),
  /** Images of the split each subnet is scored on. */
  images: z.int().min(1),
  recalibrationImages: count(),
  /**
   * What scored the subnets: `onnxruntime` (the subnet exported with BN recalibrated, run by
   * onnxruntime-node; the default) or `tfjs` (the supernet's own evaluation). Absent in older files: tfjs.
   */
  scorer: z.enum(['onnxruntime', 'tfjs']).optional(),
  /** Seed of the subnet sequence (and of the recalibration images). */
  seed: count(),
  createdAt: z.string(),
});
export type DatasetHeader = z.infer<typeof DATASET_HEADER_SCHEMA>;

/** One measured subnet (its config is checked by space/'s validator, which names every fault). */
const DATASET_ROW_SCHEMA = z.strictObject({
  id: z.string().regex(/^[0-9a-f]{16}$/),
  /** Checked by space/'s validator (rowFaults), which names each fault of it. */
  config: z.unknown().optional(),
  /** Top-1 on the split, a fraction. */
  top1: z.number().min(0).max(1),
  loss: z.number().nonnegative(),
  macs: z.number().positive(),
  params: z.number().positive(),
  images: z.int().min(1),
  /** Wall-clock seconds per subnet of the batch it was measured in. */
  seconds: z.number().nonnegative().optional(),
});
export type DatasetRow = Omit<z.infer<typeof DATASET_ROW_SCHEMA>, 'config'> & { config: SubnetConfig };

export interface AccuracyDataset {
  file: string;
  header: DatasetHeader;
  rows: DatasetRow[];
  /** The byte length of the complete lines; less than the file's when its last line was cut by a kill. */
  completeBytes: number;
  truncatedTail: boolean;
}

/** A data set grows by one line (~400 bytes) per subnet: 1 GiB is millions of subnets. */
const MAX_DATASET_BYTES = 2 ** 30;

const HINT_REMEASURE = 'remove the bad line (the subnets before it are kept), or measure into another --out file';

/** A row's faults (schema, then its config, its space and its id), each with its JSON path. */
function rowFaults(value: unknown, header: Pick<DatasetHeader, 'preset' | 'variant'>): SchemaFault[] {
  const faults = schemaFaults(DATASET_ROW_SCHEMA, value);
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return faults;
  const row = value as Record<string, unknown>;
  if (row.config === undefined) return [...faults, { path: '$.config', value: undefined, message: 'missing field "config" (required; a subnet config)' }];
  const configFaults = findFaults(row.config);
  faults.push(...configFaults.map((fault) => ({ ...fault, path: fault.path.replace(/^\$/, '$.config') })));
  if (configFaults.length > 0) return faults;
  const config = row.config as SubnetConfig;
  if (config.preset !== header.preset || config.variant !== header.variant) {
    faults.push({ path: '$.config', value: `${config.preset}/${config.variant}`, message: `must be a subnet of the data set's space ${header.preset}/${header.variant}` });
  } else if (faults.length === 0 && row.id !== configId(config)) {
    faults.push({ path: '$.id', value: row.id, message: `must be the config's id "${configId(config)}"` });
  }
  return faults;
}

/**
 * Reads an accuracy data set. A last line without its newline is what a kill mid-write leaves: it is
 * left out (truncatedTail) and the rows before it are kept. Any other bad line is an error naming the
 * file, the line and the fault.
 */
export function readAccuracyDataset(file: string): AccuracyDataset {
  const name = `accuracy data set ${file}`;
  const source = { code: 'E_ACCURACY_DATA', maxBytes: MAX_DATASET_BYTES, hint: 'pass the file `ofa search dataset --out` wrote' } as const;
  // The shared checks of a file (lib/json.ts: missing, a folder, too large, binary), then line by line.
  const text = readTextInput(file, name, source);
  const lines = text.split('\n');
  // The text after the last newline: empty for a complete file, else a line cut by a kill.
  const tail = lines.pop() as string;
  const truncatedTail = tail.length > 0;
  const completeBytes = Buffer.byteLength(text, 'utf8') - Buffer.byteLength(tail, 'utf8');
  if (lines.length === 0) {
    throw new OfaError('E_ACCURACY_DATA', `${name} has no complete header line${truncatedTail ? ' (its first line was cut off)' : ' (the file is empty)'}`, {
      hint: 'measure it again with `ofa search dataset`',
    });
  }
  const headerInput = `${name} line 1 (the header)`;
  const headerValue = parseJsonText(lines[0], headerInput, source);
  const tag = tagFault(headerValue, 'dataset');
  if (tag) throw new OfaError('E_ACCURACY_DATA', `${headerInput} ${tag}`, { hint: source.hint });
  const header = parseWith(DATASET_HEADER_SCHEMA, headerValue, headerInput, source);
  const rows: DatasetRow[] = [];
  for (let i = 1; i < lines.length; i++) {
    if (lines[i].trim() === '') continue;
    const input = `${name} line ${i + 1}`;
    const value = parseJsonText(lines[i], input, { ...source, hint: HINT_REMEASURE });
    const faults = rowFaults(value, header);
    if (faults.length > 0) throw faultsError('E_ACCURACY_DATA', input, faults, HINT_REMEASURE);
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
