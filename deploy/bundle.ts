// One deploy bundle (issue 14 item 1): for one device and one latency budget, the chosen subnet exported
// with BN recalibrated for it (ofav2.md s3: a deployed model must be the model whose accuracy is reported),
// verified in onnxruntime on the device's runtime and EP against the supernet's own static forward,
// measured with the profiler's protocol, scored on the test split by onnxruntime itself, and written as
// DIR/<device>/<budget>/model.onnx + manifest.json, both atomically.
//
// When the measured latency is over budget (the predictor erred), the next front point below the tried
// one is taken (the largest whose prediction fits the budget put on the predictor's scale by the measured
// ratio: nextBelow), in a loop bounded by `maxTries`; every try is recorded. A rerun with the same inputs
// whose model file still has the recorded sha256 is skipped.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic, writeJsonAtomic } from '../lib/atomic.ts';
import { OfaError } from '../lib/errors.ts';
import { readJsonFile } from '../lib/json.ts';
import { bundleManifestFault } from './schema.ts';
import { configId, type SubnetConfig } from '../space/index.ts';
import type { StaticSubnet } from '../subnet/index.ts';
import type { DatasetSpec, ImageSet, OpenedSupernet } from '../train/index.ts';
import { checkOnnxModel, decodeModelFile, encodeModel, exportSubnet, summarizeModel, type OnnxCheckerResult } from '../export/index.ts';
import { deviceKnobs, measureModel, nhwcToNchw, openInference, scoreModel, type DeviceProfile, type HostFacts, type LabelledImages, type Measurement, type RuntimeInfo } from '../profile/index.ts';

export const BUNDLE_FORMAT = { format: 'ofav2/deploy-bundle', formatVersion: 1 } as const;

/** A point of a device's front: what the search predicted for one subnet. */
export interface DeployCandidate {
  config: SubnetConfig;
  predictedLatencyMs: number;
  predictedTop1: number;
}

/** The data a bundle is made with: training images for BN recalibration, the test split to verify and score on. */
export interface DeployData {
  calibration: ImageSet;
  test: ImageSet;
  spec: DatasetSpec;
}

export interface BundleOptions {
  /** The opened supernet; its checksum (`sha256:...` of its weights file) is recorded and part of the inputs. */
  supernet: OpenedSupernet;
  device: DeviceProfile;
  budgetMs: number;
  /** The search's pick for the budget. */
  pick: DeployCandidate;
  /** The device's front (any order): the retry takes the next point below the tried one from it. */
  front: readonly DeployCandidate[];
  data: DeployData;
  /** The root folder; the bundle is DIR/<device>/<budget>/. */
  outDir: string;
  /** Tries before giving up on the budget (default 4). */
  maxTries?: number;
  /** Training images for BN recalibration (default 2000, ofav2.md s3). */
  recalibrationImages?: number;
  /** Test images the ONNX outputs are compared on with the static forward (default 64). */
  verifyImages?: number;
  /** Largest allowed absolute difference of logits (default 1e-4). */
  tolerance?: number;
  /** Test images scored (default: the whole test split). */
  testImages?: number;
  /** Images per onnxruntime run when scoring (default 250). */
  scoreBatch?: number;
  /** The profiler's protocol (defaults: profile/measure.ts). */
  protocol?: { warmupRuns?: number; minSamples?: number; minTimeMs?: number };
  seed?: number;
  /** Progress lines (stderr in the CLI). */
  log?: (line: string) => void;
}

export interface LatencyFigures {
  medianMs: number;
  p90Ms: number;
  fastestMs: number;
}

export interface BundleTry {
  id: string;
  config: SubnetConfig;
  predictedLatencyMs: number;
  predictedTop1: number;
  measured: LatencyFigures;
  verifyMaxAbsDiff: number;
  withinBudget: boolean;
}

export interface BundleManifest {
  format: typeof BUNDLE_FORMAT.format;
  formatVersion: typeof BUNDLE_FORMAT.formatVersion;
  device: string;
  budgetMs: number;
  id: string;
  config: SubnetConfig;
  predicted: { latencyMs: number; top1: number };
  measured: LatencyFigures & { protocol: Measurement['protocol']; samples: number };
  trueTop1: number;
  testImages: number;
  macs: number;
  params: number;
  model: { file: 'model.onnx'; sha256: string; bytes: number };
  /** onnxruntime on the device against the supernet's forward; and the ONNX project's checker where available. */
  verify: { images: number; maxAbsDiff: number; tolerance: number; runtime: string; executionProvider: string; onnxChecker: OnnxCheckerResult };
  supernetChecksum: string;
  deviceProfile: DeviceProfile;
  runtime: RuntimeInfo;
  host: HostFacts;
  toolVersion: string;
  tries: BundleTry[];
  /** Everything the bundle was made from, hashed: a rerun with the same hash skips the bundle. */
  inputs: Record<string, unknown>;
  inputsHash: string;
  createdAt: string;
}

export type BundleResult =
  | { status: 'deployed' | 'skipped'; dir: string; manifest: BundleManifest }
  | { status: 'over-budget'; dir: string; tries: BundleTry[] };

export const BUNDLE_DEFAULTS = { maxTries: 4, recalibrationImages: 2000, verifyImages: 64, tolerance: 1e-4, scoreBatch: 250, seed: 1 } as const;

export function sha256Hex(bytes: Uint8Array | string): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** The tool's version: package.json's. */
export function toolVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { name?: string; version?: string };
  return `${pkg.name ?? 'ofav2'} ${pkg.version ?? '0.0.0'}`;
}

/** A budget's folder name: its milliseconds as written (`0.25ms`). */
export function budgetDirName(budgetMs: number): string {
  return `${budgetMs}ms`;
}

export function bundleDir(outDir: string, device: string, budgetMs: number): string {
  return join(outDir, device, budgetDirName(budgetMs));
}

/**
 * The next front point to try after one measured over budget: below the tried point's predicted latency,
 * and, when the measurement says how far the predictor was off, at most `budget * predicted / measured`
 * (the budget on the predictor's scale, so that one try is not spent on each of many points that the
 * measured ratio already rules out); the largest predicted latency that fits (on a front: the best
 * predicted top-1). When no untried point fits that target, the smallest untried point below the tried
 * one, as the last try. Undefined when nothing is below.
 */
export function nextBelow(front: readonly DeployCandidate[], tried: { predictedLatencyMs: number; measuredMs?: number; budgetMs?: number }, triedIds: ReadonlySet<string>): DeployCandidate | undefined {
  const below = front.filter((p) => p.predictedLatencyMs < tried.predictedLatencyMs && !triedIds.has(configId(p.config)));
  if (below.length === 0) return undefined;
  const target = tried.measuredMs && tried.budgetMs ? (tried.budgetMs * tried.predictedLatencyMs) / tried.measuredMs : Number.POSITIVE_INFINITY;
  const fitting = below.filter((p) => p.predictedLatencyMs <= target);
  const pool = fitting.length > 0 ? fitting : below;
  const pickLargest = fitting.length > 0;
  return pool.reduce((best, p) => ((pickLargest ? p.predictedLatencyMs > best.predictedLatencyMs : p.predictedLatencyMs < best.predictedLatencyMs) ? p : best));
}

function imageSetHash(set: ImageSet): string {
  const hash = createHash('sha256');
  hash.update(JSON.stringify([set.count, set.height, set.width, set.channels]));
  hash.update(set.pixels);
  hash.update(set.labels);
  return hash.digest('hex');
}

function checkOptions(options: BundleOptions): Required<Pick<BundleOptions, 'maxTries' | 'recalibrationImages' | 'verifyImages' | 'tolerance' | 'scoreBatch' | 'seed'>> {
  const resolved = {
    maxTries: options.maxTries ?? BUNDLE_DEFAULTS.maxTries,
    recalibrationImages: options.recalibrationImages ?? BUNDLE_DEFAULTS.recalibrationImages,
    verifyImages: options.verifyImages ?? BUNDLE_DEFAULTS.verifyImages,
    tolerance: options.tolerance ?? BUNDLE_DEFAULTS.tolerance,
    scoreBatch: options.scoreBatch ?? BUNDLE_DEFAULTS.scoreBatch,
    seed: options.seed ?? BUNDLE_DEFAULTS.seed,
  };
  for (const key of ['maxTries', 'recalibrationImages', 'verifyImages', 'scoreBatch'] as const) {
    if (!Number.isInteger(resolved[key]) || resolved[key] < 1) throw new OfaError('E_DEPLOY_OPTIONS', `deploy ${key} ${resolved[key]} is not valid; allowed: an integer >= 1`);
  }
  if (!(options.budgetMs > 0) || !Number.isFinite(options.budgetMs)) throw new OfaError('E_DEPLOY_OPTIONS', `latency budget ${options.budgetMs} ms is not valid; allowed: a positive number of milliseconds`);
  if (!(resolved.tolerance > 0)) throw new OfaError('E_DEPLOY_OPTIONS', `verification tolerance ${resolved.tolerance} is not valid; allowed: a positive number`);
  if (options.testImages !== undefined && (!Number.isInteger(options.testImages) || options.testImages < 1)) {
    throw new OfaError('E_DEPLOY_OPTIONS', `test images ${options.testImages} is not valid; allowed: an integer >= 1`);
  }
  return resolved;
}

/** The inputs a bundle is made from (a rerun with equal inputs and an intact model file is skipped). */
function bundleInputs(options: BundleOptions, resolved: ReturnType<typeof checkOptions>): Record<string, unknown> {
  return {
    supernetChecksum: options.supernet.facts.checksum,
    device: deviceKnobs(options.device),
    budgetMs: options.budgetMs,
    pick: { id: configId(options.pick.config), predictedLatencyMs: options.pick.predictedLatencyMs, predictedTop1: options.pick.predictedTop1 },
    front: options.front.map((p) => [configId(p.config), p.predictedLatencyMs, p.predictedTop1]),
    data: { spec: options.data.spec.name, calibration: imageSetHash(options.data.calibration), test: imageSetHash(options.data.test) },
    testImages: options.testImages ?? options.data.test.count,
    protocol: options.protocol ?? {},
    ...resolved,
    toolVersion: toolVersion(),
  };
}

/** The manifest of an existing bundle when it was made from the same inputs and its model verifies; else undefined. */
export function existingBundle(dir: string, inputsHash: string): BundleManifest | undefined {
  const manifestPath = join(dir, 'manifest.json');
  const modelPath = join(dir, 'model.onnx');
  if (!existsSync(manifestPath) || !existsSync(modelPath)) return undefined;
  let manifest: BundleManifest;
  try {
    manifest = readJsonFile(manifestPath, `bundle manifest ${manifestPath}`) as BundleManifest;
  } catch {
    return undefined;
  }
  // A damaged manifest (issue 18) is not reused: the bundle is made again.
  if (bundleManifestFault(manifest) !== undefined) return undefined;
  if (manifest.format !== BUNDLE_FORMAT.format || manifest.formatVersion !== BUNDLE_FORMAT.formatVersion || manifest.inputsHash !== inputsHash) return undefined;
  return sha256Hex(readFileSync(modelPath)) === manifest.model?.sha256 ? manifest : undefined;
}

interface Prepared {
  static: StaticSubnet;
  bytes: Uint8Array;
}

/** Exports the subnet with BN recalibrated for it. */
function prepare(options: BundleOptions, config: SubnetConfig, resolved: ReturnType<typeof checkOptions>): Prepared {
  const subnet = options.supernet.subnet(config, {
    recalibrate: { images: options.data.calibration, spec: options.data.spec, count: resolved.recalibrationImages, seed: resolved.seed },
  });
  return { static: subnet, bytes: encodeModel(exportSubnet(subnet, { source: options.supernet.facts.checksum })) };
}

/** Max abs difference between onnxruntime on the device and the static forward on real test images. */
async function verify(options: BundleOptions, prepared: Prepared, config: SubnetConfig, count: number, seed: number): Promise<number> {
  const { imagesAt } = await import('../train/index.ts');
  const { staticForward } = await import('../subnet/index.ts');
  const tf = await import('@tensorflow/tfjs-core');
  const r = config.resolution;
  const channels = options.data.spec.channels;
  const take = Math.min(count, options.data.test.count);
  const { images } = imagesAt(options.data.test, options.data.spec, r, { limit: take, seed });
  const expected = tf.tidy(() => staticForward(prepared.static, tf.tensor4d(images, [take, r, r, channels])).dataSync() as Float32Array);
  const session = await openInference(prepared.bytes, options.device);
  try {
    const outputs = await session.run([{ name: session.inputs[0].name, data: nhwcToNchw(images, take, r, channels), dims: [take, channels, r, r] }]);
    const got = outputs[session.outputs[0].name].data;
    if (got.length !== expected.length) return Number.POSITIVE_INFINITY;
    let worst = 0;
    for (let i = 0; i < got.length; i++) {
      const d = Math.abs(got[i] - expected[i]);
      if (!(d <= worst)) worst = Number.isNaN(d) ? Number.POSITIVE_INFINITY : d;
    }
    return worst;
  } finally {
    await session.dispose();
  }
}

/** The first `limit` images of a set as the evaluation feeds them at `resolution`, with their labels. */
async function labelledImages(set: ImageSet, spec: DatasetSpec, resolution: number, options: { limit?: number; seed?: number }): Promise<LabelledImages> {
  const { imagesAt } = await import('../train/index.ts');
  const { images, labels } = imagesAt(set, spec, resolution, options);
  return { images, labels, resolution, channels: spec.channels };
}

/** Makes (or finds, already made) the bundle of one device and budget. */
export async function deployBundle(options: BundleOptions): Promise<BundleResult> {
  const resolved = checkOptions(options);
  const log = options.log ?? (() => {});
  const dir = bundleDir(options.outDir, options.device.name, options.budgetMs);
  const inputs = bundleInputs(options, resolved);
  const inputsHash = sha256Hex(JSON.stringify(inputs));
  const existing = existingBundle(dir, inputsHash);
  if (existing) {
    log(`${options.device.name} ${options.budgetMs} ms: already deployed (${existing.id}, model sha256 verified), skipped`);
    return { status: 'skipped', dir, manifest: existing };
  }
  const tries: BundleTry[] = [];
  const tried = new Set<string>();
  let candidate: DeployCandidate | undefined = options.pick;
  while (candidate && tries.length < resolved.maxTries) {
    const config = options.supernet.check(candidate.config);
    const id = configId(config);
    tried.add(id);
    log(`${options.device.name} ${options.budgetMs} ms: try ${tries.length + 1}, ${id} (predicted ${candidate.predictedLatencyMs.toFixed(4)} ms): export, verify, measure`);
    const prepared = prepare(options, config, resolved);
    const maxAbsDiff = await verify(options, prepared, config, resolved.verifyImages, resolved.seed);
    if (!(maxAbsDiff <= resolved.tolerance)) {
      throw new OfaError('E_DEPLOY_VERIFY', `device ${options.device.name}: subnet ${id} in ${options.device.runtime}/${options.device.executionProvider} differs from the supernet's forward by ${maxAbsDiff} (max abs, logits), over the tolerance ${resolved.tolerance}`, {
        hint: 'the exporter or the runtime disagrees with the trainer: report it with the subnet config',
      });
    }
    const onnxChecker = checkOnnxModel(prepared.bytes);
    if (onnxChecker.available && !onnxChecker.ok) {
      throw new OfaError('E_DEPLOY_VERIFY', `device ${options.device.name}: subnet ${id}'s ONNX file fails the ONNX checker (onnx ${onnxChecker.onnxVersion}): ${onnxChecker.message}`, {
        hint: 'the exporter wrote a model the ONNX spec refuses: report it with the subnet config',
      });
    }
    if (!onnxChecker.available && tries.length === 0) log(`${options.device.name} ${options.budgetMs} ms: the ONNX checker is not available: ${onnxChecker.reason}`);
    const measurement = await measureModel(prepared.bytes, options.device, { ...options.protocol, seed: resolved.seed });
    const measured = { medianMs: measurement.stats.medianMs, p90Ms: measurement.stats.p90Ms, fastestMs: measurement.stats.minMs };
    const withinBudget = measured.medianMs <= options.budgetMs;
    tries.push({ id, config, predictedLatencyMs: candidate.predictedLatencyMs, predictedTop1: candidate.predictedTop1, measured, verifyMaxAbsDiff: maxAbsDiff, withinBudget });
    if (!withinBudget) {
      log(`${options.device.name} ${options.budgetMs} ms: ${id} measured ${measured.medianMs.toFixed(4)} ms (median), over budget: the predictor erred, taking the next front point below it`);
      candidate = nextBelow(options.front, { predictedLatencyMs: candidate.predictedLatencyMs, measuredMs: measured.medianMs, budgetMs: options.budgetMs }, tried);
      continue;
    }
    const score = await scoreModel(prepared.bytes, options.device, await labelledImages(options.data.test, options.data.spec, config.resolution, { limit: options.testImages, seed: resolved.seed }), { batch: resolved.scoreBatch });
    const summary = summarizeModel(decodeModelFile(prepared.bytes));
    const manifest: BundleManifest = {
      ...BUNDLE_FORMAT,
      device: options.device.name,
      budgetMs: options.budgetMs,
      id,
      config,
      predicted: { latencyMs: candidate.predictedLatencyMs, top1: candidate.predictedTop1 },
      measured: { ...measured, protocol: measurement.protocol, samples: measurement.stats.count },
      trueTop1: score.top1,
      testImages: score.images,
      macs: summary.macs,
      params: summary.params,
      model: { file: 'model.onnx', sha256: sha256Hex(prepared.bytes), bytes: prepared.bytes.length },
      verify: { images: Math.min(resolved.verifyImages, options.data.test.count), maxAbsDiff, tolerance: resolved.tolerance, runtime: options.device.runtime, executionProvider: options.device.executionProvider, onnxChecker },
      supernetChecksum: options.supernet.facts.checksum,
      deviceProfile: options.device,
      runtime: measurement.runtime,
      host: measurement.host,
      toolVersion: toolVersion(),
      tries,
      inputs,
      inputsHash,
      createdAt: new Date().toISOString(),
    };
    // The model first, then the manifest: a kill between them leaves a model without a manifest, which a
    // rerun does not take for a bundle.
    mkdirSync(dir, { recursive: true });
    writeFileAtomic(join(dir, 'model.onnx'), prepared.bytes);
    writeJsonAtomic(join(dir, 'manifest.json'), manifest);
    log(`${options.device.name} ${options.budgetMs} ms: deployed ${id}: measured ${measured.medianMs.toFixed(4)} ms, true top-1 ${(100 * score.top1).toFixed(2)}%`);
    return { status: 'deployed', dir, manifest };
  }
  log(`${options.device.name} ${options.budgetMs} ms: nothing met the budget in ${tries.length} tries`);
  return { status: 'over-budget', dir, tries };
}
