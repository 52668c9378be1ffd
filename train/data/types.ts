// The in-memory form every data-set loader produces: uint8 pixels NHWC (one image after another, rows,
// columns, channels) and uint8 labels, so that 70k Fashion-MNIST images cost 55 MB and a batch is cut
// out of them without parsing anything. The batch pipeline (pipeline.ts) turns them into float32.

export interface ImageSet {
  /** Number of images. */
  count: number;
  height: number;
  width: number;
  channels: number;
  /** count * height * width * channels bytes, NHWC. */
  pixels: Uint8Array;
  /** count class indices in [0, classes). */
  labels: Uint8Array;
}

/** What the batch pipeline needs to know about a data set (per-set constants, written once here). */
export interface DatasetSpec {
  name: string;
  classes: number;
  height: number;
  width: number;
  channels: number;
  /** Per-channel mean and standard deviation of the training pixels scaled to [0, 1]. */
  mean: readonly number[];
  std: readonly number[];
  /** How a training image is cropped before the resize to the batch's resolution (transforms.ts).
   *  Default: `{kind: 'pad-crop', padding: cropPadding ?? 0}`. */
  trainTransform?: TrainTransform;
  /** How an evaluation image becomes resolution x resolution. Default: `{kind: 'resize'}`. */
  evalTransform?: EvalTransform;
  /** Short form of `trainTransform: {kind: 'pad-crop', padding}`; give one or the other. */
  cropPadding?: number;
  /** Whether a horizontal flip keeps the label (see registry.ts for each set's reason). Applied after
   *  the train transform's crop, with probability 1/2. */
  horizontalFlip: boolean;
}

/** The random crop of a training image (followed by the flip where the spec allows it). */
export type TrainTransform =
  /** Zero padding on each side, then a random height x width window (torchvision RandomCrop(padding)). */
  | { kind: 'pad-crop'; padding: number }
  /** torchvision RandomResizedCrop: a box of area fraction in `scale` and aspect ratio (width / height)
   *  log-uniform in `ratio`, up to 10 tries, else a centre crop. */
  | { kind: 'random-resized-crop'; scale: readonly [number, number]; ratio: readonly [number, number] };

/** The deterministic geometry of an evaluation image. */
export type EvalTransform =
  /** The whole image resized to resolution x resolution. */
  | { kind: 'resize' }
  /** Shorter side resized to ceil(resolution / cropFraction), then the centre resolution x resolution
   *  (torchvision Resize(ceil(r / f)) + CenterCrop(r)). */
  | { kind: 'resize-centre-crop'; cropFraction: number };

/** A loaded data set: the training part (minus the held-out validation part), validation and test. */
export interface DatasetSplits {
  spec: DatasetSpec;
  train: ImageSet;
  /** Held out of the training split by a seeded permutation; may be empty (count 0). */
  validation: ImageSet;
  test: ImageSet;
  /** Human-readable class names, index = label. */
  classNames: string[];
}

/** Copies the images at `indices` (in that order) into a new set. */
export function selectImages(set: ImageSet, indices: ArrayLike<number>): ImageSet {
  const imageBytes = set.height * set.width * set.channels;
  const pixels = new Uint8Array(indices.length * imageBytes);
  const labels = new Uint8Array(indices.length);
  for (let i = 0; i < indices.length; i++) {
    const source = indices[i];
    pixels.set(set.pixels.subarray(source * imageBytes, (source + 1) * imageBytes), i * imageBytes);
    labels[i] = set.labels[source];
  }
  return { count: indices.length, height: set.height, width: set.width, channels: set.channels, pixels, labels };
}
