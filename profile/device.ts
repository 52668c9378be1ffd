// Device profiles (pipeline.md "Device profile"): one JSON file per device in a devices folder (a
// parameter: `--devices-dir`, default ./devices), validated by the schema below. A user adds a device by
// adding one file; errors name the JSON path, the bad value and the allowed values. The allowed runtimes
// and execution providers are the registry's (profile/runtimes/index.ts). The measured tables live
// beside the file, in <devices>/<name>/.
import { existsSync, readdirSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { OfaError, describeValue } from '../lib/errors.ts';
import { readJsonFile } from '../lib/json.ts';
import { z } from '../lib/schema.ts';
import { RUNTIMES, RUNTIME_NAMES, findRuntime } from './runtimes/index.ts';
export const EXECUTION_MODES = ['sequential', 'parallel'] as const;
const DEVICE_NAME = /^[a-z0-9][a-z0-9._-]*$/;
export const GRAPH_OPTIMIZATION_LEVELS = ['disabled', 'basic', 'extended', 'all'] as const;

export interface SessionSettings {
  /** Intra-op thread pool size (onnxruntime-web: the wasm thread count). */
  intraOpNumThreads: number;
  interOpNumThreads: number;
  executionMode: (typeof EXECUTION_MODES)[number];
  graphOptimizationLevel: (typeof GRAPH_OPTIMIZATION_LEVELS)[number];
  /** The `session.intra_op.allow_spinning` config entry: pool threads busy-wait between ops. */
  allowSpinning: boolean;
}

export interface DeviceProfile {
  name: string;
  description: string;
  /** A registered runtime's name (profile/runtimes/index.ts). */
  runtime: string;
  executionProvider: string;
  /** Options handed to the execution provider as they are (e.g. {"deviceId": 0} for cuda). */
  executionProviderOptions: Record<string, string | number | boolean>;
  session: SessionSettings;
  batchSize: number;
  /** Latency budgets the search targets on this device, in milliseconds, ascending. */
  latencyBudgetsMs: number[];
  /** Where the profile was read from (absent for profiles built in code). */
  file?: string;
}

export interface DeviceFault {
  path: string;
  value: unknown;
  message: string;
}

// A small schema walker (the space/schema.ts one has no numbers, booleans or free-form maps).
type FieldRule = {
  required: boolean;
  check: (value: unknown, path: string, faults: DeviceFault[], root: Record<string, unknown>) => void;
};

function typeName(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value;
}

const choice = (what: string, allowed: (root: Record<string, unknown>) => readonly string[]): FieldRule['check'] =>
  (value, path, faults, root) => {
    const values = allowed(root);
    if (typeof value !== 'string' || !values.includes(value)) {
      faults.push({ path, value, message: `${what} must be one of ${values.map((v) => JSON.stringify(v)).join(', ')}` });
    }
  };

const integer = (what: string, min: number, max: number): FieldRule['check'] => (value, path, faults) => {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    faults.push({ path, value, message: `${what} must be an integer from ${min} to ${max}` });
  }
};

const text = (what: string, pattern?: RegExp, rule?: string): FieldRule['check'] => (value, path, faults) => {
  if (typeof value !== 'string' || value.length === 0) faults.push({ path, value, message: `${what} must be a non-empty string` });
  else if (pattern && !pattern.test(value)) faults.push({ path, value, message: `${what} must be ${rule}` });
};

const boolean = (what: string): FieldRule['check'] => (value, path, faults) => {
  if (typeof value !== 'boolean') faults.push({ path, value, message: `${what} must be true or false` });
};

function object(what: string, fields: Record<string, FieldRule>): FieldRule['check'] {
  return (value, path, faults, root) => {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      faults.push({ path, value, message: `${what} must be an object (got ${typeName(value)})` });
      return;
    }
    const record = value as Record<string, unknown>;
    for (const key of Object.keys(record)) {
      // Own keys only: `"__proto__" in fields` is true for every object.
      if (!Object.hasOwn(fields, key)) {
        faults.push({ path: `${path}.${key}`, value: record[key], message: `unknown field "${key}" in ${what}; allowed fields: ${Object.keys(fields).join(', ')}` });
      }
    }
    for (const [key, rule] of Object.entries(fields)) {
      if (!Object.hasOwn(record, key) || record[key] === undefined) {
        if (rule.required) faults.push({ path: `${path}.${key}`, value: undefined, message: `missing field "${key}" (required)` });
        continue;
      }
      rule.check(record[key], `${path}.${key}`, faults, root);
    }
  };
}

const required = (check: FieldRule['check']): FieldRule => ({ required: true, check });
const optional = (check: FieldRule['check']): FieldRule => ({ required: false, check });

const SESSION_RULES = {
  intraOpNumThreads: required(integer('intra-op thread count', 1, 256)),
  interOpNumThreads: required(integer('inter-op thread count', 1, 256)),
  executionMode: required(choice('execution mode', () => EXECUTION_MODES)),
  graphOptimizationLevel: required(choice('graph optimisation level', () => GRAPH_OPTIMIZATION_LEVELS)),
  allowSpinning: required(boolean('allowSpinning (session.intra_op.allow_spinning)')),
};

const DEVICE_RULES: Record<string, FieldRule> = {
  $schema: optional(text('$schema')),
  name: required(text('device name', DEVICE_NAME, 'lower-case letters, digits, ".", "_" or "-"')),
  description: required(text('description')),
  runtime: required(choice('runtime', () => RUNTIME_NAMES)),
  executionProvider: required(
    choice('execution provider', (root) =>
      (typeof root.runtime === 'string' ? findRuntime(root.runtime)?.executionProviders : undefined) ??
      [...new Set(RUNTIMES.flatMap((runtime) => runtime.executionProviders))],
    ),
  ),
  executionProviderOptions: optional((value, path, faults) => {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      faults.push({ path, value, message: 'executionProviderOptions must be an object of strings, numbers or booleans' });
      return;
    }
    for (const [key, item] of Object.entries(value)) {
      if (!['string', 'number', 'boolean'].includes(typeof item) || (typeof item === 'number' && !Number.isFinite(item))) {
        faults.push({ path: `${path}.${key}`, value: item, message: 'an execution provider option must be a string, number or boolean' });
      }
    }
  }),
  session: required(object('session', SESSION_RULES)),
  batchSize: required(integer('batch size', 1, 4096)),
  latencyBudgetsMs: required((value, path, faults) => {
    if (!Array.isArray(value) || value.length === 0) {
      faults.push({ path, value, message: 'latencyBudgetsMs must be a non-empty array of positive numbers (ms), ascending' });
      return;
    }
    value.forEach((item, i) => {
      if (typeof item !== 'number' || !Number.isFinite(item) || item <= 0 || item > 3_600_000) {
        faults.push({ path: `${path}[${i}]`, value: item, message: 'a latency budget must be a positive number of milliseconds, at most 3600000 (one hour)' });
      } else if (i > 0 && typeof value[i - 1] === 'number' && item <= value[i - 1]) {
        faults.push({ path: `${path}[${i}]`, value: item, message: `latency budgets must be strictly ascending (previous ${value[i - 1]})` });
      }
    });
  }),
};

/** Every fault of `value` as a device profile (empty when valid). */
export function findDeviceFaults(value: unknown): DeviceFault[] {
  const faults: DeviceFault[] = [];
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return [{ path: '$', value, message: `a device profile must be a JSON object (got ${typeName(value)})` }];
  }
  const root = value as Record<string, unknown>;
  const runtime = typeof root.runtime === 'string' ? findRuntime(root.runtime) : undefined;
  // Fields only the device's runtime takes (Runtime.deviceFields, e.g. chromium's `browser`): its deviceFaults checks them.
  const runtimeFields = Object.fromEntries((runtime?.deviceFields ?? []).map((field) => [field, optional(() => {})]));
  object('device profile', { ...DEVICE_RULES, ...runtimeFields })(value, '$', faults, root);
  if (runtime?.deviceFaults) faults.push(...runtime.deviceFaults(root));
  return faults;
}

export function formatDeviceFault(fault: DeviceFault): string {
  return `${fault.path}: ${fault.message}${fault.value === undefined ? '' : ` (value ${describeValue(fault.value)})`}`;
}

/** Validates a parsed device profile; throws one OfaError listing every fault. */
export function validateDevice(value: unknown, input = 'device profile'): DeviceProfile {
  const faults = findDeviceFaults(value);
  if (faults.length > 0) {
    throw Object.assign(
      new OfaError('E_DEVICE', `${input} is invalid:\n${faults.map((f) => `  ${formatDeviceFault(f)}`).join('\n')}`, {
        hint: "compare with the checkout's devices/cpu-1t.json; see `ofa profile devices`",
      }),
      { faults },
    );
  }
  const record = value as DeviceProfile;
  return { ...record, executionProviderOptions: record.executionProviderOptions ?? {} };
}

export interface DevicesOptions {
  /** The folder of device files (default: ./devices, resolved against the working directory). */
  devicesDir?: string;
}

export const DEFAULT_DEVICES_DIR = 'devices';

export function devicesDirOf(options: DevicesOptions = {}): string {
  return resolve(options.devicesDir ?? DEFAULT_DEVICES_DIR);
}

/** Reads a device by name (<devicesDir>/<name>.json) or by path to a JSON file. */
export function loadDevice(nameOrPath: string, options: DevicesOptions = {}): DeviceProfile {
  const devicesDir = devicesDirOf(options);
  const isPath = nameOrPath.endsWith('.json') || nameOrPath.includes('/');
  const file = isPath ? resolve(nameOrPath) : join(devicesDir, `${nameOrPath}.json`);
  if (!existsSync(file)) {
    const known = listDeviceNames({ devicesDir });
    throw new OfaError('E_DEVICE_UNKNOWN', `device ${JSON.stringify(nameOrPath)}: no file ${file}; known devices: ${known.join(', ') || '(none)'}`, {
      hint: `add a JSON file to ${devicesDir} (copy the checkout's devices/cpu-1t.json), pass a path to one, or choose the folder with --devices-dir`,
    });
  }
  // The shared reader (lib/json.ts): size and depth limits, binary or truncated files, named.
  const parsed = readJsonFile(file, `device file ${file}`, { code: 'E_DEVICE', hint: "compare with the checkout's devices/cpu-1t.json" });
  const device = validateDevice(parsed, `device file ${file}`);
  if (!isPath && device.name !== nameOrPath) {
    throw new OfaError('E_DEVICE', `device file ${file}: $.name ${JSON.stringify(device.name)} must equal the file name ${JSON.stringify(nameOrPath)}`, {
      hint: 'rename the file or the "name" field so that they agree',
    });
  }
  return { ...device, file };
}

export function listDeviceNames(options: DevicesOptions = {}): string[] {
  const devicesDir = devicesDirOf(options);
  if (!existsSync(devicesDir)) return [];
  return readdirSync(devicesDir)
    .filter((f) => f.endsWith('.json') && !f.startsWith('.'))
    .map((f) => basename(f, '.json'))
    .sort();
}

/**
 * The folder holding a device's measured tables and calibrations: <folder of its file>/<name>/; for a
 * profile built in code (no file), <devicesDir>/<name>/.
 */
export function deviceDataDir(device: DeviceProfile, options: DevicesOptions = {}): string {
  return join(device.file ? dirname(device.file) : devicesDirOf(options), device.name);
}

/** The device's settings that change a measurement (recorded with every table and measurement). */
export type DeviceKnobs = Omit<DeviceProfile, 'file' | 'description' | 'latencyBudgetsMs'>;

/**
 * The knobs as a table or a gate result records them, for their readers' schemas. The device file itself
 * keeps its hand-written validator above (its messages name each setting in words); this schema is
 * checked against the same DeviceProfile type, so the two cannot drift apart.
 */
export const DEVICE_KNOBS_SCHEMA: z.ZodType<DeviceKnobs> = z.strictObject({
  name: z.string().regex(DEVICE_NAME),
  runtime: z.string().min(1),
  executionProvider: z.string().min(1),
  executionProviderOptions: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])),
  session: z.strictObject({
    intraOpNumThreads: z.int().min(1).max(256),
    interOpNumThreads: z.int().min(1).max(256),
    executionMode: z.enum(EXECUTION_MODES),
    graphOptimizationLevel: z.enum(GRAPH_OPTIMIZATION_LEVELS),
    allowSpinning: z.boolean(),
  }),
  batchSize: z.int().min(1).max(4096),
});

export function deviceKnobs(device: DeviceProfile): DeviceKnobs {
  return {
    name: device.name,
    runtime: device.runtime,
    executionProvider: device.executionProvider,
    executionProviderOptions: device.executionProviderOptions ?? {},
    session: { ...device.session },
    batchSize: device.batchSize,
  };
}
