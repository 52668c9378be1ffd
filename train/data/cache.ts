// Where converted data sets live. One folder for all of them, chosen by (first wins): the loader's
// `cacheDir` option (the CLI's --cache-dir), the OFA_CACHE_DIR environment variable, or
// `.cache/ofav2/` in the working folder. Nothing in it is precious: a missing or corrupt file is rebuilt
// from its source.
import { createHash } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';

export const DEFAULT_CACHE_DIR = join('.cache', 'ofav2');

export function resolveCacheDir(cacheDir?: string): string {
  const dir = resolve(cacheDir ?? process.env.OFA_CACHE_DIR ?? DEFAULT_CACHE_DIR);
  mkdirSync(dir, { recursive: true });
  return dir;
}

export function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Where a loader reports what it does (building a cache, rebuilding a corrupt one). */
export type DataLog = (message: string) => void;

export const stderrLog: DataLog = (message) => process.stderr.write(`${message}\n`);
