// Supernet checkpoints (pipeline.md "Supernet checkpoint"): a folder holding manifest.json and
// weights.safetensors. A run keeps its checkpoints side by side in one folder (e.g. <run>/step-000100/)
// with a latest.json pointer next to them: latestCheckpoint(<run>) finds the newest complete one.
// Parameters, BN buffers and the optimiser's momentum buffers share the one
// weights file under the prefixes `param.`, `buffer.` and `momentum.`.
//
// Crash safety: a checkpoint is written into a hidden temp folder next to its final place
// (`.<name>.tmp-<pid>-<random>`), every file fsynced, then renamed into place in one step; only then is
// the run's `latest.json` pointer rewritten (atomically). A process killed at any moment leaves either
// the old state or the new one: the previous checkpoint folders are never touched by a save, and
// latestCheckpoint() skips what is not complete. Replacing a checkpoint of the same name moves the old
// folder aside first; if the process dies right then, recoverInterruptedSaves() (run by the next save
// and by latestCheckpoint) moves it back. Leftover temp folders of dead processes are removed.
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import { processAlive, writeJsonAtomic } from '../../lib/atomic.ts';
import { OfaError, describeValue } from '../../lib/errors.ts';
import { readJsonFile } from '../../lib/json.ts';
import { count, formatSchemaFault, parseWith, schemaFaults, text, z } from '../../lib/schema.ts';
import { sha256 } from '../data/cache.ts';
import { decodeSafetensors, encodeSafetensors, type TensorMap } from './safetensors.ts';

export const CHECKPOINT_FORMAT_VERSION = 1;
/** Format tags of the JSON a checkpoint folder holds (pipeline.md: every JSON artifact carries one). */
export const CHECKPOINT_FORMAT = 'ofav2/checkpoint';
export const POINTER_FORMAT = 'ofav2/checkpoint-pointer';
export const MANIFEST_FILE = 'manifest.json';
export const WEIGHTS_FILE = 'weights.safetensors';
export const LATEST_FILE = 'latest.json';
/** The best checkpoint of a phase by its per-epoch validation (ofav2.md s3 `model_best`). */
export const BEST_FILE = 'best.json';
export const PARAM_PREFIX = 'param.';
export const BUFFER_PREFIX = 'buffer.';
export const MOMENTUM_PREFIX = 'momentum.';

/** A file a manifest lists: a plain name inside the checkpoint folder (no path, no `..`). */
const FILE_NAME = /^(?!\.\.?$)[\w.-]+$/;
/** Hex digits (a sha256 is 64; a shorter one simply never matches the file's). */
const SHA256_HEX = /^[0-9a-f]+$/;

export const OPTIMIZER_SUMMARY_SCHEMA = z.strictObject({
  name: text(),
  /** e.g. {learningRate, momentum, nesterov, weightDecay, baseLr, warmupEpochs, epochs, stepsPerEpoch}. */
  hyperparameters: z.record(z.string(), z.union([z.number(), z.boolean(), z.string()])),
  /** What the state holds, e.g. {momentumBuffers: 123, momentumValues: 45678}. */
  state: z.record(z.string(), z.union([z.number(), z.string()])),
});
export type OptimizerSummary = z.infer<typeof OPTIMIZER_SUMMARY_SCHEMA>;

/** What the caller provides; the format version, file checksums and time are added by saveCheckpoint. */
const MANIFEST_INPUT_FIELDS = {
  preset: text(),
  variant: text(),
  phase: text(),
  epoch: count(),
  step: count(),
  seed: count(),
  /** The data iterator's state (train/data/pipeline.ts IteratorState), so that --resume sees the same next batch. */
  dataState: z.unknown(),
  optimizer: OPTIMIZER_SUMMARY_SCHEMA,
  /** Free-form: losses, accuracies, images/s. */
  metrics: z.record(z.string(), z.unknown()),
  /** Free-form trainer state (phase description, sampler state...). */
  extra: z.record(z.string(), z.unknown()).optional(),
};
const MANIFEST_INPUT_SCHEMA = z.strictObject(MANIFEST_INPUT_FIELDS);
export type CheckpointManifestInput = z.infer<typeof MANIFEST_INPUT_SCHEMA>;

export const CHECKPOINT_MANIFEST_SCHEMA = z
  .strictObject({
    /** Absent in manifests written before the tag was added (same version 1). */
    format: z.literal(CHECKPOINT_FORMAT).optional(),
    formatVersion: z.literal(CHECKPOINT_FORMAT_VERSION),
    /** When it was saved (provenance; absent in hand-made manifests). */
    createdAt: z.string().optional(),
    ...MANIFEST_INPUT_FIELDS,
    // Record keys are file names the loader joins to the folder: a path or `..` would read outside it.
    files: z.record(z.string().regex(FILE_NAME), z.strictObject({ sha256: z.string().regex(SHA256_HEX), bytes: count() })),
  })
  .superRefine((manifest, ctx) => {
    if (!Object.hasOwn(manifest.files, WEIGHTS_FILE)) ctx.addIssue({ code: 'custom', path: ['files'], input: manifest.files, message: `must list ${WEIGHTS_FILE}` });
  });
export type CheckpointManifest = z.infer<typeof CHECKPOINT_MANIFEST_SCHEMA>;

/** latest.json and best.json: which checkpoint folder of the run, plus the record that chose it. */
const POINTER_SCHEMA = z.looseObject({
  format: z.literal(POINTER_FORMAT).optional(),
  formatVersion: z.literal(1).optional(),
  checkpoint: z.string().regex(FILE_NAME),
});
const BEST_RECORD_SCHEMA = z.looseObject({ checkpoint: z.string().regex(FILE_NAME), score: z.number(), epoch: count(), step: count() });

export interface Checkpoint {
  dir: string;
  manifest: CheckpointManifest;
  tensors: TensorMap;
}

function writeSynced(path: string, bytes: Uint8Array): void {
  const fd = openSync(path, 'w');
  try {
    let offset = 0;
    while (offset < bytes.length) offset += writeSync(fd, bytes, offset, bytes.length - offset);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

function syncFolder(path: string): void {
  // Makes the renames durable; not supported everywhere (e.g. Windows), where it is skipped.
  try {
    const fd = openSync(path, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    /* best effort */
  }
}

/**
 * Cleans up after saves whose process was killed: a temp folder is dropped (the save never finished,
 * the previous checkpoints are intact); an old copy moved aside while replacing a checkpoint of the
 * same name goes back into place when the replacement never arrived, and is dropped otherwise.
 */
export function recoverInterruptedSaves(parent: string): void {
  if (!existsSync(parent)) return;
  for (const name of readdirSync(parent)) {
    const match = /^\.(.+)\.(tmp|old)-(\d+)-[0-9a-f]+$/.exec(name);
    if (!match || Number(match[3]) === process.pid || processAlive(Number(match[3]))) continue;
    const [, target, kind] = match;
    const path = join(parent, name);
    if (kind === 'old' && !existsSync(join(parent, target))) renameSync(path, join(parent, target));
    else rmSync(path, { recursive: true, force: true });
  }
}

function checkManifestInput(manifest: CheckpointManifestInput): void {
  // What a save writes, a later load must accept: refused here (an internal fault), not on the next load.
  const faults = schemaFaults(MANIFEST_INPUT_SCHEMA, manifest);
  if (faults.length > 0) throw new OfaError('E_CHECKPOINT_MANIFEST', `checkpoint manifest cannot be written: ${faults.slice(0, 5).map(formatSchemaFault).join('; ')}`, { kind: 'failure' });
}

/**
 * Writes a complete checkpoint folder at `dir` (replacing one that is there) and points the parent
 * folder's latest.json at it. Returns the manifest as written.
 */
export function saveCheckpoint(dir: string, checkpoint: { manifest: CheckpointManifestInput; tensors: TensorMap }): CheckpointManifest {
  checkManifestInput(checkpoint.manifest);
  const target = resolve(dir);
  const parent = dirname(target);
  const name = basename(target);
  mkdirSync(parent, { recursive: true });
  recoverInterruptedSaves(parent);
  const weights = encodeSafetensors(checkpoint.tensors, { format: 'ofav2', preset: checkpoint.manifest.preset, variant: checkpoint.manifest.variant });
  const manifest: CheckpointManifest = {
    format: CHECKPOINT_FORMAT,
    formatVersion: CHECKPOINT_FORMAT_VERSION,
    createdAt: new Date().toISOString(),
    ...checkpoint.manifest,
    files: { [WEIGHTS_FILE]: { sha256: sha256(weights), bytes: weights.length } },
  };
  const suffix = `${process.pid}-${randomBytes(4).toString('hex')}`;
  const temp = join(parent, `.${name}.tmp-${suffix}`);
  mkdirSync(temp);
  try {
    writeSynced(join(temp, WEIGHTS_FILE), weights);
    // The manifest last: a folder with a manifest names files that are all there.
    writeSynced(join(temp, MANIFEST_FILE), Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`, 'utf8'));
    syncFolder(temp);
    if (existsSync(target)) {
      // Replacing a checkpoint of the same name: move the old one aside first (rename cannot replace a
      // non-empty folder), then drop it once the new one is in place.
      const old = join(parent, `.${name}.old-${suffix}`);
      renameSync(target, old);
      renameSync(temp, target);
      rmSync(old, { recursive: true, force: true });
    } else {
      renameSync(temp, target);
    }
    syncFolder(parent);
  } catch (error) {
    rmSync(temp, { recursive: true, force: true });
    throw new OfaError('E_CHECKPOINT_WRITE', `could not write checkpoint ${JSON.stringify(target)}: ${(error as Error).message}`, {
      hint: 'check free disk space and permissions of the run folder', kind: 'failure', cause: error,
    });
  }
  writeJsonAtomic(join(parent, LATEST_FILE), { format: POINTER_FORMAT, formatVersion: 1, checkpoint: name, epoch: manifest.epoch, step: manifest.step, phase: manifest.phase });
  return manifest;
}

/** A checkpoint folder's manifest, checked for format and version (its files are not read). */
export function readCheckpointManifest(dir: string): CheckpointManifest {
  return readManifest(dir);
}

function readManifest(dir: string): CheckpointManifest {
  const path = join(dir, MANIFEST_FILE);
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    throw new OfaError('E_CHECKPOINT', `checkpoint ${JSON.stringify(dir)} does not exist or is not a folder`, { hint: 'pass a checkpoint folder (it holds manifest.json and weights.safetensors) or a run folder with latest.json' });
  }
  if (!existsSync(path)) throw new OfaError('E_CHECKPOINT', `checkpoint ${JSON.stringify(dir)} has no ${MANIFEST_FILE}`, { hint: 'the folder is not a checkpoint, or its save did not complete; use another one' });
  // One refusal for every fault of the file (lib/json.ts, then the schema): E_CHECKPOINT, exit 2.
  const input = `checkpoint manifest ${JSON.stringify(path)}`;
  const hint = 'the checkpoint is corrupt or of another version; use another one';
  const value = readJsonFile(path, input, { code: 'E_CHECKPOINT', hint });
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new OfaError('E_CHECKPOINT', `${input} is not a JSON object (value ${describeValue(value)})`, { hint });
  const record = value as Record<string, unknown>;
  if (record.format !== undefined && record.format !== CHECKPOINT_FORMAT) {
    throw new OfaError('E_CHECKPOINT', `${input} has format ${describeValue(record.format)}; expected ${JSON.stringify(CHECKPOINT_FORMAT)}`, { hint });
  }
  if (record.formatVersion !== CHECKPOINT_FORMAT_VERSION) {
    throw new OfaError('E_CHECKPOINT', `${input} has format version ${describeValue(record.formatVersion)}; this version of ofa reads version ${CHECKPOINT_FORMAT_VERSION}`, { hint });
  }
  return parseWith(CHECKPOINT_MANIFEST_SCHEMA, value, input, { code: 'E_CHECKPOINT', hint });
}

/** A pointer file's checkpoint name, or undefined when it is missing or not a valid pointer. */
function readPointer(path: string): string | undefined {
  if (!existsSync(path)) return undefined;
  try {
    return parseWith(POINTER_SCHEMA, readJsonFile(path, path, { code: 'E_CHECKPOINT' }), path, { code: 'E_CHECKPOINT' }).checkpoint;
  } catch {
    return undefined; // an unreadable pointer: the callers scan the folder instead
  }
}

export interface LoadCheckpointOptions {
  /** Refuse a checkpoint of another preset / variant. */
  expectPreset?: string;
  expectVariant?: string;
}

/** Reads and verifies a checkpoint: preset and variant as expected, every file's size and sha256. */
export function loadCheckpoint(dir: string, options: LoadCheckpointOptions = {}): Checkpoint {
  const folder = resolve(dir);
  const manifest = readManifest(folder);
  for (const [key, expected] of [['preset', options.expectPreset], ['variant', options.expectVariant]] as const) {
    if (expected !== undefined && manifest[key] !== expected) {
      throw new OfaError('E_CHECKPOINT_MISMATCH', `checkpoint ${JSON.stringify(folder)} is of ${key} ${JSON.stringify(manifest[key])}, not the requested ${key} ${JSON.stringify(expected)}`, {
        hint: `pass --${key} ${manifest[key]} to use it, or choose a checkpoint of ${key} ${expected}`,
      });
    }
  }
  const files = new Map<string, Uint8Array>();
  for (const [name, { sha256: expected, bytes }] of Object.entries(manifest.files)) {
    const path = join(folder, name);
    if (!existsSync(path)) throw new OfaError('E_CHECKPOINT_CHECKSUM', `checkpoint file ${JSON.stringify(path)} is missing`, { hint: 'the checkpoint is incomplete; use an earlier one' });
    // Its size first: a file longer than the manifest says is corrupt, and is not read whole to find out.
    if (statSync(path).size !== bytes) {
      throw new OfaError('E_CHECKPOINT_CHECKSUM', `checkpoint file ${JSON.stringify(path)} is truncated or grown (${statSync(path).size} bytes), but the manifest records ${bytes} bytes: the file is corrupt`, {
        hint: 'use an earlier checkpoint of the run (see its folder), or retrain',
      });
    }
    const data = new Uint8Array(readFileSync(path));
    const actual = sha256(data);
    if (data.length !== bytes || actual !== expected) {
      throw new OfaError('E_CHECKPOINT_CHECKSUM', `checkpoint file ${JSON.stringify(path)} has sha256 ${actual.slice(0, 16)}... (${data.length} bytes), but the manifest records ${String(expected).slice(0, 16)}... (${bytes} bytes): the file is corrupt`, {
        hint: 'use an earlier checkpoint of the run (see its folder), or retrain',
      });
    }
    files.set(name, data);
  }
  const { tensors } = decodeSafetensors(files.get(WEIGHTS_FILE)!, join(folder, WEIGHTS_FILE));
  return { dir: folder, manifest, tensors };
}

/**
 * The newest complete checkpoint of a run folder: the one latest.json names if it is complete,
 * otherwise the complete checkpoint folder with the highest step. Undefined when there is none.
 * Completeness here means the folder and its manifest are in place; loadCheckpoint verifies checksums.
 */
export function latestCheckpoint(runDir: string): string | undefined {
  const root = resolve(runDir);
  if (!existsSync(root) || !statSync(root).isDirectory()) return undefined;
  recoverInterruptedSaves(root);
  const complete = (dir: string): CheckpointManifest | undefined => {
    try {
      const manifest = readManifest(dir);
      return existsSync(join(dir, WEIGHTS_FILE)) ? manifest : undefined;
    } catch {
      return undefined;
    }
  };
  const pointed = readPointer(join(root, LATEST_FILE));
  if (pointed !== undefined && complete(join(root, pointed))) return join(root, pointed);
  let best: { dir: string; step: number; name: string } | undefined;
  for (const name of readdirSync(root)) {
    if (name.startsWith('.')) continue;
    const dir = join(root, name);
    if (!statSync(dir).isDirectory()) continue;
    const manifest = complete(dir);
    if (manifest && (!best || manifest.step > best.step || (manifest.step === best.step && name > best.name))) best = { dir, step: manifest.step, name };
  }
  return best?.dir;
}

/** Records `checkpointDir` (a folder of `runDir`) as the run's best, with the score that chose it. */
export function markBest(runDir: string, checkpointDir: string, record: { score: number; epoch: number; step: number; [key: string]: unknown }): void {
  const name = basename(resolve(checkpointDir));
  if (resolve(runDir, name) !== resolve(checkpointDir)) throw new Error(`markBest: ${checkpointDir} is not a folder of ${runDir}`);
  writeJsonAtomic(join(resolve(runDir), BEST_FILE), { format: POINTER_FORMAT, formatVersion: 1, checkpoint: name, ...record });
}

/** best.json's record (checkpoint name, score, epoch, step), when it names a complete checkpoint. */
export function bestRecord(runDir: string): { checkpoint: string; score: number; epoch: number; step: number } | undefined {
  if (!bestCheckpoint(runDir)) return undefined;
  const path = join(resolve(runDir), BEST_FILE);
  try {
    return parseWith(BEST_RECORD_SCHEMA, readJsonFile(path, path, { code: 'E_CHECKPOINT' }), path, { code: 'E_CHECKPOINT' });
  } catch {
    return undefined;
  }
}

/** The best checkpoint of a run folder (best.json), when it names a complete checkpoint. */
export function bestCheckpoint(runDir: string): string | undefined {
  const root = resolve(runDir);
  const path = join(root, BEST_FILE);
  const pointed = readPointer(path);
  if (pointed === undefined) return undefined;
  const dir = join(root, pointed);
  return existsSync(join(dir, MANIFEST_FILE)) && existsSync(join(dir, WEIGHTS_FILE)) ? dir : undefined;
}

/** Groups a checkpoint's tensors by prefix (param., buffer., momentum.), prefixes removed. */
export function splitTensors(tensors: TensorMap): { parameters: TensorMap; buffers: TensorMap; momentum: TensorMap; other: TensorMap } {
  const out = { parameters: new Map(), buffers: new Map(), momentum: new Map(), other: new Map() } as ReturnType<typeof splitTensors>;
  for (const [name, tensor] of tensors) {
    if (name.startsWith(PARAM_PREFIX)) out.parameters.set(name.slice(PARAM_PREFIX.length), tensor);
    else if (name.startsWith(BUFFER_PREFIX)) out.buffers.set(name.slice(BUFFER_PREFIX.length), tensor);
    else if (name.startsWith(MOMENTUM_PREFIX)) out.momentum.set(name.slice(MOMENTUM_PREFIX.length), tensor);
    else out.other.set(name, tensor);
  }
  return out;
}

/** The inverse of splitTensors: one map with prefixed names, parameters first. */
export function joinTensors(groups: { parameters: TensorMap; buffers?: TensorMap; momentum?: TensorMap }): TensorMap {
  const out: TensorMap = new Map();
  for (const [name, tensor] of groups.parameters) out.set(PARAM_PREFIX + name, tensor);
  for (const [name, tensor] of groups.buffers ?? []) out.set(BUFFER_PREFIX + name, tensor);
  for (const [name, tensor] of groups.momentum ?? []) out.set(MOMENTUM_PREFIX + name, tensor);
  return out;
}

/** Deletes all but the newest `keep` complete checkpoints of a run folder (never the latest one). */
export function pruneCheckpoints(runDir: string, keep: number): string[] {
  const root = resolve(runDir);
  const latest = latestCheckpoint(root);
  const found: { dir: string; step: number }[] = [];
  for (const name of readdirSync(root)) {
    if (name.startsWith('.')) continue;
    const dir = join(root, name);
    try {
      if (statSync(dir).isDirectory()) found.push({ dir, step: readManifest(dir).step });
    } catch {
      /* not a checkpoint */
    }
  }
  found.sort((a, b) => b.step - a.step);
  const best = bestCheckpoint(root);
  const removed: string[] = [];
  for (const { dir } of found.slice(Math.max(keep, 1))) {
    if (dir === latest || dir === best) continue;
    rmSync(dir, { recursive: true, force: true });
    removed.push(dir);
  }
  return removed;
}

/** Parameters and BN buffers of a checkpoint as plain arrays, by supernet variable name. */
export interface SupernetWeights {
  parameters: Map<string, Float32Array>;
  buffers: Map<string, Float32Array>;
  momentum: Map<string, Float32Array>;
}

/**
 * The one check of a checkpoint's tensors against the supernet they are loaded into: the same names
 * and shapes for parameters and buffers (momentum is checked where present). Every consumer (training
 * init, resume, the teacher, openSupernet) goes through it, so one bad checkpoint fails one way.
 */
export function supernetWeights(checkpoint: Checkpoint, expected: { parameters: Map<string, readonly number[]>; buffers: Map<string, readonly number[]> }): SupernetWeights {
  const groups = splitTensors(checkpoint.tensors);
  const where = `checkpoint ${JSON.stringify(checkpoint.dir)}`;
  const check = (kind: string, tensors: TensorMap, shapes: Map<string, readonly number[]>, required: boolean): Map<string, Float32Array> => {
    const missing = required ? [...shapes.keys()].filter((name) => !tensors.has(name)) : [];
    const extra = [...tensors.keys()].filter((name) => !shapes.has(name));
    if (missing.length > 0 || extra.length > 0) {
      const show = (names: string[]) => names.slice(0, 5).join(', ') + (names.length > 5 ? `, ... (${names.length})` : '');
      throw new OfaError(
        'E_CHECKPOINT_MISMATCH',
        `${where}: its ${kind} do not match the ${checkpoint.manifest.preset}/${checkpoint.manifest.variant} supernet` +
          (missing.length ? `; missing: ${show(missing)}` : '') +
          (extra.length ? `; unexpected: ${show(extra)}` : ''),
        { hint: 'the checkpoint was written by another version of the supernet, or edited' },
      );
    }
    const out = new Map<string, Float32Array>();
    for (const [name, tensor] of tensors) {
      const shape = shapes.get(name)!;
      if (tensor.shape.join('x') !== shape.join('x')) {
        throw new OfaError('E_CHECKPOINT_MISMATCH', `${where}: ${kind.slice(0, -1)} ${name} has shape [${tensor.shape.join(', ')}]; the supernet expects [${shape.join(', ')}]`, {
          hint: 'the checkpoint was written by another version of the supernet, or edited',
        });
      }
      out.set(name, tensor.data);
    }
    return out;
  };
  return {
    parameters: check('parameters', groups.parameters, expected.parameters, true),
    buffers: check('buffers', groups.buffers, expected.buffers, true),
    momentum: check('momentum buffers', groups.momentum, expected.parameters, false),
  };
}
