// `ofa gate` end to end, each run its own process (`node bin/ofa.js gate ...`) in a temp folder, on real
// ONNX models exported here with random weights: a model against itself passes (exit 0), against a
// clearly heavier one is a regression (exit 1), in A/B and in baseline-file mode; the CI files are
// written and parse; every bad input is exit 2 with a message naming it. Short time limits; no assertion
// on wall-clock time.
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { encodeModel, exportSubnet, randomInitSource, randomStaticSubnet } from '../../../export/index.ts';
import { sampleUniform } from '../../../space/index.ts';
import type { GateResult } from '../../../deploy/index.ts';
import type { BenchmarkEntry } from '../../../deploy/gate/formats.ts';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const OFA = join(ROOT, 'bin', 'ofa.js');
const dir = mkdtempSync(join(tmpdir(), 'ofa-gate-'));

function model(file: string, choice: { kernel: number; expand: number; depth: number; resolution: number }, seed = 1): void {
  const config = sampleUniform({ preset: 'fashion', variant: 'ee-d' }, choice);
  writeFileSync(join(dir, file), encodeModel(exportSubnet(randomStaticSubnet(config, seed), { source: randomInitSource(seed) })));
}

test.before(() => {
  cpSync(join(ROOT, 'devices'), join(dir, 'devices'), { recursive: true });
  model('small.onnx', { kernel: 3, expand: 3, depth: 2, resolution: 28 });
  // About 6x the small model's work, same input.
  model('heavy.onnx', { kernel: 7, expand: 6, depth: 4, resolution: 28 });
  // Same graph as small.onnx at another resolution: its input differs.
  model('small-20.onnx', { kernel: 3, expand: 3, depth: 2, resolution: 20 });
  writeFileSync(join(dir, 'notes.txt'), 'not a model\n');
});
test.after.always(() => rmSync(dir, { recursive: true, force: true }));

function gate(...args: string[]) {
  const result = spawnSync(process.execPath, [OFA, 'gate', ...args], { cwd: dir, encoding: 'utf8', timeout: 5 * 60 * 1000 });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

const readJson = <T>(file: string): T => JSON.parse(readFileSync(join(dir, file), 'utf8')) as T;

/** A refusal: exit 2, the error code and a message matching `pattern`, no stack trace, nothing measured. */
function refused(t: import('ava').ExecutionContext, run: ReturnType<typeof gate>, code: string, pattern: RegExp): void {
  t.is(run.status, 2, run.stderr);
  t.true(run.stderr.includes(`[${code}]`), run.stderr);
  t.regex(run.stderr, pattern);
  t.notRegex(run.stderr, /^\s+at .*:\d+:\d+\)?$/m, 'no stack trace');
}

// Timed runs are serial: parallel processes would measure each other.
test.serial('A/B: a model against itself passes (exit 0) and writes the gate result, the Markdown, JUnit and benchmark JSON', (t) => {
  // alpha 0.001: this test's own false-alarm chance stays at 0.1%.
  const run = gate('--device', 'cpu-1t', '--baseline', 'small.onnx', '--candidate', 'small.onnx', '--max-time', '8s', '--alpha', '0.001', '--out', 'aa.json', '--markdown', 'aa.md', '--junit', 'aa.xml', '--benchmark-json', 'aa-bench.json');
  t.log(run.stdout.trim());
  t.is(run.status, 0, `${run.stdout}\n${run.stderr}`);
  t.regex(run.stdout, /^PASS: /);
  const result = readJson<GateResult>('aa.json');
  t.is(result.format, 'ofav2/gate-result');
  t.is(result.formatVersion, 1);
  t.is(result.mode, 'ab');
  t.is(result.decision, 'pass');
  t.is(result.exitCode, 0);
  t.true(result.ci.low <= result.ratio && result.ratio <= result.ci.high);
  t.true(result.ci.high < 1.05, 'a pass rules out a 5% slowdown');
  t.true(result.pValue >= 0 && result.pValue <= 1);
  t.is(result.candidate.roundsMs.length, result.rounds);
  t.is(result.baseline.file, 'small.onnx');
  t.is(result.device.name, 'cpu-1t');
  t.truthy(result.host.cpuModel);
  t.true(result.looks.length >= 1 && result.looks[result.looks.length - 1].outcome === 'pass');
  // The speed reference was measured: the result is a baseline file for later runs.
  t.truthy(result.record);
  t.is(result.record!.logRatios.length, result.rounds);
  t.true(result.warnings.some((w) => /same bytes/.test(w)));

  const bench = readJson<BenchmarkEntry[]>('aa-bench.json');
  t.is(bench.length, 2);
  for (const entry of bench) {
    t.is(typeof entry.name, 'string');
    t.is(typeof entry.unit, 'string');
    t.true(Number.isFinite(entry.value));
  }
  t.is(bench[0].unit, 'ms');
  t.true(Math.abs(bench[1].value - result.ratio) < 1e-4);
  const markdown = readFileSync(join(dir, 'aa.md'), 'utf8');
  t.regex(markdown, /^### Latency gate: pass/);
  t.regex(markdown, /\| ratio candidate \/ baseline \| /);
  const junit = readFileSync(join(dir, 'aa.xml'), 'utf8');
  t.regex(junit, /^<\?xml version="1.0" encoding="UTF-8"\?>\n<testsuites name="ofa gate" tests="1" failures="0"/);
  t.notRegex(junit, /<failure/);
});

test.serial('A/B: against a clearly heavier model it is a regression (exit 1); the other way round an improvement (exit 0)', (t) => {
  const run = gate('--device', 'cpu-1t', '--baseline', 'small.onnx', '--candidate', 'heavy.onnx', '--max-time', '8s', '--no-reference', '--json', '--junit', 'regression.xml');
  t.is(run.status, 1, run.stderr);
  const result = JSON.parse(run.stdout) as GateResult;
  t.is(result.decision, 'regression');
  t.true(result.ratio > 1.5 && result.ci.low > 1.05, `ratio ${result.ratio}, interval ${result.ci.low}-${result.ci.high}`);
  t.true(result.pValue < 0.01);
  t.is(result.record, null, '--no-reference: no record');
  t.is(result.reference, null);
  t.regex(readFileSync(join(dir, 'regression.xml'), 'utf8'), /failures="1"[\s\S]*<failure message="the candidate is slower/);

  const back = gate('--baseline', 'heavy.onnx', '--candidate', 'small.onnx', '--max-time', '8s', '--no-reference', '--quiet');
  t.is(back.status, 0, back.stderr);
  t.regex(back.stdout, /^IMPROVEMENT: /);
});

test.serial('baseline-file mode: the earlier gate result as baseline; the heavier candidate is a regression through the speed reference', (t) => {
  t.true(existsSync(join(dir, 'aa.json')), 'the A/A run wrote it');
  const run = gate('--device', 'cpu-1t', '--baseline', 'aa.json', '--candidate', 'heavy.onnx', '--max-time', '8s', '--out', 'file.json');
  t.is(run.status, 1, `${run.stdout}\n${run.stderr}`);
  const result = readJson<GateResult>('file.json');
  t.is(result.mode, 'baseline-file');
  t.is(result.test, 'mann-whitney');
  t.is(result.decision, 'regression');
  t.true(result.ratio > 1.5, String(result.ratio));
  t.is(result.reference!.preset, 'fashion');
  t.true('source' in result.baseline && result.baseline.source === 'ofav2/gate-result');

  // The same model as the recorded one is not flagged (pass, or inconclusive if the record is too short to settle it).
  const same = gate('--baseline', 'aa.json', '--candidate', 'small.onnx', '--max-time', '4s', '--alpha', '0.001', '--quiet');
  t.log(same.stdout.trim());
  t.not(same.status, 1, same.stdout);
  t.true(same.status === 0 || same.status === 3, same.stderr);
});

test('bad input: models whose inputs differ, a non-ONNX file, a missing file: exit 2 naming them', (t) => {
  refused(t, gate('--baseline', 'small.onnx', '--candidate', 'small-20.onnx', '--max-time', '5s'), 'E_GATE_INPUTS', /inputs differ: baseline "small\.onnx" has input float32\[batchx1x28x28\]; candidate "small-20\.onnx" has input float32\[batchx1x20x20\]/);
  refused(t, gate('--baseline', 'notes.txt', '--candidate', 'small.onnx'), 'E_NOT_ONNX', /notes\.txt.* is not an ONNX model/);
  refused(t, gate('--baseline', 'small.onnx', '--candidate', 'missing.onnx'), 'E_READ', /missing\.onnx.* does not exist/);
  refused(t, gate('--candidate', 'small.onnx'), 'E_ARGS', /--baseline FILE is required/);
});

test('bad input: a threshold outside (0, 100%) or not a number: exit 2', (t) => {
  for (const threshold of ['0', '0%', '100%', '150%', '-5%', '5', 'five']) {
    refused(t, gate('--baseline', 'small.onnx', '--candidate', 'small.onnx', '--threshold', threshold), 'E_GATE_THRESHOLD', /threshold|--threshold/);
  }
  refused(t, gate('--baseline', 'small.onnx', '--candidate', 'small.onnx', '--max-time', 'soon'), 'E_ARGS', /--max-time "soon"/);
  refused(t, gate('--baseline', 'small.onnx', '--candidate', 'small.onnx', '--alpha', '0.7'), 'E_GATE_OPTION', /alpha 0.7/);
  refused(t, gate('--baseline', 'small.onnx', '--candidate', 'small.onnx', '--out', 'no-such-folder/g.json'), 'E_OUTPUT_DIR', /no-such-folder/);
});

test('bad input: a device that cannot start here: exit 2 naming the device and what is missing', (t) => {
  // CUDA on a device id no host has: it cannot start on a machine with or without a GPU.
  const device = { ...readJson<Record<string, unknown>>('devices/cpu-1t.json'), name: 'gpu-absent', executionProvider: 'cuda', executionProviderOptions: { deviceId: 4096 } };
  writeFileSync(join(dir, 'devices', 'gpu-absent.json'), JSON.stringify(device));
  refused(t, gate('--device', 'gpu-absent', '--baseline', 'small.onnx', '--candidate', 'small.onnx'), 'E_GATE_DEVICE', /device gpu-absent \(onnxruntime-node, EP cuda\) cannot start on this host/);
  refused(t, gate('--device', 'no-such-device', '--baseline', 'small.onnx', '--candidate', 'small.onnx'), 'E_DEVICE_UNKNOWN', /no-such-device/);
});

test.serial('bad input: a baseline file from another device, with other device settings, broken, or without a record: exit 2', (t) => {
  t.true(existsSync(join(dir, 'aa.json')), 'the A/A run wrote it');
  refused(t, gate('--device', 'cpu-2t', '--baseline', 'aa.json', '--candidate', 'small.onnx'), 'E_GATE_BASELINE_DEVICE', /measured on device "cpu-1t"; --device is "cpu-2t"/);
  // Same name, another thread count.
  const otherDir = join(dir, 'other-devices');
  cpSync(join(dir, 'devices'), otherDir, { recursive: true });
  const cpu = readJson<{ session: Record<string, unknown> }>('devices/cpu-1t.json');
  writeFileSync(join(otherDir, 'cpu-1t.json'), JSON.stringify({ ...cpu, session: { ...cpu.session, intraOpNumThreads: 2 } }));
  refused(t, gate('--devices-dir', otherDir, '--baseline', 'aa.json', '--candidate', 'small.onnx'), 'E_GATE_BASELINE_DEVICE', /with other settings: session\.intraOpNumThreads 1 \(now 2\)/);

  const text = readFileSync(join(dir, 'aa.json'), 'utf8');
  writeFileSync(join(dir, 'truncated.json'), text.slice(0, text.length / 2));
  refused(t, gate('--baseline', 'truncated.json', '--candidate', 'small.onnx'), 'E_JSON', /truncated\.json.* is not valid JSON/);
  const result = JSON.parse(text) as GateResult;
  writeFileSync(join(dir, 'foreign.json'), JSON.stringify({ format: 'ofav2/lut', formatVersion: 1 }));
  refused(t, gate('--baseline', 'foreign.json', '--candidate', 'small.onnx'), 'E_ARTIFACT_FORMAT', /has format ofav2\/lut v1; expected "format": "ofav2\/gate-result" or "ofav2\/deploy"/);
  writeFileSync(join(dir, 'bad-record.json'), JSON.stringify({ ...result, record: { ...result.record, logRatios: [1, 'x'] } }));
  refused(t, gate('--baseline', 'bad-record.json', '--candidate', 'small.onnx'), 'E_GATE_BASELINE', /its latency record is invalid:\n {2}\$\.record\.logRatios\[1\]: must be a finite number \(got string\) \(value "x"\)/);
  writeFileSync(join(dir, 'no-record.json'), JSON.stringify({ ...result, record: null }));
  refused(t, gate('--baseline', 'no-record.json', '--candidate', 'small.onnx'), 'E_GATE_BASELINE', /without a record .*--no-reference/);
  refused(t, gate('--baseline', 'aa.json', '--candidate', 'small.onnx', '--runs-per-visit', '9'), 'E_FLAG_CONFLICT', /--runs-per-visit 9 \(the file's: 5\)/);
  refused(t, gate('--baseline', 'aa.json', '--candidate', 'small-20.onnx', '--max-time', '5s'), 'E_GATE_INPUTS', /inputs differ/);

  // A deploy.json: entries with gate records, picked by device (and --entry when there are several).
  const record = result.record!;
  writeFileSync(join(dir, 'deploy.json'), JSON.stringify({ format: 'ofav2/deploy', formatVersion: 1, deployments: [{ id: 'cpu-1t/1ms', gate: record }, { id: 'cpu-1t/2ms', gate: record }] }));
  refused(t, gate('--baseline', 'deploy.json', '--candidate', 'small.onnx'), 'E_FLAG_CONFLICT', /2 gate records for device "cpu-1t" \(cpu-1t\/1ms, cpu-1t\/2ms\); pick one with --entry ID/);
  refused(t, gate('--baseline', 'deploy.json', '--candidate', 'small.onnx', '--entry', 'cpu-1t/9ms'), 'E_GATE_BASELINE', /no entry with id "cpu-1t\/9ms"/);
  refused(t, gate('--device', 'cpu-2t', '--baseline', 'deploy.json', '--candidate', 'small.onnx'), 'E_GATE_BASELINE_DEVICE', /no gate record for device "cpu-2t"; it has records for: cpu-1t/);
});

test.serial('baseline-file mode reads a deploy.json entry', (t) => {
  const run = gate('--baseline', 'deploy.json', '--entry', 'cpu-1t/2ms', '--candidate', 'heavy.onnx', '--max-time', '8s', '--json');
  t.is(run.status, 1, run.stderr);
  const result = JSON.parse(run.stdout) as GateResult;
  t.true('source' in result.baseline && result.baseline.source === 'ofav2/deploy' && result.baseline.entry === 'cpu-1t/2ms');
});
