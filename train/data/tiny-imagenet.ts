// Tiny ImageNet in its folder layout (the paper's data set, ofav2.md s6):
//   wnids.txt                          the 200 class ids, one per line
//   words.txt                          optional: "<wnid>\t<names>" lines, for class names
//   train/<wnid>/images/*.JPEG         500 training images per class
//   val/images/*.JPEG + val/val_annotations.txt ("<file>\t<wnid>\t<box...>"), 50 per class
// The official test images have no labels, so the val folder is our test split, and the validation
// part is held out of train (the paper holds out 15%: validationSize 15,000 by default here).
// Labels are the index of the wnid in sorted order (what torchvision's ImageFolder gives), and files are
// read in sorted order, so that the result does not depend on the file system's listing order.
// Decoding 110,000 JPEGs takes about 45 s (jpeg-js, 0.4 ms each), so the decoded images are cached
// (decoded-cache.ts), keyed by a fingerprint of the folder.
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import jpeg from 'jpeg-js';
import { OfaError } from '../../lib/errors.ts';
import { readInputBytes, readTextInput } from '../../lib/json.ts';
import { resolveCacheDir, stderrLog, type DataLog } from './cache.ts';
import { cachedDecode, type DecodedSplitsData } from './decoded-cache.ts';
import { splitValidation, type HoldoutOptions } from './holdout.ts';
import { PAPER_EVAL_TRANSFORM, PAPER_TRAIN_TRANSFORM } from './transforms.ts';
import type { DatasetSpec, DatasetSplits, ImageSet } from './types.ts';

const SIDE = 64;
export const TINY_IMAGENET_VALIDATION_SIZE = 15000;

export const TINY_IMAGENET_SPEC: DatasetSpec = {
  name: 'tiny-imagenet',
  classes: 200,
  height: SIDE,
  width: SIDE,
  channels: 3,
  // ofav2.md s3 (paper's code): ImageNet normalisation, random resized crop + flip, resize + centre crop.
  mean: [0.485, 0.456, 0.406],
  std: [0.229, 0.224, 0.225],
  trainTransform: PAPER_TRAIN_TRANSFORM,
  evalTransform: PAPER_EVAL_TRANSFORM,
  horizontalFlip: true,
};

export interface TinyImageNetOptions extends HoldoutOptions {
  /** The folder holding wnids.txt, train/ and val/ (e.g. tiny-imagenet-200). */
  dir: string;
  /** Where the decoded images are cached (default $OFA_CACHE_DIR or .cache/ofav2); false: no cache. */
  cacheDir?: string | false;
  log?: DataLog;
}

function fail(path: string, why: string): OfaError {
  return new OfaError('E_DATA_SOURCE', `Tiny ImageNet ${JSON.stringify(path)} ${why}`, {
    hint: 'pass the unpacked tiny-imagenet-200 folder (wnids.txt, train/<wnid>/images/*.JPEG, val/val_annotations.txt, val/images/)',
  });
}

function readLines(path: string): string[] {
  if (!existsSync(path)) throw fail(path, 'does not exist');
  return readTextInput(path, `Tiny ImageNet ${JSON.stringify(path)}`, { code: 'E_DATA_SOURCE' }).split(/\r?\n/).map((line) => line.trim()).filter((line) => line.length > 0);
}

/** Decodes a JPEG into RGB bytes; grey-scale JPEGs (Tiny ImageNet has some) come out with R = G = B. */
export function decodeJpegRgb(path: string, height: number, width: number): Uint8Array {
  let decoded: { width: number; height: number; data: Uint8Array };
  try {
    decoded = jpeg.decode(readInputBytes(path, `Tiny ImageNet ${JSON.stringify(path)}`, { code: 'E_DATA_SOURCE', maxBytes: 2 ** 26 }), { useTArray: true, formatAsRGBA: true, maxMemoryUsageInMB: 64 });
  } catch (error) {
    throw fail(path, `is not a readable JPEG: ${(error as Error).message}`);
  }
  if (decoded.width !== width || decoded.height !== height) throw fail(path, `is ${decoded.width}x${decoded.height}; expected ${width}x${height}`);
  const rgb = new Uint8Array(height * width * 3);
  for (let p = 0; p < height * width; p++) {
    rgb[3 * p] = decoded.data[4 * p];
    rgb[3 * p + 1] = decoded.data[4 * p + 1];
    rgb[3 * p + 2] = decoded.data[4 * p + 2];
  }
  return rgb;
}

function decodeAll(entries: { path: string; label: number }[]): ImageSet {
  const imageBytes = SIDE * SIDE * 3;
  const pixels = new Uint8Array(entries.length * imageBytes);
  const labels = new Uint8Array(entries.length);
  entries.forEach(({ path, label }, i) => {
    pixels.set(decodeJpegRgb(path, SIDE, SIDE), i * imageBytes);
    labels[i] = label;
  });
  return { count: entries.length, height: SIDE, width: SIDE, channels: 3, pixels, labels };
}

/** Decodes the folder (no cache): training images and the val folder as the test split. */
export function decodeTinyImageNet(dir: string): DecodedSplitsData {
  const wnids = [...new Set(readLines(join(dir, 'wnids.txt')))].sort();
  if (wnids.length > 256) throw fail(join(dir, 'wnids.txt'), `lists ${wnids.length} classes; at most 256 are supported (labels are bytes)`);
  const labelOf = new Map(wnids.map((wnid, i) => [wnid, i]));
  const isJpeg = (name: string) => /\.jpe?g$/i.test(name);

  const trainEntries: { path: string; label: number }[] = [];
  for (const wnid of wnids) {
    const folder = join(dir, 'train', wnid, 'images');
    if (!existsSync(folder)) throw fail(folder, `does not exist (class ${wnid} is listed in wnids.txt)`);
    for (const name of readdirSync(folder).filter(isJpeg).sort()) trainEntries.push({ path: join(folder, name), label: labelOf.get(wnid)! });
  }

  const annotations = join(dir, 'val', 'val_annotations.txt');
  const testEntries = readLines(annotations).map((line, i) => {
    const [name, wnid] = line.split('\t');
    const label = labelOf.get(wnid);
    if (name === undefined || label === undefined) throw fail(annotations, `line ${i + 1} ${JSON.stringify(line)} names class ${JSON.stringify(wnid)}, which is not in wnids.txt`);
    return { name, path: join(dir, 'val', 'images', name), label };
  }).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));

  let classNames = [...wnids];
  const words = join(dir, 'words.txt');
  if (existsSync(words)) {
    const names = new Map(readLines(words).map((line) => line.split('\t') as [string, string]));
    classNames = wnids.map((wnid) => names.get(wnid)?.split(',')[0]?.trim() || wnid);
  }
  return { train: decodeAll(trainEntries), test: decodeAll(testEntries), classNames };
}

export function loadTinyImageNet(options: TinyImageNetOptions): DatasetSplits {
  if (!existsSync(options.dir)) throw fail(options.dir, 'does not exist');
  const decoded = options.cacheDir === false
    ? decodeTinyImageNet(options.dir)
    : cachedDecode(resolveCacheDir(options.cacheDir), 'tiny-imagenet', options.dir, () => decodeTinyImageNet(options.dir), options.log ?? stderrLog);
  const { train, test, classNames } = decoded;
  const split = splitValidation(train, {
    validationSeed: options.validationSeed,
    // ofav2.md s6: 15% of the training images held out (15,000 of 100,000).
    validationSize: options.validationSize ?? Math.min(TINY_IMAGENET_VALIDATION_SIZE, Math.floor(train.count * 0.15)),
  });
  const spec = { ...TINY_IMAGENET_SPEC, classes: classNames.length };
  return { spec, train: split.train, validation: split.validation, test, classNames };
}
