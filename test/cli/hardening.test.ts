// Issue 18, case by case, as a hostile user meets the tool: each bad file or flag listed in the issue,
// given to the real `ofa` process (bin/ofa.js), exits with a clear error (the code, the file, the JSON path,
// no stack trace) and the right exit code: 2 for every bad input, including every damaged checkpoint.
// Nothing garbage is printed on stdout; a refused command leaves no output folder; the next run cleans
// what a killed save left. Every file lives in a temp folder (hermetic).
import test from 'ava';
import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRng } from '../../lib/rng.ts';
import { sampleRandom } from '../../space/index.ts';
import { joinTensors, saveCheckpoint, type TensorMap } from '../../train/checkpoint/index.ts';
import { sha256 } from '../../train/data/cache.ts';
import { Supernet } from '../../train/supernet/index.ts';
import { tf, useCpuBackend } from '../export/harness.ts';

const OFA = fileURLToPath(new URL('../../bin/ofa.js', import.meta.url));
const CHECKOUT_DEVICES = fileURLToPath(new URL('../../devices/', import.meta.url));
const root = mkdtempSync(join(tmpdir(), 'ofa-hardening-'));
test.after.always(() => rmSync(root, { recursive: true, force: true }));

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `ofa ...` in its own process, in `cwd` (default the temp root), with `input` on stdin. */
function ofa(args: string[], options: { cwd?: string; input?: string } = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [OFA, ...args], { cwd: options.cwd ?? root, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, stdout, stderr }));
    child.stdin.end(options.input ?? '');
  });
}

let counter = 0;
function folder(name: string): string {
  const dir = join(root, `${name}-${counter++}`);
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** A clear refusal: the exit code, `error [CODE]:`, the pattern, a hint, no stack trace, nothing on stdout. */
function refused(t: import('ava').ExecutionContext, run: Run, status: number, code: string, pattern: RegExp, what: string): void {
  t.is(run.status, status, `${what}: ${run.stderr}`);
  t.true(run.stderr.includes(`error [${code}]: `), `${what}: ${run.stderr}`);
  t.regex(run.stderr, pattern, what);
  t.regex(run.stderr, /\nhint: /, `${what}: a hint`);
  t.notRegex(run.stderr, /^\s+at .*:\d+:\d+\)?$/m, `${what}: no stack trace`);
  t.notRegex(run.stderr, /unexpected failure/, what);
  t.is(run.stdout, '', `${what}: nothing printed on stdout`);
}

// The committed cpu-1t device with its fashion tables, copied per case so that each case damages its own.
const CONFIG = sampleRandom({ preset: 'fashion', variant: 'ee-d' }, createRng(18));
function devices(): { dir: string; table: string; calibration: string; config: string } {
  const dir = folder('devices');
  cpSync(join(CHECKOUT_DEVICES, 'cpu-1t.json'), join(dir, 'cpu-1t.json'));
  cpSync(join(CHECKOUT_DEVICES, 'cpu-1t'), join(dir, 'cpu-1t'), { recursive: true });
  writeFileSync(join(dir, 'config.json'), JSON.stringify(CONFIG));
  return { dir, table: join(dir, 'cpu-1t', 'lut-fashion-ee-d.json'), calibration: join(dir, 'cpu-1t', 'calibration-fashion-ee-d.json'), config: join(dir, 'config.json') };
}
const predict = (d: { dir: string; config: string }, config = d.config) => ofa(['profile', 'predict', config, '--device', 'cpu-1t', '--devices-dir', d.dir]);
const edit = (file: string, change: (value: any) => void) => {
  const value = JSON.parse(readFileSync(file, 'utf8'));
  change(value);
  writeFileSync(file, JSON.stringify(value));
};

test('the committed device predicts (the baseline every case below damages)', async (t) => {
  const run = await predict(devices());
  t.is(run.status, 0, run.stderr);
  t.regex(run.stdout, /^predicted \d+\.\d{4} ms \(min\) on cpu-1t/);
});

test('calibrations: empty, truncated, binary, without coefficients, 1e400, or of another device or preset: exit 2 naming the file', async (t) => {
  const good = readFileSync(join(CHECKOUT_DEVICES, 'cpu-1t', 'calibration-fashion-ee-d.json'));
  const cases: [string, (file: string) => void, string, RegExp][] = [
    ['empty', (f) => writeFileSync(f, ''), 'E_CALIBRATION', /calibration-fashion-ee-d\.json is empty; expected a JSON value/],
    ['truncated', (f) => writeFileSync(f, good.subarray(0, 100)), 'E_CALIBRATION', /calibration-fashion-ee-d\.json is not valid JSON \(line \d+ column \d+\): .*truncated\?/],
    ['binary', (f) => writeFileSync(f, Uint8Array.from({ length: 3000 }, (_, i) => (i * 7919) % 256)), 'E_CALIBRATION', /calibration-fashion-ee-d\.json is binary data, not JSON text/],
    ['no coefficients', (f) => edit(f, (c) => delete c.coefficients), 'E_CALIBRATION', /is invalid:\n {2}\$\.coefficients: missing field "coefficients"/],
    ['scale 1e400', (f) => writeFileSync(f, good.toString('utf8').replace(/"scale": [^,]+/, '"scale": 1e400')), 'E_CALIBRATION', /\$\.coefficients\.scale: a number too large for a double \(it reads as Infinity\)/],
    ['scale 1e300', (f) => edit(f, (c) => (c.coefficients.scale = 1e300)), 'E_CALIBRATION', /\$\.coefficients\.scale: must be <= 1000000 \(value 1e\+300\)/],
    ['another device', (f) => edit(f, (c) => (c.device = 'cpu-2t')), 'E_ARTIFACT_MISMATCH', /calibration .* was made for another device: \$\.device is "cpu-2t", not "cpu-1t"/],
    ['another preset', (f) => edit(f, (c) => (c.preset = 'tiny-imagenet')), 'E_ARTIFACT_MISMATCH', /was made for another space: \$\.preset is "tiny-imagenet", not "fashion"/],
  ];
  await Promise.all(
    cases.map(async ([name, damage, code, pattern]) => {
      const d = devices();
      damage(d.calibration);
      const run = await predict(d);
      refused(t, run, 2, code, pattern, name);
      t.true(run.stderr.includes(d.calibration), `${name}: names the file`);
    }),
  );
});

test('predictions that cannot be right are refused before they are printed: a negative offset, NaN from a zero reference, Infinity', async (t) => {
  const cases: [string, (d: ReturnType<typeof devices>) => void, string, RegExp][] = [
    ['negative offset', (d) => edit(d.calibration, (c) => (c.coefficients.offsetMs = -1000)), 'E_PREDICTION', /predicted latency -\d+(\.\d+)? ms is not a latency \(allowed: > 0 and <= 3600000 ms\): \$\.coefficients of calibration .*calibration-fashion-ee-d\.json give scale .* \+ offsetMs -1000/],
    ['zero reference (0/0)', (d) => edit(d.table, (lut) => Object.values(lut.entries).forEach((e: any) => (e.referenceMinMs = 0))), 'E_LUT', /\$\.entries\[".*"\]\.referenceMinMs: must be > 0 \(value 0\)/],
    ['huge entries', (d) => edit(d.table, (lut) => Object.values(lut.entries).forEach((e: any) => (e.minMs = 1e300))), 'E_LUT', /\.minMs: must be <= 3600000 \(value 1e\+300\)/],
    ['negative entries', (d) => edit(d.table, (lut) => Object.values(lut.entries).forEach((e: any) => (e.minMs = -5))), 'E_LUT', /\.minMs: must be > 0 \(value -5\)/],
    ['strings for numbers', (d) => edit(d.table, (lut) => Object.values(lut.entries).forEach((e: any) => (e.minMs = String(e.minMs)))), 'E_LUT', /\.minMs: must be a finite number \(got string\)/],
  ];
  await Promise.all(
    cases.map(async ([name, damage, code, pattern]) => {
      const d = devices();
      damage(d);
      refused(t, await predict(d), 2, code, pattern, name);
    }),
  );
});

test('tables: null, of another device or preset: exit 2', async (t) => {
  const cases: [string, (file: string) => void, string, RegExp][] = [
    ['null', (f) => writeFileSync(f, 'null'), 'E_ARTIFACT_FORMAT', /latency table .*lut-fashion-ee-d\.json is not a JSON object; expected "format": "ofav2\/lut"/],
    ['another device', (f) => edit(f, (lut) => (lut.device.name = 'cpu-2t')), 'E_ARTIFACT_MISMATCH', /was made for another device: \$\.device\.name is "cpu-2t", not "cpu-1t"/],
    ['another preset', (f) => edit(f, (lut) => (lut.preset = 'micro')), 'E_ARTIFACT_MISMATCH', /was made for another space: \$\.preset is "micro", not "fashion"/],
  ];
  await Promise.all(
    cases.map(async ([name, damage, code, pattern]) => {
      const d = devices();
      damage(d.table);
      refused(t, await predict(d), 2, code, pattern, name);
    }),
  );
});

test('configs: 10^5 levels deep (space validate and profile predict), a "__proto__" key, resolution 1e400, [] and a 50 MB file of "[": exit 2 naming the file', async (t) => {
  const d = devices();
  const dir = folder('configs');
  const write = (name: string, text: string) => (writeFileSync(join(dir, name), text), join(dir, name));
  const deep = write('deep.json', '['.repeat(100_000) + ']'.repeat(100_000));
  const proto = write('proto.json', JSON.stringify(CONFIG).replace('{', '{"__proto__": {"resolution": 32}, '));
  const huge = write('huge.json', JSON.stringify(CONFIG).replace(/"resolution":\d+/, '"resolution":1e400'));
  const empty = write('empty.json', '[]');
  const brackets = write('brackets.json', '['.repeat(50 * 2 ** 20));
  const runs = await Promise.all([
    ofa(['space', 'validate', deep]),
    predict(d, deep),
    ofa(['space', 'validate', proto]),
    ofa(['space', 'validate', huge]),
    ofa(['space', 'validate', empty]),
    ofa(['space', 'validate', brackets]),
  ]);
  refused(t, runs[0], 2, 'E_CONFIG', /subnet config file .*deep\.json nests arrays or objects deeper than 64 levels \(at line 1 column 65\)/, 'deep (validate)');
  refused(t, runs[1], 2, 'E_CONFIG', /deep\.json nests arrays or objects deeper than 64 levels/, 'deep (predict)');
  refused(t, runs[2], 2, 'E_CONFIG', /proto\.json: \$\.__proto__: the key "__proto__" is not allowed/, '__proto__');
  refused(t, runs[3], 2, 'E_CONFIG', /huge\.json: \$\.resolution: a number too large for a double \(it reads as Infinity\)/, '1e400');
  t.notRegex(runs[3].stderr, /value null/);
  refused(t, runs[4], 2, 'E_CONFIG', /empty\.json holds an empty list; expected a subnet config or a non-empty list of them/, '[]');
  refused(t, runs[5], 2, 'E_CONFIG', /brackets\.json nests arrays or objects deeper than 64 levels/, '50 MB of [');
});

test('space validate names the file on every fault line', async (t) => {
  const dir = folder('validate');
  const file = join(dir, 'bad.json');
  writeFileSync(file, JSON.stringify([CONFIG, { ...CONFIG, resolution: 33 }]));
  const run = await ofa(['space', 'validate', file]);
  t.is(run.status, 2);
  t.is(run.stderr, `${file}: $[1].resolution: resolution 33 is not allowed; allowed: 20, 24, 28, 32 (value 33)\n`);
});

test('flags: extra arguments, --json=maybe, --subnets 10^12 and the old --n: exit 2 naming the flag', async (t) => {
  const runs = await Promise.all([
    ofa(['space', 'sample', 'extra']),
    ofa(['space', 'sample', '--json=maybe']),
    ofa(['space', 'sample', '--subnets', '1000000000000']),
    ofa(['space', 'sample', '--n', '1000000000000']),
    ofa(['space', 'validate', 'a.json', 'b.json']),
    ofa(['profile', 'predict', '--seed', '-1']),
  ]);
  refused(t, runs[0], 2, 'E_ARGS', /ofa space sample: unexpected argument "extra"; this command takes flags only/, 'extra');
  refused(t, runs[1], 2, 'E_ARGS', /ofa space sample: --json=maybe is not valid; allowed: true, false/, '--json=maybe');
  refused(t, runs[2], 2, 'E_ARGS', /ofa space sample: --subnets 1000000000000 is out of range; allowed: an integer from 1 to 1000000/, '--subnets 10^12');
  refused(t, runs[3], 2, 'E_ARGS', /unknown flag "--n"; it is now --subnets/, '--n');
  refused(t, runs[4], 2, 'E_ARGS', /ofa space validate: unexpected argument "b\.json"; this command takes one FILE/, 'two files');
  refused(t, runs[5], 2, 'E_ARGS', /unknown flag "--seed"/, 'a flag the command lacks');
});

test('a folder given as a model is "a folder", not "does not exist"', async (t) => {
  const dir = folder('model-dir');
  mkdirSync(join(dir, 'model.onnx'));
  const runs = await Promise.all([
    ofa(['export', 'inspect', join(dir, 'model.onnx')]),
    ofa(['profile', 'model', join(dir, 'model.onnx'), '--device', 'cpu-1t', '--devices-dir', devices().dir]),
  ]);
  refused(t, runs[0], 2, 'E_READ', /ONNX model .*model\.onnx is a folder, not a file/, 'export inspect');
  refused(t, runs[1], 2, 'E_READ', /model file ".*model\.onnx" is a folder, not a file/, 'profile model');
});

// A micro ee-d supernet checkpoint, saved by the test (random weights on the cpu backend).
async function microCheckpoint(): Promise<string> {
  await useCpuBackend();
  const net = new Supernet({ preset: 'micro', variant: 'ee-d', seed: 3 });
  const toMap = (vars: Map<string, tf.Variable>): TensorMap => new Map([...vars].map(([name, v]) => [name, { shape: [...v.shape], data: v.dataSync() as Float32Array }]));
  const dir = join(folder('run'), 'step-000001');
  saveCheckpoint(dir, {
    manifest: { preset: 'micro', variant: 'ee-d', phase: 'full', epoch: 1, step: 1, seed: 3, dataState: null, optimizer: { name: 'sgd', hyperparameters: {}, state: {} }, metrics: {} },
    tensors: joinTensors({ parameters: toMap(net.parameters), buffers: toMap(net.buffers) }),
  });
  net.dispose();
  return dir;
}

test('checkpoints: a bad checksum, a missing manifest, a damaged header and a renamed tensor (checksum updated) all exit 2', async (t) => {
  const good = await microCheckpoint();
  const config = join(folder('ckpt-config'), 'config.json');
  writeFileSync(config, JSON.stringify(sampleRandom({ preset: 'micro', variant: 'ee-d' }, createRng(4))));
  const copy = (damage: (dir: string) => void) => {
    const dir = join(folder('ckpt'), 'step-000001');
    cpSync(good, dir, { recursive: true });
    damage(dir);
    return dir;
  };
  const rewriteHeader = (dir: string, edit: (header: string) => string) => {
    const path = join(dir, 'weights.safetensors');
    const bytes = readFileSync(path);
    const length = Number(bytes.readBigUInt64LE(0));
    const header = Buffer.from(edit(bytes.subarray(8, 8 + length).toString('utf8')), 'utf8');
    t.is(header.length, length, 'the edit keeps the header length');
    const out = Buffer.concat([bytes.subarray(0, 8), header, bytes.subarray(8 + length)]);
    writeFileSync(path, out);
    // The manifest's checksum follows the edit: only the header's own checks can catch it.
    const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'));
    manifest.files['weights.safetensors'] = { sha256: sha256(new Uint8Array(out)), bytes: out.length };
    writeFileSync(join(dir, 'manifest.json'), JSON.stringify(manifest));
  };
  const cases: [string, string, string, RegExp][] = [
    ['bad checksum', copy((dir) => { const p = join(dir, 'weights.safetensors'); const b = readFileSync(p); b[b.length - 5] ^= 1; writeFileSync(p, b); }), 'E_CHECKPOINT_CHECKSUM', /weights\.safetensors" has sha256 .* the file is corrupt/],
    ['missing manifest', copy((dir) => rmSync(join(dir, 'manifest.json'))), 'E_CHECKPOINT', /step-000001" holds no checkpoint \(no manifest\.json/],
    ['manifest step -1', copy((dir) => edit(join(dir, 'manifest.json'), (m) => (m.step = -1))), 'E_CHECKPOINT', /\$\.step: must be >= 0 \(value -1\)/],
    ['header dtype', copy((dir) => rewriteHeader(dir, (h) => h.replace('"F32"', '"I32"'))), 'E_SAFETENSORS', /weights\.safetensors \(its JSON header\) is invalid:\n {2}\$\[".*"\]\.dtype: must be "F32"/],
    ['renamed tensor', copy((dir) => rewriteHeader(dir, (h) => h.replace('param.stem.conv.weight', 'param.stem.conv.weighT'))), 'E_CHECKPOINT_MISMATCH', /its parameters do not match the micro\/ee-d supernet; missing: stem\.conv\.weight; unexpected: stem\.conv\.weighT/],
  ];
  await Promise.all(
    cases.map(async ([name, dir, code, pattern]) => {
      const out = join(folder('export-out'), 'model.onnx');
      const run = await ofa(['export', '--checkpoint', dir, '--subnet', config, '-o', out]);
      refused(t, run, 2, code, pattern, name);
      t.false(existsSync(out), `${name}: no model written`);
    }),
  );
});

test('leftovers: a killed save\'s temp folder is removed by the next run; `train --init /missing` creates no output folder', async (t) => {
  const checkpoint = await microCheckpoint();
  const run = join(checkpoint, '..');
  // What a SIGKILL during a save leaves (test/train/checkpoint has the real kills): a hidden temp folder of
  // a process that is gone, with half a weights file.
  const stale = join(run, '.step-000002.tmp-999999-0badc0de');
  mkdirSync(stale);
  writeFileSync(join(stale, 'weights.safetensors'), readFileSync(join(checkpoint, 'weights.safetensors')).subarray(0, 300));
  const packed = join(folder('packed'), 'supernet');
  const pack = await ofa(['train', 'pack', '--checkpoint', run, '--out', packed]);
  t.is(pack.status, 0, pack.stderr);
  t.false(existsSync(stale), 'the next run removed the stale temp folder');
  t.deepEqual(readdirSync(run).filter((name) => name.startsWith('.')), []);
  // Refused on bad input before anything is written: no output folder appears.
  const cwd = folder('init');
  const out = join(cwd, 'never');
  const init = await ofa(['train', '--init', join(cwd, 'missing'), '--out', out, '--epochs', '1', '--backend', 'cpu'], { cwd });
  refused(t, { ...init, stdout: '' }, 2, 'E_CHECKPOINT', /checkpoint ".*missing" does not exist/, 'train --init /missing');
  t.false(existsSync(out), 'no --out folder');
  t.deepEqual(readdirSync(cwd), [], 'no default run folder either');
  const pack2 = await ofa(['train', 'pack', '--checkpoint', join(cwd, 'missing'), '--out', join(cwd, 'packed')], { cwd });
  t.is(pack2.status, 2);
  t.deepEqual(readdirSync(cwd), []);
});
