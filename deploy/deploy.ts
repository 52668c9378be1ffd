// `ofa deploy` over devices (issue 14): per device, the search's front and picks (search/index.ts), then
// per budget a bundle (deploy/bundle.ts), and DIR/deploy.json over all of them. Devices are checked
// before anything is searched: an unknown device, or a named one that cannot start here or has no
// latency table, is an error; with `all`, such a device is skipped with its reason.
import { existsSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { writeJsonAtomic } from '../lib/atomic.ts';
import { DEPLOY_RESULT_SCHEMA, reusableGateRecord } from './schema.ts';
import { schemaFaults } from '../lib/schema.ts';
import { OfaError, isOfaError } from '../lib/errors.ts';
import type { SpaceRef } from '../space/index.ts';
import type { OpenedSupernet } from '../train/index.ts';
import { checkDevice, hostFacts, listDeviceNames, loadDevice, measureModel, referenceConfig, referenceModel, type DeviceProfile, type HostFacts } from '../profile/index.ts';
import { loadCalibration, loadTable, type LatencyStatistic } from '../profile/predict.ts';
import { configId } from '../space/index.ts';
import { loadSearchDevice, prepareDevice, searchPrepared, type AccuracyModel, type Nsga2Settings, type PreparedDevice, type DeviceSearchResult } from '../search/index.ts';
import { recordBaseline } from './gate/gate.ts';
import { MIN_BASELINE_ROUNDS } from './gate/baseline.ts';
import type { GateBaselineRecord } from './gate/result.ts';
import { DEPLOY_FORMAT } from './gate/baseline.ts';
import { writeReport } from './report.ts';
import { BUNDLE_DEFAULTS, deployBundle, toolVersion, type BundleOptions, type BundleTry, type DeployData, type LatencyFigures } from './bundle.ts';

export interface DeployOptions {
  supernet: OpenedSupernet;
  /** The accuracy predictor the search ranks subnets with (search/index.ts accuracyPredictorOf). */
  accuracy: AccuracyModel;
  /** Device names, or 'all': every device of the folder that can start here (the others skipped, with the reason). */
  devices: readonly string[] | 'all';
  devicesDir?: string;
  /** Budgets for every device (default: each device's latencyBudgetsMs). */
  budgetsMs?: readonly number[];
  data: DeployData;
  outDir: string;
  seed?: number;
  nsga2?: Partial<Nsga2Settings>;
  /** Bundle settings (tries, image counts, protocol): deploy/bundle.ts. */
  bundle?: Pick<BundleOptions, 'maxTries' | 'recalibrationImages' | 'verifyImages' | 'tolerance' | 'testImages' | 'scoreBatch' | 'protocol'>;
  /** Rounds of each deployed model's gate baseline record (deploy/gate recordBaseline); 0: none (default 60). */
  gateRounds?: number;
  log?: (line: string) => void;
}

export type DeploymentStatus = 'deployed' | 'skipped' | 'over-budget';

/** One entry of deploy.json's `deployments`: `id` is `<device>/<budget>ms` (what `ofa gate --entry` picks). */
export interface Deployment {
  id: string;
  device: string;
  budgetMs: number;
  status: DeploymentStatus;
  /** The bundle folder, relative to the deploy folder. */
  dir: string;
  configId?: string;
  model?: string;
  sha256?: string;
  predicted?: { latencyMs: number; top1: number };
  measured?: LatencyFigures;
  trueTop1?: number;
  macs?: number;
  params?: number;
  tries: BundleTry[];
  gate?: GateBaselineRecord;
}

export interface DeployResult {
  format: typeof DEPLOY_FORMAT.format;
  formatVersion: typeof DEPLOY_FORMAT.formatVersion;
  supernet: { checksum: string; preset: string; variant: string };
  toolVersion: string;
  host?: HostFacts;
  /**
   * Per device: its front, how this host differs from the one its table was measured on (empty: same),
   * and the speed reference measured here against the calibration's (applied to the predictions when the
   * host differs).
   */
  devices: { name: string; front: DeviceSearchResult['front']; smallest: DeviceSearchResult['smallest']; tableHostDiffers: string[]; speed?: SpeedScale; median?: MedianScale }[];
  skippedDevices: { name: string; reason: string }[];
  deployments: Deployment[];
  /** Whether every named device and every budget was deployed (the CLI's exit code). */
  complete: boolean;
}

/**
 * The speed reference (profile/reference.ts) measured on the device here, against the figure its
 * calibration recorded: `factor` puts a prediction (milliseconds at the calibration's speed) on this
 * host's scale. Applied when the host differs from the table's; recorded always (the drift of a shared host).
 */
export interface SpeedScale {
  configId: string;
  statistic: LatencyStatistic;
  /** The reference's figure (the calibration's statistic) in the calibration, and measured here now. */
  calibrationMs: number;
  hereMs: number;
  factor: number;
  applied: boolean;
}

/**
 * The budgets are on the median run. A predictor of the fastest run (calibration statistic `min`, the
 * profiler's default) is put on the median with the speed reference's median over its fastest run,
 * measured here now (the machine's jitter at this moment: 1.08-1.27 on cpu-1t's committed subnets).
 */
export interface MedianScale {
  /** What the device's predictor predicts. */
  statistic: LatencyStatistic;
  /** The speed reference measured here: median and fastest run. */
  referenceMedianMs: number;
  referenceFastestMs: number;
  /** Multiplies the predictions: median / fastest for a `min` predictor, 1 for a median one. */
  factor: number;
}

/** Measures the speed reference on a device; undefined when its calibration recorded none (older files). */
async function measureSpeedScale(device: DeviceProfile, space: SpaceRef, devicesDir: string | undefined, protocol: BundleOptions['protocol']): Promise<{ scale?: SpeedScale; median: MedianScale; runtimeVersion: string }> {
  const calibration = loadCalibration(device, space.preset, space.variant, { devicesDir });
  const statistic = calibration?.statistic ?? 'median';
  const calibrationMs = statistic === 'min' ? calibration?.reference?.minMs : calibration?.reference?.medianMs;
  const measurement = await measureModel(referenceModel(space.preset, space.variant), device, { ...protocol });
  const runtimeVersion = measurement.runtime.version;
  const { medianMs, minMs } = measurement.stats;
  const median: MedianScale = { statistic, referenceMedianMs: medianMs, referenceFastestMs: minMs, factor: statistic === 'min' && minMs > 0 ? medianMs / minMs : 1 };
  if (calibrationMs === undefined || !(calibrationMs > 0)) return { runtimeVersion, median };
  const hereMs = statistic === 'min' ? minMs : medianMs;
  return { runtimeVersion, median, scale: { configId: configId(referenceConfig(space.preset, space.variant)), statistic, calibrationMs, hereMs, factor: hereMs / calibrationMs, applied: false } };
}

/** Why a device cannot be deployed to here, or undefined when it can (runtime start, inference, table). */
async function deviceProblem(device: DeviceProfile, space: SpaceRef, accuracy: AccuracyModel, options: DeployOptions): Promise<{ problem: OfaError } | { prepared: PreparedDevice }> {
  try {
    await checkDevice(device);
    const searchDevice = loadSearchDevice(device.name, space, { devicesDir: options.devicesDir, budgetsMs: options.budgetsMs });
    return { prepared: prepareDevice(space, accuracy, searchDevice) };
  } catch (error) {
    if (isOfaError(error)) return { problem: error };
    throw error;
  }
}

/**
 * How this host differs from the one a device's latency table was measured on (its last build session):
 * CPU model, core count, runtime version. The predictions are the table's, on that host's scale.
 */
export function tableHostDifferences(device: DeviceProfile, space: SpaceRef, devicesDir: string | undefined, runtimeVersion?: string): string[] {
  const table = loadTable(device, space.preset, space.variant, { devicesDir });
  const measuredOn = table.runs[table.runs.length - 1]?.host;
  const here = hostFacts();
  const differences: string[] = [];
  if (measuredOn && measuredOn.cpuModel !== here.cpuModel) differences.push(`CPU ${JSON.stringify(measuredOn.cpuModel)} there, ${JSON.stringify(here.cpuModel)} here`);
  if (measuredOn && measuredOn.logicalCores !== here.logicalCores) differences.push(`${measuredOn.logicalCores} cores there, ${here.logicalCores} here`);
  if (runtimeVersion && table.runtime && table.runtime !== runtimeVersion) differences.push(`${table.runtime} there, ${runtimeVersion} here`);
  return differences;
}

/** The gate records of an earlier deploy.json in the folder, by entry id and model sha256 (a rerun reuses them). */
/** The earlier deploy.json of the folder, parsed (read once for both reuses below); undefined when missing or unreadable. */
function readEarlierDeploy(outDir: string): unknown {
  const file = join(outDir, 'deploy.json');
  if (!existsSync(file)) return undefined;
  try {
    return JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    // An unreadable earlier deploy.json is replaced; what it held is measured again.
    return undefined;
  }
}

function earlierGateRecords(earlier: unknown): Map<string, GateBaselineRecord> {
  const records = new Map<string, GateBaselineRecord>();
  if (earlier === null || typeof earlier !== 'object') return records;
  const json = earlier as Partial<DeployResult>;
  if (json.format !== DEPLOY_FORMAT.format || json.formatVersion !== DEPLOY_FORMAT.formatVersion || !Array.isArray(json.deployments)) return records;
  // Only sound records are reused (issue 18: deploy/schema.ts); a damaged one is measured again.
  for (const entry of json.deployments) if (entry.gate && entry.sha256 && reusableGateRecord(entry.gate)) records.set(`${entry.id} ${entry.sha256}`, entry.gate);
  return records;
}

/**
 * The speed and median factors an earlier deploy.json in the folder measured per device, for the same
 * supernet: a rerun reuses them, so that it searches the same predictions, finds the same picks and skips
 * the bundles already made (factors measured again would differ by the machine's jitter).
 */
function earlierScales(earlier: unknown, checksum: string): Map<string, { speed?: SpeedScale; median: MedianScale }> {
  const scales = new Map<string, { speed?: SpeedScale; median: MedianScale }>();
  if (earlier === undefined || schemaFaults(DEPLOY_RESULT_SCHEMA, earlier).length > 0) return scales;
  const json = earlier as DeployResult;
  if (json.supernet.checksum !== checksum) return scales;
  for (const device of json.devices) if (device.median) scales.set(device.name, { speed: device.speed, median: device.median });
  return scales;
}

/** Rounds of a deployed model's gate record: 0 (none) or at least the gate's minimum; refused before anything runs. */
export function checkGateRounds(rounds: number): number {
  if (!Number.isInteger(rounds) || (rounds !== 0 && rounds < MIN_BASELINE_ROUNDS)) {
    throw new OfaError('E_DEPLOY_OPTIONS', `gate rounds ${rounds} is not valid; allowed: 0 (no gate record) or an integer >= ${MIN_BASELINE_ROUNDS}`, { hint: `pass --gate-rounds 0 or at least ${MIN_BASELINE_ROUNDS}` });
  }
  return rounds;
}

export async function deployDevices(options: DeployOptions): Promise<DeployResult> {
  const log = options.log ?? (() => {});
  const { facts } = options.supernet;
  const space: SpaceRef = { preset: facts.preset, variant: facts.variant };
  const all = options.devices === 'all';
  const names = all ? listDeviceNames({ devicesDir: options.devicesDir }) : [...options.devices];
  if (names.length === 0) throw new OfaError('E_DEPLOY_OPTIONS', `no devices to deploy to${all ? ` (the devices folder ${JSON.stringify(options.devicesDir ?? 'devices')} has no device files)` : ''}`, { hint: 'name devices with --devices a,b or add device files' });
  const gateRounds = checkGateRounds(options.gateRounds ?? 60);
  // Every device first (an unknown name throws E_DEVICE_UNKNOWN here): nothing is measured before all are known good.
  const ready: PreparedDevice[] = [];
  const skippedDevices: DeployResult['skippedDevices'] = [];
  for (const name of names) {
    const device = loadDevice(name, { devicesDir: options.devicesDir });
    const checked = await deviceProblem(device, space, options.accuracy, options);
    if ('prepared' in checked) ready.push(checked.prepared);
    else if (all) {
      skippedDevices.push({ name, reason: `[${checked.problem.code}] ${checked.problem.message}` });
      log(`${name}: skipped: ${checked.problem.message}`);
    } else throw checked.problem;
  }
  const earlierDeploy = readEarlierDeploy(options.outDir);
  const earlier = earlierGateRecords(earlierDeploy);
  const earlierFactors = earlierScales(earlierDeploy, facts.checksum);
  const deployments: Deployment[] = [];
  const devices: DeployResult['devices'] = [];
  let host: HostFacts | undefined;
  for (const prepared of ready) {
    const name = prepared.device.name;
    const device = loadDevice(name, { devicesDir: options.devicesDir });
    const measured = await measureSpeedScale(device, space, options.devicesDir, options.bundle?.protocol);
    const { runtimeVersion } = measured;
    let { scale, median } = measured;
    const before = earlierFactors.get(name);
    if (before && before.median.statistic === median.statistic && before.speed?.calibrationMs === scale?.calibrationMs && before.speed?.statistic === scale?.statistic) {
      ({ median } = before);
      scale = before.speed && { ...before.speed, applied: false };
      log(`${name}: the speed reference as the earlier run in ${options.outDir} measured it (a rerun searches the same predictions)`);
    }
    const tableHostDiffers = tableHostDifferences(device, space, options.devicesDir, runtimeVersion);
    // Before searching (issue 14): predictions on this host's scale when the table's host differs, so that
    // the budgets mean this host's milliseconds; and on the median run, which the budgets are checked on.
    if (tableHostDiffers.length > 0 && scale) scale.applied = true;
    const factor = (scale?.applied ? scale.factor : 1) * median.factor;
    let searched = prepared;
    if (factor !== 1) {
      const { latency } = prepared.device;
      try {
        searched = prepareDevice(space, options.accuracy, { ...prepared.device, latency: { predict: (config) => ({ latencyMs: latency.predict(config).latencyMs * factor }) } });
      } catch (error) {
        // On this host's scale a budget can fall below every subnet (E_SEARCH_BUDGET): a skip with `all`.
        if (!all || !isOfaError(error)) throw error;
        skippedDevices.push({ name, reason: `[${error.code}] ${error.message}` });
        log(`${name}: skipped: ${error.message}`);
        continue;
      }
    }
    if (tableHostDiffers.length > 0) {
      if (scale) {
        log(`${name}: its latency table was measured on another host (${tableHostDiffers.join('; ')}): predictions scaled by ${scale.factor.toFixed(3)}, the speed reference ${scale.configId} measured here (${scale.hereMs.toFixed(4)} ms) against its calibration (${scale.calibrationMs.toFixed(4)} ms)`);
      } else {
        log(`${name}: its latency table was measured on another host (${tableHostDiffers.join('; ')}) and its calibration recorded no speed reference: the predictions are that host's, the measurements this one's`);
      }
    }
    if (median.factor !== 1) {
      log(`${name}: the predictor gives the fastest run, the budgets are on the median: predictions times ${median.factor.toFixed(3)} (the speed reference's median ${median.referenceMedianMs.toFixed(4)} ms over its fastest ${median.referenceFastestMs.toFixed(4)} ms here)`);
    }
    log(`${name}: searching ${searched.device.budgetsMs.length} budget(s)`);
    const search = searchPrepared(searched, { seed: options.seed ?? 1, nsga2: options.nsga2 });
    devices.push({ name, front: search.front, smallest: search.smallest, tableHostDiffers, ...(scale ? { speed: scale } : {}), median });
    for (const pick of search.picks) {
      const result = await deployBundle({ ...options.bundle, supernet: options.supernet, device, budgetMs: pick.budgetMs, pick, front: search.front, data: options.data, outDir: options.outDir, seed: options.seed ?? BUNDLE_DEFAULTS.seed, log });
      const dir = relative(options.outDir, result.dir);
      if (result.status === 'over-budget') {
        deployments.push({ id: `${name}/${pick.budgetMs}ms`, device: name, budgetMs: pick.budgetMs, status: 'over-budget', dir, tries: result.tries });
        continue;
      }
      const { manifest } = result;
      host ??= manifest.host;
      const entry: Deployment = {
        id: `${name}/${pick.budgetMs}ms`,
        device: name,
        budgetMs: pick.budgetMs,
        status: result.status,
        dir,
        configId: manifest.id,
        model: join(dir, manifest.model.file),
        sha256: manifest.model.sha256,
        predicted: manifest.predicted,
        measured: { medianMs: manifest.measured.medianMs, p90Ms: manifest.measured.p90Ms, fastestMs: manifest.measured.fastestMs },
        trueTop1: manifest.trueTop1,
        macs: manifest.macs,
        params: manifest.params,
        tries: manifest.tries,
      };
      const kept = result.status === 'skipped' ? earlier.get(`${entry.id} ${entry.sha256}`) : undefined;
      if (kept && kept.logRatios.length >= gateRounds) entry.gate = kept;
      else if (gateRounds > 0) {
        log(`${name} ${pick.budgetMs} ms: recording the gate baseline (${gateRounds} rounds against the speed reference)`);
        entry.gate = await recordBaseline(join(result.dir, manifest.model.file), device, { rounds: gateRounds, warmupRuns: options.bundle?.protocol?.warmupRuns });
      }
      deployments.push(entry);
    }
  }
  const report: DeployResult = {
    ...DEPLOY_FORMAT,
    supernet: { checksum: facts.checksum, preset: facts.preset, variant: facts.variant },
    toolVersion: toolVersion(),
    ...(host ? { host } : {}),
    devices,
    skippedDevices,
    deployments,
    complete: deployments.every((d) => d.status !== 'over-budget'),
  };
  writeJsonAtomic(join(options.outDir, 'deploy.json'), report, { createParents: true });
  await writeReport(options.outDir, report);
  return report;
}
