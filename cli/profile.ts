// `ofa profile devices | check | model | lut | calibrate | validate | predict | device`: latency on execution
// providers (pipeline.md "Measuring latency", "Device profile"). Thin: parses flags, calls profile/.
//
// Commands that measure write only where they are told: `--out FILE`, or `--save` for the device folder
// (<devices-dir>/<device>/). `lut` and `calibrate` produce nothing but their file, so they refuse to start
// without one of the two; `validate` and `model` print their report and write it only when asked.
import { resolve } from 'node:path';
import { OfaError } from '../lib/errors.ts';
import { readJsonInput } from '../lib/json.ts';
import { PRESET_NAMES, VARIANT_NAMES, DEFAULT_PRESET, DEFAULT_VARIANT, validateConfig } from '../space/index.ts';
// The predictor's entry is light (no runtime): its names can be read while the flags are declared.
import { DEFAULT_DEVICES_DIR, DEFAULT_STATISTIC, LATENCY_STATISTICS, PROFILE_DEVICE_DEFAULTS, type Calibration, type ValidationResult } from '../profile/predict.ts';
import { log, out, parseGroup, type CommandSpec, type FlagSpec, type ParsedFlags } from './args.ts';

const DEVICE: FlagSpec = { type: 'string', description: 'device name (<devices-dir>/<name>.json) or path to a device JSON file', default: 'cpu-1t', placeholder: 'D' };
const DEVICES_DIR: FlagSpec = { type: 'string', description: 'folder of the device files (their tables live in <devices-dir>/<name>/)', default: DEFAULT_DEVICES_DIR, placeholder: 'DIR' };
const JSON_FLAG: FlagSpec = { type: 'boolean', description: 'print JSON' };
const SPACE: Record<string, FlagSpec> = {
  preset: { type: 'string', description: 'preset', default: DEFAULT_PRESET, choices: PRESET_NAMES, placeholder: 'P' },
  variant: { type: 'string', description: 'supernet variant', default: DEFAULT_VARIANT, choices: VARIANT_NAMES, placeholder: 'V' },
};
const PROTOCOL: Record<string, FlagSpec> = {
  runs: { type: 'int', description: 'minimum number of timed runs', default: 64, placeholder: 'N', formerly: ['samples'] },
  'min-time': { type: 'number', description: 'minimum total sampling time in seconds', default: 1, placeholder: 'S' },
  warmup: { type: 'int', description: 'warm-up runs after the first run', default: 10, placeholder: 'N' },
};
const QUIET: FlagSpec = { type: 'boolean', description: 'no progress bar' };
const OUT = (what: string): FlagSpec => ({ type: 'string', description: `write the ${what} to FILE`, placeholder: 'FILE' });
const SAVE = (file: string): FlagSpec => ({ type: 'boolean', description: `write it to the device folder, <devices-dir>/<D>/${file}` });
const SESSIONS = (fallback: number): FlagSpec => ({
  type: 'int',
  description: 'fresh sessions per subnet, the fastest kept (a session can run slow throughout while the speed reference beside it does not)',
  default: fallback,
  min: 1,
  max: 16,
  placeholder: 'N',
});

const SPECS: Record<string, CommandSpec> = {
  devices: {
    name: 'profile devices',
    summary: 'list the device profiles and whether each can start on this host',
    usage: 'ofa profile devices [--devices-dir DIR] [--json]',
    flags: { 'devices-dir': DEVICES_DIR, json: JSON_FLAG },
  },
  model: {
    name: 'profile model',
    summary: 'measure any ONNX model on a device (inputs generated from its declared shapes)',
    usage: 'ofa profile model FILE.onnx --device D [--dim NAME=SIZE ...] [--runs N --min-time S] [--raw] [--out FILE] [--json]',
    positionals: ['FILE.onnx'],
    flags: {
      device: DEVICE,
      'devices-dir': DEVICES_DIR,
      dim: { type: 'list', description: 'size of a symbolic input dimension (repeatable; batch defaults to the device batch size)', placeholder: 'NAME=SIZE' },
      ...PROTOCOL,
      raw: { type: 'boolean', description: 'include every sample (ms) in the JSON' },
      out: OUT('measurement (JSON)'),
      json: JSON_FLAG,
    },
    examples: ['ofa profile model subnet.onnx --device cpu-1t', 'ofa profile model bert.onnx --device cpu-2t --dim batch=1 --dim sequence=128 --json'],
  },
  lut: {
    name: 'profile lut',
    summary: 'measure every distinct block of a space on a device into a lookup table (--out FILE or --save; resumable)',
    usage: 'ofa profile lut --device D --preset P --variant V (--out FILE | --save) [--runs N --min-time S --warmup N] [--fresh]',
    flags: {
      device: DEVICE,
      'devices-dir': DEVICES_DIR,
      ...SPACE,
      out: OUT('table (resumed when the file exists)'),
      save: SAVE('lut-<P>-<V>.json'),
      runs: { type: 'int', description: 'minimum timed runs per block', default: 64, placeholder: 'N', formerly: ['samples'] },
      'min-time': { type: 'number', description: 'minimum sampling time per block in seconds (longer windows catch more of the quiet moments of a shared machine)', default: 0.75, placeholder: 'S' },
      warmup: PROTOCOL.warmup,
      fresh: { type: 'boolean', description: 'discard the measured entries and start again' },
      quiet: QUIET,
      json: JSON_FLAG,
    },
    examples: ['ofa profile lut --device cpu-1t --preset fashion --variant ofa --save', 'ofa profile lut --device wasm-node --preset micro --variant ee-d --runs 16 --min-time 0 --out lut.json'],
  },
  calibrate: {
    name: 'profile calibrate',
    summary: "measure random whole subnets and fit the per-device calibration of the device's table sum (--out FILE or --save)",
    usage: 'ofa profile calibrate --device D --preset P --variant V (--out FILE | --save) [--subnets N] [--seed S]',
    flags: {
      device: DEVICE,
      'devices-dir': DEVICES_DIR,
      ...SPACE,
      out: OUT('calibration'),
      save: SAVE('calibration-<P>-<V>.json (where the predictor reads it)'),
      subnets: { type: 'int', description: 'number of random subnets to measure (20 or more fit the MAC and parameter terms)', default: 60, placeholder: 'N', formerly: ['samples'], min: 3, max: 100_000 },
      seed: { type: 'int', description: 'seed of the calibration subnets', default: 1, placeholder: 'S' },
      statistic: {
        type: 'string',
        description: 'figure of the timed runs to fit and predict: the fastest run (stable on a shared machine) or the median',
        choices: LATENCY_STATISTICS,
        default: DEFAULT_STATISTIC,
        placeholder: 'S',
      },
      runs: { type: 'int', description: 'minimum timed runs per subnet', default: 64, placeholder: 'N' },
      'min-time': { type: 'number', description: 'minimum sampling time per subnet in seconds (longer windows catch more of the quiet moments of a shared machine)', default: 0.75, placeholder: 'S' },
      'max-drift': { type: 'number', description: "measure a chunk again when the machine runs slower than the target speed (the table's, the calibration's) by more than this fraction", default: 0.1, placeholder: 'F' },
      retries: { type: 'int', description: 'how many times a chunk may be measured again', default: 2, placeholder: 'N' },
      sessions: SESSIONS(1),
      'block-terms': { type: 'boolean', description: 'fit per-block, per-group and neighbour-pair corrections of the entries with the table as their prior (--no-block-terms: the five terms alone)', default: true },
      warmup: PROTOCOL.warmup,
      quiet: QUIET,
      json: JSON_FLAG,
    },
  },
  validate: {
    name: 'profile validate',
    summary: 'measure held-out random subnets; report share within +-5% / +-10%, MAPE and Spearman of the predictor',
    usage: 'ofa profile validate --device D --preset P --variant V [--subnets N] [--seed S] [--sessions N] [--no-retest] [--out FILE | --save] [--json]',
    flags: {
      device: DEVICE,
      'devices-dir': DEVICES_DIR,
      ...SPACE,
      out: OUT('validation report'),
      save: SAVE('validation-<P>-<V>.json'),
      subnets: { type: 'int', description: 'number of held-out random subnets', default: 100, placeholder: 'N', formerly: ['samples'], min: 1, max: 100_000 },
      seed: { type: 'int', description: 'seed of the held-out subnets (must differ from the calibration seed)', default: 1001, placeholder: 'S' },
      runs: { type: 'int', description: 'minimum timed runs per subnet', default: 64, placeholder: 'N' },
      'min-time': { type: 'number', description: 'minimum sampling time per subnet in seconds (longer windows catch more of the quiet moments of a shared machine)', default: 0.75, placeholder: 'S' },
      'max-drift': { type: 'number', description: "measure a chunk again when the machine runs slower than the target speed (the table's, the calibration's) by more than this fraction", default: 0.1, placeholder: 'F' },
      retries: { type: 'int', description: 'how many times a chunk may be measured again', default: 2, placeholder: 'N' },
      sessions: SESSIONS(1),
      retest: { type: 'boolean', description: 'measure the same subnets again right after, for the test-retest ceiling (--no-retest: once)', default: true },
      warmup: PROTOCOL.warmup,
      quiet: QUIET,
      json: JSON_FLAG,
    },
  },
  predict: {
    name: 'profile predict',
    summary: 'predicted latency of a subnet config (table sum + calibration)',
    usage: 'ofa profile predict CONFIG.json|- --device D [--devices-dir DIR] [--json]',
    positionals: ['CONFIG.json'],
    flags: { device: DEVICE, 'devices-dir': DEVICES_DIR, json: JSON_FLAG },
  },
  device: {
    name: 'profile device',
    summary: 'profile a device in one resumable run: its table, calibration and a short validation with the test-retest ceiling (--out DIR or --save)',
    usage: 'ofa profile device --device D --preset P --variant V (--out DIR | --save) [--subnets N] [--held-out N] [--sessions N] [--fresh]',
    flags: {
      device: DEVICE,
      'devices-dir': DEVICES_DIR,
      ...SPACE,
      out: { type: 'string', description: 'write the table, calibration, validation and the run record into folder DIR (resumed when they are there)', placeholder: 'DIR' },
      save: SAVE('{lut,calibration,validation,profiling}-<P>-<V>.json'),
      subnets: { type: 'int', description: 'calibration subnets', default: PROFILE_DEVICE_DEFAULTS.subnets, min: 3, max: 1000, placeholder: 'N' },
      'held-out': { type: 'int', description: 'held-out validation subnets (each measured twice: the ceiling)', default: PROFILE_DEVICE_DEFAULTS.heldOut, min: 2, max: 1000, placeholder: 'N' },
      seed: { type: 'int', description: 'seed of the calibration subnets (the held-out ones: seed + 1000)', default: PROFILE_DEVICE_DEFAULTS.seed, placeholder: 'S' },
      sessions: SESSIONS(PROFILE_DEVICE_DEFAULTS.sessions),
      runs: { type: 'int', description: 'minimum timed runs per block and per subnet', default: PROFILE_DEVICE_DEFAULTS.blockProtocol.minSamples, min: 1, max: 1_000_000, placeholder: 'N' },
      'block-time': { type: 'number', description: 'minimum sampling time per block in seconds', default: PROFILE_DEVICE_DEFAULTS.blockProtocol.minTimeMs / 1000, min: 0, max: 3600, placeholder: 'S' },
      'subnet-time': { type: 'number', description: 'minimum sampling time per subnet and session in seconds', default: PROFILE_DEVICE_DEFAULTS.subnetProtocol.minTimeMs / 1000, min: 0, max: 3600, placeholder: 'S' },
      warmup: { ...PROTOCOL.warmup, default: PROFILE_DEVICE_DEFAULTS.blockProtocol.warmupRuns },
      fresh: { type: 'boolean', description: 'measure all three anew (over files in the folder)' },
      quiet: QUIET,
      json: JSON_FLAG,
    },
    examples: ['ofa profile device --device cpu-1t --preset fashion --variant ee-d --out /tmp/cpu-1t', 'ofa profile device --device wasm-node --preset fashion --variant ofa --save'],
  },
};

export async function run(argv: string[]): Promise<number> {
  const call = parseGroup({ name: 'profile', summary: 'device profiles, latency measurement, lookup tables, latency predictor', commands: SPECS }, argv);
  if (typeof call === 'number') return call;
  const { command: sub, parsed } = call;
  switch (sub) {
    case 'devices':
      return devices(parsed.flags);
    case 'model':
      return model(parsed.positionals, parsed.flags);
    case 'lut':
      return lut(parsed.flags);
    case 'calibrate':
      return calibrate(parsed.flags);
    case 'validate':
      return validate(parsed.flags);
    case 'predict':
      return predict(parsed.positionals, parsed.flags);
    case 'device':
      return profileDeviceCommand(parsed.flags);
  }
  return 2;
}

function positiveInt(command: string, name: string, value: unknown, min = 1): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
    throw new OfaError('E_ARGS', `ofa profile ${command}: --${name} ${String(value)} is not valid; allowed: an integer >= ${min}`);
  }
  return value;
}

function seconds(command: string, name: string, value: unknown): number {
  if (typeof value !== 'number' || value < 0) throw new OfaError('E_ARGS', `ofa profile ${command}: --${name} ${String(value)} is not valid; allowed: a number of seconds >= 0`);
  return value;
}

function fraction(command: string, name: string, value: unknown): number {
  if (typeof value !== 'number' || !(value > 0)) throw new OfaError('E_ARGS', `ofa profile ${command}: --${name} ${String(value)} is not valid; allowed: a fraction > 0 (0.1 = 10%)`);
  return value;
}

function parseDims(values: unknown): Record<string, number> {
  const dims: Record<string, number> = {};
  for (const item of (values as string[] | undefined) ?? []) {
    const match = /^([^=]+)=(\d+)$/.exec(item);
    if (!match || Number(match[2]) < 1) {
      throw new OfaError('E_ARGS', `ofa profile model: --dim ${JSON.stringify(item)} is not valid; allowed: NAME=SIZE with SIZE a positive integer (e.g. batch=1)`);
    }
    dims[match[1]] = Number(match[2]);
  }
  return dims;
}

function devicesOptions(flags: ParsedFlags): { devicesDir: string } {
  return { devicesDir: flags['devices-dir'] as string };
}

/**
 * Where a measuring command writes: --out FILE, or --save (the device folder's `saved` path), never both;
 * undefined when neither was given.
 */
function destination(command: string, flags: ParsedFlags, saved: () => string): string | undefined {
  if (flags.out !== undefined && flags.save === true) {
    throw new OfaError('E_FLAG_CONFLICT', `ofa profile ${command}: --out and --save both given; allowed: one of them`, { hint: '--out FILE writes FILE, --save writes into the device folder' });
  }
  if (flags.out !== undefined) return resolve(flags.out as string);
  return flags.save === true ? saved() : undefined;
}

/** lut and calibrate produce only their file: they refuse to start (exit 2) before measuring anything without one. */
function requiredDestination(command: string, flags: ParsedFlags, saved: () => string): string {
  const file = destination(command, flags, saved);
  if (file === undefined) {
    throw new OfaError('E_ARGS', `ofa profile ${command}: no output given; allowed: --out FILE, or --save to write ${saved()}`, {
      hint: `measuring takes minutes and its result is the file: say where it goes (run \`ofa profile ${command} --help\`)`,
    });
  }
  return file;
}

async function devices(flags: ParsedFlags): Promise<number> {
  const { listDeviceNames, loadDevice, checkDevice } = await import('../profile/index.ts');
  const options = devicesOptions(flags);
  const { existsSync } = await import('node:fs');
  if (!existsSync(options.devicesDir)) {
    throw new OfaError('E_READ', `ofa profile devices: devices folder ${JSON.stringify(resolve(options.devicesDir))} does not exist`, {
      hint: "run from the checkout (its devices/ is the default) or pass --devices-dir DIR",
    });
  }
  const rows: { name: string; runtime?: string; executionProvider?: string; available: boolean; problem?: string; hint?: string }[] = [];
  // The hint says how a user makes the device start (e.g. which EP binaries to install).
  const problemOf = (error: unknown) => ({ problem: (error as Error).message, ...((error as { hint?: string }).hint ? { hint: (error as { hint: string }).hint } : {}) });
  for (const name of listDeviceNames(options)) {
    try {
      const device = loadDevice(name, options);
      try {
        await checkDevice(device);
        rows.push({ name, runtime: device.runtime, executionProvider: device.executionProvider, available: true });
      } catch (error) {
        rows.push({ name, runtime: device.runtime, executionProvider: device.executionProvider, available: false, ...problemOf(error) });
      }
    } catch (error) {
      rows.push({ name, available: false, ...problemOf(error) });
    }
  }
  if (flags.json) out(JSON.stringify(rows, null, 2));
  else {
    const width = Math.max(12, ...rows.map((row) => row.name.length));
    for (const row of rows) out(`${row.name.padEnd(width)} ${(row.runtime ?? '?').padEnd(17)} ${(row.executionProvider ?? '?').padEnd(8)} ${row.available ? 'available' : `unavailable: ${row.problem}${row.hint ? `\n${' '.repeat(width + 1)}hint: ${row.hint}` : ''}`}`);
  }
  return 0;
}

async function model(positionals: string[], flags: ParsedFlags): Promise<number> {
  if (positionals.length !== 1) throw new OfaError('E_ARGS', `ofa profile model: expected one FILE.onnx, got ${positionals.length}`, { hint: 'run `ofa profile model --help`' });
  const file = flags.out === undefined ? undefined : resolve(flags.out as string);
  const { loadDevice, readOnnxFile, measureModel, artifactTag } = await import('../profile/index.ts');
  const { writeJsonAtomic, assertParentExists } = await import('../lib/atomic.ts');
  if (file) assertParentExists(file, '--out');
  const device = loadDevice(flags.device as string, devicesOptions(flags));
  const { bytes, summary } = readOnnxFile(positionals[0]);
  const result = await measureModel(bytes, device, {
    minSamples: positiveInt('model', 'runs', flags.runs),
    minTimeMs: seconds('model', 'min-time', flags['min-time']) * 1000,
    warmupRuns: positiveInt('model', 'warmup', flags.warmup, 0),
    dims: parseDims(flags.dim),
    keepSamples: flags.raw === true,
  });
  const report = { ...artifactTag('measurement'), model: { file: positionals[0], ...summary }, ...result };
  if (file) writeJsonAtomic(file, report);
  if (flags.json) {
    out(JSON.stringify(report, null, 2));
    return 0;
  }
  const s = result.stats;
  out(
    [
      `model ${positionals[0]} (${(summary.bytes / 1024).toFixed(1)} KiB, ${summary.nodeCount} nodes) on ${device.name} (${result.runtime.version}, EP ${device.executionProvider})`,
      `inputs: ${result.inputs.map((i) => `${i.name} ${i.type}[${i.shape.join('x')}]`).join(', ')}`,
      `session creation ${result.sessionCreateMs.toFixed(2)} ms, first run ${result.firstRunMs.toFixed(3)} ms, ${result.protocol.warmupRuns} warm-up runs`,
      `${s.count} timed runs in ${(result.samplingMs / 1000).toFixed(2)} s: median ${s.medianMs.toFixed(4)} ms, p90 ${s.p90Ms.toFixed(4)} ms, p99 ${s.p99Ms.toFixed(4)} ms, MAD ${s.madMs.toFixed(4)} ms`,
      `host: ${result.host.cpuModel}, ${result.host.logicalCores} cores, node ${result.host.nodeVersion}, load ${result.host.loadAverage1m}`,
      ...(file ? [`written to ${file}`] : []),
    ].join('\n'),
  );
  return 0;
}

async function lut(flags: ParsedFlags): Promise<number> {
  const { loadDevice, buildTable, tablePath } = await import('../profile/index.ts');
  const options = devicesOptions(flags);
  const device = loadDevice(flags.device as string, options);
  const preset = flags.preset as string;
  const variant = flags.variant as string;
  const protocol = {
    minSamples: positiveInt('lut', 'runs', flags.runs),
    minTimeMs: seconds('lut', 'min-time', flags['min-time']) * 1000,
    warmupRuns: positiveInt('lut', 'warmup', flags.warmup, 0),
  };
  const file = requiredDestination('lut', flags, () => tablePath(device, preset, variant, options));
  const result = await buildTable({ device, preset, variant, protocol, file, fresh: flags.fresh === true, quiet: flags.quiet === true });
  if (flags.json) out(JSON.stringify({ file: result.file, entries: result.entries, measured: result.measured, skipped: result.skipped, seconds: result.seconds }, null, 2));
  else out(`table ${result.file}: ${result.entries} entries (${result.measured} measured now, ${result.skipped} already there) in ${result.seconds.toFixed(1)} s`);
  return 0;
}

function protocolOf(command: string, flags: ParsedFlags) {
  return {
    minSamples: positiveInt(command, 'runs', flags.runs),
    minTimeMs: seconds(command, 'min-time', flags['min-time']) * 1000,
    warmupRuns: positiveInt(command, 'warmup', flags.warmup, 0),
  };
}

/** " + 0.0123 ms * blocks" with the sign folded in. */
function term(value: number, unit: string): string {
  return ` ${value >= 0 ? '+' : '-'} ${Math.abs(value).toPrecision(3)} ${unit}`;
}

async function calibrate(flags: ParsedFlags): Promise<number> {
  const { loadDevice, calibrateDevice, calibrationPath } = await import('../profile/index.ts');
  const options = devicesOptions(flags);
  const device = loadDevice(flags.device as string, options);
  const preset = flags.preset as string;
  const variant = flags.variant as string;
  const run = {
    device,
    preset,
    variant,
    count: positiveInt('calibrate', 'subnets', flags.subnets, 3),
    seed: flags.seed as number,
    statistic: flags.statistic as (typeof LATENCY_STATISTICS)[number],
    maxDrift: fraction('calibrate', 'max-drift', flags['max-drift']),
    retries: positiveInt('calibrate', 'retries', flags.retries, 0),
    protocol: protocolOf('calibrate', flags),
    sessions: flags.sessions as number,
    blockTerms: flags['block-terms'] !== false,
    quiet: flags.quiet === true,
    devices: options,
  };
  const file = requiredDestination('calibrate', flags, () => calibrationPath(device, preset, variant, options));
  const result = await calibrateDevice({ ...run, out: file });
  if (flags.json) out(JSON.stringify(result, null, 2));
  else {
    const c = result.calibration;
    out(
      `calibration ${result.file}: latency = ${c.coefficients.scale.toFixed(4)} * tableSum${term(c.coefficients.perBlockMs, 'ms * blocks')}` +
        `${c.coefficients.perMegaMacMs === undefined ? '' : term(c.coefficients.perMegaMacMs, 'ms * MMACs')}${c.coefficients.perMegaParamMs === undefined ? '' : term(c.coefficients.perMegaParamMs, 'ms * Mparams')}${term(c.coefficients.offsetMs, 'ms')} ` +
        `(${c.statistic} latency; fit on ${c.subnets} subnets, seed ${c.seed}; in-sample MAPE ${(c.fit.mape * 100).toFixed(2)}%, raw-sum MAPE ${(c.fit.rawSumMape * 100).toFixed(2)}%)`,
    );
    out(blockTermsLine(c));
  }
  return 0;
}

async function validate(flags: ParsedFlags): Promise<number> {
  const { loadDevice, validatePredictor, validationPath } = await import('../profile/index.ts');
  const options = devicesOptions(flags);
  const device = loadDevice(flags.device as string, options);
  const preset = flags.preset as string;
  const variant = flags.variant as string;
  const run = {
    device,
    preset,
    variant,
    count: positiveInt('validate', 'subnets', flags.subnets, 2),
    seed: flags.seed as number,
    maxDrift: fraction('validate', 'max-drift', flags['max-drift']),
    retries: positiveInt('validate', 'retries', flags.retries, 0),
    protocol: protocolOf('validate', flags),
    sessions: flags.sessions as number,
    retest: flags.retest !== false,
    quiet: flags.quiet === true,
    devices: options,
  };
  const file = destination('validate', flags, () => validationPath(device, preset, variant, options));
  const result = await validatePredictor({ ...run, out: file });
  if (flags.json) out(JSON.stringify(result, null, 2));
  else out([...validationLines(device.name, result), ...(file ? [`written to ${file}`] : [])].join('\n'));
  return 0;
}

/** The report lines of a validation: its figures, the table sum's, the drift, and the test-retest ceiling. */
function validationLines(deviceName: string, result: ValidationResult): string[] {
  const q = result.quality;
  const percent = (share: number) => `${(share * 100).toFixed(1)}%`;
  return [
    `validation on ${deviceName}, ${result.preset}/${result.variant}: ${q.subnets} held-out subnets (seed ${result.seed}), ${result.statistic} latency measured ${result.measuredRangeMs.map((v) => v.toFixed(3)).join('..')} ms`,
    `within +-5%: ${percent(q.within5)}   within +-10%: ${percent(q.within10)}   MAPE ${(q.mape * 100).toFixed(2)}%   Spearman ${q.spearman.toFixed(4)}`,
    ...(result.retest
      ? [
          `test-retest ceiling (the same subnets measured again ${result.retest.secondsApart.toFixed(0)} s after the validation began): within +-5% of each other ${percent(result.retest.agreement.within5)}, ` +
            `within +-10% ${percent(result.retest.agreement.within10)}, Spearman ${result.retest.agreement.spearman.toFixed(4)}; the predictor against the retest: within +-10% ${percent(result.retest.predictor.within10)}, Spearman ${result.retest.predictor.spearman.toFixed(4)}`,
        ]
      : ['test-retest ceiling: not measured (--no-retest)']),
    `uncalibrated table sum: within +-10% ${percent(result.rawSum.within10)}, MAPE ${(result.rawSum.mape * 100).toFixed(2)}%, Spearman ${result.rawSum.spearman.toFixed(4)}`,
    `machine speed against the calibration's (speed reference re-measured in every chunk): x${result.drift.factors.map((f) => f.toFixed(3)).join(', x')} (passes per chunk: ${result.drift.passes.join(', ')}); ` +
      `predictions scaled by it: within +-5% ${percent(result.drift.quality.within5)}, within +-10% ${percent(result.drift.quality.within10)}, MAPE ${(result.drift.quality.mape * 100).toFixed(2)}%, Spearman ${result.drift.quality.spearman.toFixed(4)}`,
  ];
}

/** What the block terms of a calibration are: how many of each, and the rho the cross-validation chose. */
function blockTermsLine(c: Calibration): string {
  if (!c.terms) return `block terms: none (${c.fit?.cv ? `the cross-validation chose the five terms alone, rho 0` : 'five terms only'})`;
  const counts = (['block', 'group', 'pair'] as const).map((family) => `${Object.keys(c.terms![family]).length} ${family}`).join(', ');
  const fiveTerm = c.fit?.fiveTermMape === undefined ? '' : `; in-sample MAPE of the five terms alone ${(c.fit.fiveTermMape * 100).toFixed(2)}%`;
  return `block terms: ${counts} corrections, rho ${c.terms.rho} (cross-validated over ${c.fit?.cv?.errors.length ?? '?'} values)${fiveTerm}`;
}

async function profileDeviceCommand(flags: ParsedFlags): Promise<number> {
  const { loadDevice, profileDevice, profilingDir } = await import('../profile/index.ts');
  const options = devicesOptions(flags);
  const device = loadDevice(flags.device as string, options);
  const preset = flags.preset as string;
  const variant = flags.variant as string;
  const dir = requiredDestination('device', flags, () => profilingDir(device, options));
  const runs = positiveInt('device', 'runs', flags.runs);
  const warmupRuns = positiveInt('device', 'warmup', flags.warmup, 0);
  const result = await profileDevice({
    device,
    preset,
    variant,
    dir,
    settings: {
      blockProtocol: { warmupRuns, minSamples: runs, minTimeMs: seconds('device', 'block-time', flags['block-time']) * 1000 },
      subnetProtocol: { warmupRuns, minSamples: runs, minTimeMs: seconds('device', 'subnet-time', flags['subnet-time']) * 1000 },
      subnets: positiveInt('device', 'subnets', flags.subnets, 3),
      heldOut: positiveInt('device', 'held-out', flags['held-out'], 2),
      seed: flags.seed as number,
      sessions: positiveInt('device', 'sessions', flags.sessions),
    },
    fresh: flags.fresh === true,
    quiet: flags.quiet === true,
    devices: options,
  });
  if (flags.json) {
    out(JSON.stringify({ dir: result.dir, files: result.files, parts: result.parts, seconds: result.seconds, record: result.record, quality: result.validation?.quality, retest: result.validation?.retest }, null, 2));
    return 0;
  }
  out(
    [
      `profiled ${device.name} ${preset}/${variant} into ${result.dir} in ${result.seconds.toFixed(1)} s (this run; ${result.record.seconds.toFixed(1)} s over every run of it):`,
      ...result.parts.map((p) => `  ${p.part.padEnd(12)} ${p.skipped ? 'already done' : `${p.seconds.toFixed(1)} s (planned ${p.estimatedS.toFixed(0)} s)`}`),
      ...(result.validation ? validationLines(device.name, result.validation) : []),
    ].join('\n'),
  );
  return 0;
}

async function predict(positionals: string[], flags: ParsedFlags): Promise<number> {
  if (positionals.length !== 1) throw new OfaError('E_ARGS', `ofa profile predict: expected one CONFIG.json (or -), got ${positionals.length}`);
  // The predictor's own entry: no runtime is loaded to predict.
  const { loadDevice, loadPredictor } = await import('../profile/predict.ts');
  const { value, input } = readJsonInput(positionals[0], 'subnet config file', { code: 'E_CONFIG', hint: 'pass a subnet config (see `ofa space sample --json`)' });
  const config = validateConfig(value, { input });
  const options = devicesOptions(flags);
  const device = loadDevice(flags.device as string, options);
  const predictor = loadPredictor(device, config.preset, config.variant, options);
  const prediction = predictor.predict(config);
  if (flags.json) out(JSON.stringify(prediction, null, 2));
  else {
    out(`predicted ${prediction.latencyMs.toFixed(4)} ms (${prediction.statistic}) on ${device.name} (table sum ${prediction.tableSumMs.toFixed(4)} ms over ${prediction.blocks} blocks${prediction.calibrated ? '' : ', uncalibrated'})`);
    if (!prediction.calibrated) log('note: no calibration for this device and space yet: run `ofa profile calibrate --save`');
  }
  return 0;
}
