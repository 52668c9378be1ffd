// Profiling a new device in one command (issue 17 item 3; `ofa profile device`): the lookup table, the
// calibration and a short validation with its test-retest ceiling, in one resumable run with a plan, an
// ETA and the time each part took.
//
// Why it fits in minutes: a subnet sums 5-30 entries, whose errors partly average out, and the predictor
// fits block terms to whole-subnet measurements with the table as their prior (fit.ts). Offline, on the
// committed fashion files (results/profile-rebuild/offline.ts), 5% extra noise on every entry moved the
// held-out share within +-10% by 0-2 points on five of the six device/variant pairs (cpu-2t ee-d, whose
// table sum the five-term fit gives a scale of 0.003, lost 14), while 40 calibration subnets instead of
// 60 cost 0-7 points. So the table gets a short window per block (60 ms instead of 750 ms) and the time
// goes to whole subnets, each in two fresh sessions (calibrate.ts `sessions`). Whether the short table
// holds up is for the rebuild to measure (results/profile-rebuild/README.md).
//
// Resumable: a record of the run (`profiling-<P>-<V>.json`, beside the three files) holds the settings
// and each finished part with its seconds. A rerun with the same settings skips the finished parts; the
// table resumes chunk by chunk (lut.ts); a calibration or validation in flight is measured again. Other
// settings, or a folder holding files no run of this command made, are refused unless --fresh.
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { writeJsonAtomic } from '../lib/atomic.ts';
import { OfaError } from '../lib/errors.ts';
import { readJsonFile } from '../lib/json.ts';
import { formatDuration } from '../lib/progress.ts';
import { parseWith, z } from '../lib/schema.ts';
import { enumerateBlocks } from '../space/index.ts';
import { ARTIFACT_FORMATS, artifactTag, checkArtifact } from './artifacts.ts';
import { calibrateDevice, validatePredictor, type ValidationResult } from './calibrate.ts';
import { deviceDataDir, type DeviceProfile, type DevicesOptions } from './device.ts';
import { buildTable } from './lut.ts';
import { readCalibration, type Calibration } from './predictor.ts';
import { PROTOCOL_SCHEMA, readTable, type LatencyTable } from './table.ts';
import { readValidation } from './validation.ts';
import { PROFILE_DEVICE_DEFAULTS, estimatePlan, type PlanPart, type ProfileDeviceSettings } from './onboard-plan.ts';

export { PROFILE_DEVICE_DEFAULTS, PLAN_COSTS, estimatePlan, type PlanPart, type ProfileDeviceSettings } from './onboard-plan.ts';

const PARTS = ['table', 'calibration', 'validation'] as const;
type Part = (typeof PARTS)[number];

const RUN_SCHEMA = z.strictObject({
  format: z.literal(ARTIFACT_FORMATS.profiling.format),
  formatVersion: z.literal(ARTIFACT_FORMATS.profiling.formatVersion),
  device: z.string(),
  preset: z.string(),
  variant: z.string(),
  settings: z.strictObject({
    blockProtocol: PROTOCOL_SCHEMA,
    subnetProtocol: PROTOCOL_SCHEMA,
    subnets: z.int().min(1),
    seed: z.int().nonnegative(),
    heldOut: z.int().min(1),
    sessions: z.int().min(1),
  }),
  startedAt: z.string(),
  /** Each finished part: its wall-clock seconds (0 when it was already done) and when it finished. */
  parts: z.partialRecord(z.enum(PARTS), z.strictObject({ seconds: z.number().nonnegative(), finishedAt: z.string(), estimatedS: z.number().nonnegative() })),
  /** The sum of the parts' seconds over every session of the run. */
  seconds: z.number().nonnegative(),
});
export type ProfilingRecord = z.infer<typeof RUN_SCHEMA>;

export interface ProfileDeviceOptions {
  device: DeviceProfile;
  preset: string;
  variant: string;
  /** The folder the files go to (`--out DIR`, or the device folder for `--save`). */
  dir: string;
  settings?: Partial<ProfileDeviceSettings>;
  /** Start again: the table, calibration, validation and record in `dir` are measured anew. */
  fresh?: boolean;
  quiet?: boolean;
  devices?: DevicesOptions;
  /** Stop after this part (tests of resumption). */
  stopAfter?: Part;
}

export interface ProfileDeviceResult {
  dir: string;
  files: { table: string; calibration: string; validation: string; record: string };
  record: ProfilingRecord;
  /** Per part: seconds now (0 when skipped), and whether it was already done. */
  parts: { part: Part; seconds: number; estimatedS: number; skipped: boolean }[];
  seconds: number;
  validation?: ValidationResult;
}

export function profilingFiles(dir: string, preset: string, variant: string): ProfileDeviceResult['files'] {
  return {
    table: join(dir, `lut-${preset}-${variant}.json`),
    calibration: join(dir, `calibration-${preset}-${variant}.json`),
    validation: join(dir, `validation-${preset}-${variant}.json`),
    record: join(dir, `profiling-${preset}-${variant}.json`),
  };
}

/** The device folder `--save` writes to (<devices-dir>/<name>/). */
export function profilingDir(device: DeviceProfile, options: DevicesOptions = {}): string {
  return deviceDataDir(device, options);
}

const RECORD_HINT = 'rerun with --fresh to start again (or choose another --out folder)';

function readRecord(file: string): ProfilingRecord {
  const input = `profiling record ${file}`;
  const value = readJsonFile(file, input, { code: 'E_PROFILE_RUN_MISMATCH', hint: RECORD_HINT });
  checkArtifact(value, 'profiling', input, RECORD_HINT);
  return parseWith(RUN_SCHEMA, value, input, { code: 'E_PROFILE_RUN_MISMATCH', hint: RECORD_HINT });
}

function resolveSettings(partial: Partial<ProfileDeviceSettings> = {}): ProfileDeviceSettings {
  const settings = { ...PROFILE_DEVICE_DEFAULTS, ...partial };
  for (const [name, value] of [['subnets', settings.subnets], ['heldOut', settings.heldOut], ['sessions', settings.sessions]] as const) {
    if (!Number.isInteger(value) || value < (name === 'subnets' ? 3 : 1)) {
      throw new OfaError('E_ARGS', `ofa profile device: ${name} ${value} is not valid; allowed: an integer >= ${name === 'subnets' ? 3 : 1}`, { hint: 'run `ofa profile device --help`' });
    }
  }
  return settings;
}

/** Which settings differ between a record and this run, as "name: was -> now". */
function settingDifferences(recorded: ProfilingRecord, device: string, preset: string, variant: string, settings: ProfileDeviceSettings): string[] {
  const now = { device, preset, variant, ...settings };
  const was = { device: recorded.device, preset: recorded.preset, variant: recorded.variant, ...recorded.settings };
  return (Object.keys(now) as (keyof typeof now)[])
    .filter((key) => JSON.stringify(now[key]) !== JSON.stringify(was[key]))
    .map((key) => `${key}: ${JSON.stringify(was[key])} -> ${JSON.stringify(now[key])}`);
}

export async function profileDevice(options: ProfileDeviceOptions): Promise<ProfileDeviceResult> {
  const { device, preset, variant, dir } = options;
  const settings = resolveSettings(options.settings);
  const files = profilingFiles(dir, preset, variant);
  const log = (text: string) => {
    if (!options.quiet) process.stderr.write(`${text}\n`);
  };
  if (options.fresh) for (const file of Object.values(files)) rmSync(file, { force: true });

  let record: ProfilingRecord;
  if (existsSync(files.record)) {
    record = readRecord(files.record);
    const differences = settingDifferences(record, device.name, preset, variant, settings);
    if (differences.length > 0) {
      throw new OfaError('E_PROFILE_RUN_MISMATCH', `ofa profile device: ${files.record} was started with other settings (${differences.join('; ')}); allowed: the same settings to resume`, { hint: RECORD_HINT });
    }
  } else {
    const foreign = [files.table, files.calibration, files.validation].filter((file) => existsSync(file));
    if (foreign.length > 0) {
      throw new OfaError('E_PROFILE_RUN_MISMATCH', `ofa profile device: ${foreign.join(', ')} already exist(s) and no run of this command made them (no ${files.record}); allowed: a folder without them`, {
        hint: 'pass --fresh to measure all three anew over them, or --out DIR for another folder',
      });
    }
    record = {
      ...artifactTag('profiling'),
      device: device.name,
      preset,
      variant,
      settings,
      startedAt: new Date().toISOString(),
      parts: {},
      seconds: 0,
    };
    writeJsonAtomic(files.record, record, { createParents: true });
  }

  const started = process.hrtime.bigint();
  const since = (from: bigint) => Number(process.hrtime.bigint() - from) / 1e9;
  const blocksTotal = enumerateBlocks({ preset, variant }).size;
  const tableNow = existsSync(files.table) ? readTable(files.table) : undefined;
  const blocksToMeasure = record.parts.table ? 0 : blocksTotal - (tableNow ? Object.keys(tableNow.entries).length : 0);
  const plan = estimatePlan(blocksToMeasure, settings);
  const todo = plan.filter((p) => !record.parts[p.part]);
  const planned = todo.reduce((s, p) => s + p.estimatedS, 0);
  log(
    `ofa profile device ${device.name} ${preset}/${variant} -> ${dir}: ` +
      (todo.length === 0
        ? 'every part is done already'
        : `plan ${todo.map((p) => `${p.part} ${p.items} ${p.part === 'table' ? 'blocks' : 'subnets'} ~${formatDuration(p.estimatedS)}`).join(', ')}; ETA ${formatDuration(planned)}`),
  );

  const parts: ProfileDeviceResult['parts'] = [];
  let table: LatencyTable | undefined = tableNow;
  let calibration: Calibration | undefined;
  let validation: ValidationResult | undefined;
  // After each part: the remaining estimates scaled by how this run's parts compared with theirs.
  let spentS = 0;
  let estimatedDoneS = 0;
  const finish = (part: PlanPart, seconds: number) => {
    record.parts[part.part] = { seconds, finishedAt: new Date().toISOString(), estimatedS: part.estimatedS };
    record.seconds += seconds;
    writeJsonAtomic(files.record, record, { createParents: true });
    parts.push({ part: part.part, seconds, estimatedS: part.estimatedS, skipped: false });
    spentS += seconds;
    estimatedDoneS += part.estimatedS;
    const rest = plan.filter((p) => !record.parts[p.part]).reduce((s, p) => s + p.estimatedS, 0);
    const pace = estimatedDoneS > 0 ? spentS / estimatedDoneS : 1;
    log(`${part.part} done in ${formatDuration(seconds)} (planned ~${formatDuration(part.estimatedS)}); elapsed ${formatDuration(since(started))}${rest > 0 ? `, ETA ${formatDuration(rest * pace)}` : ''}`);
  };

  for (const part of plan) {
    if (record.parts[part.part]) {
      parts.push({ part: part.part, seconds: 0, estimatedS: 0, skipped: true });
      if (part.part === 'table') table = readTable(files.table);
      if (part.part === 'calibration') calibration = readCalibration(files.calibration);
      if (part.part === 'validation') validation = readValidation(files.validation);
      continue;
    }
    const partStarted = process.hrtime.bigint();
    if (part.part === 'table') {
      table = (await buildTable({ device, preset, variant, protocol: settings.blockProtocol, file: files.table, quiet: options.quiet })).table;
    } else if (part.part === 'calibration') {
      calibration = (
        await calibrateDevice({
          device,
          preset,
          variant,
          count: settings.subnets,
          seed: settings.seed,
          protocol: settings.subnetProtocol,
          sessions: settings.sessions,
          table,
          quiet: options.quiet,
          devices: options.devices,
          out: files.calibration,
        })
      ).calibration;
    } else {
      validation = await validatePredictor({
        device,
        preset,
        variant,
        count: settings.heldOut,
        seed: settings.seed + 1000,
        protocol: settings.subnetProtocol,
        sessions: settings.sessions,
        retest: true,
        table,
        calibration,
        quiet: options.quiet,
        devices: options.devices,
        out: files.validation,
      });
    }
    finish(part, since(partStarted));
    if (options.stopAfter === part.part) break;
  }
  return { dir, files, record, parts, seconds: since(started), ...(validation ? { validation } : {}) };
}
