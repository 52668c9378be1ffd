// Atomic file writes: write to a temporary sibling, fsync, then rename over the target, so that a
// reader (or a crash) never sees a half-written file.
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readdirSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
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

/** Whether a process with this pid exists (EPERM: it does, owned by another user). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Removes the temp siblings of `path` that killed processes left (a SIGKILL between the write and the
 * rename): the next write of the same file cleans up after the last one, so nothing accumulates.
 */
export function removeStaleTemps(path: string): string[] {
  const parent = dirname(path);
  const prefix = `.${basename(path)}.`;
  const removed: string[] = [];
  let names: string[];
  try {
    names = readdirSync(parent);
  } catch {
    return removed;
  }
  for (const name of names) {
    if (!name.startsWith(prefix)) continue;
    const match = /^\.(\d+)\.[0-9a-f]+\.tmp$/.exec(name.slice(prefix.length - 1));
    if (!match || Number(match[1]) === process.pid || processAlive(Number(match[1]))) continue;
    rmSync(join(parent, name), { force: true });
    removed.push(join(parent, name));
  }
  return removed;
}

export function writeFileAtomic(path: string, data: string | Uint8Array, options: AtomicWriteOptions = {}): void {
  const parent = dirname(path);
  if (options.createParents) mkdirSync(parent, { recursive: true });
  else assertParentExists(path);
  removeStaleTemps(path);
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
