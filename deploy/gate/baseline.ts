// Baseline files (issue 15 item 2): for CI jobs that cannot keep the old model, the gate compares the
// candidate with a latency recorded earlier, through the speed reference. Two files carry such a record:
// - a previous gate result (`ofav2/gate-result`): its `record`, the candidate of that run;
// - a deploy.json (`ofav2/deploy`, issue 14): each entry of `deployments` that has a `gate` record (what
//   deploy/gate's recordBaseline() measures); an entry is picked by its `id` when the device has several.
// Everything is checked before anything is measured: a broken file, one without a record, or one measured
// on another device (or with other device settings) is bad input naming the file and the field.
import { readFileSync, existsSync, statSync } from 'node:fs';
import { OfaError, describeValue } from '../../lib/errors.ts';
import type { DeviceKnobs } from '../../profile/index.ts';
import { GATE_RESULT_FORMAT, VISIT_STATISTICS, type GateBaselineRecord } from './result.ts';

export const DEPLOY_FORMAT = { format: 'ofav2/deploy', formatVersion: 1 } as const;

/** The fewest recorded rounds a baseline must have (the rank-sum bounds need a few). */
export const MIN_BASELINE_ROUNDS = 10;

export interface BaselineFile {
  file: string;
  source: 'ofav2/gate-result' | 'ofav2/deploy';
  entry?: string;
  record: GateBaselineRecord;
}

const HINT = 'pass the JSON written by an earlier `ofa gate ... --out FILE` (A/B mode with the speed reference, the default) or a deploy.json whose entries carry a gate record';

function broken(file: string, why: string): OfaError {
  return new OfaError('E_GATE_BASELINE', `baseline file ${JSON.stringify(file)}: ${why}`, { hint: HINT });
}

type Json = Record<string, unknown>;
const isObject = (value: unknown): value is Json => typeof value === 'object' && value !== null && !Array.isArray(value);

/** The faults of a record, each as `$.path: what is wrong (value)`. */
export function recordFaults(value: unknown, path: string): string[] {
  const faults: string[] = [];
  const fault = (at: string, what: string, found: unknown) => faults.push(`${at}: ${what} (value ${describeValue(found)})`);
  if (!isObject(value)) return [`${path}: must be an object (value ${describeValue(value)})`];
  const object = (key: string, parent: Json = value, at = path): Json | undefined => {
    const child = parent[key];
    if (!isObject(child)) fault(`${at}.${key}`, 'must be an object', child);
    return isObject(child) ? child : undefined;
  };
  const text = (parent: Json | undefined, key: string, at: string) => {
    if (parent && (typeof parent[key] !== 'string' || parent[key] === '')) fault(`${at}.${key}`, 'must be a non-empty string', parent[key]);
  };
  const device = object('device');
  text(device, 'name', `${path}.device`);
  text(device, 'runtime', `${path}.device`);
  text(device, 'executionProvider', `${path}.device`);
  if (device) object('session', device, `${path}.device`);
  const runtime = object('runtime');
  text(runtime, 'version', `${path}.runtime`);
  object('host');
  const model = object('model');
  text(model, 'sha256', `${path}.model`);
  if (model && !Array.isArray(model.inputs)) fault(`${path}.model.inputs`, 'must be a list of inputs', model.inputs);
  else if (model) {
    (model.inputs as unknown[]).forEach((input, i) => {
      const at = `${path}.model.inputs[${i}]`;
      if (!isObject(input) || typeof input.name !== 'string' || typeof input.type !== 'string' || !Array.isArray(input.dims) || !input.dims.every((d) => Number.isInteger(d) && d > 0)) {
        fault(at, 'must be {name, type, dims: positive integers}', input);
      }
    });
  }
  const reference = object('reference');
  for (const key of ['preset', 'variant', 'configId', 'sha256']) text(reference, key, `${path}.reference`);
  if (reference && !Number.isInteger(reference.seed)) fault(`${path}.reference.seed`, 'must be an integer', reference.seed);
  if (!(VISIT_STATISTICS as readonly unknown[]).includes(value.statistic)) fault(`${path}.statistic`, `must be one of ${VISIT_STATISTICS.join(', ')}`, value.statistic);
  if (!Number.isInteger(value.runsPerVisit) || (value.runsPerVisit as number) < 1) fault(`${path}.runsPerVisit`, 'must be an integer >= 1', value.runsPerVisit);
  const ratios = value.logRatios;
  if (!Array.isArray(ratios) || !ratios.every((r) => typeof r === 'number' && Number.isFinite(r))) fault(`${path}.logRatios`, 'must be a list of finite numbers', ratios);
  else if (ratios.length < MIN_BASELINE_ROUNDS) fault(`${path}.logRatios`, `must hold at least ${MIN_BASELINE_ROUNDS} rounds`, ratios.length);
  for (const key of ['ratio', 'medianMs', 'referenceMedianMs']) {
    if (typeof value[key] !== 'number' || !Number.isFinite(value[key])) fault(`${path}.${key}`, 'must be a finite number', value[key]);
  }
  return faults;
}

function checkedRecord(file: string, value: unknown, path: string): GateBaselineRecord {
  const faults = recordFaults(value, path);
  if (faults.length > 0) throw broken(file, `its latency record is not valid: ${faults.join('; ')}`);
  return value as GateBaselineRecord;
}

/** Reads a baseline file (a gate result or a deploy.json); `entry` picks a deploy.json entry by id. */
export function readBaselineFile(file: string, options: { device: string; entry?: string }): BaselineFile {
  if (!existsSync(file) || !statSync(file).isFile()) throw new OfaError('E_READ', `baseline file ${JSON.stringify(file)} does not exist`, { hint: HINT });
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new OfaError('E_JSON', `baseline file ${JSON.stringify(file)} is not valid JSON: ${(error as Error).message}`, { hint: HINT });
  }
  if (!isObject(json)) throw broken(file, `is not a JSON object (value ${describeValue(json)})`);
  const tag = `${String(json.format)} v${String(json.formatVersion)}`;
  if (json.format === GATE_RESULT_FORMAT.format && json.formatVersion === GATE_RESULT_FORMAT.formatVersion) {
    if (options.entry !== undefined) throw new OfaError('E_FLAG_CONFLICT', `--entry ${JSON.stringify(options.entry)}: baseline file ${JSON.stringify(file)} is a gate result, which has one record; --entry picks an entry of a deploy.json`);
    if (json.record === null || json.record === undefined) {
      throw broken(file, 'is a gate result without a record (its run measured no speed reference: it was run with --no-reference)');
    }
    return { file, source: GATE_RESULT_FORMAT.format, record: checkedRecord(file, json.record, '$.record') };
  }
  if (json.format === DEPLOY_FORMAT.format && json.formatVersion === DEPLOY_FORMAT.formatVersion) return deployEntry(file, json, options);
  throw new OfaError('E_ARTIFACT_FORMAT', `baseline file ${JSON.stringify(file)} has format ${tag}; expected "format": "${GATE_RESULT_FORMAT.format}" or "${DEPLOY_FORMAT.format}", "formatVersion": 1`, { hint: HINT });
}

function deployEntry(file: string, json: Json, options: { device: string; entry?: string }): BaselineFile {
  if (!Array.isArray(json.deployments)) throw broken(file, `$.deployments must be a list (value ${describeValue(json.deployments)})`);
  const entries = (json.deployments as unknown[]).map((value, index) => ({ value, index, id: isObject(value) && typeof value.id === 'string' ? value.id : `#${index}` }));
  const withRecord = entries.filter((e) => isObject(e.value) && e.value.gate !== undefined);
  const forDevice = withRecord.filter((e) => isObject((e.value as Json).gate) && isObject(((e.value as Json).gate as Json).device) && (((e.value as Json).gate as Json).device as Json).name === options.device);
  if (options.entry !== undefined) {
    const picked = entries.find((e) => e.id === options.entry);
    if (!picked) throw broken(file, `has no entry with id ${JSON.stringify(options.entry)}; its entries: ${entries.map((e) => e.id).join(', ') || '(none)'}`);
    if (!isObject(picked.value) || picked.value.gate === undefined) throw broken(file, `entry ${JSON.stringify(options.entry)} has no gate record`);
    return { file, source: DEPLOY_FORMAT.format, entry: picked.id, record: checkedRecord(file, picked.value.gate, `$.deployments[${picked.index}].gate`) };
  }
  if (forDevice.length === 0) {
    const devices = [...new Set(withRecord.map((e) => String((((e.value as Json).gate as Json)?.device as Json | undefined)?.name)))];
    throw new OfaError('E_GATE_BASELINE_DEVICE', `baseline file ${JSON.stringify(file)} has no gate record for device ${JSON.stringify(options.device)}; it has records for: ${devices.join(', ') || '(none)'}`, {
      hint: 'run the gate on the device the baseline was measured on, or record a baseline on this one',
    });
  }
  if (forDevice.length > 1) {
    throw new OfaError('E_FLAG_CONFLICT', `baseline file ${JSON.stringify(file)} has ${forDevice.length} gate records for device ${JSON.stringify(options.device)} (${forDevice.map((e) => e.id).join(', ')}); pick one with --entry ID`);
  }
  const [only] = forDevice;
  return { file, source: DEPLOY_FORMAT.format, entry: only.id, record: checkedRecord(file, (only.value as Json).gate, `$.deployments[${only.index}].gate`) };
}

/**
 * Refuses a record measured on another device, or with other settings of the same device (threads,
 * optimisation level, EP, batch size): the comparison would measure the settings, not the model. A new
 * runtime version is allowed (it is one of the things the gate exists to catch) and reported.
 */
export function checkBaselineDevice(baseline: BaselineFile, device: DeviceKnobs): void {
  const recorded = baseline.record.device;
  if (recorded.name !== device.name) {
    throw new OfaError('E_GATE_BASELINE_DEVICE', `baseline file ${JSON.stringify(baseline.file)} was measured on device ${JSON.stringify(recorded.name)}; --device is ${JSON.stringify(device.name)}`, {
      hint: `run the gate with --device ${recorded.name}, or record a baseline on ${device.name}`,
    });
  }
  const differences: string[] = [];
  const compare = (path: string, a: unknown, b: unknown) => {
    if (JSON.stringify(a) !== JSON.stringify(b)) differences.push(`${path} ${describeValue(a)} (now ${describeValue(b)})`);
  };
  compare('runtime', recorded.runtime, device.runtime);
  compare('executionProvider', recorded.executionProvider, device.executionProvider);
  compare('executionProviderOptions', recorded.executionProviderOptions ?? {}, device.executionProviderOptions ?? {});
  compare('batchSize', recorded.batchSize, device.batchSize);
  for (const key of Object.keys({ ...recorded.session, ...device.session }).sort()) {
    compare(`session.${key}`, (recorded.session as unknown as Json)[key], (device.session as unknown as Json)[key]);
  }
  if (differences.length > 0) {
    throw new OfaError('E_GATE_BASELINE_DEVICE', `baseline file ${JSON.stringify(baseline.file)} was measured on device ${device.name} with other settings: ${differences.join(', ')}`, {
      hint: 'record a new baseline with the device file as it is now',
    });
  }
}
