// The batch pipeline: hand-computed resize, crop and flip; shuffling; per-batch resolution; and
// restoring a captured iterator state reproduces the next batches exactly.
import test from 'ava';
import { OfaError } from '../../../lib/errors.ts';
import { createRng } from '../../../lib/rng.ts';
import { BatchIterator, bilinearTaps, sampleResolution, transformImage, type Batch, type DatasetSpec, type ImageSet } from '../../../train/data/index.ts';

const plain = { height: 2, width: 2, channels: 1, mean: [0], std: [1 / 255] }; // normalisation = identity on bytes

test('bilinear resize 2x2 -> 4x4 matches the half-pixel-centre hand computation', (t) => {
  const out = new Float32Array(16);
  transformImage(Uint8Array.from([0, 100, 200, 255]), plain, { padding: 0, cropX: 0, cropY: 0, flip: false }, 4, out, 0);
  // Source positions (o + 0.5) / 2 - 0.5 clamped: 0, 0.25, 0.75, 1 (rows and columns alike).
  t.deepEqual(Array.from(bilinearTaps(2, 4).weight), [0, 0.25, 0.75, 0]);
  const expected = [
    [0, 25, 75, 100],
    [50, 72.1875, 116.5625, 138.75], // e.g. (1, 1): 0.75 * (0.75*0 + 0.25*100) + 0.25 * (0.75*200 + 0.25*255)
    [150, 166.5625, 199.6875, 216.25],
    [200, 213.75, 241.25, 255],
  ].flat();
  out.forEach((v, i) => t.true(Math.abs(v - expected[i]) < 1e-3, `pixel ${i}: ${v} vs ${expected[i]}`));
});

test('crop with zero padding, flip, and normalisation per channel are exact', (t) => {
  // 3x3 image, 2 channels: channel 0 = 10 * (row * 3 + col + 1), channel 1 = 1.
  const image = new Uint8Array(18);
  for (let p = 0; p < 9; p++) {
    image[2 * p] = 10 * (p + 1);
    image[2 * p + 1] = 1;
  }
  const spec = { height: 3, width: 3, channels: 2, mean: [0, 0.5], std: [1 / 255, 0.25] };
  const out = new Float32Array(18);
  // Padding 1, window at (0, 2): output (y, x) reads source (y - 1, x + 1).
  transformImage(image, spec, { padding: 1, cropY: 0, cropX: 2, flip: false }, 3, out, 0);
  const channel0 = Array.from({ length: 9 }, (_, p) => out[2 * p]);
  t.deepEqual(channel0, [0, 0, 0, 20, 30, 0, 50, 60, 0]);
  // Channel 1: (1/255 - 0.5) / 0.25 where the source is read, (0 - 0.5) / 0.25 in the padding.
  t.true(Math.abs(out[2 * 3 + 1] - (1 / 255 - 0.5) / 0.25) < 1e-6);
  t.true(Math.abs(out[1] - -2) < 1e-6);
  // Crop then flip (torchvision's RandomCrop then RandomHorizontalFlip): the cropped window mirrored.
  transformImage(image, spec, { padding: 1, cropY: 0, cropX: 2, flip: true }, 3, out, 0);
  t.deepEqual(Array.from({ length: 9 }, (_, p) => out[2 * p]), [0, 0, 0, 0, 30, 20, 0, 60, 50]);
});

function numberedSet(count: number, side = 4): { set: ImageSet; spec: DatasetSpec } {
  const pixels = new Uint8Array(count * side * side);
  for (let i = 0; i < count; i++) pixels.fill(i % 256, i * side * side, (i + 1) * side * side);
  const labels = Uint8Array.from({ length: count }, (_, i) => i % 7);
  const spec: DatasetSpec = { name: 'numbered', classes: 7, height: side, width: side, channels: 1, mean: [0], std: [1 / 255], cropPadding: 1, horizontalFlip: true };
  return { set: { count, height: side, width: side, channels: 1, pixels, labels }, spec };
}

test('evaluation order and values: no shuffle, no augmentation, last batch kept', (t) => {
  const { set, spec } = numberedSet(10);
  const iterator = new BatchIterator(set, spec, { batchSize: 4, shuffle: false, augment: false });
  t.is(iterator.batchesPerEpoch, 3);
  const batches = [...iterator.epochBatches()];
  t.deepEqual(batches.map((b) => b.size), [4, 4, 2]);
  t.deepEqual(batches.flatMap((b) => [...b.indices]), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  t.deepEqual(batches.flatMap((b) => [...b.labels]), [0, 1, 2, 3, 4, 5, 6, 0, 1, 2]);
  // Constant images stay constant through resize: every value equals its image number.
  t.true(batches.every((b) => b.images.every((v, k) => Math.abs(v - b.indices[Math.floor(k / 16)]) < 1e-4)));
});

test('training order: a new seeded permutation each epoch, incomplete batch dropped', (t) => {
  const { set, spec } = numberedSet(10);
  const iterator = new BatchIterator(set, spec, { batchSize: 3, seed: 9 });
  t.is(iterator.batchesPerEpoch, 3);
  const epoch0 = [...iterator.epochOrder(0)];
  const epoch1 = [...iterator.epochOrder(1)];
  t.deepEqual([...epoch0].sort((a, b) => a - b), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  t.notDeepEqual(epoch0, epoch1);
  t.deepEqual([...new BatchIterator(set, spec, { batchSize: 3, seed: 9 }).epochOrder(0)], epoch0);
  t.notDeepEqual([...new BatchIterator(set, spec, { batchSize: 3, seed: 10 }).epochOrder(0)], epoch0);
  const first = iterator.batchAt(0, 1);
  t.deepEqual([...first.indices], epoch0.slice(3, 6));
  t.deepEqual([...first.labels], epoch0.slice(3, 6).map((i) => i % 7));
});

test('resolution is sampled per batch from the allowed values', (t) => {
  const { set, spec } = numberedSet(64);
  const iterator = new BatchIterator(set, spec, { batchSize: 2, resolutions: [3, 4, 6] });
  const seen = new Set<number>();
  for (let b = 0; b < 32; b++) {
    const batch = iterator.batchAt(0, b);
    seen.add(batch.resolution);
    t.is(batch.images.length, 2 * batch.resolution * batch.resolution);
  }
  t.deepEqual([...seen].sort(), [3, 4, 6]);
  const rng = createRng(1);
  t.true([20, 24].includes(sampleResolution([20, 24], rng)));
  t.throws(() => sampleResolution([], rng), { instanceOf: OfaError });
});

async function take(iterator: BatchIterator, n: number): Promise<Batch[]> {
  const out: Batch[] = [];
  for (let i = 0; i < n; i++) out.push(await iterator.next());
  return out;
}

test('a restored state reproduces the next batches exactly, across an epoch boundary, despite prefetch', async (t) => {
  const { set, spec } = numberedSet(23, 6);
  const options = { batchSize: 4, seed: 77, resolutions: [4, 6, 8] };
  const original = new BatchIterator(set, spec, options);
  t.is(original.batchesPerEpoch, 5);
  await take(original, 4);
  const state = JSON.parse(JSON.stringify(original.state())); // as stored in a checkpoint manifest
  t.deepEqual(state, { seed: 77, epoch: 0, batchIndex: 4, count: 23, batchSize: 4 });
  const expected = await take(original, 4); // batch 4 of epoch 0, then epoch 1
  t.deepEqual(expected.map((b) => [b.epoch, b.batchIndex]), [[0, 4], [1, 0], [1, 1], [1, 2]]);
  const resumed = new BatchIterator(set, spec, { ...options, state });
  const got = await take(resumed, 4);
  for (let i = 0; i < 4; i++) {
    t.is(got[i].resolution, expected[i].resolution);
    t.deepEqual(got[i].labels, expected[i].labels);
    t.deepEqual(got[i].images, expected[i].images);
  }
  // Restore into a running iterator drops its look-ahead.
  await take(original, 1);
  original.restore(state);
  t.deepEqual((await original.next()).images, expected[0].images);
});

test('a state from another data set size, batch size or seed is refused', (t) => {
  const { set, spec } = numberedSet(23);
  const iterator = new BatchIterator(set, spec, { batchSize: 4, seed: 1 });
  const state = iterator.state();
  t.throws(() => new BatchIterator(set, spec, { batchSize: 5, seed: 1, state }), { message: /batchSize 4, but this iterator has batchSize 5/ });
  t.throws(() => new BatchIterator(set, spec, { batchSize: 4, seed: 2, state }), { message: /seed 1, but this iterator has seed 2/ });
  t.throws(() => new BatchIterator(set, spec, { batchSize: 4, seed: 1, state: { ...state, batchIndex: 9 } }), { message: /out of range/ });
  t.throws(() => new BatchIterator(set, spec, { batchSize: 40 }), { message: /larger than the 23 images/ });
});

test('augmentation: crops and flips vary between images and epochs; none when disabled', (t) => {
  // A horizontal ramp makes flips and shifts visible.
  const side = 8;
  const count = 16;
  const pixels = new Uint8Array(count * side * side);
  for (let i = 0; i < count; i++) for (let y = 0; y < side; y++) for (let x = 0; x < side; x++) pixels[i * 64 + y * 8 + x] = 10 + 20 * x;
  const set = { count, height: side, width: side, channels: 1, pixels, labels: new Uint8Array(count) };
  const spec: DatasetSpec = { name: 'ramp', classes: 1, height: side, width: side, channels: 1, mean: [0], std: [1 / 255], cropPadding: 2, horizontalFlip: true };
  const augmented = new BatchIterator(set, spec, { batchSize: 16, seed: 3 }).batchAt(0, 0);
  const rows = new Set<string>();
  let flipped = 0;
  for (let i = 0; i < count; i++) {
    const row = Array.from(augmented.images.subarray(i * 64 + 3 * 8, i * 64 + 4 * 8)); // row 3: inside vertically for any crop
    rows.add(row.join(','));
    const inside = row.filter((v) => v > 0);
    if (inside.length > 1 && inside[1] < inside[0]) flipped++;
  }
  t.true(rows.size > 4, `${rows.size} distinct crops`);
  t.true(flipped > 2 && flipped < 14, `${flipped} of 16 flipped`);
  const noFlip = new BatchIterator(set, { ...spec, horizontalFlip: false }, { batchSize: 16, seed: 3 }).batchAt(0, 0);
  for (let i = 0; i < count; i++) {
    const inside = Array.from(noFlip.images.subarray(i * 64 + 24, i * 64 + 32)).filter((v) => v > 0);
    t.true(inside[1] > inside[0]);
  }
});
