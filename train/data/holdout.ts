// The held-out validation part of a training split (ofav2.md s4: accuracy pairs are measured on a
// held-out split, never on the test images). Chosen by a seeded permutation so that it is the same on
// every machine and every run with the same seed, and stratification is left to chance like OFA's.
import { OfaError } from '../../lib/errors.ts';
import { createRng } from '../../lib/rng.ts';
import { selectImages, type ImageSet } from './types.ts';

export const DEFAULT_VALIDATION_SIZE = 5000;
export const DEFAULT_VALIDATION_SEED = 0;

export interface HoldoutOptions {
  /** Images moved from the training split into validation (default 5000). */
  validationSize?: number;
  /** Seed of the permutation that picks them (default 0). */
  validationSeed?: number;
}

export function splitValidation(train: ImageSet, options: HoldoutOptions = {}): { train: ImageSet; validation: ImageSet } {
  const size = options.validationSize ?? DEFAULT_VALIDATION_SIZE;
  if (!Number.isInteger(size) || size < 0 || size >= train.count) {
    throw new OfaError('E_VALIDATION_SIZE', `validation size ${size} is not allowed: it must be an integer in [0, ${train.count - 1}] (the training split has ${train.count} images)`, {
      hint: 'pass a smaller validation size (0 disables the held-out part)',
    });
  }
  const order = Array.from({ length: train.count }, (_, i) => i);
  createRng(options.validationSeed ?? DEFAULT_VALIDATION_SEED).shuffle(order);
  // Both parts keep the original relative order, so that only membership depends on the seed.
  const held = order.slice(0, size).sort((a, b) => a - b);
  const kept = order.slice(size).sort((a, b) => a - b);
  return { train: selectImages(train, kept), validation: selectImages(train, held) };
}

/**
 * A seeded random subset of `maxImages` images (for --max-train-images). Not the first M: the cached
 * splits are class-major, so the first M images would be a single class.
 */
export function subsetImages(set: ImageSet, maxImages: number | undefined, seed = 0): ImageSet {
  if (maxImages === undefined || maxImages >= set.count) return set;
  if (!Number.isInteger(maxImages) || maxImages < 1) {
    throw new OfaError('E_MAX_IMAGES', `max images ${maxImages} is not allowed; allowed: a positive integer`);
  }
  const order = Array.from({ length: set.count }, (_, i) => i);
  createRng(seed).shuffle(order);
  return selectImages(set, order.slice(0, maxImages).sort((a, b) => a - b));
}
