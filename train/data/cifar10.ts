// CIFAR-10 in its binary layout (https://www.cs.toronto.edu/~kriz/cifar.html, "binary version"):
// data_batch_1.bin .. data_batch_5.bin (training) and test_batch.bin, each a run of 3073-byte records:
// 1 label byte, then 1024 red, 1024 green, 1024 blue bytes (CHW, rows top to bottom). We store NHWC.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { OfaError } from '../../lib/errors.ts';
import { readInputBytes } from '../../lib/json.ts';
import { splitValidation, type HoldoutOptions } from './holdout.ts';
import type { DatasetSpec, DatasetSplits, ImageSet } from './types.ts';

export const CIFAR10_CLASS_NAMES = ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck'];
export const CIFAR10_TRAIN_FILES = ['data_batch_1.bin', 'data_batch_2.bin', 'data_batch_3.bin', 'data_batch_4.bin', 'data_batch_5.bin'];
export const CIFAR10_TEST_FILE = 'test_batch.bin';
const SIDE = 32;
const PLANE = SIDE * SIDE;
const RECORD_BYTES = 1 + 3 * PLANE;

export const CIFAR10_SPEC: DatasetSpec = {
  name: 'cifar10',
  classes: 10,
  height: SIDE,
  width: SIDE,
  channels: 3,
  // The usual per-channel statistics of the 50,000 training images.
  mean: [0.4914, 0.4822, 0.4465],
  std: [0.247, 0.2435, 0.2616],
  trainTransform: { kind: 'pad-crop', padding: 4 },
  evalTransform: { kind: 'resize' },
  // Natural photographs: a mirrored cat is a cat.
  horizontalFlip: true,
};

export interface Cifar10Options extends HoldoutOptions {
  /** The folder holding data_batch_*.bin and test_batch.bin (e.g. cifar-10-batches-bin). */
  dir: string;
}

/** Decodes the records of one or more .bin files (CHW) into one NHWC image set. */
export function readCifar10Files(files: string[]): ImageSet {
  const buffers = files.map((file) => {
    if (!existsSync(file)) {
      throw new OfaError('E_DATA_SOURCE', `CIFAR-10 file ${JSON.stringify(file)} does not exist`, {
        hint: 'pass the folder of the binary version (cifar-10-batches-bin with data_batch_1..5.bin and test_batch.bin)',
      });
    }
    // A folder or an unreadable path is named as such (lib/json.ts); a batch file is 30 MB.
    const bytes = readInputBytes(file, `CIFAR-10 file ${JSON.stringify(file)}`, { code: 'E_DATA_SOURCE', maxBytes: 2 ** 30, hint: 'pass the folder of the binary version (cifar-10-batches-bin)' });
    if (bytes.length === 0 || bytes.length % RECORD_BYTES !== 0) {
      throw new OfaError('E_DATA_SOURCE', `CIFAR-10 file ${JSON.stringify(file)} has ${bytes.length} bytes, not a positive multiple of the ${RECORD_BYTES}-byte record (1 label + 3x32x32 pixels)`, {
        hint: 'the file is truncated or not the binary version of CIFAR-10 (the python and matlab versions are not read)',
      });
    }
    return { file, bytes };
  });
  const count = buffers.reduce((sum, b) => sum + b.bytes.length / RECORD_BYTES, 0);
  const pixels = new Uint8Array(count * 3 * PLANE);
  const labels = new Uint8Array(count);
  let index = 0;
  for (const { file, bytes } of buffers) {
    for (let offset = 0; offset < bytes.length; offset += RECORD_BYTES, index++) {
      const label = bytes[offset];
      if (label >= CIFAR10_CLASS_NAMES.length) {
        throw new OfaError('E_DATA_SOURCE', `CIFAR-10 file ${JSON.stringify(file)}: record ${offset / RECORD_BYTES} has label ${label}; allowed 0..9`, { hint: 'the file is corrupt or not CIFAR-10 (CIFAR-100 has two label bytes)' });
      }
      labels[index] = label;
      const out = index * 3 * PLANE;
      for (let p = 0; p < PLANE; p++) {
        pixels[out + 3 * p] = bytes[offset + 1 + p];
        pixels[out + 3 * p + 1] = bytes[offset + 1 + PLANE + p];
        pixels[out + 3 * p + 2] = bytes[offset + 1 + 2 * PLANE + p];
      }
    }
  }
  return { count, height: SIDE, width: SIDE, channels: 3, pixels, labels };
}

export function loadCifar10(options: Cifar10Options): DatasetSplits {
  const train = readCifar10Files(CIFAR10_TRAIN_FILES.map((name) => join(options.dir, name)));
  const test = readCifar10Files([join(options.dir, CIFAR10_TEST_FILE)]);
  const split = splitValidation(train, options);
  return { spec: CIFAR10_SPEC, train: split.train, validation: split.validation, test, classNames: [...CIFAR10_CLASS_NAMES] };
}
