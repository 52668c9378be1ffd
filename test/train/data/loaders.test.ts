// Loaders read fixtures the test writes: real CIFAR-10 .bin records and real JPEG files.
import test from 'ava';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import jpeg from 'jpeg-js';
import { createRng } from '../../../lib/rng.ts';
import { OfaError } from '../../../lib/errors.ts';
import { CIFAR10_TRAIN_FILES, loadCifar10, loadDataset, loadTinyImageNet, splitValidation, subsetImages, type ImageSet } from '../../../train/data/index.ts';

function tempDir(t: { teardown(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'ofav2-data-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Writes CIFAR-10 .bin files of random records; returns the records (label + CHW bytes) per file. */
function writeCifarFixture(dir: string, recordsPerFile: number[]): Uint8Array[][] {
  const rng = createRng(7);
  const names = [...CIFAR10_TRAIN_FILES, 'test_batch.bin'];
  return names.map((name, f) => {
    const records: Uint8Array[] = [];
    for (let r = 0; r < recordsPerFile[f]; r++) {
      const record = new Uint8Array(3073);
      record[0] = rng.int(10);
      for (let i = 1; i < record.length; i++) record[i] = rng.int(256);
      records.push(record);
    }
    writeFileSync(join(dir, name), Buffer.concat(records));
    return records;
  });
}

test('CIFAR-10 binary records are read exactly, CHW to NHWC, in file and record order', (t) => {
  const dir = tempDir(t);
  const files = writeCifarFixture(dir, [2, 3, 1, 2, 2, 3]);
  const splits = loadCifar10({ dir, validationSize: 0 });
  const trainRecords = files.slice(0, 5).flat();
  const testRecords = files[5];
  t.is(splits.train.count, 10);
  t.is(splits.test.count, 3);
  t.is(splits.validation.count, 0);
  for (const [set, records] of [[splits.train, trainRecords], [splits.test, testRecords]] as const) {
    records.forEach((record, i) => {
      t.is(set.labels[i], record[0]);
      for (const [y, x, c] of [[0, 0, 0], [0, 31, 1], [31, 0, 2], [17, 5, 1], [31, 31, 2]]) {
        t.is(set.pixels[i * 3072 + (y * 32 + x) * 3 + c], record[1 + c * 1024 + y * 32 + x]);
      }
      // Every byte: the NHWC image is a permutation of the record's pixels.
      let mismatches = 0;
      for (let c = 0; c < 3; c++) for (let p = 0; p < 1024; p++) if (set.pixels[i * 3072 + p * 3 + c] !== record[1 + c * 1024 + p]) mismatches++;
      t.is(mismatches, 0);
    });
  }
});

test('CIFAR-10: a truncated file and a bad label are refused with the file named', (t) => {
  const dir = tempDir(t);
  const files = writeCifarFixture(dir, [1, 1, 1, 1, 1, 1]);
  writeFileSync(join(dir, 'data_batch_3.bin'), files[2][0].subarray(0, 3000));
  const truncated = t.throws(() => loadCifar10({ dir, validationSize: 0 }), { instanceOf: OfaError });
  t.regex(truncated!.message, /data_batch_3\.bin.*3000 bytes/);
  const bad = Uint8Array.from(files[2][0]);
  bad[0] = 12;
  writeFileSync(join(dir, 'data_batch_3.bin'), bad);
  t.throws(() => loadCifar10({ dir, validationSize: 0 }), { message: /label 12; allowed 0\.\.9/ });
  writeFileSync(join(dir, 'data_batch_3.bin'), files[2][0]);
  rmSync(join(dir, 'test_batch.bin'));
  t.throws(() => loadDataset('cifar10', { dir, validationSize: 0 }), { message: /test_batch\.bin.*does not exist/ });
  t.throws(() => loadDataset('cifar10', {}), { message: /needs its folder/ });
  t.throws(() => loadDataset('mnist', {}), { message: /data set "mnist" is not known; allowed: fashion-mnist, cifar10, tiny-imagenet/ });
});

function smoothImage(rng: ReturnType<typeof createRng>): Uint8Array {
  // Smooth gradients survive JPEG at quality 100 within a few levels; noise would not.
  const rgba = new Uint8Array(64 * 64 * 4);
  const base = [rng.int(200), rng.int(200), rng.int(200)];
  for (let y = 0; y < 64; y++) {
    for (let x = 0; x < 64; x++) {
      const p = (y * 64 + x) * 4;
      rgba[p] = base[0] + Math.floor(x / 2);
      rgba[p + 1] = base[1] + Math.floor(y / 2);
      rgba[p + 2] = base[2] + Math.floor((x + y) / 4);
      rgba[p + 3] = 255;
    }
  }
  return rgba;
}

test('Tiny ImageNet folder layout: labels exact, pixels equal to the decoded JPEGs and close to the originals', (t) => {
  const dir = tempDir(t);
  const rng = createRng(3);
  const wnids = ['n02', 'n01', 'n03']; // unsorted on purpose: labels follow the sorted order
  writeFileSync(join(dir, 'wnids.txt'), `${wnids.join('\n')}\n`);
  writeFileSync(join(dir, 'words.txt'), 'n01\tgoldfish, Carassius auratus\nn02\tsalamander\nn03\tbullfrog\n');
  const originals = new Map<string, Uint8Array>();
  const write = (path: string) => {
    const rgba = smoothImage(rng);
    const encoded = jpeg.encode({ data: rgba, width: 64, height: 64 }, 100).data;
    writeFileSync(path, encoded);
    originals.set(path, rgba);
  };
  for (const wnid of wnids) {
    mkdirSync(join(dir, 'train', wnid, 'images'), { recursive: true });
    for (const i of [1, 0]) write(join(dir, 'train', wnid, 'images', `${wnid}_${i}.JPEG`));
  }
  mkdirSync(join(dir, 'val', 'images'), { recursive: true });
  const val = [['val_1.JPEG', 'n03'], ['val_0.JPEG', 'n01'], ['val_2.JPEG', 'n02']];
  for (const [name] of val) write(join(dir, 'val', 'images', name));
  writeFileSync(join(dir, 'val', 'val_annotations.txt'), val.map(([name, wnid]) => `${name}\t${wnid}\t0\t0\t63\t63`).join('\n'));

  const cacheDir = tempDir(t);
  const messages: string[] = [];
  const log = (m: string) => messages.push(m);
  const splits = loadTinyImageNet({ dir, validationSize: 0, cacheDir, log });
  t.is(messages.length, 1);
  t.regex(messages[0], /decoding .* into a binary cache/);
  // Second load: from the cache, identical.
  const cached = loadTinyImageNet({ dir, validationSize: 0, cacheDir, log });
  t.is(messages.length, 1);
  t.deepEqual(cached.train.pixels, splits.train.pixels);
  t.deepEqual(cached.test.labels, splits.test.labels);
  t.deepEqual(cached.classNames, splits.classNames);
  // A corrupt cache is decoded again, with a message.
  const cacheFile = readdirSync(cacheDir).find((n) => n.endsWith('.u8'))!;
  const bytes = readFileSync(join(cacheDir, cacheFile));
  bytes[10] ^= 0xff;
  writeFileSync(join(cacheDir, cacheFile), bytes);
  t.deepEqual(loadTinyImageNet({ dir, validationSize: 0, cacheDir, log }).train.pixels, splits.train.pixels);
  t.regex(messages.at(-1)!, /corrupt \(sha256 mismatch\); decoding .* again/);
  // The default hold-out is 15% of the training images (ofav2.md s6), seeded.
  const held = loadTinyImageNet({ dir, cacheDir, log });
  t.is(held.validation.count, 0); // floor(6 * 0.15) = 0 here
  t.is(loadTinyImageNet({ dir, cacheDir, log, validationSize: 2 }).validation.count, 2);
  t.deepEqual(splits.classNames, ['goldfish', 'salamander', 'bullfrog']);
  t.is(splits.spec.classes, 3);
  t.deepEqual([...splits.train.labels], [0, 0, 1, 1, 2, 2]);
  t.deepEqual([...splits.test.labels], [0, 2, 1]); // val_0 (n01), val_1 (n03), val_2 (n02)
  const trainPaths = ['n01', 'n02', 'n03'].flatMap((w) => [0, 1].map((i) => join(dir, 'train', w, 'images', `${w}_${i}.JPEG`)));
  const testPaths = [0, 1, 2].map((i) => join(dir, 'val', 'images', `val_${i}.JPEG`));
  for (const [set, paths] of [[splits.train, trainPaths], [splits.test, testPaths]] as const) {
    paths.forEach((path, i) => {
      const decoded = jpeg.decode(readFileSync(path), { useTArray: true });
      const original = originals.get(path)!;
      let exact = 0;
      let worst = 0;
      for (let p = 0; p < 64 * 64; p++) {
        for (let c = 0; c < 3; c++) {
          const got = set.pixels[i * 64 * 64 * 3 + p * 3 + c];
          if (got === decoded.data[p * 4 + c]) exact++;
          worst = Math.max(worst, Math.abs(got - original[p * 4 + c]));
        }
      }
      t.is(exact, 64 * 64 * 3, path);
      t.true(worst <= 8, `${path}: max deviation ${worst} from the encoded pixels`);
    });
  }
  // Changing a source file (size / mtime) makes a new cache: the new pixels are read.
  write(trainPaths[0]);
  const changed = loadTinyImageNet({ dir, validationSize: 0, cacheDir, log });
  t.regex(messages.at(-1)!, /decoding .* into a binary cache/);
  const redecoded = jpeg.decode(readFileSync(trainPaths[0]), { useTArray: true, formatAsRGBA: false });
  t.deepEqual(changed.train.pixels.subarray(0, 64 * 64 * 3), Uint8Array.from(redecoded.data.subarray(0, 64 * 64 * 3)));
});

test('Tiny ImageNet: a class folder missing, an unknown wnid and a wrong image size are refused', (t) => {
  const dir = tempDir(t);
  writeFileSync(join(dir, 'wnids.txt'), 'n01\n');
  t.throws(() => loadTinyImageNet({ dir, cacheDir: false }), { message: /train\/n01\/images.*does not exist/ });
  mkdirSync(join(dir, 'train', 'n01', 'images'), { recursive: true });
  const small = jpeg.encode({ data: new Uint8Array(8 * 8 * 4).fill(128), width: 8, height: 8 }, 90).data;
  writeFileSync(join(dir, 'train', 'n01', 'images', 'a.JPEG'), small);
  mkdirSync(join(dir, 'val', 'images'), { recursive: true });
  writeFileSync(join(dir, 'val', 'val_annotations.txt'), 'v.JPEG\tn09\t0\t0\t1\t1\n');
  t.throws(() => loadTinyImageNet({ dir, validationSize: 0, cacheDir: false }), { message: /n09.*not in wnids\.txt/ });
  writeFileSync(join(dir, 'val', 'val_annotations.txt'), 'v.JPEG\tn01\t0\t0\t1\t1\n');
  t.throws(() => loadTinyImageNet({ dir, validationSize: 0, cacheDir: false }), { message: /is 8x8; expected 64x64/ });
});

test('validation hold-out: seeded, disjoint, complete; subsets are seeded and not class-major prefixes', (t) => {
  const count = 50;
  const pixels = Uint8Array.from({ length: count * 4 }, (_, i) => Math.floor(i / 4));
  const labels = Uint8Array.from({ length: count }, (_, i) => Math.floor(i / 5));
  const set: ImageSet = { count, height: 2, width: 2, channels: 1, pixels, labels };
  const a = splitValidation(set, { validationSize: 10, validationSeed: 1 });
  const b = splitValidation(set, { validationSize: 10, validationSeed: 1 });
  const c = splitValidation(set, { validationSize: 10, validationSeed: 2 });
  t.deepEqual(a.validation.pixels, b.validation.pixels);
  t.notDeepEqual(a.validation.pixels, c.validation.pixels);
  const ids = (s: ImageSet) => Array.from({ length: s.count }, (_, i) => s.pixels[i * 4]);
  t.deepEqual([...ids(a.train), ...ids(a.validation)].sort((x, y) => x - y), Array.from({ length: count }, (_, i) => i));
  for (const s of [a.train, a.validation]) ids(s).forEach((id, i) => t.is(s.labels[i], Math.floor(id / 5)));
  t.throws(() => splitValidation(set, { validationSize: 50 }), { message: /validation size 50.*\[0, 49\]/ });
  const subset = subsetImages(set, 10, 4);
  t.is(subset.count, 10);
  t.true(new Set(subset.labels).size > 2, 'a random subset spans several classes');
});
