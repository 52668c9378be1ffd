// `ofa export` end to end, in process (cli/main.ts): files written, their metadata and node names,
// inspect output, `--random-init` reproducibility, and bad input (unknown preset, a config of another
// preset or variant than the checkpoint, a corrupt checkpoint, a missing output file's folder or output
// folder, --seed with --checkpoint): a clear error, the right exit code, and no file left behind.
import test from 'ava';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { main } from '../../cli/main.ts';
import { decodeModel } from '../../export/onnx.ts';
import { createRng } from '../../lib/rng.ts';
import { activeBranches, configId, sampleMax, sampleRandom, subnetCost, subnetGeometry, type SubnetConfig } from '../../space/index.ts';
import { joinTensors, saveCheckpoint, type TensorMap } from '../../train/checkpoint/index.ts';
import { Supernet } from '../../train/supernet/index.ts';
import { tf, useCpuBackend } from './harness.ts';

test.before(useCpuBackend);

// ava runs the tests of a file concurrently; output capture swaps process.stdout/stderr, so run serially.
const serial = test.serial;

async function ofa(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const write = { out: process.stdout.write.bind(process.stdout), err: process.stderr.write.bind(process.stderr) };
  process.stdout.write = ((chunk: string | Uint8Array) => ((stdout += String(chunk)), true)) as typeof process.stdout.write;
  process.stderr.write = ((chunk: string | Uint8Array) => ((stderr += String(chunk)), true)) as typeof process.stderr.write;
  try {
    const code = await main(args);
    return { code, stdout, stderr };
  } finally {
    process.stdout.write = write.out;
    process.stderr.write = write.err;
  }
}

function tempDir(t: import('ava').ExecutionContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'ofa-export-cli-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Files in `dir`, temporary siblings of atomic writes included (none may be left behind). */
const listing = (dir: string) => readdirSync(dir).sort();

const nodeNames = (file: string) => new Set(decodeModel(readFileSync(file)).graph!.node!.map((node) => node.name));

/** The exporter's dotted node names (export/emit.ts) of every active MBConv depthwise conv, and the classifier. */
function expectedNodeNames(config: SubnetConfig): string[] {
  const geometry = subnetGeometry(config);
  const depthwise = geometry.stages.flatMap((stage) =>
    stage.layers.filter((layer) => activeBranches(layer.branches).mbconv).map((layer) => `stage${stage.index}.layer${layer.layer}.mbconv.depthwise`),
  );
  return [...depthwise, `exit${geometry.head.exit}.classifier`];
}

serial('export --random-init --subnet, then inspect (text and --json): MACs and params as space/cost.ts, runs with any batch', async (t) => {
  const dir = tempDir(t);
  const config = sampleRandom({ preset: 'micro', variant: 'ee-d-p' }, createRng(9));
  writeFileSync(join(dir, 'cfg.json'), JSON.stringify(config));
  const model = join(dir, 'model.onnx');
  const run = await ofa(['export', '--random-init', '--seed', '5', '--subnet', join(dir, 'cfg.json'), '-o', model]);
  t.is(run.code, 0, run.stderr);
  t.deepEqual(listing(dir), ['cfg.json', 'model.onnx']);
  const inspect = await ofa(['export', 'inspect', model, '--json']);
  t.is(inspect.code, 0, inspect.stderr);
  const summary = JSON.parse(inspect.stdout);
  const cost = subnetCost(config);
  t.is(summary.macs, cost.macs);
  t.is(summary.params, cost.deployedParams);
  t.is(summary.opset, 17);
  t.is(summary.irVersion, 8);
  t.is(summary.metadata.supernet_checksum, 'random-init:seed=5');
  t.is(summary.metadata.config_id, configId(config));
  t.deepEqual(JSON.parse(summary.metadata.subnet_config), config);
  t.is(Number(summary.metadata.macs), cost.macs);
  t.is(Number(summary.metadata.params), cost.deployedParams);
  t.is(summary.metadata.preset, config.preset);
  t.is(summary.metadata.variant, config.variant);
  // Readable node names (export/emit.ts), e.g. stage2.layer1.mbconv.depthwise, for Netron and profiling.
  const names = nodeNames(model);
  const expected = expectedNodeNames(config);
  t.true(expected.length > 1, 'the config has active MBConv branches');
  for (const name of expected) t.true(names.has(name), `node ${name} in the graph`);
  t.deepEqual(summary.inputs, [{ name: 'input', shape: ['batch', 1, config.resolution, config.resolution] }]);
  t.deepEqual(summary.outputs, [{ name: 'logits', shape: ['batch', 4] }]);
  t.false('BatchNormalization' in summary.ops, 'BN is folded');
  t.true(summary.ops.HardSwish > 0 && summary.ops.Conv > 0);
  const text = await ofa(['export', 'inspect', model]);
  t.regex(text.stdout, /opset 17/);
  t.regex(text.stdout, new RegExp(`MACs \\(graph, per sample\\): ${cost.macs}`));
  t.regex(text.stdout, /Conv\s+\d+/);
  const session = await ort.InferenceSession.create(readFileSync(model));
  const r = config.resolution;
  const out = await session.run({ input: new ort.Tensor('float32', new Float32Array(5 * r * r).fill(0.5), [5, 1, r, r]) });
  t.deepEqual(out.logits.dims, [5, 4]);
  await session.release();
});

serial('export --subnet-list LIST -o DIR writes DIR/<config id>.onnx for each; a bad entry writes nothing', async (t) => {
  const dir = tempDir(t);
  const configs = [0, 1, 2].map((seed) => sampleRandom({ preset: 'micro', variant: 'd' }, createRng(seed)));
  writeFileSync(join(dir, 'list.json'), JSON.stringify(configs));
  mkdirSync(join(dir, 'out'));
  const run = await ofa(['export', '--random-init', '--subnet-list', join(dir, 'list.json'), '-o', join(dir, 'out'), '--json']);
  t.is(run.code, 0, run.stderr);
  t.deepEqual(listing(join(dir, 'out')), configs.map((c) => `${configId(c)}.onnx`).sort());
  t.is(JSON.parse(run.stdout).models.length, 3);
  // One invalid entry (kernel 4): refused before anything is written.
  const bad = [...configs, { ...configs[0], stages: [{ ...configs[0].stages[0], layers: configs[0].stages[0].layers.map((l) => ({ ...l, kernel: 4 })) }, ...configs[0].stages.slice(1)] }];
  writeFileSync(join(dir, 'bad.json'), JSON.stringify(bad));
  mkdirSync(join(dir, 'out2'));
  const refused = await ofa(['export', '--random-init', '--subnet-list', join(dir, 'bad.json'), '-o', join(dir, 'out2')]);
  t.is(refused.code, 2);
  t.regex(refused.stderr, /bad\.json\[3\].*\n.*kernel/);
  t.deepEqual(listing(join(dir, 'out2')), []);
});

serial('bad input: unknown preset, missing output folder (--subnet and --subnet-list), missing flags: exit 2, clear message, no file', async (t) => {
  const dir = tempDir(t);
  const config = { ...sampleMax({ preset: 'micro', variant: 'ofa' }), preset: 'mikro' };
  writeFileSync(join(dir, 'cfg.json'), JSON.stringify(config));
  const unknown = await ofa(['export', '--random-init', '--subnet', join(dir, 'cfg.json'), '-o', join(dir, 'a.onnx')]);
  t.is(unknown.code, 2);
  t.regex(unknown.stderr, /E_CONFIG/);
  t.regex(unknown.stderr, /\$\.preset: preset "mikro" is not allowed; allowed: "tiny-imagenet", "fashion", "micro"/);
  writeFileSync(join(dir, 'ok.json'), JSON.stringify(sampleMax({ preset: 'micro', variant: 'ofa' })));
  const missing = await ofa(['export', '--random-init', '--subnet', join(dir, 'ok.json'), '-o', join(dir, 'nope', 'b.onnx')]);
  t.is(missing.code, 2);
  t.regex(missing.stderr, /E_OUTPUT_DIR.*nope.*does not exist/);
  // --subnet-list into an output folder that does not exist: refused, the folder is not created.
  writeFileSync(join(dir, 'list.json'), JSON.stringify([sampleMax({ preset: 'micro', variant: 'ofa' })]));
  const missingFolder = await ofa(['export', '--random-init', '--subnet-list', join(dir, 'list.json'), '-o', `${join(dir, 'missing', 'dir')}/`]);
  t.is(missingFolder.code, 2);
  t.regex(missingFolder.stderr, /E_OUTPUT_DIR.*missing\/dir\/.*does not exist/);
  t.false(existsSync(join(dir, 'missing')));
  const both = await ofa(['export', '--subnet', join(dir, 'ok.json'), '-o', join(dir, 'c.onnx')]);
  t.is(both.code, 2);
  t.regex(both.stderr, /exactly one of --checkpoint DIR and --random-init/);
  const notOnnx = await ofa(['export', 'inspect', join(dir, 'ok.json')]);
  t.is(notOnnx.code, 2);
  t.regex(notOnnx.stderr, /E_ONNX/);
  t.deepEqual(listing(dir), ['cfg.json', 'list.json', 'ok.json']);
});

serial('--random-init is reproducible: same config and seed give byte-identical files; another seed other weights', async (t) => {
  const dir = tempDir(t);
  const config = sampleRandom({ preset: 'micro', variant: 'ee-d-p' }, createRng(3));
  writeFileSync(join(dir, 'cfg.json'), JSON.stringify(config));
  const exportWith = async (seed: number, file: string) => {
    const run = await ofa(['export', '--random-init', '--seed', String(seed), '--subnet', join(dir, 'cfg.json'), '-o', join(dir, file)]);
    t.is(run.code, 0, run.stderr);
    return readFileSync(join(dir, file));
  };
  const first = await exportWith(7, 'a.onnx');
  const again = await exportWith(7, 'b.onnx');
  const other = await exportWith(8, 'c.onnx');
  t.true(first.equals(again), 'seed 7 twice: byte-identical');
  t.false(first.equals(other), 'seed 7 vs seed 8: different bytes');
  // Not only the metadata (supernet_checksum names the seed) differs: every weight tensor does.
  const weightsOf = (bytes: Uint8Array) =>
    new Map(decodeModel(bytes).graph!.initializer!.filter((init) => init.name!.endsWith('.weight')).map((init) => [init.name!, Buffer.from(init.rawData!)]));
  const [weights7, weights8] = [weightsOf(first), weightsOf(other)];
  t.deepEqual([...weights7.keys()], [...weights8.keys()]);
  t.true(weights7.size > 0);
  const same = [...weights7].filter(([name, data]) => data.equals(weights8.get(name)!)).map(([name]) => name);
  t.deepEqual(same, [], 'weight tensors equal under seeds 7 and 8');
});

serial('--checkpoint: exports from a saved supernet (metadata, node names); --seed, a config of another preset or variant, a corrupt checkpoint: refused, no file', async (t) => {
  const dir = tempDir(t);
  const net = new Supernet({ preset: 'micro', variant: 'ee-d', seed: 1 });
  const toMap = (vars: Map<string, tf.Variable>): TensorMap => new Map([...vars].map(([name, v]) => [name, { shape: [...v.shape], data: v.dataSync() as Float32Array }]));
  const ckpt = join(dir, 'run', 'ckpt-1');
  saveCheckpoint(ckpt, {
    manifest: { preset: 'micro', variant: 'ee-d', phase: 'full', epoch: 1, step: 1, seed: 1, dataState: null, optimizer: { name: 'sgd', hyperparameters: {}, state: {} }, metrics: {} },
    tensors: joinTensors({ parameters: toMap(net.parameters), buffers: toMap(net.buffers) }),
  });
  net.dispose();
  const good = sampleRandom({ preset: 'micro', variant: 'ee-d' }, createRng(2));
  writeFileSync(join(dir, 'good.json'), JSON.stringify(good));
  const ok = await ofa(['export', '--checkpoint', ckpt, '--subnet', join(dir, 'good.json'), '-o', join(dir, 'good.onnx')]);
  t.is(ok.code, 0, ok.stderr);
  const summary = JSON.parse((await ofa(['export', 'inspect', join(dir, 'good.onnx'), '--json'])).stdout);
  t.regex(summary.metadata.supernet_checksum, /^sha256:[0-9a-f]{64}$/);
  t.is(Number(summary.metadata.params), subnetCost(good).deployedParams);
  t.is(summary.metadata.preset, 'micro');
  t.is(summary.metadata.variant, 'ee-d');
  const names = nodeNames(join(dir, 'good.onnx'));
  t.true(names.has('stage1.layer1.mbconv.depthwise'));
  for (const name of expectedNodeNames(good)) t.true(names.has(name), `node ${name} in the graph`);
  // --seed means nothing with a checkpoint: refused (also when it equals the --random-init default, 0).
  for (const seed of ['3', '0']) {
    const seeded = await ofa(['export', '--checkpoint', ckpt, '--seed', seed, '--subnet', join(dir, 'good.json'), '-o', join(dir, 'seeded.onnx')]);
    t.is(seeded.code, 2);
    t.regex(seeded.stderr, new RegExp(`E_FLAG_CONFLICT.*--seed ${seed} conflicts with --checkpoint ".*ckpt-1".*allowed: --seed only with --random-init`));
    t.notRegex(seeded.stderr, /\n\s+at /, 'no stack trace');
  }
  writeFileSync(join(dir, 'other.json'), JSON.stringify(sampleRandom({ preset: 'micro', variant: 'ee-d-p' }, createRng(2))));
  const mismatch = await ofa(['export', '--checkpoint', ckpt, '--subnet', join(dir, 'other.json'), '-o', join(dir, 'other.onnx')]);
  t.is(mismatch.code, 2);
  t.regex(mismatch.stderr, /E_CONFIG_SUPERNET.*variant "ee-d-p" does not fit the checkpoint.*variant "ee-d"/);
  t.false(existsSync(join(dir, 'other.onnx')));
  // A config of another preset (same variant), in a list with a fitting one: refused before any file is written.
  const fashion = sampleRandom({ preset: 'fashion', variant: 'ee-d' }, createRng(2));
  writeFileSync(join(dir, 'presets.json'), JSON.stringify([good, fashion]));
  mkdirSync(join(dir, 'models'));
  const otherPreset = await ofa(['export', '--checkpoint', ckpt, '--subnet-list', join(dir, 'presets.json'), '-o', join(dir, 'models')]);
  t.is(otherPreset.code, 2);
  t.regex(otherPreset.stderr, /E_CONFIG_SUPERNET.*preset "fashion" variant "ee-d" does not fit the checkpoint.*preset "micro" variant "ee-d"/);
  t.deepEqual(listing(join(dir, 'models')), []);
  // Flip one byte of the weights: the checksum check refuses it (a bad input file, exit 2, like every checkpoint fault).
  const weights = join(ckpt, 'weights.safetensors');
  const bytes = readFileSync(weights);
  bytes[bytes.length - 3] ^= 0xff;
  writeFileSync(weights, bytes);
  const corrupt = await ofa(['export', '--checkpoint', ckpt, '--subnet', join(dir, 'good.json'), '-o', join(dir, 'corrupt.onnx')]);
  t.is(corrupt.code, 2);
  t.regex(corrupt.stderr, /E_CHECKPOINT_CHECKSUM/);
  t.deepEqual(listing(dir), ['good.json', 'good.onnx', 'models', 'other.json', 'presets.json', 'run']);
});
