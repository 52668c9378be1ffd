// Issue 5 with the supernet (contract: train/supernet): for random subnets of every variant, the
// supernet's eval-mode forward equals the ONNX export of extractSubnet(config) run in onnxruntime-node,
// and a checkpoint written by train/checkpoint round-trips through `checkpointWeights`.
import test from 'ava';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkpointWeights, encodeModel, exportSubnet } from '../../export/index.ts';
import { createRng, type Rng } from '../../lib/rng.ts';
import { VARIANT_NAMES, sampleRandom, subnetCost } from '../../space/index.ts';
import { joinTensors, saveCheckpoint, type TensorMap } from '../../train/checkpoint/index.ts';
import { Supernet } from '../../train/supernet/index.ts';
import { countGraph } from './graph-counter.ts';
import { maxAbsDiff, nhwcToNchw, openSessions, closeSessions, randomImages, runNode, tf, useCpuBackend } from './harness.ts';

const SUBNETS_PER_VARIANT = 3;

test.before(useCpuBackend);

function setRandom(v: tf.Variable, rng: Rng, value: (rng: Rng) => number): void {
  const next = tf.tensor(Float32Array.from({ length: v.size }, () => value(rng)), v.shape, 'float32');
  v.assign(next);
  next.dispose();
}

/** Trained-looking BN affine parameters and biases (the initial gamma 1 / beta 0 would hide folding bugs). */
function perturb(net: Supernet, seed: number): void {
  const rng = createRng(seed);
  for (const [name, v] of net.parameters) {
    if (name.endsWith('.gamma')) setRandom(v, rng, (r) => 0.5 + 0.5 * r.next());
    else if (name.endsWith('.beta') || name.endsWith('.bias')) setRandom(v, rng, (r) => 0.2 * r.normal());
  }
}

function imagesOf(seed: number, batch: number, resolution: number): tf.Tensor4D {
  return tf.tensor4d(randomImages(seed, batch, resolution, 1), [batch, resolution, resolution, 1]);
}

async function compare(t: import('ava').ExecutionContext, net: Supernet, configSeed: number, source: (config: ReturnType<typeof sampleRandom>) => ReturnType<Supernet['extractSubnet']>): Promise<number> {
  const config = sampleRandom({ preset: net.preset.name, variant: net.variant.name }, createRng(configSeed));
  const r = config.resolution;
  // BN recalibration (ofav2.md s3) gives this subnet's channels real, non-trivial statistics.
  net.recalibrateBatchNorm(config, [imagesOf(configSeed + 1, 32, r)]);
  const bytes = encodeModel(exportSubnet(source(config), { source: 'test' }));
  t.is(countGraph(bytes).macs, subnetCost(config).macs);
  const batch = 4;
  const images = randomImages(configSeed + 2, batch, r, 1);
  const expected = tf.tidy(() => net.forward(config, tf.tensor4d(images, [batch, r, r, 1]), { training: false }).dataSync() as Float32Array);
  const sessions = await openSessions(bytes, 'basic');
  try {
    const got = await runNode(sessions.node, { input: { data: nhwcToNchw(images, batch, r, 1), dims: [batch, 1, r, r] } });
    const scale = maxAbsDiff(expected, new Float32Array(expected.length));
    const d = maxAbsDiff(got.data, expected);
    // 1e-4 absolute on logits scaled to O(1): relative to the largest logit when that is larger.
    t.true(d <= 1e-4 * Math.max(1, scale), `${config.variant} seed ${configSeed}: max abs diff ${d} (largest logit ${scale})`);
    return d / Math.max(1, scale);
  } finally {
    await closeSessions(sessions);
  }
}

for (const variant of VARIANT_NAMES) {
  test(`${variant}: Supernet eval forward == ONNX(extractSubnet) for ${SUBNETS_PER_VARIANT} random micro subnets`, async (t) => {
    const net = new Supernet({ preset: 'micro', variant, seed: 11 });
    try {
      perturb(net, 12);
      let worst = 0;
      for (let i = 0; i < SUBNETS_PER_VARIANT; i++) worst = Math.max(worst, await compare(t, net, 100 * i + 7, (config) => net.extractSubnet(config)));
      t.log(`${variant}: worst relative max abs diff ${worst.toExponential(2)}`);
    } finally {
      net.dispose();
    }
  });
}

test('a checkpoint round-trips: checkpointWeights(dir) exports what the saved supernet computes', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ofa-export-ckpt-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const net = new Supernet({ preset: 'micro', variant: 'ee-d-p', seed: 3 });
  perturb(net, 4);
  const config = sampleRandom({ preset: 'micro', variant: 'ee-d-p' }, createRng(5));
  net.recalibrateBatchNorm(config, [imagesOf(6, 32, config.resolution)]);
  const toMap = (vars: Map<string, tf.Variable>): TensorMap =>
    new Map([...vars].map(([name, v]) => [name, { shape: [...v.shape], data: v.dataSync() as Float32Array }]));
  const manifest = saveCheckpoint(join(dir, 'ckpt'), {
    manifest: { preset: 'micro', variant: 'ee-d-p', phase: 'full', epoch: 1, step: 1, seed: 3, dataState: null, optimizer: { name: 'sgd', hyperparameters: {}, state: {} }, metrics: {} },
    tensors: joinTensors({ parameters: toMap(net.parameters), buffers: toMap(net.buffers) }),
  });
  // On the cpu backend the other tests of this file use: openSupernet's default (auto: wasm) would switch
  // the process-wide backend under the tests running beside this one.
  const source = await checkpointWeights(join(dir, 'ckpt'), { backend: 'cpu' });
  try {
    t.is(source.checksum, `sha256:${manifest.files['weights.safetensors'].sha256}`);
    const r = config.resolution;
    const images = randomImages(8, 3, r, 1);
    const expected = tf.tidy(() => net.forward(config, tf.tensor4d(images, [3, r, r, 1]), { training: false }).dataSync() as Float32Array);
    const bytes = encodeModel(exportSubnet(source.subnet(config), { source: source.checksum }));
    const sessions = await openSessions(bytes, 'basic');
    try {
      const got = await runNode(sessions.node, { input: { data: nhwcToNchw(images, 3, r, 1), dims: [3, 1, r, r] } });
      t.true(maxAbsDiff(got.data, expected) <= 1e-4 * Math.max(1, maxAbsDiff(expected, new Float32Array(expected.length))));
    } finally {
      await closeSessions(sessions);
    }
    // A config of another variant does not fit this supernet.
    const other = sampleRandom({ preset: 'micro', variant: 'ee-d' }, createRng(1));
    t.throws(() => source.check(other), { message: /does not fit the checkpoint/ });
  } finally {
    source.dispose();
    net.dispose();
  }
});
