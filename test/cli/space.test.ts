import test from 'ava';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const OFA = fileURLToPath(new URL('../../bin/ofa.js', import.meta.url));

function ofa(args: string[], input?: string) {
  const result = spawnSync(process.execPath, [OFA, ...args], { input, encoding: 'utf8' });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

test('space info --json: allowed values and the exact count (string beyond 2^53)', (t) => {
  const r = ofa(['space', 'info', '--preset', 'fashion', '--variant', 'ee-d', '--json']);
  t.is(r.code, 0, r.stderr);
  const info = JSON.parse(r.stdout);
  t.is(info.preset, 'fashion');
  t.is(info.variant, 'ee-d');
  t.deepEqual(info.dimensions, { resolution: [20, 24, 28, 32], exit: [1, 2, 3, 4, 5], depth: [2, 3, 4], kernel: [3, 5, 7], expand: [3, 4, 6] });
  let expected = 0n;
  for (let e = 1n; e <= 5n; e++) expected += 7371n ** e;
  t.is(info.subnetCount, (expected * 4n).toString());
  const small = JSON.parse(ofa(['space', 'info', '--preset', 'micro', '--variant', 'ofa', '--json']).stdout);
  t.is(typeof small.subnetCount, 'string'); // 7371^5 * 2 > 2^53 too
});

test('space sample: N canonical configs that validate, reproducible by seed', (t) => {
  const a = ofa(['space', 'sample', '--subnets', '5', '--seed', '3', '--json', '--variant', 'ee-d-p']);
  t.is(a.code, 0, a.stderr);
  const configs = JSON.parse(a.stdout);
  t.is(configs.length, 5);
  t.deepEqual(JSON.parse(ofa(['space', 'sample', '--subnets', '5', '--seed', '3', '--json', '--variant', 'ee-d-p']).stdout), configs);
  const v = ofa(['space', 'validate', '-'], a.stdout);
  t.is(v.code, 0, v.stderr);
  t.regex(v.stdout, /5 configs valid/);
  const min = JSON.parse(ofa(['space', 'sample', '--kind', 'min', '--json', '--variant', 'ofa']).stdout);
  t.is(min.resolution, 20);
  t.true(min.stages.every((s: any) => s.depth === 2));
  const uniform = JSON.parse(ofa(['space', 'sample', '--kind', 'uniform', '--kernel', '5', '--expand', '4', '--depth', '3', '--json']).stdout);
  t.true(uniform.stages.every((s: any) => s.depth === 3 && s.layers.every((l: any) => l.kernel === 5 && l.expand === 4)));
});

test('space validate: bad configs exit 2 with one line per fault naming path, value and allowed values', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ofa-cli-'));
  const good = JSON.parse(ofa(['space', 'sample', '--kind', 'max', '--json', '--variant', 'ee-p']).stdout);
  const bad = structuredClone(good);
  bad.stages[0].layers[1].kernel = 4;
  bad.stages[1].depth = 5;
  bad.stages[2].layers[0].branches = 8;
  const file = join(dir, 'bad.json');
  writeFileSync(file, JSON.stringify([good, bad]));
  const r = ofa(['space', 'validate', file]);
  t.is(r.code, 2);
  // Every line names the file first (issue 18), then the JSON path.
  const lines = r.stderr.trim().split('\n').map((l) => (t.true(l.startsWith(`${file}: `), l), l.slice(file.length + 2)));
  t.true(lines.some((l) => l.startsWith('$[1].stages[0].layers[1].kernel:') && /allowed: 3, 5, 7/.test(l) && /value 4/.test(l)));
  t.true(lines.some((l) => l.startsWith('$[1].stages[1].depth:') && /allowed: 2, 3, 4/.test(l)));
  t.true(lines.some((l) => l.startsWith('$[1].stages[2].layers[0].branches:') && /value 8/.test(l)));
  t.false(lines.some((l) => l.startsWith('$[0]')));

  const cases: [string, unknown, RegExp][] = [
    ['unknown preset', { ...good, preset: 'imagenet' }, /\$\.preset: .*"imagenet"/],
    ['exit on a variant without exits', { ...JSON.parse(ofa(['space', 'sample', '--kind', 'max', '--json', '--variant', 'ofa']).stdout), exit: 5 }, /\$\.exit: field "exit" is not allowed/],
    ['missing field', { preset: good.preset, variant: good.variant, exit: good.exit, stages: good.stages }, /\$\.resolution: missing field/],
    ['extra field', { ...good, width: 1 }, /\$\.width: unknown field/],
    ['branch mask 0', (() => { const c = structuredClone(good); c.stages[0].layers[0].branches = 0; return c; })(), /branches: branch mask 0 is not allowed; allowed: 1, 2, 3, 4, 5, 6, 7/],
  ];
  for (const [name, value, pattern] of cases) {
    const result = ofa(['space', 'validate', '-'], JSON.stringify(value));
    t.is(result.code, 2, name);
    t.regex(result.stderr, pattern, name);
  }
  // --preset / --variant require them: a valid ee-p config is refused for --variant ee-d.
  const wrongVariant = ofa(['space', 'validate', '-', '--preset', 'fashion', '--variant', 'ee-d'], JSON.stringify(good));
  t.is(wrongVariant.code, 2);
  t.regex(wrongVariant.stderr, /^standard input: \$\.variant: .*"ee-p".*allowed: "ee-d"/m);
  t.is(ofa(['space', 'validate', '-', '--preset', 'fashion', '--variant', 'ee-p'], JSON.stringify(good)).code, 0);
  const notJson = ofa(['space', 'validate', '-'], '{"preset": fashion');
  t.is(notJson.code, 2);
  t.regex(notJson.stderr, /standard input is not valid JSON/);
  const missing = ofa(['space', 'validate', join(dir, 'nope.json')]);
  t.is(missing.code, 2);
  t.regex(missing.stderr, /nope\.json does not exist/);
});

test('space stats --json: MACs and params over the samples plus min and max', (t) => {
  const r = ofa(['space', 'stats', '--subnets', '50', '--json', '--variant', 'ofa']);
  t.is(r.code, 0, r.stderr);
  const stats = JSON.parse(r.stdout);
  t.is(stats.samples, 52);
  t.is(stats.params.max, 1256250);
  t.true(stats.macs.min < stats.macs.median && stats.macs.median < stats.macs.max);
});

test('bad flags and commands: exit 2 with a clear message, --help everywhere', (t) => {
  const badPreset = ofa(['space', 'info', '--preset', 'imagenet']);
  t.is(badPreset.code, 2);
  t.regex(badPreset.stderr, /--preset "imagenet" is not valid; allowed: tiny-imagenet, fashion, micro/);
  t.is(ofa(['space', 'sample', '--subnets', 'x']).code, 2);
  t.is(ofa(['space', 'sample', '--bogus']).code, 2);
  t.is(ofa(['nope']).code, 2);
  t.is(ofa(['space', 'frobnicate']).code, 2);
  for (const sub of ['info', 'sample', 'validate', 'stats']) {
    const help = ofa(['space', sub, '--help']);
    t.is(help.code, 0);
    t.regex(help.stdout, /Usage: ofa space/);
  }
  t.regex(ofa(['--help']).stdout, /Commands:/);
});

test('a reader that closes the pipe early (`ofa ... | head`) ends the command quietly with exit 0', async (t) => {
  const { spawn } = await import('node:child_process');
  const child = spawn(process.execPath, [OFA, 'space', 'sample', '--subnets', '5000', '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk) => (stderr += chunk));
  // Read the first chunk, then close our end, as `head -c` does.
  await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
  child.stdout.destroy();
  const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
  t.is(code, 0, stderr);
  t.notRegex(stderr, /EPIPE|Unhandled/);
});
