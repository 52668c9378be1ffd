// The batch pipeline: seeded shuffling per epoch, augmentation, per-batch resolution, normalisation,
// output float32 NHWC + int32 labels (the trainer wraps them in tensors), with prefetch.
//
// Augmentation is the spec's choice (transforms.ts): its train transform (pad-crop or random resized
// crop) and flip when augmenting, its eval transform (resize, or resize + centre crop) otherwise.
//
// Reproducibility: a batch is a pure function of (seed, epoch, batchIndex). The epoch's order comes
// from an rng seeded by (seed, epoch); the batch's resolution and every image's crop and flip come from
// an rng seeded by (seed, epoch, batchIndex). So the iterator's whole state is {seed, epoch,
// batchIndex} (plus the sizes it checks on restore): no rng stream needs saving, and prefetching ahead
// cannot change what a resumed run sees.
import { OfaError } from '../../lib/errors.ts';
import { createRng, type Rng } from '../../lib/rng.ts';
import { transformImage, windowTaps, type AxisWindow, type BilinearTaps } from './augment.ts';
import { evalGeometry, sampleTrainGeometry, specTransforms } from './transforms.ts';
import type { DatasetSpec, EvalTransform, ImageSet, TrainTransform } from './types.ts';

export interface Batch {
  /** size x resolution x resolution x channels, normalised. */
  images: Float32Array;
  labels: Int32Array;
  size: number;
  resolution: number;
  channels: number;
  epoch: number;
  batchIndex: number;
  /** Positions of the images in the image set, in batch order. */
  indices: Int32Array;
}

export interface BatchIteratorOptions {
  batchSize: number;
  /** Seed of the shuffles, resolutions and augmentations (default 0). */
  seed?: number;
  /** Allowed resolutions; one is sampled uniformly per batch (ofav2.md s3). Default: the set's height. */
  resolutions?: readonly number[];
  /** Random order per epoch (default true). False: the set's order, for evaluation. */
  shuffle?: boolean;
  /** The spec's train transform, and flip where the spec allows (default true). False: its eval
   *  transform, for evaluation. */
  augment?: boolean;
  /** Override the spec's horizontalFlip. */
  horizontalFlip?: boolean;
  /** Drop the last incomplete batch of an epoch (default: same as shuffle). */
  dropLast?: boolean;
  /** Where to start (a state captured by state()). */
  state?: IteratorState;
}

/** Everything needed to produce exactly the same next batch after a restart (stored in checkpoints). */
export interface IteratorState {
  seed: number;
  epoch: number;
  /** Index within the epoch of the next batch next() returns. */
  batchIndex: number;
  /** Checked on restore: a different image count or batch size would silently change the batches. */
  count: number;
  batchSize: number;
}

/** Mixes integers into one 32-bit seed (murmur3 finaliser per part), so nearby inputs give unrelated streams. */
export function deriveSeed(...parts: number[]): number {
  let h = 0x2545f491;
  for (const part of parts) {
    let k = Math.imul(part >>> 0, 0xcc9e2d51);
    k = Math.imul((k << 15) | (k >>> 17), 0x1b873593);
    h ^= k;
    h = Math.imul((h << 13) | (h >>> 19), 5) + 0xe6546b64;
    h ^= h >>> 16;
    h = Math.imul(h, 0x85ebca6b);
    h ^= h >>> 13;
    h = Math.imul(h, 0xc2b2ae35);
    h ^= h >>> 16;
  }
  return h >>> 0;
}

/** ofav2.md s3: the resolution is sampled per batch, uniformly from the allowed values. */
export function sampleResolution(allowed: readonly number[], rng: Rng): number {
  if (allowed.length === 0) throw new OfaError('E_RESOLUTION', 'resolution list is empty; allowed: at least one positive integer');
  return rng.pick(allowed);
}

const EPOCH_STREAM = 1;
const BATCH_STREAM = 2;

export class BatchIterator {
  readonly set: ImageSet;
  readonly spec: DatasetSpec;
  readonly batchSize: number;
  readonly seed: number;
  readonly resolutions: readonly number[];
  readonly shuffle: boolean;
  readonly augment: boolean;
  readonly horizontalFlip: boolean;
  readonly dropLast: boolean;
  readonly trainTransform: TrainTransform;
  readonly evalTransform: EvalTransform;
  private epoch = 0;
  private batchIndex = 0;
  private orderEpoch = -1;
  private order: Int32Array = new Int32Array(0);
  private pending: { epoch: number; batchIndex: number; batch: Promise<Batch> } | undefined;

  constructor(set: ImageSet, spec: DatasetSpec, options: BatchIteratorOptions) {
    if (!Number.isInteger(options.batchSize) || options.batchSize < 1) {
      throw new OfaError('E_BATCH_SIZE', `batch size ${options.batchSize} is not allowed; allowed: a positive integer`);
    }
    if (set.count === 0) throw new OfaError('E_EMPTY_SET', `the ${spec.name} image set is empty; a batch iterator needs at least one image`);
    if (set.height !== spec.height || set.width !== spec.width || set.channels !== spec.channels) {
      throw new OfaError('E_DATA_SHAPE', `images are ${set.height}x${set.width}x${set.channels}; the ${spec.name} spec says ${spec.height}x${spec.width}x${spec.channels}`);
    }
    this.set = set;
    this.spec = spec;
    this.batchSize = options.batchSize;
    this.seed = (options.seed ?? 0) >>> 0;
    this.resolutions = [...(options.resolutions ?? [spec.height])];
    for (const r of this.resolutions) {
      if (!Number.isInteger(r) || r < 1) throw new OfaError('E_RESOLUTION', `resolution ${r} is not allowed; allowed: positive integers`);
    }
    if (this.resolutions.length === 0) throw new OfaError('E_RESOLUTION', 'resolution list is empty; allowed: at least one positive integer');
    this.shuffle = options.shuffle ?? true;
    this.augment = options.augment ?? true;
    this.horizontalFlip = options.horizontalFlip ?? spec.horizontalFlip;
    const transforms = specTransforms(spec);
    this.trainTransform = transforms.train;
    this.evalTransform = transforms.eval;
    this.dropLast = options.dropLast ?? this.shuffle;
    if (this.dropLast && set.count < this.batchSize) {
      throw new OfaError('E_BATCH_SIZE', `batch size ${this.batchSize} is larger than the ${set.count} images of the set, and incomplete batches are dropped`, { hint: 'use a smaller batch size or more images' });
    }
    if (options.state) this.restore(options.state);
  }

  get batchesPerEpoch(): number {
    return this.dropLast ? Math.floor(this.set.count / this.batchSize) : Math.ceil(this.set.count / this.batchSize);
  }

  /** The position of the batch the next call of next() returns. */
  state(): IteratorState {
    return { seed: this.seed, epoch: this.epoch, batchIndex: this.batchIndex, count: this.set.count, batchSize: this.batchSize };
  }

  restore(state: IteratorState): void {
    const mine = this.state();
    for (const key of ['seed', 'count', 'batchSize'] as const) {
      if (state[key] !== mine[key]) {
        throw new OfaError('E_ITERATOR_STATE', `data iterator state has ${key} ${state[key]}, but this iterator has ${key} ${mine[key]}; the next batches would differ from the saved run`, {
          hint: 'resume with the same data set, --max-train-images, seed and batch size as the saved run',
        });
      }
    }
    if (!Number.isInteger(state.epoch) || state.epoch < 0 || !Number.isInteger(state.batchIndex) || state.batchIndex < 0 || state.batchIndex > this.batchesPerEpoch) {
      throw new OfaError('E_ITERATOR_STATE', `data iterator state epoch ${state.epoch} batch ${state.batchIndex} is out of range; allowed: epoch >= 0, batch in [0, ${this.batchesPerEpoch}]`);
    }
    this.epoch = state.epoch;
    this.batchIndex = state.batchIndex;
    this.normalisePosition();
    this.pending = undefined;
  }

  private normalisePosition(): void {
    if (this.batchIndex >= this.batchesPerEpoch) {
      this.epoch++;
      this.batchIndex = 0;
    }
  }

  /** The image order of an epoch: a seeded permutation, or the set's order. */
  epochOrder(epoch: number): Int32Array {
    if (this.orderEpoch !== epoch) {
      const order = Array.from({ length: this.set.count }, (_, i) => i);
      if (this.shuffle) createRng(deriveSeed(this.seed, EPOCH_STREAM, epoch)).shuffle(order);
      this.order = Int32Array.from(order);
      this.orderEpoch = epoch;
    }
    return this.order;
  }

  /** Builds batch `batchIndex` of `epoch` (pure: the same arguments give the same batch). */
  batchAt(epoch: number, batchIndex: number): Batch {
    const order = this.epochOrder(epoch);
    const start = batchIndex * this.batchSize;
    const size = Math.min(this.batchSize, this.set.count - start);
    if (size <= 0) throw new OfaError('E_ITERATOR_STATE', `batch ${batchIndex} is past the end of the epoch (${this.batchesPerEpoch} batches)`);
    const rng = createRng(deriveSeed(this.seed, BATCH_STREAM, epoch, batchIndex));
    const resolution = this.resolutions.length === 1 ? this.resolutions[0] : sampleResolution(this.resolutions, rng);
    const { height, width, channels } = this.spec;
    const imageBytes = height * width * channels;
    const outFloats = resolution * resolution * channels;
    const images = new Float32Array(size * outFloats);
    const labels = new Int32Array(size);
    const indices = new Int32Array(size);
    // Taps depend on a window's size and placement in the resize only: shared between the images
    // of the batch (one pair for pad-crop and eval, a handful of box sizes for random resized crops).
    const tapCache = new Map<string, BilinearTaps>();
    const tapsOf = (window: AxisWindow): BilinearTaps => {
      const key = `${window.size},${window.resized},${window.skip}`;
      let taps = tapCache.get(key);
      if (!taps) tapCache.set(key, (taps = windowTaps(window, resolution)));
      return taps;
    };
    const evaluation = this.augment ? undefined : evalGeometry(this.evalTransform, height, width, resolution);
    for (let i = 0; i < size; i++) {
      const index = order[start + i];
      indices[i] = index;
      labels[i] = this.set.labels[index];
      const geometry = evaluation ?? sampleTrainGeometry(this.trainTransform, height, width, resolution, this.horizontalFlip, rng);
      const taps = { rows: tapsOf(geometry.rows), cols: tapsOf(geometry.cols) };
      transformImage(this.set.pixels.subarray(index * imageBytes, (index + 1) * imageBytes), this.spec, geometry, resolution, images, i * outFloats, taps);
    }
    return { images, labels, size, resolution, channels, epoch, batchIndex, indices };
  }

  /**
   * The next batch. The one after it is prepared right away in a macrotask (setImmediate), i.e. while
   * the caller runs its (async) training step; a restore() drops the look-ahead.
   */
  async next(): Promise<Batch> {
    const { epoch, batchIndex } = this;
    const batch = this.pending && this.pending.epoch === epoch && this.pending.batchIndex === batchIndex
      ? await this.pending.batch
      : this.batchAt(epoch, batchIndex);
    this.batchIndex++;
    this.normalisePosition();
    const ahead = { epoch: this.epoch, batchIndex: this.batchIndex };
    this.pending = {
      ...ahead,
      batch: new Promise<Batch>((resolve, reject) => setImmediate(() => {
        try {
          resolve(this.batchAt(ahead.epoch, ahead.batchIndex));
        } catch (error) {
          reject(error);
        }
      })),
    };
    this.pending.batch.catch(() => undefined); // reported when awaited, not as an unhandled rejection
    return batch;
  }

  /** All batches of one epoch, in order (for evaluation and BN recalibration). */
  *epochBatches(epoch = 0): Generator<Batch> {
    for (let b = 0; b < this.batchesPerEpoch; b++) yield this.batchAt(epoch, b);
  }
}
