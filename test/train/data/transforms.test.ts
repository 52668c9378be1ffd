// Per-data-set train and eval transforms (train/data/transforms.ts): the paper's random resized crop and
// resize + centre crop for Tiny ImageNet (ofav2.md s3) checked against hand computations and a naive
// two-step reference; Fashion-MNIST and CIFAR-10 batches byte-identical to the pad-crop pipeline
// before the transforms became a spec choice.
import { createHash } from 'node:crypto';
import test from 'ava';
import { OfaError } from '../../../lib/errors.ts';
import { createRng } from '../../../lib/rng.ts';
import {
  BatchIterator,
  CIFAR10_SPEC,
  FASHION_MNIST_SPEC,
  PAPER_EVAL_TRANSFORM,
  PAPER_TRAIN_TRANSFORM,
  TINY_IMAGENET_SPEC,
  evalGeometry,
  roundHalfEven,
  sampleResizedCropBox,
  sampleTrainGeometry,
  transformImage,
  type DatasetSpec,
  type ImageSet,
} from '../../../train/data/index.ts';

function randomSet(spec: Pick<DatasetSpec, 'height' | 'width' | 'channels'>, count: number, seed: number): ImageSet {
  const rng = createRng(seed);
  const n = count * spec.height * spec.width * spec.channels;
  return { count, height: spec.height, width: spec.width, channels: spec.channels, pixels: Uint8Array.from({ length: n }, () => rng.int(256)), labels: Uint8Array.from({ length: count }, () => rng.int(10)) };
}

const hash = (h: ReturnType<typeof createHash>) => h.digest('hex').slice(0, 16);

test('Fashion-MNIST, CIFAR-10 and cropPadding-only specs give the same batches as before the transforms were a spec choice', (t) => {
  // Hashes computed with the pipeline at 607e05b (pad-crop hard-wired), same generated images.
  const expected: Record<string, string> = {
    'fashion-mnist augment=true': '22795faa19ccc392',
    'fashion-mnist augment=false': '798b99c8f1c8f9c0',
    'cifar10 augment=true': '642509ba8efde5c3',
    'cifar10 augment=false': '628c4f20d3f01f3c',
    'legacy augment': 'ee2cc2d4949e80ae',
    'legacy noflip': '034b21922cea12b4',
    'legacy eval': '01ade60efb8a91f9',
    'fashion-mnist noflip': 'a0e5f4407226ca50',
  };
  const got: Record<string, string> = {};
  for (const spec of [FASHION_MNIST_SPEC, CIFAR10_SPEC]) {
    const images = randomSet(spec, 40, 5);
    for (const augment of [true, false]) {
      const iterator = new BatchIterator(images, spec, { batchSize: 8, seed: 11, resolutions: spec.height === 28 ? [20, 24, 28, 32] : [24, 28, 32, 36], augment, shuffle: augment });
      const h = createHash('sha256');
      for (const epoch of [0, 3]) {
        for (let b = 0; b < iterator.batchesPerEpoch; b++) {
          const batch = iterator.batchAt(epoch, b);
          h.update(new Uint8Array(batch.images.buffer));
          h.update(new Uint8Array(batch.indices.buffer));
          h.update(String(batch.resolution));
        }
      }
      got[`${spec.name} augment=${augment}`] = hash(h);
    }
  }
  // The short form other tests' specs use: non-square, two channels.
  const legacy: DatasetSpec = { name: 'legacy', classes: 10, height: 12, width: 10, channels: 2, mean: [0.3, 0.5], std: [0.2, 0.25], cropPadding: 3, horizontalFlip: true };
  const images = randomSet(legacy, 30, 6);
  for (const [label, options] of [['augment', {}], ['noflip', { horizontalFlip: false }], ['eval', { augment: false, shuffle: false }]] as const) {
    const iterator = new BatchIterator(images, legacy, { batchSize: 7, seed: 4, resolutions: [8, 10, 12, 14], ...options });
    const h = createHash('sha256');
    for (let b = 0; b < iterator.batchesPerEpoch; b++) {
      const batch = iterator.batchAt(1, b);
      h.update(new Uint8Array(batch.images.buffer));
      h.update(String(batch.resolution));
    }
    got[`legacy ${label}`] = hash(h);
  }
  const fashionNoFlip = new BatchIterator(randomSet(FASHION_MNIST_SPEC, 16, 8), FASHION_MNIST_SPEC, { batchSize: 16, seed: 2, resolutions: [28], horizontalFlip: false });
  got['fashion-mnist noflip'] = hash(createHash('sha256').update(new Uint8Array(fashionNoFlip.batchAt(0, 0).images.buffer)));
  t.deepEqual(got, expected);
});

test('the presets choose their transforms: pad-crop + resize for Fashion-MNIST and CIFAR-10, the paper\'s for Tiny ImageNet', (t) => {
  t.deepEqual(FASHION_MNIST_SPEC.trainTransform, { kind: 'pad-crop', padding: 2 });
  t.deepEqual(CIFAR10_SPEC.trainTransform, { kind: 'pad-crop', padding: 4 });
  t.deepEqual([FASHION_MNIST_SPEC.evalTransform, CIFAR10_SPEC.evalTransform], [{ kind: 'resize' }, { kind: 'resize' }]);
  t.deepEqual(TINY_IMAGENET_SPEC.trainTransform, { kind: 'random-resized-crop', scale: [0.85, 1], ratio: [3 / 4, 4 / 3] });
  t.deepEqual(TINY_IMAGENET_SPEC.evalTransform, { kind: 'resize-centre-crop', cropFraction: 0.875 });
  t.true(TINY_IMAGENET_SPEC.horizontalFlip);
  // ImageNet normalisation (ofav2.md s3).
  t.deepEqual([TINY_IMAGENET_SPEC.mean, TINY_IMAGENET_SPEC.std], [[0.485, 0.456, 0.406], [0.229, 0.224, 0.225]]);
});

test('round half to even, as Python rounds torchvision\'s sizes and offsets', (t) => {
  t.deepEqual([0.5, 1.5, 2.5, 3.5, 4.5, 2.4, 2.6, 7].map(roundHalfEven), [0, 2, 2, 4, 4, 2, 3, 7]);
});

const plain = { height: 2, width: 2, channels: 1, mean: [0], std: [1 / 255] }; // normalisation = identity on bytes
// The 2x2 image [0, 100, 200, 255] resized to 4x4 (data-pipeline.test.ts derives it by hand).
const RESIZED_4X4 = [
  [0, 25, 75, 100],
  [50, 72.1875, 116.5625, 138.75],
  [150, 166.5625, 199.6875, 216.25],
  [200, 213.75, 241.25, 255],
];

function closeTo(t: { true: (c: boolean, m?: string) => void }, got: ArrayLike<number>, expected: ArrayLike<number>, tolerance: number): void {
  t.true(got.length === expected.length, `length ${got.length} vs ${expected.length}`);
  let worst = 0;
  for (let i = 0; i < expected.length; i++) worst = Math.max(worst, Math.abs(got[i] - expected[i]));
  t.true(worst <= tolerance, `largest difference ${worst}`);
}

test('eval resize + centre crop equals the hand-computed resize then crop', (t) => {
  const image = Uint8Array.from([0, 100, 200, 255]);
  const render = (resolution: number, cropFraction: number) => {
    const out = new Float32Array(resolution * resolution);
    transformImage(image, plain, evalGeometry({ kind: 'resize-centre-crop', cropFraction }, 2, 2, resolution), resolution, out, 0);
    return out;
  };
  // r = 2, fraction 0.5: resize to 4, crop at (4 - 2) / 2 = 1: the centre of the 4x4 resize.
  closeTo(t, render(2, 0.5), [72.1875, 116.5625, 166.5625, 199.6875], 1e-4);
  // r = 3, fraction 0.75: resize to 4, crop at round(0.5) = 0 (half to even): the top-left 3x3.
  closeTo(t, render(3, 0.75), RESIZED_4X4.slice(0, 3).flatMap((row) => row.slice(0, 3)), 1e-4);
  // The plain resize (Fashion-MNIST, CIFAR-10) is the whole 4x4.
  const out = new Float32Array(16);
  transformImage(image, plain, evalGeometry({ kind: 'resize' }, 2, 2, 4), 4, out, 0);
  closeTo(t, out, RESIZED_4X4.flat(), 1e-4);
  // Non-square 2x4 at r = 2, fraction 1: the shorter side stays 2, the longer int(2 * 4 / 2) = 4,
  // centre columns 1 and 2 kept as they are.
  const wide = Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8]);
  const crop = new Float32Array(4);
  transformImage(wide, { ...plain, width: 4 }, evalGeometry({ kind: 'resize-centre-crop', cropFraction: 1 }, 2, 4, 2), 2, crop, 0);
  closeTo(t, crop, [2, 3, 6, 7], 1e-6);
});

test('the paper\'s eval sizes for Tiny ImageNet: resize to ceil(r / 0.875), crop offset round((s - r) / 2)', (t) => {
  const sizes = [48, 52, 56, 60, 64].map((r) => {
    const { rows, cols } = evalGeometry(PAPER_EVAL_TRANSFORM, 64, 64, r);
    t.deepEqual(rows, cols);
    return [r, rows.resized, rows.skip];
  });
  // 60: s = 69, (69 - 60) / 2 = 4.5 rounds to 4.
  t.deepEqual(sizes, [[48, 55, 4], [52, 60, 4], [56, 64, 4], [60, 69, 4], [64, 74, 5]]);
});

/** Naive reference: bilinear resize (half-pixel centres, edge clamped) of a height x width x channels image, in float64. */
function resizeReference(image: ArrayLike<number>, height: number, width: number, channels: number, outHeight: number, outWidth: number): Float64Array {
  const out = new Float64Array(outHeight * outWidth * channels);
  const tap = (o: number, from: number, to: number) => {
    const p = Math.min(Math.max((o + 0.5) * (from / to) - 0.5, 0), from - 1);
    const l = Math.floor(p);
    return [l, Math.min(l + 1, from - 1), p - l];
  };
  for (let y = 0; y < outHeight; y++) {
    const [y0, y1, wy] = tap(y, height, outHeight);
    for (let x = 0; x < outWidth; x++) {
      const [x0, x1, wx] = tap(x, width, outWidth);
      for (let c = 0; c < channels; c++) {
        const at = (yy: number, xx: number) => image[(yy * width + xx) * channels + c];
        const upper = at(y0, x0) * (1 - wx) + at(y0, x1) * wx;
        const lower = at(y1, x0) * (1 - wx) + at(y1, x1) * wx;
        out[(y * outWidth + x) * channels + c] = upper * (1 - wy) + lower * wy;
      }
    }
  }
  return out;
}

function cropReference(image: ArrayLike<number>, width: number, channels: number, top: number, left: number, height: number, cropWidth: number): Float64Array {
  const out = new Float64Array(height * cropWidth * channels);
  for (let y = 0; y < height; y++) for (let x = 0; x < cropWidth; x++) for (let c = 0; c < channels; c++) out[(y * cropWidth + x) * channels + c] = image[((y + top) * width + x + left) * channels + c];
  return out;
}

function mirrorReference(image: Float64Array, height: number, width: number, channels: number): Float64Array {
  const out = new Float64Array(image.length);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) for (let c = 0; c < channels; c++) out[(y * width + x) * channels + c] = image[(y * width + (width - 1 - x)) * channels + c];
  return out;
}

const normalised = (values: Float64Array, spec: Pick<DatasetSpec, 'mean' | 'std'>) => values.map((v, i) => (v / 255 - spec.mean[i % spec.mean.length]) / spec.std[i % spec.std.length]);

test('Tiny ImageNet batches equal a naive reference: eval = resize then centre crop; train = box crop, resize, flip', (t) => {
  const side = 64;
  const count = 6;
  const set = randomSet(TINY_IMAGENET_SPEC, count, 21);
  const bytes = side * side * 3;
  for (const resolution of [48, 60, 64]) {
    const batch = new BatchIterator(set, TINY_IMAGENET_SPEC, { batchSize: count, resolutions: [resolution], augment: false, shuffle: false }).batchAt(0, 0);
    const s = Math.ceil(resolution / 0.875);
    const offset = roundHalfEven((s - resolution) / 2);
    for (let i = 0; i < count; i++) {
      const resized = resizeReference(set.pixels.subarray(i * bytes, (i + 1) * bytes), side, side, 3, s, s);
      const expected = normalised(cropReference(resized, s, 3, offset, offset, resolution, resolution), TINY_IMAGENET_SPEC);
      const floats = resolution * resolution * 3;
      closeTo(t, batch.images.subarray(i * floats, (i + 1) * floats), expected, 1e-4);
    }
  }
  // Train: the geometry sampled for an image, rendered, equals crop -> resize -> mirror in float64.
  const rng = createRng(5);
  for (let i = 0; i < 24; i++) {
    const resolution = [48, 56, 64][i % 3];
    const geometry = sampleTrainGeometry(PAPER_TRAIN_TRANSFORM, side, side, resolution, true, rng);
    const out = new Float32Array(resolution * resolution * 3);
    const source = set.pixels.subarray((i % count) * bytes, (i % count + 1) * bytes);
    transformImage(source, TINY_IMAGENET_SPEC, geometry, resolution, out, 0);
    const { rows, cols } = geometry;
    let expected = resizeReference(cropReference(source, side, 3, rows.start, cols.start, rows.size, cols.size), rows.size, cols.size, 3, resolution, resolution);
    if (geometry.flip) expected = mirrorReference(expected, resolution, resolution, 3);
    closeTo(t, out, normalised(expected, TINY_IMAGENET_SPEC), 1e-3);
  }
});

test('random resized crop boxes stay inside the image and within the scale and ratio bounds; flips about half the time', (t) => {
  const rng = createRng(123);
  const draws = 4000;
  let flips = 0;
  let smallest = 1;
  let largest = 0;
  let lowestRatio = Infinity;
  let highestRatio = 0;
  for (let i = 0; i < draws; i++) {
    const geometry = sampleTrainGeometry(PAPER_TRAIN_TRANSFORM, 64, 64, 56, true, rng);
    const { rows, cols } = geometry;
    if (geometry.flip) flips++;
    t.true(rows.start >= 0 && cols.start >= 0 && rows.start + rows.size <= 64 && cols.start + cols.size <= 64);
    t.true(rows.resized === 56 && cols.resized === 56 && rows.skip === 0 && cols.skip === 0);
    const area = (rows.size * cols.size) / (64 * 64);
    const ratio = cols.size / rows.size;
    // Sizes are rounded to whole pixels: half a pixel on sides of about 60 moves the area and the ratio
    // by under 2%.
    t.true(area >= 0.85 * 0.98 && area <= 1, `area fraction ${area}`);
    t.true(ratio >= (3 / 4) * 0.98 && ratio <= (4 / 3) * 1.02, `ratio ${ratio}`);
    smallest = Math.min(smallest, area);
    largest = Math.max(largest, area);
    lowestRatio = Math.min(lowestRatio, ratio);
    highestRatio = Math.max(highestRatio, ratio);
  }
  t.true(flips > draws * 0.46 && flips < draws * 0.54, `${flips} of ${draws} flipped`);
  // The whole range is drawn from, not one corner of it. On a square image a box of at least 85% of the
  // area has a ratio in [0.85, 1 / 0.85]: boxes further out do not fit and are drawn again.
  t.true(smallest < 0.87 && largest === 1, `area fractions ${smallest}..${largest}`);
  t.true(lowestRatio < 0.87 && highestRatio > 1.15, `ratios ${lowestRatio}..${highestRatio}`);
  // With smaller boxes the whole ratio range fits, and is covered log-uniformly (as many boxes wider
  // than tall as taller than wide).
  const ratios = Array.from({ length: 2000 }, () => {
    const box = sampleResizedCropBox(64, 64, [0.2, 0.4], [3 / 4, 4 / 3], rng);
    t.true(box.height * box.width >= 0.2 * 0.95 * 4096 && box.height * box.width <= 0.4 * 1.05 * 4096);
    return box.width / box.height;
  });
  t.true(Math.min(...ratios) < 0.77 && Math.max(...ratios) > 1.3, `ratios ${Math.min(...ratios)}..${Math.max(...ratios)}`);
  const wider = ratios.filter((r) => r > 1).length;
  const taller = ratios.filter((r) => r < 1).length;
  t.true(Math.abs(wider - taller) < 200, `${wider} wider, ${taller} taller`);
  // No flip when the spec does not allow it.
  t.false(Array.from({ length: 200 }, () => sampleTrainGeometry(PAPER_TRAIN_TRANSFORM, 64, 64, 56, false, rng).flip).some(Boolean));
});

test('random resized crop falls back to the centred box when no try fits (torchvision\'s fallback)', (t) => {
  const rng = createRng(1);
  // A 10 x 2 image and a square box of the whole area: sqrt(20) rounds to 4 > 2 columns, every try fails;
  // the image's ratio 0.2 is below the allowed 1, so the box is the full width and round(2 / 1) rows, centred.
  t.deepEqual(sampleResizedCropBox(10, 2, [0.99, 1], [1, 1], rng), { top: 4, left: 0, height: 2, width: 2 });
  // 2 x 10: ratio 5 above the allowed 2: full height, round(2 * 2) = 4 columns, left (10 - 4) // 2 = 3.
  t.deepEqual(sampleResizedCropBox(2, 10, [0.99, 1], [1, 2], rng), { top: 0, left: 3, height: 2, width: 4 });
  // A square image with scale and ratio pinned to 1: the whole image, every time.
  for (let i = 0; i < 20; i++) t.deepEqual(sampleResizedCropBox(16, 16, [1, 1], [1, 1], rng), { top: 0, left: 0, height: 16, width: 16 });
});

test('a pinned random resized crop through the iterator is the plain resize or its mirror, flipped about half the time', (t) => {
  const side = 8;
  const count = 200;
  // A horizontal ramp makes the flip visible.
  const pixels = new Uint8Array(count * side * side);
  for (let i = 0; i < count; i++) for (let y = 0; y < side; y++) for (let x = 0; x < side; x++) pixels[i * 64 + y * 8 + x] = 10 + 20 * x + y;
  const set = { count, height: side, width: side, channels: 1, pixels, labels: new Uint8Array(count) };
  const spec: DatasetSpec = { name: 'ramp', classes: 1, height: side, width: side, channels: 1, mean: [0], std: [1 / 255], trainTransform: { kind: 'random-resized-crop', scale: [1, 1], ratio: [1, 1] }, horizontalFlip: true };
  const resolution = 6;
  const batch = new BatchIterator(set, spec, { batchSize: count, seed: 9, resolutions: [resolution] }).batchAt(0, 0);
  const plainResize = Array.from(resizeReference(pixels.subarray(0, 64), side, side, 1, resolution, resolution));
  const mirrored = Array.from(mirrorReference(Float64Array.from(plainResize), resolution, resolution, 1));
  let flipped = 0;
  for (let i = 0; i < count; i++) {
    const image = Array.from(batch.images.subarray(i * 36, (i + 1) * 36));
    const isMirror = image[1] < image[0];
    if (isMirror) flipped++;
    closeTo(t, image, isMirror ? mirrored : plainResize, 1e-3);
  }
  t.true(flipped > 70 && flipped < 130, `${flipped} of ${count} flipped`);
});

test('random resized crop batches are a pure function of seed, epoch and batch: resume is exact', async (t) => {
  const set = randomSet(TINY_IMAGENET_SPEC, 24, 3);
  const options = { batchSize: 4, seed: 17, resolutions: [48, 56, 64] };
  const first = new BatchIterator(set, TINY_IMAGENET_SPEC, options);
  const again = new BatchIterator(set, TINY_IMAGENET_SPEC, options);
  t.deepEqual(first.batchAt(2, 3).images, again.batchAt(2, 3).images);
  t.notDeepEqual(first.batchAt(2, 3).images, new BatchIterator(set, TINY_IMAGENET_SPEC, { ...options, seed: 18 }).batchAt(2, 3).images);
  t.notDeepEqual(first.batchAt(0, 0).images, first.batchAt(1, 0).images);
  for (let i = 0; i < 7; i++) await first.next(); // into epoch 1, with a batch prefetched
  const state = JSON.parse(JSON.stringify(first.state()));
  const resumed = new BatchIterator(set, TINY_IMAGENET_SPEC, { ...options, state });
  for (let i = 0; i < 3; i++) {
    const [a, b] = [await first.next(), await resumed.next()];
    t.deepEqual([b.epoch, b.batchIndex, b.resolution], [a.epoch, a.batchIndex, a.resolution]);
    t.deepEqual(b.images, a.images);
    t.deepEqual(b.images, again.batchAt(a.epoch, a.batchIndex).images);
  }
});

test('a spec with a bad or doubly given transform is refused', (t) => {
  const set = randomSet({ height: 4, width: 4, channels: 1 }, 4, 1);
  const base: DatasetSpec = { name: 'small', classes: 2, height: 4, width: 4, channels: 1, mean: [0], std: [1], horizontalFlip: false };
  const refused = (spec: Partial<DatasetSpec>, message: RegExp) => {
    const error = t.throws(() => new BatchIterator(set, { ...base, ...spec }, { batchSize: 2 }), { instanceOf: OfaError, message });
    t.is(error?.code, 'E_DATA_TRANSFORM');
  };
  refused({ cropPadding: 2, trainTransform: { kind: 'pad-crop', padding: 2 } }, /both cropPadding and trainTransform/);
  refused({ trainTransform: { kind: 'pad-crop', padding: -1 } }, /crop padding -1; allowed: an integer >= 0/);
  refused({ trainTransform: { kind: 'random-resized-crop', scale: [0.9, 0.8], ratio: [1, 1] } }, /scale \[0.9,0.8\]/);
  refused({ trainTransform: { kind: 'random-resized-crop', scale: [0.5, 1], ratio: [0, 1] } }, /ratio \[0,1\]/);
  refused({ evalTransform: { kind: 'resize-centre-crop', cropFraction: 1.5 } }, /centre-crop fraction 1.5; allowed: a number in \(0, 1\]/);
  // The defaults: pad-crop with cropPadding (0 if absent) and a plain resize.
  const iterator = new BatchIterator(set, base, { batchSize: 2 });
  t.deepEqual([iterator.trainTransform, iterator.evalTransform], [{ kind: 'pad-crop', padding: 0 }, { kind: 'resize' }]);
});
