// Atomic writes (lib/atomic.ts) leave nothing a later run trips over: a process killed between writing
// its temp sibling and the rename leaves `.<name>.<pid>.<hex>.tmp`; the next write of that file removes
// it (issue 18). The temp files of live processes, and of other files, are left alone.
import test from 'ava';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeFileAtomic } from '../../lib/atomic.ts';

function tempDir(t: import('ava').ExecutionContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'ofa-atomic-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test('the next write removes the temp siblings dead processes left, and only those', (t) => {
  const dir = tempDir(t);
  const dead = join(dir, '.table.json.999999.deadbeef.tmp');
  const mine = join(dir, `.table.json.${process.pid}.cafe.tmp`);
  const parent = join(dir, `.table.json.${process.ppid}.cafe.tmp`);
  const other = join(dir, '.other.json.999999.deadbeef.tmp');
  for (const file of [dead, mine, parent, other]) writeFileSync(file, 'half');
  writeFileAtomic(join(dir, 'table.json'), '{"ok": true}');
  t.false(existsSync(dead));
  t.true(existsSync(mine) && existsSync(parent), 'live processes keep theirs');
  t.true(existsSync(other), "another file's temp is that file's business");
  t.is(readFileSync(join(dir, 'table.json'), 'utf8'), '{"ok": true}');
});

test('a real SIGKILL between write and rename: the leftover is removed by the next write', async (t) => {
  const dir = tempDir(t);
  const target = join(dir, 'big.json');
  const module = fileURLToPath(new URL('../../lib/atomic.ts', import.meta.url));
  const script = join(dir, 'writer.ts');
  // Writes a 32 MB file atomically over and over until killed.
  writeFileSync(script, `import { writeFileAtomic } from ${JSON.stringify(module)};\nconst data = new Uint8Array(32 * 2 ** 20).fill(32);\nfor (;;) writeFileAtomic(${JSON.stringify(target)}, data);\n`);
  let leftover: string[] = [];
  for (let attempt = 0; attempt < 20 && leftover.length === 0; attempt++) {
    const child = spawn(process.execPath, ['--import', 'tsx', script], { stdio: 'ignore' });
    await new Promise<void>((resolve) => {
      const poll = setInterval(() => {
        if (readdirSync(dir).some((name) => name.endsWith('.tmp'))) {
          child.kill('SIGKILL');
          clearInterval(poll);
        }
      }, 1);
      child.on('exit', () => {
        clearInterval(poll);
        resolve();
      });
    });
    leftover = readdirSync(dir).filter((name) => name.endsWith('.tmp'));
  }
  t.true(leftover.length > 0, 'a kill landed between the write and the rename');
  writeFileAtomic(target, '{}');
  t.deepEqual(readdirSync(dir).filter((name) => name.endsWith('.tmp')), []);
  t.is(readFileSync(target, 'utf8'), '{}');
});
