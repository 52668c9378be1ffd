// The latency predictor's entry (profile/predict.ts) loads no training engine, ONNX library or runtime
// (issue 11: a search makes 10^5 predictions; a gate and a report need tables without a runtime). Checked
// in a fresh process whose every resolved module URL is recorded by a node:module resolve hook
// (module-log/), plus the CommonJS modules in require.cache, which ESM hooks do not see.
import test from 'ava';
import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { ARTIFACT_FORMATS } from '../../profile/predict.ts';
import { blockKey, sampleUniform, subnetCost } from '../../space/index.ts';
import { blocksOfConfig } from '../../space/blocks.ts';
import { syntheticTable } from '../search/fixtures.ts';
import { cpuDevice, tempDir, writeTemp } from './fixtures.ts';

const run = promisify(execFile);
const root = fileURLToPath(new URL('../../', import.meta.url));
const moduleLog = fileURLToPath(new URL('./module-log/', import.meta.url));
const HEAVY = /(^|[/\\]|node_modules[/\\])(@tensorflow[/\\]|onnxruntime-[\w-]+|onnx-proto)([/\\@]|$)/;

interface ChildReport {
  esm: string[];
  cjs: string[];
  exports: string[];
  prediction?: { latencyMs: number; tableSumMs: number; blocks: number; calibrated: boolean };
}

/** Imports `entry` (a path from the checkout root) in a fresh Node process and reports what it loaded. */
async function loadIn(entry: string, env: Record<string, string> = {}): Promise<ChildReport> {
  const log = join(tempDir('ofa-modules-'), 'modules.log');
  writeFileSync(log, '');
  const { stdout } = await run(process.execPath, ['--import', 'tsx', '--import', join(moduleLog, 'register.mjs'), join(moduleLog, 'child.mjs')], {
    cwd: root,
    env: { ...process.env, OFA_MODULE_LOG: log, OFA_ENTRY: entry, ...env },
    maxBuffer: 16 * 2 ** 20,
  });
  const report = JSON.parse(stdout) as Omit<ChildReport, 'esm'>;
  return { ...report, esm: readFileSync(log, 'utf8').split('\n').filter(Boolean) };
}

const heavy = (report: ChildReport) => [...report.esm, ...report.cjs].filter((url) => HEAVY.test(url));

test('the predictor entry loads no @tensorflow/*, onnxruntime-* or onnx-proto module, and predicts from files', async (t) => {
  // A device folder in a temp dir: a device file, its table for one subnet's blocks, its calibration.
  const devicesDir = tempDir();
  writeTemp(devicesDir, 'tiny.json', JSON.stringify(cpuDevice('tiny')));
  const config = sampleUniform({ preset: 'micro', variant: 'ee-d' }, { kernel: 5, expand: 4, depth: 3 });
  const blocks = blocksOfConfig(config);
  const entries = Object.fromEntries(
    blocks.map((block, i) => [blockKey(block), { medianMs: 0.1 + i / 100, minMs: 0.1, p90Ms: 1, madMs: 0, samples: 1, sessionCreateMs: 0, firstRunMs: 0, run: 0, block }]),
  );
  mkdirSync(join(devicesDir, 'tiny'));
  const table = { ...syntheticTable({ preset: 'micro', variant: 'ee-d' }, 1, 'tiny'), expectedEntries: blocks.length, complete: false, entries };
  writeTemp(join(devicesDir, 'tiny'), 'lut-micro-ee-d.json', JSON.stringify(table));
  const coefficients = { scale: 2, perBlockMs: -0.01, perMegaMacMs: 0.5, perMegaParamMs: 0.25, offsetMs: 0.3 };
  writeTemp(join(devicesDir, 'tiny'), 'calibration-micro-ee-d.json', JSON.stringify({ ...ARTIFACT_FORMATS.calibration, device: 'tiny', preset: 'micro', variant: 'ee-d', coefficients, statistic: 'min' }));

  const report = await loadIn('profile/predict.ts', { OFA_PREDICT: JSON.stringify({ devicesDir, device: 'tiny', config }) });
  t.deepEqual(heavy(report), []);
  // The hook saw the predictor's modules (it does record), and the entry is the predictor's API.
  for (const file of ['profile/predict.ts', 'profile/predictor.ts', 'profile/table.ts', 'profile/device.ts', 'profile/runtimes/index.ts', 'space/blocks.ts']) {
    t.true(report.esm.some((url) => url.endsWith(file)), `${file} was loaded`);
  }
  for (const name of ['loadDevice', 'loadPredictor', 'makePredictor', 'readTable', 'readCalibration', 'tableSum', 'predictorQuality']) t.true(report.exports.includes(name), name);
  t.false(report.exports.includes('measureModel'));
  // It predicted: every block's fastest run 0.1 ms, then the calibration.
  const cost = subnetCost(config);
  const expected = 2 * 0.1 * blocks.length - 0.01 * blocks.length + 0.5 * (cost.macs / 1e6) + 0.25 * (cost.deployedParams / 1e6) + 0.3;
  t.true(report.prediction!.calibrated);
  t.is(report.prediction!.blocks, blocks.length);
  t.true(Math.abs(report.prediction!.latencyMs - expected) < 1e-9, `${report.prediction!.latencyMs} vs ${expected}`);
});

test('the module check sees heavy modules, by ESM import and by require()', async (t) => {
  // export/onnx.ts imports onnx-proto (ESM); probeModel() require()s it (CommonJS).
  t.true(heavy(await loadIn('export/onnx.ts')).some((url) => url.includes('onnx-proto')));
  const probe = await loadIn('profile/probe.ts', { OFA_CALL: 'probeModel' });
  t.true(probe.cjs.some((path) => HEAVY.test(path) && path.includes('onnx-proto')), 'onnx-proto by require()');
  t.false(probe.esm.some((url) => HEAVY.test(url)), 'probe.ts imports no heavy module at load');
});
