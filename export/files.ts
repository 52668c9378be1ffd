// Reading configs and writing models: atomic writes, no half-written output, and errors that name the
// file, the bad value and what is allowed (style.md).
import { OfaError } from '../lib/errors.ts';
import { assertParentExists, writeFileAtomic } from '../lib/atomic.ts';
import { readInputBytes, readJsonFile } from '../lib/json.ts';
import { validateConfig, type SubnetConfig } from '../space/index.ts';
import { encodeModel, type ModelProto } from './onnx.ts';

const CONFIG_SOURCE = { code: 'E_CONFIG', hint: 'pass a subnet config (see `ofa space sample --json`)' } as const;

/** One SubnetConfig from a JSON file, validated (unknown preset, bad values: E_CONFIG naming the file). */
export function readSubnetConfigFile(path: string): SubnetConfig {
  const input = `subnet config file ${path}`;
  return validateConfig(readJsonFile(path, input, CONFIG_SOURCE), { input });
}

/** A list of SubnetConfigs: a JSON array, or an object with a `subnets` array. All are validated first. */
export function readSubnetListFile(path: string): SubnetConfig[] {
  const value = readJsonFile(path, `subnet list file ${path}`, CONFIG_SOURCE);
  const list = Array.isArray(value) ? value : (value as { subnets?: unknown })?.subnets;
  if (!Array.isArray(list) || list.length === 0) {
    throw new OfaError('E_CONFIG', `subnet list file ${JSON.stringify(path)} must hold a non-empty JSON array of subnet configs (or {"subnets": [...]})`, {
      hint: 'for a single config use --subnet',
    });
  }
  return list.map((item, i) => validateConfig(item, { input: `${path}[${i}]` }));
}

/** Writes an ONNX model atomically; a missing folder is refused before anything is written. */
export function writeModel(path: string, model: ModelProto): number {
  assertParentExists(path, 'ONNX output path');
  const bytes = encodeModel(model);
  writeFileAtomic(path, bytes);
  return bytes.length;
}

/** An ONNX file's bytes (a folder or a missing path is refused, naming it; at most 2 GiB, protobuf's limit). */
export function readModelBytes(path: string): Uint8Array {
  return readInputBytes(path, `ONNX model ${path}`, { code: 'E_READ', maxBytes: 2 ** 31, hint: 'pass the path of an .onnx file' });
}
