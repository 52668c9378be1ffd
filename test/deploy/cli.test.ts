// `ofa deploy` as a user runs it (own process, exit codes, messages) for the inputs it refuses before
// loading anything heavy. The deploy itself runs end to end in test/deploy/deploy.test.ts (micro has no
// data set, so the command cannot run it on micro; the API takes the data injected).
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { microCheckpoint, removeTempDirs, tempDir } from './fixtures.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const OFA = join(ROOT, 'bin', 'ofa.js');
const ofa = (args: string[]) => spawnSync(process.execPath, [OFA, 'deploy', ...args], { cwd: tempDir('ofa-deploy-cli-'), encoding: 'utf8', timeout: 2 * 60 * 1000 });

test.after.always(removeTempDirs);

test('--help lists the flags; missing and bad flags are bad input (exit 2)', (t) => {
  const help = ofa(['--help']);
  t.is(help.status, 0);
  for (const flag of ['--checkpoint', '--predictor', '--devices', '--budgets-ms', '--out', '--json']) t.true(help.stdout.includes(flag), flag);
  // No flags: the shipped supernet, relative to the working folder (here a temp folder without it).
  const missing = ofa([]);
  t.is(missing.status, 2);
  t.regex(missing.stderr, /E_ARGS.*the supernet folder "supernets\/fashion-ee-d" has no predictor\.json/);
  t.regex(missing.stderr, /run from the checkout's root/);
  const budget = ofa(['--checkpoint', 'x', '--predictor', 'p.json', '--budgets-ms', '0.5,-1']);
  t.is(budget.status, 2);
  t.regex(budget.stderr, /E_ARGS.*--budgets-ms "-1" is not valid/);
  const rounds = ofa(['--checkpoint', 'x', '--predictor', 'p.json', '--gate-rounds', '2']);
  t.is(rounds.status, 2);
  t.regex(rounds.stderr, /E_DEPLOY_OPTIONS.*gate rounds 2 is not valid; allowed: 0 \(no gate record\) or an integer >= 10/);
  const mixed = ofa(['--checkpoint', 'x', '--predictor', 'p.json', '--devices', 'all,cpu-1t']);
  t.is(mixed.status, 2);
  t.regex(mixed.stderr, /E_ARGS.*--devices all cannot be combined/);
});

test('a supernet of a preset without a data set is refused, naming the preset, before the predictor is read', async (t) => {
  const checkpoint = await microCheckpoint();
  const result = ofa(['--checkpoint', checkpoint, '--predictor', 'missing.json']);
  t.is(result.status, 2);
  t.regex(result.stderr, /E_PRESET_DATA.*preset "micro", which has no data set/);
  t.notRegex(result.stderr, /at .*\.ts:\d+/, 'no stack trace');
});

test('ofa report: a missing folder, a deploy.json that is not JSON, of another format, or with a bad figure: exit 2 naming the file and the JSON path', (t) => {
  const report = (dir: string) => spawnSync(process.execPath, [OFA, 'report', dir], { encoding: 'utf8', timeout: 60_000 });
  const missing = report(join(tempDir('ofa-report-'), 'nope'));
  t.is(missing.status, 2);
  t.regex(missing.stderr, /E_READ.*has no deploy\.json/);
  const write = (value: string) => {
    const dir = tempDir('ofa-report-');
    writeFileSync(join(dir, 'deploy.json'), value);
    return dir;
  };
  const notJson = report(write('{"format": "ofav2/deploy", '));
  t.is(notJson.status, 2);
  t.regex(notJson.stderr, /E_DEPLOY_RESULT.*deploy result .*deploy\.json is not valid JSON/);
  const other = report(write(JSON.stringify({ format: 'ofav2/gate-result', formatVersion: 1 })));
  t.is(other.status, 2);
  t.regex(other.stderr, /E_ARTIFACT_FORMAT.*is not a deploy result \(format "ofav2\/gate-result"/);
  const valid = {
    format: 'ofav2/deploy', formatVersion: 1, supernet: { checksum: 'sha256:x', preset: 'fashion', variant: 'ee-d' }, toolVersion: 'ofav2 0.1.0',
    devices: [{ name: 'cpu-1t', front: [{ id: 'a', predictedLatencyMs: 0.5, predictedTop1: 0.8 }], smallest: { id: 'a', latencyMs: 0.5 }, tableHostDiffers: [] }],
    skippedDevices: [], deployments: [{ id: 'cpu-1t/1ms', device: 'cpu-1t', budgetMs: -1, status: 'over-budget', dir: 'cpu-1t/1ms', tries: [] }], complete: false,
  };
  const bad = report(write(JSON.stringify(valid)));
  t.is(bad.status, 2);
  t.regex(bad.stderr, /E_DEPLOY_RESULT.*is invalid:\n\s+\$\.deployments\[0\]\.budgetMs: .*\(value -1\)/);
  t.notRegex(bad.stderr, /at .*\.ts:\d+/, 'no stack trace');
  const good = report(write(JSON.stringify({ ...valid, deployments: [{ ...valid.deployments[0], budgetMs: 1 }] })));
  t.is(good.status, 0, good.stderr);
  t.regex(good.stdout, /wrote .*report\.html/);
});
