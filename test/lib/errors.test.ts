// The error-code catalogue (lib/error-codes.ts): one place, each code with its kind and exit code;
// OfaError takes its kind from it; every code thrown in the repository is catalogued and every
// catalogued code is thrown somewhere.
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ERROR_CODES, EXIT_CODES, OfaError, exitCodeOf, isErrorCode, isOfaError, type ErrorCode } from '../../lib/errors.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const CODES = Object.keys(ERROR_CODES) as ErrorCode[];

test('every code is E_UPPER_SNAKE, has a meaning, and its exit code is its kind\'s (2 bad input, 1 failure)', (t) => {
  t.deepEqual(EXIT_CODES, { 'bad-input': 2, failure: 1 });
  for (const code of CODES) {
    const entry = ERROR_CODES[code];
    t.regex(code, /^E_[A-Z0-9]+(_[A-Z0-9]+)*$/);
    t.true(entry.meaning.length > 10, code);
    t.is(entry.exitCode, EXIT_CODES[entry.kind], code);
    t.is(exitCodeOf(code), entry.exitCode);
  }
  t.true(isErrorCode('E_ARGS'));
  t.false(isErrorCode('E_FLAG'), 'E_FLAG was merged into E_ARGS');
  t.false(isErrorCode('ENOENT'));
  t.false(isErrorCode('toString'));
});

test('OfaError takes its kind from the catalogue; a code outside it or a contradicting kind does not compile', (t) => {
  const input = new OfaError('E_ARGS', 'ofa x: unknown flag "--nope"', { hint: 'run `ofa x --help`' });
  t.is(input.kind, 'bad-input');
  t.is(input.hint, 'run `ofa x --help`');
  const failure = new OfaError('E_CHECKPOINT_WRITE', 'disk full', { kind: 'failure', cause: new Error('inner') });
  t.is(failure.kind, 'failure');
  t.is((failure.cause as Error).message, 'inner');
  t.true(isOfaError(failure));
  // Compile-time checks: npm run typecheck fails if a line below compiles (its directive then has no
  // error to expect). At run time an uncatalogued code (plain JS, a cast) counts as a failure.
  const uncatalogued = () =>
    // @ts-expect-error: not a catalogued code
    new OfaError('E_NOT_A_CODE', 'x');
  // @ts-expect-error: E_ARGS is a bad-input code
  const contradicting = () => new OfaError('E_ARGS', 'x', { kind: 'failure' });
  t.is(uncatalogued().kind, 'failure');
  t.is(exitCodeOf(uncatalogued().code), 1);
  t.is(contradicting().kind, 'bad-input');
});

/** Every code literal passed to `new OfaError(` in the repository's source (tests and node_modules aside). */
function thrownCodes(): Map<string, string[]> {
  const files = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', '*.ts', '*.js'], { cwd: ROOT, encoding: 'utf8' })
    .split('\n')
    .filter((f) => f && !f.startsWith('test/'));
  const found = new Map<string, string[]>();
  for (const file of files) {
    let text: string;
    try {
      text = readFileSync(`${ROOT}/${file}`, 'utf8');
    } catch {
      continue; // listed but deleted in the working tree
    }
    for (const match of text.matchAll(/new OfaError\(\s*['"`]([^'"`]+)['"`]/g)) found.set(match[1], [...(found.get(match[1]) ?? []), file]);
    // Codes handed to the shared readers (lib/json.ts, lib/schema.ts), which throw them: `{ code: 'E_X' }`,
    // and a reader's default (`source.code ?? 'E_X'`).
    for (const match of text.matchAll(/(?:\bcode:|\?\?)\s*['"`](E_[A-Z0-9_]+)['"`]/g)) found.set(match[1], [...(found.get(match[1]) ?? []), file]);
  }
  return found;
}

test('every code thrown in the source is catalogued, and every catalogued code is thrown somewhere', (t) => {
  const thrown = thrownCodes();
  const unknown = [...thrown.keys()].filter((code) => !isErrorCode(code));
  t.deepEqual(unknown, [], `not in lib/error-codes.ts: ${unknown.map((c) => `${c} (${thrown.get(c)!.join(', ')})`).join('; ')}`);
  // E_PARALLEL_WORKER is also the fallback code of a forwarded worker error.
  const unused = CODES.filter((code) => !thrown.has(code));
  t.deepEqual(unused, [], 'catalogued codes no source file throws: remove them from lib/error-codes.ts');
});

test('the CLI maps a code to its exit code and prints the code, message and hint without a stack trace', async (t) => {
  const { main } = await import('../../cli/main.ts');
  const lines: string[] = [];
  const write = process.stderr.write.bind(process.stderr);
  process.stderr.write = ((chunk: string | Uint8Array) => (lines.push(String(chunk)), true)) as typeof process.stderr.write;
  try {
    t.is(await main(['nope']), 2);
    t.is(await main(['space', 'info', '--nope']), 2);
  } finally {
    process.stderr.write = write;
  }
  t.regex(lines[0], /^error \[E_COMMAND\]: ofa: unknown command "nope"; allowed: space, train, eval, export, profile, gate, search, deploy, report\nhint: run `ofa --help`/);
  t.regex(lines[1], /^error \[E_ARGS\]: ofa space info: unknown flag "--nope" \(allowed: --preset, --variant, --json\)/);
  t.false(lines.join('').includes('    at '));
});
