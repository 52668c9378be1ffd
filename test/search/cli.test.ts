// `ofa search`, `ofa search fit` and `ofa search dataset` as a user runs them (own process, exit codes,
// messages), and the search's promise that it loads no training engine or runtime (issue 13; a resolve
// hook records every module of a fresh process: test/profile/module-log/).
import test from 'ava';
import { execFile, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { configId, encodeConfig, subnetCost } from '../../space/index.ts';
import { datasetConfigs } from '../../search/index.ts';
import { searchTag } from '../../search/artifacts.ts';
import { MICRO, devicesFolder, removeTempDirs, syntheticTable, tempDir } from './fixtures.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const OFA = join(ROOT, 'bin', 'ofa.js');
const HEAVY = /(^|[/\\]|node_modules[/\\])(@tensorflow[/\\]|onnxruntime-[\w-]+|onnx-proto)([/\\@]|$)/;

test.after.always(removeTempDirs);

function ofa(args: string[], cwd: string) {
  const started = performance.now();
  const result = spawnSync(process.execPath, [OFA, ...args], { cwd, encoding: 'utf8', timeout: 5 * 60 * 1000 });
  return { ...result, seconds: (performance.now() - started) / 1000 };
}

const dir = tempDir();
const table = syntheticTable(MICRO, 5, 'synth');
const devicesDir = devicesFolder('synth', { table, calibration: true, budgetsMs: [0.1, 0.2] });
// Devices beside it: one without a table, one without a calibration.
writeFileSync(join(devicesDir, 'notable.json'), readFileSync(join(devicesDir, 'synth.json'), 'utf8').replace('"synth"', '"notable"'));
const nocal = devicesFolder('nocal', { table: syntheticTable(MICRO, 6, 'nocal') });
const dataFile = join(dir, 'data.jsonl');
const predictorFile = join(dir, 'predictor.json');
{
  const header = { ...searchTag('dataset'), ...MICRO, supernet: { checkpoint: 'runs/micro', dir: join(dir, 'runs/micro/checkpoint'), checksum: 'sha256:abc', phase: 'full', epoch: 1, step: 1 }, split: 'validation', images: 32, recalibrationImages: 32, seed: 1, createdAt: '2026-01-01T00:00:00.000Z' };
  const lines = [JSON.stringify(header)];
  for (const config of datasetConfigs(MICRO, 40, 1)) {
    const cost = subnetCost(config);
    const top1 = 0.5 + 0.05 * Math.log(cost.macs / 1e4) + 0.01 * encodeConfig(config)[3];
    lines.push(JSON.stringify({ id: configId(config), config, top1, loss: 1 - top1, macs: cost.macs, params: cost.params, images: 32 }));
  }
  writeFileSync(dataFile, `${lines.join('\n')}\n`);
}

test.serial('ofa search fit writes a tagged predictor and reports it beside both baselines', (t) => {
  const result = ofa(['search', 'fit', '--data', dataFile, '--out', predictorFile, '--epochs', '5'], dir);
  t.is(result.status, 0, result.stderr);
  t.regex(result.stdout, /MLP predictor +\d\.\d{4} +-?\d\.\d{4}/);
  t.regex(result.stdout, /ridge \(lambda/);
  t.regex(result.stdout, /MACs \(line in log MACs\)/);
  const predictor = JSON.parse(readFileSync(predictorFile, 'utf8'));
  t.is(predictor.format, 'ofav2/accuracy-predictor');
  t.is(predictor.heldOut.subnets, 8);
  const json = ofa(['search', 'fit', '--data', dataFile, '--out', join(dir, 'p2.json'), '--epochs', '2', '--json'], dir);
  t.is(json.status, 0, json.stderr);
  t.is(JSON.parse(json.stdout).format, 'ofav2/accuracy-predictor');
  t.is(JSON.parse(json.stdout).layers, undefined, 'the report, without the weights');
});

test.serial('ofa search: per device its picks and front, as text, JSON and a tagged file; the same seed, the same picks', (t) => {
  const out = join(dir, 'search.json');
  const args = ['search', '--predictor', predictorFile, '--devices', 'synth', '--devices-dir', devicesDir, '--generations', '10', '--seed', '3'];
  const text = ofa([...args, '--out', out], dir);
  t.is(text.status, 0, text.stderr);
  t.regex(text.stdout, /synth: nsga2, front of \d+ subnets/);
  t.regex(text.stdout, /<= 0\.1 +ms: [0-9a-f]{16} +top-1/);
  const file = JSON.parse(readFileSync(out, 'utf8'));
  t.is(file.format, 'ofav2/search-result');
  t.is(file.formatVersion, 1);
  t.is(file.supernet.checksum, 'sha256:abc');
  t.deepEqual(file.devices[0].picks.map((p: { budgetMs: number }) => p.budgetMs), [0.1, 0.2]);
  for (const pick of file.devices[0].picks) t.true(pick.predictedLatencyMs <= pick.budgetMs);
  const json = ofa([...args, '--json', '--budgets-ms', '0.1,0.2'], dir);
  t.is(json.status, 0, json.stderr);
  t.deepEqual(JSON.parse(json.stdout).devices[0].picks, file.devices[0].picks);
  const evolution = ofa([...args, '--algorithm', 'evolution', '--json'], dir);
  t.is(evolution.status, 0, evolution.stderr);
  t.is(JSON.parse(evolution.stdout).algorithm, 'evolution');
});

test.serial('bad input exits 2 naming the fault: a budget below the smallest latency, missing table or calibration, another supernet, a bad data set line', (t) => {
  const base = ['search', '--predictor', predictorFile, '--devices-dir', devicesDir];
  const budget = ofa([...base, '--devices', 'synth', '--budgets-ms', '0.0001'], dir);
  t.is(budget.status, 2);
  t.regex(budget.stderr, /E_SEARCH_BUDGET.*device synth: latency budget 0\.0001 ms is below the smallest predicted latency any micro\/ee-d subnet reaches on it, \d\.\d{4} ms/);
  t.log(`infeasible budget refused in ${budget.seconds.toFixed(2)} s (the whole process, tsx start included)`);
  const noTable = ofa([...base, '--devices', 'notable'], dir);
  t.is(noTable.status, 2);
  t.true(noTable.stderr.includes(join(devicesDir, 'notable', 'lut-micro-ee-d.json')), noTable.stderr);
  const noCalibration = ofa(['search', '--predictor', predictorFile, '--devices-dir', nocal, '--devices', 'nocal'], dir);
  t.is(noCalibration.status, 2);
  t.regex(noCalibration.stderr, /E_CALIBRATION_MISSING.*device nocal has no calibration for micro\/ee-d/);
  t.true(noCalibration.stderr.includes('calibration-micro-ee-d.json'));
  // Checkpoint folders as `ofa search --checkpoint` reads them: the manifest only (its weights' sha256).
  const fakeCheckpoint = (name: string, sha256: string) => {
    const folder = join(dir, 'runs', name, 'checkpoint');
    mkdirSync(folder, { recursive: true });
    writeFileSync(join(folder, 'weights.safetensors'), 'not read');
    const manifest = { format: 'ofav2/checkpoint', formatVersion: 1, preset: 'micro', variant: 'ee-d', phase: 'full', epoch: 1, step: 1, seed: 0, dataState: null, optimizer: { name: 'none', hyperparameters: {}, state: {} }, metrics: {}, files: { 'weights.safetensors': { sha256, bytes: 8 } } };
    writeFileSync(join(folder, 'manifest.json'), JSON.stringify(manifest));
  };
  fakeCheckpoint('micro', 'abc');
  fakeCheckpoint('other', 'def');
  const missing = ofa([...base, '--devices', 'synth', '--checkpoint', join(dir, 'runs/none')], dir);
  t.is(missing.status, 2);
  t.regex(missing.stderr, /E_CHECKPOINT.*does not exist/);
  const otherSupernet = ofa([...base, '--devices', 'synth', '--checkpoint', join(dir, 'runs/other')], dir);
  t.is(otherSupernet.status, 2);
  t.regex(otherSupernet.stderr, /E_ACCURACY_PREDICTOR_SPACE.*not on --checkpoint/);
  t.is(ofa([...base, '--devices', 'synth', '--checkpoint', join(dir, 'runs/micro'), '--generations', '1'], dir).status, 0, 'the run folder holding the checkpoint is fine');
  const lines = readFileSync(dataFile, 'utf8').split('\n');
  const bad = join(dir, 'bad.jsonl');
  writeFileSync(bad, [...lines.slice(0, 3), '{"id": 1}', ...lines.slice(3)].join('\n'));
  const fit = ofa(['search', 'fit', '--data', bad, '--out', join(dir, 'never.json')], dir);
  t.is(fit.status, 2);
  t.true(fit.stderr.includes(`accuracy data set ${bad} line 4 is invalid:\n  $.id: must be a string (got number) (value 1)\n`), fit.stderr);
  t.true(fit.stderr.includes('  $.top1: missing field "top1" (required; a finite number)\n'), fit.stderr);
  const noData = ofa(['search', 'dataset', '--checkpoint', join(dir, 'none'), '--subnets', '3', '--out', join(dir, 'x.jsonl')], dir);
  t.is(noData.status, 2);
  t.regex(noData.stderr, /E_CHECKPOINT/);
  for (const result of [budget, noTable, noCalibration, otherSupernet, fit, noData]) t.notRegex(result.stderr, /^\s+at .*:\d+:\d+\)?$/m, 'no stack trace');
});

test.serial('the search loads no @tensorflow/*, onnxruntime-* or onnx-proto module', async (t) => {
  const log = join(tempDir(), 'modules.log');
  writeFileSync(log, '');
  const outFile = join(dir, 'light.json');
  const moduleLog = join(ROOT, 'test/profile/module-log');
  const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', '--import', join(moduleLog, 'register.mjs'), join(moduleLog, 'child.mjs')], {
    cwd: ROOT,
    env: { ...process.env, OFA_MODULE_LOG: log, OFA_ENTRY: 'test/search/light-entry.ts', OFA_CALL: 'run', OFA_SEARCH: JSON.stringify({ predictor: predictorFile, devicesDir, device: 'synth', generations: 5 }), OFA_SEARCH_OUT: outFile },
    maxBuffer: 16 << 20,
  });
  const report = JSON.parse(stdout) as { cjs: string[] };
  const esm = readFileSync(log, 'utf8').split('\n').filter(Boolean);
  t.deepEqual([...esm, ...report.cjs].filter((url) => HEAVY.test(url)), []);
  for (const file of ['cli/search.ts', 'search/search.ts', 'search/mlp.ts', 'profile/predict.ts']) t.true(esm.some((url) => url.endsWith(file)), `${file} was loaded`);
  t.false(esm.some((url) => url.includes('/train/')), 'no module of train/');
  t.is(JSON.parse(readFileSync(outFile, 'utf8')).length, 2, 'it searched');
});
