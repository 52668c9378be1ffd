// Atomic file writes: write to a temporary sibling, fsync, then rename over the target, so that a
// reader (or a crash) never sees a half-written file.
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { dirname, basename, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { OfaError } from './errors.ts';

export interface AtomicWriteOptions {
  /** Create missing parent folders (default false: a missing folder is a user mistake). */
  createParents?: boolean;
}

export function assertParentExists(path: string, what = 'output path'): void {
  const parent = dirname(path);
  if (!existsSync(parent) || !statSync(parent).isDirectory()) {
    throw new OfaError('E_OUTPUT_DIR', `${what} ${JSON.stringify(path)}: folder ${JSON.stringify(parent)} does not exist`, {
      hint: 'create the folder first or choose another path',
    });
  }
}

export function writeFileAtomic(path: string, data: string | Uint8Array, options: AtomicWriteOptions = {}): void {
  const parent = dirname(path);
  if (options.createParents) mkdirSync(parent, { recursive: true });
  else assertParentExists(path);
  const temp = join(parent, `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  const fd = openSync(temp, 'w');
  try {
    let offset = 0;
    while (offset < bytes.length) offset += writeSync(fd, bytes, offset, bytes.length - offset);
    fsyncSync(fd);
  } catch (error) {
    closeSync(fd);
    rmSync(temp, { force: true });
    throw error;
  }
  closeSync(fd);
  try {
    renameSync(temp, path);
  } catch (error) {
    rmSync(temp, { force: true });
    throw error;
  }
}

export function writeJsonAtomic(path: string, value: unknown, options: AtomicWriteOptions = {}): void {
  writeFileAtomic(path, `${JSON.stringify(value, null, 2)}\n`, options);
}
