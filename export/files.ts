// Reading configs and writing models: atomic writes, no half-written output, and errors that name the
// file, the bad value and what is allowed (style.md).
import { existsSync, readFileSync, statSync } from 'node:fs';
import { OfaError } from '../lib/errors.ts';
import { assertParentExists, writeFileAtomic } from '../lib/atomic.ts';
import { parseJson, validateConfig, type SubnetConfig } from '../space/index.ts';
import { encodeModel, type ModelProto } from './onnx.ts';

export function readTextFile(path: string, what: string): string {
  if (!existsSync(path) || !statSync(path).isFile()) {
    throw new OfaError('E_READ', `${what} ${JSON.stringify(path)} does not exist or is not a file`, { hint: 'check the path' });
  }
  return readFileSync(path, 'utf8');
}

/** One SubnetConfig from a JSON file, validated (unknown preset, bad values: E_CONFIG naming the file). */
export function readSubnetConfigFile(path: string): SubnetConfig {
  return validateConfig(parseJson(readTextFile(path, 'subnet config file'), path), { input: path });
}

/** A list of SubnetConfigs: a JSON array, or an object with a `subnets` array. All are validated first. */
export function readSubnetListFile(path: string): SubnetConfig[] {
  const value = parseJson(readTextFile(path, 'subnet list file'), path);
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

export function readModelBytes(path: string): Uint8Array {
  readTextFile(path, 'ONNX model');
  return new Uint8Array(readFileSync(path));
}
