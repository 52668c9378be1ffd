// The readers the fuzz suite attacks (issue 18 item 5): a registry of small config objects, one per file
// format the tool reads. Each has a valid seed file (generated here), the mutations that fit its format,
// the reader as the CLI calls it (with the checks that follow reading: cross-references, predictions), and
// an oracle that judges what the reader accepted. One case is classified as:
// - clear: an OfaError of kind bad-input (exit 2) whose message names the file (or the flag);
// - clear-failure: an OfaError of kind failure (exit 1) naming the file or what failed;
// - accepted: read, and the oracle finds nothing wrong with the value;
// - garbage: read, but the value is wrong (a non-finite number, a __proto__ key, a prediction that is not
//   a finite latency, a count out of range...): the reader let garbage through;
// - unexpected: anything else thrown (a TypeError, a SyntaxError, an OfaError that names nothing);
// - crash: a stack overflow or an allocation failure (the bench also counts a worker that died);
// the bench (bench/fuzz.bench.ts) adds hang: a case that did not finish within its time limit.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import jpeg from 'jpeg-js';
import { parseArgs } from '../../cli/args.ts';
import { TRAIN_SPEC } from '../../cli/train.ts';
import { readBaselineFile } from '../../deploy/gate/baseline.ts';
import { readSubnetConfigFile } from '../../export/index.ts';
import { isOfaError } from '../../lib/errors.ts';
import { createRng } from '../../lib/rng.ts';
import { readOnnxFile } from '../../profile/index.ts';
import { ARTIFACT_FORMATS, loadCalibration, loadDevice, loadTable, makePredictor, readValidation, type DeviceProfile, type LatencyTable } from '../../profile/predict.ts';
import { MAX_LATENCY_MS } from '../../profile/table.ts';
import { datasetConfigs, fitAccuracyPredictor, loadAccuracyPredictor, readAccuracyDataset } from '../../search/index.ts';
import { searchTag } from '../../search/artifacts.ts';
import { configId, findFaults, sampleRandom, subnetCost, type SubnetConfig } from '../../space/index.ts';
import { decodeSafetensors, encodeSafetensors, readCheckpointManifest, saveCheckpoint } from '../../train/checkpoint/index.ts';
import { readCifar10Files } from '../../train/data/cifar10.ts';
import { decodeJpegRgb } from '../../train/data/tiny-imagenet.ts';
import { readEpsState } from '../../train/eps/state.ts';
import { matmulModel } from '../profile/fixtures.ts';
import { syntheticTable } from '../search/fixtures.ts';
import { byteMutations, jsonLinesMutations, jsonMutations, type FuzzCase } from './mutate.ts';

export type Outcome = 'clear' | 'clear-failure' | 'accepted' | 'garbage' | 'unexpected' | 'crash' | 'hang';
export const OUTCOMES: readonly Outcome[] = ['clear', 'clear-failure', 'accepted', 'garbage', 'unexpected', 'crash', 'hang'];
/** The outcomes the suite must never see. */
export const BAD_OUTCOMES: ReadonlySet<Outcome> = new Set(['garbage', 'unexpected', 'crash', 'hang']);

export interface FuzzReader {
  name: string;
  /** The file the case is written to (inside the reader's folder). */
  file: string;
  cases: fc.Arbitrary<FuzzCase>;
  /** Reads the file as the tool does; returns the value for the oracle. */
  read(path: string): unknown;
  /** Why an accepted value is garbage (undefined when it is sound). */
  oracle(value: unknown): string | undefined;
  /** What a clear message must mention (default: the file's name). */
  names?: RegExp;
}

/** A non-finite number or an own __proto__ key anywhere in a value (typed arrays included). */
export function hiddenGarbage(value: unknown): string | undefined {
  const stack: { value: unknown; path: string }[] = [{ value, path: '$' }];
  let seen = 0;
  while (stack.length > 0 && seen++ < 2_000_000) {
    const { value: item, path } = stack.pop()!;
    if (typeof item === 'number') {
      if (!Number.isFinite(item)) return `${path} is ${item}`;
    } else if (ArrayBuffer.isView(item)) {
      const values = item as unknown as ArrayLike<number>;
      for (let i = 0; i < values.length; i++) if (!Number.isFinite(values[i])) return `${path}[${i}] is ${values[i]}`;
    } else if (item instanceof Map) {
      for (const [key, child] of item) stack.push({ value: child, path: `${path}.${String(key)}` });
    } else if (Array.isArray(item)) {
      item.forEach((child, i) => stack.push({ value: child, path: `${path}[${i}]` }));
    } else if (item !== null && typeof item === 'object') {
      if (Object.hasOwn(item, '__proto__')) return `${path} has a "__proto__" key`;
      for (const [key, child] of Object.entries(item)) stack.push({ value: child, path: `${path}.${key}` });
    }
  }
  return undefined;
}

const finitePositive = (value: number, max = Number.MAX_VALUE) => Number.isFinite(value) && value > 0 && value <= max;

/** Classifies one case: writes it, reads it, judges the outcome. */
export function classify(reader: FuzzReader, dir: string, fuzzCase: FuzzCase): { outcome: Outcome; detail: string } {
  const path = join(dir, reader.file);
  writeFileSync(path, fuzzCase.bytes);
  try {
    const value = reader.read(path);
    const garbage = hiddenGarbage(value) ?? reader.oracle(value);
    return garbage ? { outcome: 'garbage', detail: garbage } : { outcome: 'accepted', detail: '' };
  } catch (error) {
    if (isOfaError(error)) {
      const names = reader.names ?? new RegExp(reader.file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
      if (!names.test(error.message)) return { outcome: 'unexpected', detail: `[${error.code}] does not name ${names}: ${error.message.slice(0, 300)}` };
      return { outcome: error.kind === 'bad-input' ? 'clear' : 'clear-failure', detail: error.code };
    }
    const message = (error as Error)?.message ?? String(error);
    if (error instanceof RangeError && /call stack|Invalid array length|Array buffer allocation|out of memory/i.test(message)) return { outcome: 'crash', detail: message };
    return { outcome: 'unexpected', detail: `${(error as Error)?.name}: ${message.slice(0, 300)}` };
  }
}

const MICRO = { preset: 'micro', variant: 'ee-d' } as const;
/** Subnets every prediction-bearing reader predicts (its path as the CLI walks it). */
const PROBES: SubnetConfig[] = [0, 1, 2].map((seed) => sampleRandom(MICRO, createRng(seed)));

const SESSION = { intraOpNumThreads: 1, interOpNumThreads: 1, executionMode: 'sequential', graphOptimizationLevel: 'all', allowSpinning: false };
const HOST = { cpuModel: 'fuzz', logicalCores: 2, platform: 'linux', arch: 'x64', osRelease: '6', hostname: 'fuzz', totalMemoryMiB: 1024, nodeVersion: 'v20.20.2', loadAverage1m: 0.5, date: '2026-01-01T00:00:00.000Z' };
const KNOBS = { name: 'dev', runtime: 'onnxruntime-node', executionProvider: 'cpu', executionProviderOptions: {}, session: SESSION, batchSize: 1 };

/** Builds every reader's seed files in `root` and returns the registry. */
export function buildReaders(root: string): FuzzReader[] {
  const folder = (name: string) => {
    const dir = join(root, name);
    mkdirSync(dir, { recursive: true });
    return dir;
  };

  // A devices folder: device `dev`, its micro ee-d table (kept valid: the calibration reader's cases use it).
  const devicesDir = folder('devices');
  const deviceFile = { name: 'dev', description: 'fuzz device', runtime: 'onnxruntime-node', executionProvider: 'cpu', session: SESSION, batchSize: 1, latencyBudgetsMs: [0.5, 1, 2] };
  writeFileSync(join(devicesDir, 'dev.json'), JSON.stringify(deviceFile));
  mkdirSync(join(devicesDir, 'dev'), { recursive: true });
  const table: LatencyTable = { ...syntheticTable(MICRO, 3, 'dev'), device: KNOBS as LatencyTable['device'] };
  writeFileSync(join(devicesDir, 'dev', 'lut-micro-ee-d.json'), JSON.stringify(table));
  const device = loadDevice('dev', { devicesDir });
  const tableDevicesDir = folder('table-devices');
  writeFileSync(join(tableDevicesDir, 'dev.json'), JSON.stringify(deviceFile));
  mkdirSync(join(tableDevicesDir, 'dev'), { recursive: true });
  const calibrationDevicesDir = folder('calibration-devices');
  writeFileSync(join(calibrationDevicesDir, 'dev.json'), JSON.stringify(deviceFile));
  mkdirSync(join(calibrationDevicesDir, 'dev'), { recursive: true });
  writeFileSync(join(calibrationDevicesDir, 'dev', 'lut-micro-ee-d.json'), JSON.stringify(table));
  const loadedTable = loadTable(device, MICRO.preset, MICRO.variant, { devicesDir });
  const tableDevice = loadDevice('dev', { devicesDir: tableDevicesDir });
  const calibrationDevice = loadDevice('dev', { devicesDir: calibrationDevicesDir });

  const predictAll = (predict: (config: SubnetConfig) => number): string | undefined => {
    for (const config of PROBES) {
      const latency = predict(config);
      if (!finitePositive(latency, MAX_LATENCY_MS)) return `predicted ${latency} ms for ${configId(config)}`;
    }
    return undefined;
  };

  const calibration = {
    ...ARTIFACT_FORMATS.calibration,
    device: 'dev',
    ...MICRO,
    model: 'latencyMs = scale * tableSumMs + ...',
    coefficients: { scale: 0.8, perBlockMs: -0.001, perMegaMacMs: 0.01, perMegaParamMs: 0.02, offsetMs: 0.01 },
    statistic: 'min',
    passes: [1, 1],
    seed: 1,
    subnets: 3,
    fit: { mape: 0.03, rawSumMape: 0.5 },
    tableRuns: 1,
    tableReference: { configId: 'abcdef0123456789', medianMs: 0.3, minMs: 0.25 },
    reference: { configId: 'abcdef0123456789', medianMs: 0.31, minMs: 0.26 },
    date: '2026-01-01T00:00:00.000Z',
    points: PROBES.map((config, i) => ({ configId: configId(config), measuredMs: 0.2 + i / 10, referenceMs: 0.25, tableSumMs: 0.3 + i / 10, blocks: 9, megaMacs: 0.5, megaParams: 0.1 })),
  };
  const quality = { subnets: 3, within5: 0.6, within10: 1, mape: 0.04, spearman: 0.9 };
  const validation = {
    ...ARTIFACT_FORMATS.validation,
    device: 'dev',
    ...MICRO,
    seed: 1001,
    calibrationSeed: 1,
    statistic: 'min',
    protocol: { warmupRuns: 10, minSamples: 64, minTimeMs: 750 },
    host: HOST,
    quality,
    rawSum: { ...quality, within5: 0, within10: 0, mape: 0.5 },
    drift: { reference: { configId: 'abcdef0123456789', medianMs: 0.3, minMs: 0.25 }, factors: [1.01], passes: [1], quality },
    measuredRangeMs: [0.2, 0.4],
    seconds: 12.5,
    subnets: PROBES.map((config, i) => ({ configId: configId(config), measuredMs: 0.2 + i / 10, medianMs: 0.25 + i / 10, predictedMs: 0.21 + i / 10, tableSumMs: 0.3, blocks: 9 })),
  };

  // An accuracy data set of 24 micro subnets and a small predictor fitted on a larger one.
  const supernet = { checkpoint: 'runs/micro', dir: '/runs/micro/checkpoint', checksum: `sha256:${'ab'.repeat(32)}`, phase: 'full', epoch: 1, step: 1 };
  const header = { ...searchTag('dataset'), ...MICRO, supernet, split: 'validation', images: 64, recalibrationImages: 64, scorer: 'onnxruntime', seed: 1, createdAt: '2026-01-01T00:00:00.000Z' };
  const rows = (count: number) =>
    datasetConfigs(MICRO, count, 1).map((config, i) => {
      const cost = subnetCost(config);
      const top1 = 0.5 + 0.4 * ((i * 37) % 100) / 100;
      return { id: configId(config), config, top1, loss: 1 - top1, macs: cost.macs, params: cost.params, images: 64, seconds: 0.01 };
    });
  const datasetLines = [header, ...rows(24)];
  const fitDir = folder('fit');
  writeFileSync(join(fitDir, 'data.jsonl'), `${[header, ...rows(60)].map((line) => JSON.stringify(line)).join('\n')}\n`);
  const predictor = fitAccuracyPredictor(readAccuracyDataset(join(fitDir, 'data.jsonl')), { hidden: [8, 8], epochs: 3, batchSize: 16 });

  // A gate record, as a gate result's and as a deploy.json entry's.
  const record = {
    device: KNOBS,
    runtime: { name: 'onnxruntime-node', version: 'onnxruntime-node 1.30.0', settings: { intraOpNumThreads: 1 } },
    host: HOST,
    model: { file: 'model.onnx', sha256: 'cd'.repeat(32), inputs: [{ name: 'input', type: 'float32', dims: [1, 1, 12, 12] }] },
    reference: { ...MICRO, configId: 'abcdef0123456789', seed: 1, sha256: 'ef'.repeat(32) },
    statistic: 'min',
    runsPerVisit: 5,
    logRatios: Array.from({ length: 12 }, (_, i) => -0.5 + i / 100),
    ratio: 0.62,
    medianMs: 0.12,
    referenceMedianMs: 0.2,
  };
  const gateResult = { format: 'ofav2/gate-result', formatVersion: 1, mode: 'ab', decision: 'pass', record };
  const deployJson = { format: 'ofav2/deploy', formatVersion: 1, deployments: [{ id: 'dev/1ms', device: 'dev', gate: { ...record, device: { ...KNOBS, name: 'cpu-1t' } } }] };

  // A checkpoint folder (its manifest is the file the cases replace) and a safetensors file.
  const checkpointDir = join(folder('checkpoint'), 'step-000001');
  const tensors = new Map([
    ['param.stem.conv.weight', { shape: [3, 3, 1, 4], data: Float32Array.from({ length: 36 }, (_, i) => Math.sin(i)) }],
    ['param.stem.bn.gamma', { shape: [4], data: Float32Array.from([1, 1.1, 0.9, 1]) }],
    ['buffer.stem.bn.runningMean', { shape: [4], data: new Float32Array(4) }],
  ]);
  const manifest = saveCheckpoint(checkpointDir, {
    manifest: { ...MICRO, phase: 'full', epoch: 1, step: 1, seed: 3, dataState: { seed: 3, epoch: 1, batchIndex: 0, count: 64, batchSize: 32 }, optimizer: { name: 'sgd', hyperparameters: { momentum: 0.9, nesterov: true }, state: { momentumBuffers: 0 } }, metrics: { loss: 1.2 } },
    tensors,
  });
  const safetensors = encodeSafetensors(tensors, { format: 'ofav2', ...MICRO });
  const headerLength = Number(new DataView(safetensors.buffer, safetensors.byteOffset).getBigUint64(0, true));
  const safetensorsHeader = JSON.parse(new TextDecoder().decode(safetensors.subarray(8, 8 + headerLength)));
  const withHeader = (text: Uint8Array): Uint8Array => {
    const out = new Uint8Array(8 + text.length + safetensors.length - 8 - headerLength);
    new DataView(out.buffer).setBigUint64(0, BigInt(text.length), true);
    out.set(text, 8);
    out.set(safetensors.subarray(8 + headerLength), 8 + text.length);
    return out;
  };

  const epsState = {
    format: 'ofav2/eps-state',
    formatVersion: 1,
    ...MICRO,
    teacher: 'pet',
    scale: 0.02,
    seed: 0,
    batchSize: 32,
    maxTrainImages: null,
    phases: [
      { name: 'full', dir: '01-full', status: 'done', epochs: 4, warmupEpochs: 0, init: null, teacher: null, best: { checkpoint: '01-full/step-0000010', score: 0.9, epoch: 4, step: 10 }, seconds: 10, validationSeconds: 1, imagesPerSecond: 50 },
      { name: 'kernel', dir: '02-kernel', status: 'running', epochs: 2, warmupEpochs: 0.1, init: '01-full/step-0000010', teacher: { checkpoint: '/runs/01-full/step-0000010', phase: 'full', dropoutRate: 0.1 }, best: null, seconds: 0, validationSeconds: 0, imagesPerSecond: null },
    ],
  };

  const cifar = new Uint8Array(5 * 3073);
  for (let r = 0; r < 5; r++) {
    cifar[r * 3073] = r * 2;
    for (let p = 1; p < 3073; p++) cifar[r * 3073 + p] = (r * 31 + p * 7) % 256;
  }
  const image = jpeg.encode({ width: 16, height: 16, data: Uint8Array.from({ length: 16 * 16 * 4 }, (_, i) => (i * 13) % 256) }, 90).data;

  const argTokens = ['--epochs', '--batch-size', '--lr', '--seed', '--resume', '--resume=maybe', '--no-resume', '--quiet=1', '--workers', '--preset', 'fashion', '--variant', 'ee-d', '--phase', '--out', 'x', '-5', '0', '1', '3', '1e3', '4294967296', '99999999999999999999', '0.5', 'NaN', '', '--', 'extra', '--epoch', '--init', '--backend', 'wasm', '--teacher-mode', 'pet', 'baseline', '-h'];

  const checkPredictions = (predict: (config: SubnetConfig) => number) => predictAll(predict);
  const readers: FuzzReader[] = [
    {
      name: 'subnet config',
      file: 'config.json',
      cases: jsonMutations(sampleRandom({ preset: 'fashion', variant: 'ee-d-p' }, createRng(5))),
      read: (path) => readSubnetConfigFile(path),
      oracle: (value) => {
        const faults = findFaults(value);
        if (faults.length > 0) return `accepted a config with faults: ${faults[0].path}`;
        return finitePositive(subnetCost(value as SubnetConfig).macs) ? undefined : 'MACs not finite';
      },
    },
    {
      name: 'device profile',
      file: 'device.json',
      cases: jsonMutations(deviceFile),
      read: (path) => loadDevice(path),
      oracle: (value) => {
        const profile = value as DeviceProfile;
        if (!profile.latencyBudgetsMs.every((b, i, all) => finitePositive(b) && (i === 0 || b > all[i - 1]))) return 'budgets not positive ascending';
        return Number.isInteger(profile.batchSize) && profile.batchSize >= 1 ? undefined : 'batch size';
      },
    },
    {
      name: 'latency table',
      file: 'lut-micro-ee-d.json',
      cases: jsonMutations(table, { maxDepthCase: 20_000 }),
      read: (path) => {
        void path; // the device folder's table file is the case
        const loaded = loadTable(tableDevice, MICRO.preset, MICRO.variant, { devicesDir: tableDevicesDir });
        const predictor = makePredictor(loaded, undefined, 'dev', 'min', { table: `latency table ${path}` });
        return { loaded, garbage: checkPredictions((config) => predictor.predict(config).latencyMs) };
      },
      oracle: (value) => (value as { garbage?: string }).garbage,
    },
    {
      name: 'calibration',
      file: 'calibration-micro-ee-d.json',
      cases: jsonMutations(calibration),
      read: (path) => {
        void path;
        const loaded = loadCalibration(calibrationDevice, MICRO.preset, MICRO.variant, { devicesDir: calibrationDevicesDir });
        const predictor = makePredictor(loadedTable, loaded, 'dev', 'min', { calibration: `calibration ${path}` });
        return { loaded, garbage: checkPredictions((config) => predictor.predict(config).latencyMs) };
      },
      oracle: (value) => (value as { garbage?: string }).garbage,
    },
    {
      name: 'validation',
      file: 'validation.json',
      cases: jsonMutations(validation),
      read: (path) => readValidation(path),
      oracle: (value) => {
        const v = value as typeof validation;
        return [v.quality, v.rawSum].every((q) => q.within5 >= 0 && q.within5 <= 1 && q.within10 >= 0 && q.within10 <= 1) ? undefined : 'a share outside 0..1';
      },
    },
    {
      name: 'accuracy predictor',
      file: 'predictor.json',
      cases: jsonMutations(predictor, { maxDepthCase: 20_000 }),
      read: (path) => {
        const loaded = loadAccuracyPredictor(path);
        return { loaded, predictions: Array.from(loaded.predict(PROBES)) };
      },
      oracle: (value) => ((value as { predictions: number[] }).predictions.every(Number.isFinite) ? undefined : 'a non-finite accuracy'),
    },
    {
      name: 'accuracy data set',
      file: 'data.jsonl',
      cases: jsonLinesMutations(datasetLines),
      read: (path) => readAccuracyDataset(path),
      oracle: (value) => {
        const { rows: read } = value as ReturnType<typeof readAccuracyDataset>;
        for (const row of read) {
          if (findFaults(row.config).length > 0 || row.id !== configId(row.config)) return `row ${row.id}: bad config or id`;
          if (!(row.top1 >= 0 && row.top1 <= 1) || !finitePositive(row.macs)) return `row ${row.id}: top1 or MACs out of range`;
        }
        return undefined;
      },
    },
    {
      name: 'gate result (baseline)',
      file: 'gate.json',
      cases: jsonMutations(gateResult),
      read: (path) => readBaselineFile(path, { device: 'dev' }),
      oracle: (value) => {
        const { record: r } = value as ReturnType<typeof readBaselineFile>;
        return r.logRatios.length >= 10 && finitePositive(r.ratio) && finitePositive(r.medianMs) ? undefined : 'record out of range';
      },
    },
    {
      name: 'deploy.json (baseline)',
      file: 'deploy.json',
      cases: jsonMutations(deployJson),
      read: (path) => readBaselineFile(path, { device: 'cpu-1t' }),
      oracle: (value) => (finitePositive((value as ReturnType<typeof readBaselineFile>).record.ratio) ? undefined : 'ratio'),
    },
    {
      name: 'checkpoint manifest',
      file: 'step-000001/manifest.json',
      cases: jsonMutations(JSON.parse(readFileSync(join(checkpointDir, 'manifest.json'), 'utf8'))),
      read: () => readCheckpointManifest(checkpointDir),
      oracle: (value) => {
        const m = value as typeof manifest;
        if (!Object.keys(m.files).every((name) => /^[\w.-]+$/.test(name) && name !== '..')) return 'a file name outside the folder';
        return [m.epoch, m.step, m.seed].every((n) => Number.isInteger(n) && n >= 0) ? undefined : 'epoch, step or seed';
      },
      names: /manifest\.json/,
    },
    {
      name: 'safetensors',
      file: 'weights.safetensors',
      cases: fc.oneof(
        { weight: 3, arbitrary: byteMutations(safetensors) },
        { weight: 3, arbitrary: jsonMutations(safetensorsHeader, { maxDepthCase: 5000 }).map((c) => ({ bytes: withHeader(c.bytes), how: `header: ${c.how}` })) },
      ),
      read: (path) => decodeSafetensors(new Uint8Array(readFileSync(path)), `weights ${path}`),
      oracle: (value) => {
        for (const [name, tensor] of (value as ReturnType<typeof decodeSafetensors>).tensors) {
          if (tensor.data.length !== tensor.shape.reduce((a, b) => a * b, 1)) return `tensor ${name}: data does not fit its shape`;
        }
        return undefined;
      },
    },
    {
      name: 'eps state',
      file: 'eps-state.json',
      cases: jsonMutations(epsState),
      read: (path) => readEpsState(path),
      oracle: (value) => ((value as typeof epsState).phases.every((p) => /^[\w.-]+$/.test(p.dir) && p.dir !== '..') ? undefined : 'a phase folder outside the schedule folder'),
    },
    {
      name: 'ONNX model',
      file: 'model.onnx',
      cases: byteMutations(matmulModel(['batch', 16])),
      read: (path) => readOnnxFile(path).summary,
      oracle: (value) => {
        const summary = value as ReturnType<typeof readOnnxFile>['summary'];
        return Number.isInteger(summary.nodeCount) && summary.nodeCount >= 0 && Number.isFinite(summary.irVersion) ? undefined : 'summary';
      },
    },
    {
      name: 'CIFAR-10 batch',
      file: 'data_batch_1.bin',
      cases: byteMutations(cifar),
      read: (path) => readCifar10Files([path]),
      oracle: (value) => {
        const set = value as ReturnType<typeof readCifar10Files>;
        return set.labels.every((label) => label < 10) && set.pixels.length === set.count * 3072 ? undefined : 'labels or pixels';
      },
    },
    {
      name: 'Tiny ImageNet JPEG',
      file: 'image.JPEG',
      cases: byteMutations(new Uint8Array(image)),
      read: (path) => decodeJpegRgb(path, 16, 16),
      oracle: (value) => ((value as Uint8Array).length === 16 * 16 * 3 ? undefined : 'pixel count'),
    },
    {
      name: 'command line (ofa train)',
      file: 'argv.json',
      cases: fc.array(fc.constantFrom(...argTokens), { maxLength: 8 }).map((argv) => ({ bytes: new TextEncoder().encode(JSON.stringify(argv)), how: argv.join(' ') })),
      read: (path) => parseArgs(TRAIN_SPEC, JSON.parse(readFileSync(path, 'utf8')) as string[]),
      oracle: (value) => {
        const { flags, positionals } = value as ReturnType<typeof parseArgs>;
        if (positionals.length > 0 && !positionals.every((p) => typeof p === 'string')) return 'positionals';
        for (const [name, spec] of Object.entries(TRAIN_SPEC.flags)) {
          const flag = flags[name];
          if (flag === undefined) continue;
          if ((spec.type === 'int' && !(Number.isSafeInteger(flag) && (flag as number) >= (spec.min ?? 0))) || (spec.type === 'number' && !Number.isFinite(flag)) || (spec.type === 'boolean' && typeof flag !== 'boolean')) {
            return `--${name} parsed as ${String(flag)}`;
          }
        }
        return undefined;
      },
      names: /ofa train|--[a-z-]+/,
    },
  ];
  for (const reader of readers) if (reader.file.includes('/')) mkdirSync(join(root, reader.name.replace(/\W+/g, '-'), reader.file.split('/')[0]), { recursive: true });
  return readers.map((reader) => withFolder(reader, root, { tableDevicesDir, calibrationDevicesDir, checkpointDir }));
}

/**
 * Where each reader's case file goes: its own folder, except the readers that read a fixed place (the
 * device folders' table and calibration, the checkpoint folder's manifest).
 */
function withFolder(reader: FuzzReader, root: string, fixed: { tableDevicesDir: string; calibrationDevicesDir: string; checkpointDir: string }): FuzzReader & { dir: string } {
  const dir =
    reader.name === 'latency table'
      ? join(fixed.tableDevicesDir, 'dev')
      : reader.name === 'calibration'
        ? join(fixed.calibrationDevicesDir, 'dev')
        : reader.name === 'checkpoint manifest'
          ? join(fixed.checkpointDir, '..')
          : join(root, reader.name.replace(/\W+/g, '-'));
  mkdirSync(dir, { recursive: true });
  return { ...reader, dir };
}

export type PlacedReader = ReturnType<typeof withFolder>;

/** A temp root with every reader's seeds; `close()` removes it. */
export function fuzzWorkspace(): { readers: PlacedReader[]; close(): void } {
  const root = mkdtempSync(join(tmpdir(), 'ofa-fuzz-'));
  return { readers: buildReaders(root) as PlacedReader[], close: () => rmSync(root, { recursive: true, force: true }) };
}
