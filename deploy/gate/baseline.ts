// Baseline files (issue 15 item 2): for CI jobs that cannot keep the old model, the gate compares the
// candidate with a latency recorded earlier, through the speed reference. Two files carry such a record:
// - a previous gate result (`ofav2/gate-result`): its `record`, the candidate of that run;
// - a deploy.json (`ofav2/deploy`, issue 14): each entry of `deployments` that has a `gate` record (what
//   deploy/gate's recordBaseline() measures); an entry is picked by its `id` when the device has several.
// Everything is checked before anything is measured: a broken file, one without a record, or one measured
// on another device (or with other device settings) is bad input naming the file and the field.
import { existsSync, statSync } from 'node:fs';
import { OfaError, describeValue } from '../../lib/errors.ts';
import { readJsonFile } from '../../lib/json.ts';
import { faultsError, formatSchemaFault, parseWith, schemaFaults } from '../../lib/schema.ts';
import type { DeviceKnobs } from '../../profile/index.ts';
import { GATE_RESULT_FORMAT } from './result.ts';
import { GATE_BASELINE_RECORD_SCHEMA, type GateBaselineRecord } from './schema.ts';

export const DEPLOY_FORMAT = { format: 'ofav2/deploy', formatVersion: 1 } as const;

export { MIN_BASELINE_ROUNDS } from './schema.ts';

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

/** The faults of a record, each as `$.path: what is wrong (value)` (GATE_BASELINE_RECORD_SCHEMA). */
export function recordFaults(value: unknown, path: string): string[] {
  return schemaFaults(GATE_BASELINE_RECORD_SCHEMA, value).map((fault) => formatSchemaFault({ ...fault, path: fault.path.replace(/^\$/, path) }));
}

function checkedRecord(file: string, value: unknown, path: string): GateBaselineRecord {
  const faults = schemaFaults(GATE_BASELINE_RECORD_SCHEMA, value).map((fault) => ({ ...fault, path: fault.path.replace(/^\$/, path) }));
  if (faults.length > 0) throw faultsError('E_GATE_BASELINE', `baseline file ${JSON.stringify(file)}: its latency record`, faults, HINT);
  return parseWith(GATE_BASELINE_RECORD_SCHEMA, value, `baseline file ${JSON.stringify(file)}`, { code: 'E_GATE_BASELINE', hint: HINT });
}

/** Reads a baseline file (a gate result or a deploy.json); `entry` picks a deploy.json entry by id. */
export function readBaselineFile(file: string, options: { device: string; entry?: string }): BaselineFile {
  if (!existsSync(file) || !statSync(file).isFile()) throw new OfaError('E_READ', `baseline file ${JSON.stringify(file)} does not exist`, { hint: HINT });
  // The shared reader (lib/json.ts): size and depth limits, empty, binary or truncated files, named.
  const json = readJsonFile(file, `baseline file ${JSON.stringify(file)}`, { code: 'E_JSON', hint: HINT });
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
