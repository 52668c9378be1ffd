// Issue 14 item 3 (deploy/deploy.ts deployDevices) on micro: the search per device (a synthetic table and
// an additive accuracy model), a bundle per budget, deploy.json over both devices with a gate record per
// model that `ofa gate --baseline deploy.json` reads; device checks before anything is measured.
import test from 'ava';
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEPLOY_FORMAT, deployDevices, type BundleManifest, type DeployOptions } from '../../deploy/index.ts';
import { tableHostDifferences } from '../../deploy/deploy.ts';
import { hostFacts, loadDevice, scoreModel, scoringDevice } from '../../profile/index.ts';
import { closeAllBrowsers } from '../../profile/runtimes/chromium/browser.ts';
import { imagesAt } from '../../train/index.ts';
import { SPEC } from '../train/fixtures/quadrants.ts';
import { loadSearchDevice } from '../../search/index.ts';
import { readBaselineFile } from '../../deploy/gate/baseline.ts';
import type { OpenedSupernet } from '../../train/index.ts';
import { summaryTable } from '../../cli/deploy.ts';
import { checkReportInChromium } from './report-check.ts';
import { additiveModel, additiveScores } from '../search/fixtures.ts';
import { FAST, SPACE, deployData, devicesDir, microSupernet, removeTempDirs, tempDir } from './fixtures.ts';

let supernet: OpenedSupernet;
const data = deployData();
const accuracy = { ...SPACE, ...additiveModel(additiveScores(SPACE, 3)) };

test.before(async () => {
  supernet = await microSupernet();
});
test.after.always(async () => {
  await supernet?.close();
  await closeAllBrowsers();
  removeTempDirs();
});

const options = (over: Partial<DeployOptions>): DeployOptions => ({
  supernet,
  accuracy: { predict: (configs) => accuracy.predict(configs) },
  devices: 'all',
  data,
  outDir: tempDir('ofa-deploy-run-'),
  nsga2: { population: 16, generations: 4 },
  bundle: { protocol: FAST, verifyImages: 16, testImages: 48 },
  gateRounds: 10,
  ...over,
});

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

test.serial('all devices: the one that cannot start is skipped with its reason; two devices deployed, deploy.json matches the bundles; a rerun skips them', async (t) => {
  const dir = devicesDir(['cpu-1t', 'coreml-x', 'wasm-node'], { budgetsMs: [50] });
  const lines: string[] = [];
  const run = options({ devicesDir: dir, log: (line) => lines.push(line) });
  const result = await deployDevices(run);
  t.is(result.format, DEPLOY_FORMAT.format);
  t.true(result.complete);
  t.deepEqual(result.skippedDevices.map((s) => s.name), ['coreml-x']);
  t.regex(result.skippedDevices[0].reason, /E_EP_UNAVAILABLE/);
  t.deepEqual(result.deployments.map((d) => [d.id, d.status]), [['cpu-1t/50ms', 'deployed'], ['wasm-node/50ms', 'deployed']]);
  const written = JSON.parse(readFileSync(join(run.outDir, 'deploy.json'), 'utf8'));
  t.deepEqual(written, JSON.parse(JSON.stringify(result)));
  for (const entry of result.deployments) {
    const manifest = JSON.parse(readFileSync(join(run.outDir, entry.dir, 'manifest.json'), 'utf8')) as BundleManifest;
    t.is(entry.sha256, sha256(new Uint8Array(readFileSync(join(run.outDir, entry.model!)))));
    t.is(entry.sha256, manifest.model.sha256);
    t.is(entry.configId, manifest.id);
    t.is(entry.trueTop1, manifest.trueTop1);
    t.is(manifest.testImages, 48);
    t.deepEqual(entry.predicted, manifest.predicted);
    // The pick is the search's: on the device's front, within the budget as predicted.
    const front = result.devices.find((d) => d.name === entry.device)!.front;
    t.true(front.some((p) => p.id === entry.configId));
    t.true(entry.predicted!.latencyMs <= 50);
    // The gate reads the record back for the device.
    const baseline = readBaselineFile(join(run.outDir, 'deploy.json'), { device: entry.device });
    t.is(baseline.entry, entry.id);
    t.is(baseline.record.model.sha256, entry.sha256!);
  }
  t.true(lines.some((line) => /coreml-x: skipped/.test(line)));
  // The report: opened in a real headless Chromium, each device's plot rendered with its points.
  await checkReportInChromium(t, run.outDir, result);
  // The synthetic tables name no host and runtime "synthetic": the runtime difference is reported.
  for (const device of result.devices) t.true(device.tableHostDiffers.some((d) => /^synthetic there, onnxruntime-(node|web) \S+ here$/.test(d)), device.tableHostDiffers.join('; '));
  // The summary table: a header, one row per device and budget, the skipped device.
  const table = summaryTable(result).split('\n');
  t.is(table.length, 4);
  t.regex(table[0], /^device\s+budget ms\s+pick\s+predicted ms\s+measured ms\s+predicted top-1\s+true top-1\s+tries\s+status$/);
  for (const [i, entry] of result.deployments.entries()) {
    t.regex(table[i + 1], new RegExp(`^${entry.device}\\s+50\\s+${entry.configId}\\s+${entry.predicted!.latencyMs.toFixed(4)}\\s+${entry.measured!.medianMs.toFixed(4)}\\s+.*\\s+${(100 * entry.trueTop1!).toFixed(2)}%\\s+1\\s+deployed$`));
  }
  t.regex(table[3], /^coreml-x\s.*device skipped$/);

  // A rerun searches with the speed reference the first run measured (measured again, jitter would move
  // the predictions and so the picks): the same picks, the bundles skipped.
  const againLines: string[] = [];
  const again = await deployDevices({ ...run, log: (line) => againLines.push(line) });
  t.deepEqual(again.devices.map((d) => d.median), result.devices.map((d) => d.median));
  t.is(againLines.filter((line) => /the speed reference as the earlier run in .* measured it/.test(line)).length, 2, againLines.join('\n'));
  t.deepEqual(again.deployments.map((d) => d.status), ['skipped', 'skipped']);
  t.deepEqual(again.deployments.map((d) => d.gate?.logRatios), result.deployments.map((d) => d.gate?.logRatios), 'gate records reused');
});

test.serial('named devices: an unknown one, one that cannot start, one without a table, a budget below every subnet: errors before anything is measured', async (t) => {
  const dir = devicesDir(['cpu-1t', 'coreml-x', 'wasm-node'], { bare: ['wasm-node'] });
  await t.throwsAsync(deployDevices(options({ devicesDir: dir, devices: ['cpu-1t', 'nope'] })), { code: 'E_DEVICE_UNKNOWN' } as never);
  await t.throwsAsync(deployDevices(options({ devicesDir: dir, devices: ['coreml-x'] })), { code: 'E_EP_UNAVAILABLE' } as never);
  await t.throwsAsync(deployDevices(options({ devicesDir: dir, devices: ['wasm-node'] })), { code: 'E_LUT_MISSING' } as never);
  await t.throwsAsync(deployDevices(options({ devicesDir: dir, devices: ['cpu-1t'], budgetsMs: [1e-6] })), { code: 'E_SEARCH_BUDGET' } as never);
});

test.serial('tableHostDifferences: CPU model, cores and runtime version of the table\'s last build session against this host', (t) => {
  const dir = devicesDir(['cpu-1t']);
  const device = loadDevice('cpu-1t', { devicesDir: dir });
  const file = join(dir, 'cpu-1t', `lut-${SPACE.preset}-${SPACE.variant}.json`);
  const table = JSON.parse(readFileSync(file, 'utf8'));
  const here = hostFacts();
  const run = (host: object) => ({ startedAt: here.date, host, protocol: FAST, measured: 1 });
  writeFileSync(file, JSON.stringify({ ...table, runtime: 'onnxruntime-node 0.0.1', runs: [run({ ...here, cpuModel: 'Old CPU', logicalCores: here.logicalCores + 2 })] }));
  t.deepEqual(tableHostDifferences(device, SPACE, dir, 'onnxruntime-node 9.9.9'), [
    `CPU "Old CPU" there, ${JSON.stringify(here.cpuModel)} here`,
    `${here.logicalCores + 2} cores there, ${here.logicalCores} here`,
    'onnxruntime-node 0.0.1 there, onnxruntime-node 9.9.9 here',
  ]);
  writeFileSync(file, JSON.stringify({ ...table, runtime: 'onnxruntime-node 9.9.9', runs: [run({ ...here, cpuModel: 'Old CPU' }), run(here)] }));
  t.deepEqual(tableHostDifferences(device, SPACE, dir, 'onnxruntime-node 9.9.9'), [], 'the last session counts');
});

test.serial('a chromium device: the model verified, measured and scored in a headless Chromium page; its true top-1 the one onnxruntime-node computes', async (t) => {
  const dir = devicesDir(['chromium-wasm-1t'], { budgetsMs: [50] });
  const run = options({ devicesDir: dir, devices: ['chromium-wasm-1t'], gateRounds: 0, bundle: { protocol: FAST, verifyImages: 8, testImages: data.test.count } });
  const result = await deployDevices(run);
  t.true(result.complete);
  t.deepEqual(result.deployments.map((d) => [d.id, d.status]), [['chromium-wasm-1t/50ms', 'deployed']]);
  const [entry] = result.deployments;
  const manifest = JSON.parse(readFileSync(join(run.outDir, entry.dir, 'manifest.json'), 'utf8')) as BundleManifest;
  t.is(manifest.verify.runtime, 'chromium');
  t.true(manifest.verify.maxAbsDiff <= 1e-4, `max abs diff ${manifest.verify.maxAbsDiff}`);
  t.regex(manifest.runtime.version, /^onnxruntime-web \S+ in chromium \d+/);
  t.true(manifest.measured.medianMs > 0 && manifest.measured.fastestMs <= manifest.measured.medianMs);
  // The true top-1 again, by onnxruntime-node on every test image (the deploy scored them in the page).
  const model = new Uint8Array(readFileSync(join(run.outDir, entry.model!)));
  t.is(entry.sha256, sha256(model));
  const r = manifest.config.resolution;
  const { images, labels } = imagesAt(data.test, SPEC, r, {});
  const again = await scoreModel(model, scoringDevice(1), { images, labels, resolution: r, channels: SPEC.channels });
  t.is(manifest.testImages, data.test.count);
  t.is(manifest.trueTop1, again.top1);
});

test.serial('a budget that no subnet meets when measured: every try recorded, the deployment over budget, deploy.json incomplete', async (t) => {
  // Predictions scaled down 10^4 (a table from a far faster device): every subnet is predicted under
  // 1 microsecond, which no onnxruntime session.run reaches.
  const dir = devicesDir(['cpu-1t'], { budgetsMs: [0.001], calibrationScale: 1e-4 });
  const run = options({ devicesDir: dir, devices: ['cpu-1t'], bundle: { protocol: FAST, verifyImages: 8, testImages: 16, maxTries: 2 } });
  const result = await deployDevices(run);
  t.false(result.complete);
  t.is(result.deployments.length, 1);
  const [entry] = result.deployments;
  t.is(entry.status, 'over-budget');
  t.is(entry.tries.length, 2);
  t.true(entry.tries.every((r) => !r.withinBudget && r.measured.medianMs > 0.001));
  t.true(entry.tries[1].predictedLatencyMs < entry.tries[0].predictedLatencyMs, 'the next front point below');
  t.is(entry.gate, undefined);
  t.deepEqual(JSON.parse(readFileSync(join(run.outDir, 'deploy.json'), 'utf8')).complete, false);
});

test.serial('the speed reference: measured here against the calibration\'s, applied to the predictions before searching when the host differs, only recorded when it does not; a fastest-run predictor put on the median', async (t) => {
  // A calibration whose speed reference ran 1,000 ms: this host is far faster, and says so.
  const dir = devicesDir(['cpu-1t'], { budgetsMs: [50], referenceMs: 1000 });
  const lines: string[] = [];
  const run = options({ devicesDir: dir, devices: ['cpu-1t'], gateRounds: 0, bundle: { protocol: FAST, verifyImages: 8, testImages: 16 }, log: (line) => lines.push(line) });
  const differs = await deployDevices(run);
  const [device] = differs.devices;
  t.true(device.tableHostDiffers.length > 0, 'a synthetic table: another host');
  const speed = device.speed!;
  t.true(speed.applied);
  t.is(speed.calibrationMs, 1000);
  t.is(speed.statistic, 'min');
  t.true(speed.hereMs > 0 && speed.hereMs < 1000);
  t.is(speed.factor, speed.hereMs / 1000);
  // The calibration predicts the fastest run: the budgets are on the median, so the predictions are also
  // multiplied by the speed reference's median over its fastest run, measured here in the same session.
  const median = device.median!;
  t.is(median.statistic, 'min');
  t.is(median.referenceFastestMs, speed.hereMs);
  t.true(median.referenceMedianMs >= median.referenceFastestMs);
  t.is(median.factor, median.referenceMedianMs / median.referenceFastestMs);
  const both = speed.factor * median.factor;
  const unscaled = loadSearchDevice('cpu-1t', SPACE, { devicesDir: dir }).latency;
  for (const point of device.front) t.true(Math.abs(point.predictedLatencyMs - unscaled.predict(point.config).latencyMs * both) <= 1e-12 * point.predictedLatencyMs, point.id);
  t.true(lines.some((line) => /predictions scaled by \d\.\d{3}, the speed reference \S+ measured here/.test(line)), lines.join('\n'));
  t.true(lines.some((line) => /budgets are on the median: predictions times \d\.\d{3}/.test(line)), lines.join('\n'));
  const [entry] = differs.deployments;
  t.true(Math.abs(entry.predicted!.latencyMs - unscaled.predict(device.front.find((p) => p.id === entry.configId)!.config).latencyMs * both) < 1e-12 * entry.predicted!.latencyMs);

  // The same table rewritten as measured here, by this runtime: nothing differs, nothing is scaled.
  const file = join(dir, 'cpu-1t', `lut-${SPACE.preset}-${SPACE.variant}.json`);
  const table = JSON.parse(readFileSync(file, 'utf8'));
  writeFileSync(file, JSON.stringify({ ...table, runtime: entry.tries.length > 0 ? (JSON.parse(readFileSync(join(run.outDir, entry.dir, 'manifest.json'), 'utf8')) as BundleManifest).runtime.version : '', runs: [{ startedAt: hostFacts().date, host: hostFacts(), protocol: FAST, measured: 1 }] }));
  const same = await deployDevices({ ...run, outDir: tempDir('ofa-deploy-same-') });
  t.deepEqual(same.devices[0].tableHostDiffers, []);
  t.false(same.devices[0].speed!.applied);
  const sameMedian = same.devices[0].median!.factor;
  for (const point of same.devices[0].front) t.true(Math.abs(point.predictedLatencyMs - unscaled.predict(point.config).latencyMs * sameMedian) <= 1e-12 * point.predictedLatencyMs, point.id);
});
