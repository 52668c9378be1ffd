// Checkpoints: exact round trip through our own safetensors writer/reader, refusal of corrupt files and
// of another preset or variant, and crash safety (partial temp folders, and real SIGKILLs mid-save).
import test from 'ava';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { OfaError, exitCodeOf, isOfaError } from '../../../lib/errors.ts';
import { sha256 } from '../../../train/data/cache.ts';
import { createRng } from '../../../lib/rng.ts';
import {
  decodeSafetensors, encodeSafetensors, joinTensors, latestCheckpoint, loadCheckpoint, pruneCheckpoints, saveCheckpoint, splitTensors, supernetWeights,
  type CheckpointManifestInput, type TensorMap,
} from '../../../train/checkpoint/index.ts';

function tempDir(t: { teardown(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'ofav2-ckpt-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function randomTensors(seed: number): TensorMap {
  const rng = createRng(seed);
  const tensor = (shape: number[]) => ({ shape, data: Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => rng.normal()) });
  return joinTensors({
    parameters: new Map([['stem.conv.weight', tensor([3, 3, 1, 8])], ['stem.bn.gamma', tensor([8])], ['exit5.classifier.bias', tensor([10])], ['scalar', tensor([])]]),
    buffers: new Map([['stem.bn.runningMean', tensor([8])], ['stem.bn.runningVariance', tensor([8])]]),
    momentum: new Map([['stem.conv.weight', tensor([3, 3, 1, 8])], ['stem.bn.gamma', tensor([8])]]),
  });
}

function manifest(step: number, overrides: Partial<CheckpointManifestInput> = {}): CheckpointManifestInput {
  return {
    preset: 'micro', variant: 'ee-d', phase: 'full', epoch: Math.floor(step / 10), step, seed: 42,
    dataState: { seed: 42, epoch: Math.floor(step / 10), batchIndex: step % 10, count: 640, batchSize: 64 },
    optimizer: { name: 'sgd', hyperparameters: { momentum: 0.9, nesterov: true, weightDecay: 3e-5, baseLr: 0.1 }, state: { momentumBuffers: 2 } },
    metrics: { loss: 1.5 - step / 100 },
    ...overrides,
  };
}

test('safetensors: layout by hand (header length, aligned JSON header, little-endian data) and exact round trip', (t) => {
  const tensors: TensorMap = new Map([['a', { shape: [2], data: Float32Array.from([1, -2.5]) }], ['b.c', { shape: [1, 1], data: Float32Array.from([0.1]) }]]);
  const bytes = encodeSafetensors(tensors);
  const headerLength = Number(new DataView(bytes.buffer).getBigUint64(0, true));
  t.is((8 + headerLength) % 8, 0);
  const header = JSON.parse(Buffer.from(bytes.subarray(8, 8 + headerLength)).toString('utf8'));
  t.deepEqual(header, { a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, 'b.c': { dtype: 'F32', shape: [1, 1], data_offsets: [8, 12] } });
  t.is(bytes.length, 8 + headerLength + 12);
  // 1.0f = 0x3f800000, little-endian.
  t.deepEqual([...bytes.subarray(8 + headerLength, 8 + headerLength + 4)], [0x00, 0x00, 0x80, 0x3f]);
  const decoded = decodeSafetensors(bytes).tensors;
  t.deepEqual([...decoded.keys()], ['a', 'b.c']);
  t.deepEqual(decoded.get('b.c'), { shape: [1, 1], data: Float32Array.from([0.1]) });
  // Malformed files are refused with the reason.
  t.throws(() => decodeSafetensors(bytes.subarray(0, bytes.length - 4), 'w.safetensors'), { message: /w\.safetensors .*past the data|cover/ });
  const wrongType = Buffer.from(JSON.stringify({ a: { dtype: 'F16', shape: [2], data_offsets: [0, 4] } }));
  const f16 = new Uint8Array(8 + wrongType.length + 4);
  new DataView(f16.buffer).setBigUint64(0, BigInt(wrongType.length), true);
  f16.set(wrongType, 8);
  t.throws(() => decodeSafetensors(f16), { message: /\$\.a\.dtype: must be "F32": this project reads F32 only \(value "F16"\)/ });
});

test('save then load returns every tensor bit for bit and the manifest as given', (t) => {
  const run = tempDir(t);
  const tensors = randomTensors(1);
  const written = saveCheckpoint(join(run, 'step-000010'), { manifest: manifest(10), tensors });
  const loaded = loadCheckpoint(join(run, 'step-000010'), { expectPreset: 'micro', expectVariant: 'ee-d' });
  t.deepEqual([...loaded.tensors.keys()], [...tensors.keys()]);
  for (const [name, tensor] of tensors) {
    t.deepEqual(loaded.tensors.get(name)!.shape, tensor.shape);
    t.deepEqual(new Uint8Array(loaded.tensors.get(name)!.data.buffer), new Uint8Array(tensor.data.buffer), name);
  }
  t.deepEqual(loaded.manifest, written);
  t.is(loaded.manifest.formatVersion, 1);
  t.deepEqual(loaded.manifest.dataState, manifest(10).dataState);
  t.regex(loaded.manifest.files['weights.safetensors'].sha256, /^[0-9a-f]{64}$/);
  const groups = splitTensors(loaded.tensors);
  t.deepEqual([...groups.parameters.keys()], ['stem.conv.weight', 'stem.bn.gamma', 'exit5.classifier.bias', 'scalar']);
  t.deepEqual([...groups.buffers.keys()], ['stem.bn.runningMean', 'stem.bn.runningVariance']);
  t.deepEqual([...groups.momentum.keys()], ['stem.conv.weight', 'stem.bn.gamma']);
  t.is(groups.other.size, 0);
  t.is(latestCheckpoint(run), join(run, 'step-000010'));
  t.deepEqual(JSON.parse(readFileSync(join(run, 'latest.json'), 'utf8')), { format: 'ofav2/checkpoint-pointer', formatVersion: 1, checkpoint: 'step-000010', epoch: 1, step: 10, phase: 'full' });
  t.is(loaded.manifest.format, 'ofav2/checkpoint');
});

test('one flipped byte in the weights, or a wrong size, is refused with a clear error', (t) => {
  const run = tempDir(t);
  const dir = join(run, 'step-000001');
  saveCheckpoint(dir, { manifest: manifest(1), tensors: randomTensors(2) });
  const path = join(dir, 'weights.safetensors');
  const bytes = readFileSync(path);
  bytes[bytes.length - 7] ^= 0x01;
  writeFileSync(path, bytes);
  const error = t.throws(() => loadCheckpoint(dir), { instanceOf: OfaError });
  t.is(error!.code, 'E_CHECKPOINT_CHECKSUM');
  t.regex(error!.message, /weights\.safetensors" has sha256 .* the file is corrupt/);
  writeFileSync(path, bytes.subarray(0, 100));
  t.throws(() => loadCheckpoint(dir), { message: /\(100 bytes\), but the manifest records/ });
  rmSync(path);
  t.throws(() => loadCheckpoint(dir), { message: /is missing/ });
  writeFileSync(join(dir, 'manifest.json'), '{"formatVersion": 1, "pres');
  t.throws(() => loadCheckpoint(dir), { message: /not valid JSON/ });
  t.throws(() => loadCheckpoint(join(run, 'nope')), { message: /does not exist/ });
});

test('a checkpoint of another preset or variant is refused, naming both', (t) => {
  const run = tempDir(t);
  const dir = join(run, 'ckpt');
  saveCheckpoint(dir, { manifest: manifest(3), tensors: randomTensors(3) });
  const preset = t.throws(() => loadCheckpoint(dir, { expectPreset: 'fashion' }), { instanceOf: OfaError });
  t.is(preset!.code, 'E_CHECKPOINT_MISMATCH');
  t.regex(preset!.message, /preset "micro", not the requested preset "fashion"/);
  t.throws(() => loadCheckpoint(dir, { expectPreset: 'micro', expectVariant: 'ofa' }), { message: /variant "ee-d", not the requested variant "ofa"/ });
  t.notThrows(() => loadCheckpoint(dir, { expectPreset: 'micro', expectVariant: 'ee-d' }));
});

test('an interrupted save (partial temp folder, dangling pointer) leaves the previous checkpoint the latest and loadable', (t) => {
  const run = tempDir(t);
  saveCheckpoint(join(run, 'step-000005'), { manifest: manifest(5), tensors: randomTensors(5) });
  saveCheckpoint(join(run, 'step-000008'), { manifest: manifest(8), tensors: randomTensors(8) });
  // What a kill during the next save leaves: a temp folder holding half a weights file and no manifest.
  const partial = join(run, '.step-000012.tmp-999999-deadbeef');
  mkdirSync(partial);
  writeFileSync(join(partial, 'weights.safetensors'), encodeSafetensors(randomTensors(12)).subarray(0, 500));
  t.is(latestCheckpoint(run), join(run, 'step-000008'));
  t.is(loadCheckpoint(latestCheckpoint(run)!).manifest.step, 8);
  // A pointer to a folder that never completed (or was deleted): fall back to the newest complete one.
  writeFileSync(join(run, 'latest.json'), JSON.stringify({ checkpoint: 'step-000012' }));
  t.is(latestCheckpoint(run), join(run, 'step-000008'));
  // A folder without a manifest is not a checkpoint.
  mkdirSync(join(run, 'step-000099'));
  t.is(latestCheckpoint(run), join(run, 'step-000008'));
  // The next save cleans the dead process's temp folder; replacing a checkpoint of the same name works.
  saveCheckpoint(join(run, 'step-000008'), { manifest: manifest(8, { metrics: { replaced: true } }), tensors: randomTensors(80) });
  t.false(existsSync(partial));
  t.deepEqual(loadCheckpoint(join(run, 'step-000008')).manifest.metrics, { replaced: true });
  t.deepEqual(readdirSync(run).filter((n) => n.startsWith('.')), []);
  t.deepEqual(pruneCheckpoints(run, 1), [join(run, 'step-000005')]);
  // Killed between moving the old copy of a replaced checkpoint aside and moving the new one in:
  // the old copy comes back, the temp folder goes.
  renameSync(join(run, 'step-000008'), join(run, '.step-000008.old-999999-0123abcd'));
  mkdirSync(join(run, '.step-000008.tmp-999999-0123abcd'));
  t.is(latestCheckpoint(run), join(run, 'step-000008'));
  t.deepEqual(loadCheckpoint(join(run, 'step-000008')).manifest.metrics, { replaced: true });
  t.deepEqual(readdirSync(run).filter((n) => n.startsWith('.')), []);
  t.is(latestCheckpoint(join(run, 'missing')), undefined);
});

test('SIGKILL at random moments during saves always leaves a complete, verifiable latest checkpoint', async (t) => {
  const run = tempDir(t);
  const module = fileURLToPath(new URL('../../../train/checkpoint/index.ts', import.meta.url));
  const script = join(run, 'saver.ts');
  // Saves 2 MB checkpoints in a loop, as fast as it can, until killed.
  writeFileSync(script, `
    import { saveCheckpoint } from ${JSON.stringify(module)};
    const data = new Float32Array(512 * 1024);
    for (let step = 1; ; step++) {
      data.fill(step);
      saveCheckpoint(${JSON.stringify(join(run, 'ckpt'))} + '-' + String(step % 3), {
        manifest: { preset: 'micro', variant: 'ofa', phase: 'full', epoch: 0, step, seed: 1, dataState: null,
          optimizer: { name: 'sgd', hyperparameters: {}, state: {} }, metrics: {} },
        tensors: new Map([['param.w', { shape: [data.length], data }]]),
      });
      if (step === 1) process.stdout.write('first\\n');
    }
  `);
  const rng = createRng(5);
  let verified = 0;
  for (let round = 0; round < 4; round++) {
    const child = spawn(process.execPath, ['--import', 'tsx', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((resolve) => child.stdout!.once('data', () => resolve()));
    await new Promise((resolve) => setTimeout(resolve, 20 + rng.int(300)));
    child.kill('SIGKILL');
    await new Promise((resolve) => child.once('exit', resolve));
    const latest = latestCheckpoint(run);
    t.truthy(latest);
    const loaded = loadCheckpoint(latest!);
    const w = loaded.tensors.get('param.w')!.data;
    t.true(w.every((v) => v === loaded.manifest.step), 'weights belong to the manifest that names them');
    // Every visible checkpoint folder is complete and verifies.
    for (const name of readdirSync(run).filter((n) => n.startsWith('ckpt-'))) loadCheckpoint(join(run, name));
    verified++;
  }
  t.is(verified, 4);
});

/** The OfaError `fn` throws (anything else fails the test). */
function refusal(fn: () => unknown): OfaError {
  try {
    fn();
  } catch (error) {
    if (isOfaError(error)) return error;
    throw error;
  }
  throw new Error('accepted');
}

test('issue 18: every fault of a checkpoint is bad input (exit 2), whether manifest, checksum, safetensors header or tensor names', (t) => {
  const run = tempDir(t);
  const dir = join(run, 'ckpt');
  const tensors = randomTensors(7);
  saveCheckpoint(dir, { manifest: manifest(7), tensors });
  const manifestPath = join(dir, 'manifest.json');
  const weightsPath = join(dir, 'weights.safetensors');
  const good = JSON.parse(readFileSync(manifestPath, 'utf8'));
  const goodWeights = readFileSync(weightsPath);
  const expected = (() => {
    const groups = splitTensors(tensors);
    const shapes = (map: TensorMap) => new Map([...map].map(([name, tensor]) => [name, tensor.shape]));
    return { parameters: shapes(groups.parameters), buffers: shapes(groups.buffers) };
  })();
  const restore = () => {
    writeFileSync(manifestPath, JSON.stringify(good));
    writeFileSync(weightsPath, goodWeights);
  };
  const cases: [string, () => void, RegExp][] = [
    ['no manifest', () => rmSync(manifestPath), /has no manifest\.json/],
    ['manifest not JSON', () => writeFileSync(manifestPath, '{"formatVersion": 1, "pres'), /manifest .* is not valid JSON/],
    ['manifest of 10^5 levels', () => writeFileSync(manifestPath, '['.repeat(100_000)), /nests arrays or objects deeper than 64 levels/],
    ['step a string', () => writeFileSync(manifestPath, JSON.stringify({ ...good, step: '7' })), /\$\.step: must be an integer \(got string\) \(value "7"\)/],
    ['negative epoch', () => writeFileSync(manifestPath, JSON.stringify({ ...good, epoch: -1 })), /\$\.epoch: must be >= 0 \(value -1\)/],
    ['a file outside the folder', () => writeFileSync(manifestPath, JSON.stringify({ ...good, files: { ...good.files, '../../etc/passwd': { sha256: '0'.repeat(64), bytes: 1 } } })), /\$\.files\["\.\.\/\.\.\/etc\/passwd"\]: has a key that is not allowed/],
    ['no weights listed', () => writeFileSync(manifestPath, JSON.stringify({ ...good, files: {} })), /\$\.files: must list weights\.safetensors/],
    ['__proto__ in the manifest', () => writeFileSync(manifestPath, JSON.stringify(good).replace('{', '{"__proto__": {"step": 1},')), /\$\.__proto__: the key "__proto__" is not allowed/],
    ['bad checksum', () => { const bytes = Buffer.from(goodWeights); bytes[bytes.length - 3] ^= 1; writeFileSync(weightsPath, bytes); }, /has sha256 .* the file is corrupt/],
    ['missing weights', () => rmSync(weightsPath), /weights\.safetensors" is missing/],
  ];
  for (const [name, damage, pattern] of cases) {
    restore();
    damage();
    const error = refusal(() => loadCheckpoint(dir));
    t.regex(error.message, pattern, name);
    t.is(exitCodeOf(error.code), 2, `${name}: ${error.code}`);
    t.is(error.kind, 'bad-input', name);
  }
  // A damaged safetensors header whose checksum was updated to match: the header's own checks refuse it.
  const rewrite = (edit: (header: string) => string) => {
    const length = Number(goodWeights.readBigUInt64LE(0));
    const header = edit(goodWeights.subarray(8, 8 + length).toString('utf8'));
    const padded = Buffer.from(header.padEnd(length, ' ').slice(0, length), 'utf8');
    const bytes = Buffer.concat([goodWeights.subarray(0, 8), padded, goodWeights.subarray(8 + length)]);
    writeFileSync(weightsPath, bytes);
    writeFileSync(manifestPath, JSON.stringify({ ...good, files: { 'weights.safetensors': { sha256: sha256(new Uint8Array(bytes)), bytes: bytes.length } } }));
  };
  restore();
  rewrite((header) => header.replace('"F32"', '"I64"'));
  const dtype = refusal(() => loadCheckpoint(dir));
  t.is(dtype.code, 'E_SAFETENSORS');
  t.is(exitCodeOf(dtype.code), 2);
  t.regex(dtype.message, /weights\.safetensors \(its JSON header\) is invalid:\n {2}\$\["param\.stem\.conv\.weight"\]\.dtype: must be "F32"/);
  // A renamed tensor (same length, checksum updated): the names are checked against the supernet's, not looked up later.
  restore();
  rewrite((header) => header.replace('param.stem.bn.gamma', 'param.stem.bn.gamm4'));
  const renamed = refusal(() => supernetWeights(loadCheckpoint(dir), expected));
  t.is(renamed.code, 'E_CHECKPOINT_MISMATCH');
  t.is(exitCodeOf(renamed.code), 2);
  t.regex(renamed.message, /its parameters do not match the micro\/ee-d supernet; missing: stem\.bn\.gamma; unexpected: stem\.bn\.gamm4/);
  restore();
  t.is(supernetWeights(loadCheckpoint(dir), expected).parameters.size, 4);
});
