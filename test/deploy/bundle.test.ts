// Issue 14 item 1-2 (deploy/bundle.ts) end to end on micro: a random-init supernet checkpoint made here,
// generated quadrant images as the data, two devices (cpu-1t on onnxruntime-node, wasm-node on
// onnxruntime-web) in a temp devices folder. Every manifest field is checked against a recomputation
// that shares no code with the bundle: the file's sha256 (node:crypto), MACs and params counted from the
// graph (test/export/graph-counter.ts), latency measured again, top-1 computed again by onnxruntime-node
// on inputs normalised here by hand.
import test from 'ava';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { deployBundle, nextBelow, BUNDLE_FORMAT, type BundleManifest, type DeployCandidate } from '../../deploy/index.ts';
import { encodeModel, exportSubnet } from '../../export/index.ts';
import { createRng } from '../../lib/rng.ts';
import { loadDevice, measureModel, type DeviceProfile } from '../../profile/index.ts';
import { configId, sampleMax, sampleMin, sampleRandom, type SubnetConfig } from '../../space/index.ts';
import type { OpenedSupernet } from '../../train/index.ts';
import { countGraph } from '../export/graph-counter.ts';
import { SPEC } from '../train/fixtures/quadrants.ts';
import { FAST, SPACE, deployData, devicesDir, microSupernet, removeTempDirs, tempDir } from './fixtures.ts';

const RESOLUTION = 12;
const temp = tempDir;

let supernet: OpenedSupernet;
let devices: DeviceProfile[];
let front: DeployCandidate[];
const data = deployData();

test.before(async () => {
  supernet = await microSupernet();
  const dir = devicesDir(['cpu-1t', 'wasm-node'], { bare: ['cpu-1t', 'wasm-node'] });
  devices = ['cpu-1t', 'wasm-node'].map((name) => loadDevice(name, { devicesDir: dir }));
  // A small synthetic front at the resolution the test can normalise by hand: predicted latency grows
  // with the index, predicted top-1 too.
  const rng = createRng(7);
  const configs: SubnetConfig[] = [sampleMin(SPACE), ...Array.from({ length: 3 }, () => sampleRandom(SPACE, rng)), sampleMax(SPACE)].map((c) => ({ ...c, resolution: RESOLUTION }));
  front = configs.map((config, i) => ({ config, predictedLatencyMs: 0.1 * (i + 1), predictedTop1: 0.5 + 0.05 * i }));
});

test.after.always(async () => {
  await supernet?.close();
  removeTempDirs();
});

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

/** Top-1 by onnxruntime-node on inputs normalised here: resolution 12 is the images' size, so the eval transform is (p/255 - mean)/std. */
async function independentTop1(model: Uint8Array): Promise<number> {
  const session = await ort.InferenceSession.create(model);
  try {
    const { count, pixels, labels } = data.test;
    const side = RESOLUTION * RESOLUTION;
    const input = Float32Array.from(pixels, (p) => (p / 255 - SPEC.mean[0]) / SPEC.std[0]);
    const out = await session.run({ input: new ort.Tensor('float32', input, [count, 1, RESOLUTION, RESOLUTION]) });
    const logits = out.logits.data as Float32Array;
    const classes = logits.length / count;
    let correct = 0;
    for (let i = 0; i < count; i++) {
      let best = 0;
      for (let k = 1; k < classes; k++) if (logits[i * classes + k] > logits[i * classes + best]) best = k;
      if (best === labels[i]) correct++;
    }
    void side;
    return correct / count;
  } finally {
    await session.release();
  }
}

test.serial('nextBelow: the largest predicted latency under the tried one and the budget on the predictor\'s scale; else the smallest; tried ids skipped', (t) => {
  // Front predicted at 0.1, 0.2, 0.3, 0.4, 0.5 ms.
  t.is(nextBelow(front, { predictedLatencyMs: 0.35 }, new Set()), front[2]);
  t.is(nextBelow(front, { predictedLatencyMs: 0.3 }, new Set([configId(front[1].config)])), front[0]);
  t.is(nextBelow(front, { predictedLatencyMs: 0.1 }, new Set()), undefined);
  // 0.5 predicted, 1.0 measured for a 0.5 ms budget: the predictor is off by 2x, so 0.25 ms predicted at most.
  t.is(nextBelow(front, { predictedLatencyMs: 0.5, measuredMs: 1, budgetMs: 0.5 }, new Set()), front[1]);
  // Nothing predicted under the corrected budget: the smallest point, as the last try.
  t.is(nextBelow(front, { predictedLatencyMs: 0.5, measuredMs: 100, budgetMs: 0.5 }, new Set()), front[0]);
  t.is(nextBelow(front, { predictedLatencyMs: 0.5, measuredMs: 100, budgetMs: 0.5 }, new Set([configId(front[0].config)])), front[1]);
});

for (const [index, name] of ['cpu-1t', 'wasm-node'].entries()) {
  test.serial(`${name}: a bundle whose every manifest field matches an independent recomputation; a rerun skips it`, async (t) => {
    const device = devices[index];
    const outDir = temp('ofa-deploy-out-');
    const pick = front[3];
    const lines: string[] = [];
    const result = await deployBundle({ supernet, device, budgetMs: 1000, pick, front, data, outDir, protocol: FAST, log: (line) => lines.push(line) });
    t.is(result.status, 'deployed');
    if (result.status === 'over-budget') return;
    const dir = join(outDir, name, '1000ms');
    t.is(result.dir, dir);
    t.deepEqual(readdirSync(dir).sort(), ['manifest.json', 'model.onnx']);
    const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as BundleManifest;
    t.deepEqual(manifest, JSON.parse(JSON.stringify(result.manifest)));
    const model = new Uint8Array(readFileSync(join(dir, 'model.onnx')));

    t.is(manifest.format, BUNDLE_FORMAT.format);
    t.is(manifest.formatVersion, 1);
    t.is(manifest.device, name);
    t.is(manifest.budgetMs, 1000);
    t.deepEqual(manifest.config, supernet.check(pick.config));
    t.is(manifest.id, configId(pick.config));
    t.deepEqual(manifest.predicted, { latencyMs: pick.predictedLatencyMs, top1: pick.predictedTop1 });
    // The file is the supernet's subnet with BN recalibrated on the calibration images (2000 asked,
    // the 256 there are all used), exported with the supernet checksum: byte-identical to a fresh export.
    const recalibrated = encodeModel(exportSubnet(supernet.subnet(pick.config, { recalibrate: { images: data.calibration, spec: SPEC, count: 2000, seed: 1 } }), { source: supernet.facts.checksum }));
    t.is(sha256(recalibrated), sha256(model));
    const running = encodeModel(exportSubnet(supernet.subnet(pick.config), { source: supernet.facts.checksum }));
    t.not(sha256(running), sha256(model), 'BN statistics were recalibrated');
    t.deepEqual(manifest.model, { file: 'model.onnx', sha256: sha256(model), bytes: model.length });
    const counted = countGraph(model);
    t.is(manifest.macs, counted.macs);
    t.is(manifest.params, counted.params);
    t.is(manifest.supernetChecksum, supernet.facts.checksum);
    t.deepEqual(manifest.deviceProfile, JSON.parse(JSON.stringify(device)));
    t.is(manifest.runtime.name, device.runtime);
    t.is(typeof manifest.host.cpuModel, 'string');
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { name: string; version: string };
    t.is(manifest.toolVersion, `${pkg.name} ${pkg.version}`);
    t.true(manifest.verify.maxAbsDiff <= 1e-4 && manifest.verify.images === 64 && manifest.verify.executionProvider === device.executionProvider);
    t.like(manifest.verify.onnxChecker, { available: true, ok: true }, 'the ONNX checker passed it');
    // Latency: the protocol's order statistics, and a second measurement on the same device agrees
    // within a factor a busy 2-core host allows.
    t.true(manifest.measured.fastestMs <= manifest.measured.medianMs && manifest.measured.medianMs <= manifest.measured.p90Ms);
    t.true(manifest.measured.samples >= FAST.minSamples);
    const again = await measureModel(model, device, FAST);
    const ratio = again.stats.minMs / manifest.measured.fastestMs;
    t.true(ratio > 1 / 4 && ratio < 4, `fastest run ${manifest.measured.fastestMs} ms, again ${again.stats.minMs} ms`);
    // True top-1 on the whole test split, recomputed by onnxruntime-node in one batch.
    t.is(manifest.testImages, data.test.count);
    t.is(manifest.trueTop1, await independentTop1(model));
    t.is(manifest.tries.length, 1);
    t.is(manifest.tries[0].id, manifest.id);
    t.true(manifest.tries[0].withinBudget);
    t.true(lines.some((line) => /deployed/.test(line)));

    // Rerun: same inputs, intact model: skipped, nothing rewritten.
    const rerun = await deployBundle({ supernet, device, budgetMs: 1000, pick, front, data, outDir, protocol: FAST });
    t.is(rerun.status, 'skipped');
    t.is(readFileSync(join(dir, 'manifest.json'), 'utf8'), JSON.stringify(manifest, null, 2) + '\n');
    // A model file that no longer has the recorded sha256 is deployed again.
    writeFileSync(join(dir, 'model.onnx'), new Uint8Array([1, 2, 3]));
    const redo = await deployBundle({ supernet, device, budgetMs: 1000, pick, front, data, outDir, protocol: FAST });
    t.is(redo.status, 'deployed');
    t.is(sha256(new Uint8Array(readFileSync(join(dir, 'model.onnx')))), sha256(model));
  });
}

test.serial('over budget: the next front point below each try, bounded by maxTries, every try recorded, nothing written', async (t) => {
  const outDir = temp('ofa-deploy-over-');
  const result = await deployBundle({ supernet, device: devices[0], budgetMs: 1e-6, pick: front[4], front, data, outDir, protocol: FAST, maxTries: 3, testImages: 16 });
  t.is(result.status, 'over-budget');
  if (result.status !== 'over-budget') return;
  // Nothing is predicted under a 1e-6 ms budget corrected by any measured ratio: the smallest point below
  // each try, then the next smallest, bounded by the 3 tries.
  t.deepEqual(result.tries.map((r) => r.id), [front[4], front[0]].map((p) => configId(p.config)));
  t.is(result.tries.length, 2, 'from the smallest point nothing is below: the loop ends before maxTries');
  t.true(result.tries.every((r) => !r.withinBudget && r.measured.medianMs > 1e-6 && r.verifyMaxAbsDiff <= 1e-4));
  t.false(existsSync(join(outDir, 'cpu-1t')) && readdirSync(join(outDir, 'cpu-1t')).length > 0);
  // The loop also ends when the front has nothing below: from the smallest point, one try.
  const last = await deployBundle({ supernet, device: devices[0], budgetMs: 1e-6, pick: front[0], front, data, outDir, protocol: FAST });
  t.is(last.status === 'over-budget' ? last.tries.length : -1, 1);
});

test.serial('bad options are refused before anything runs', async (t) => {
  const outDir = temp('ofa-deploy-bad-');
  await t.throwsAsync(deployBundle({ supernet, device: devices[0], budgetMs: -1, pick: front[0], front, data, outDir }), { code: 'E_DEPLOY_OPTIONS' } as never);
  await t.throwsAsync(deployBundle({ supernet, device: devices[0], budgetMs: 1, pick: front[0], front, data, outDir, maxTries: 0 }), { code: 'E_DEPLOY_OPTIONS' } as never);
});
