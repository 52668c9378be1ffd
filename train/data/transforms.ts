// The per-data-set choice of crop (DatasetSpec.trainTransform / evalTransform): which window of the
// source each output image reads (augment.ts then resizes it). Train transforms draw from the batch's
// rng in a fixed order (crop, then flip), so a batch stays a pure function of (seed, epoch, batch).
// torchvision is the reference for behaviour: RandomCrop(padding), RandomResizedCrop, Resize +
// CenterCrop, with Python's round-half-to-even where torchvision rounds.
import { OfaError } from '../../lib/errors.ts';
import type { Rng } from '../../lib/rng.ts';
import { padCropGeometry, type AxisWindow, type ImageGeometry } from './augment.ts';
import type { DatasetSpec, EvalTransform, TrainTransform } from './types.ts';

/** A box of the source image, in pixels. */
export interface CropBox {
  top: number;
  left: number;
  height: number;
  width: number;
}

/** ofav2.md s3 (Tiny ImageNet, paper's code): RandomResizedCrop(scale 0.85-1, ratio 3/4-4/3) + flip. */
export const PAPER_TRAIN_TRANSFORM: TrainTransform = { kind: 'random-resized-crop', scale: [0.85, 1], ratio: [3 / 4, 4 / 3] };
/** ofav2.md s3: resize to ceil(r / 0.875), centre crop r. */
export const PAPER_EVAL_TRANSFORM: EvalTransform = { kind: 'resize-centre-crop', cropFraction: 0.875 };

/** Python's round(): halves go to the even neighbour (torchvision's crop sizes and offsets use it). */
export function roundHalfEven(x: number): number {
  return Math.abs(x - Math.trunc(x)) === 0.5 ? 2 * Math.round(x / 2) : Math.round(x);
}

function invalid(spec: Pick<DatasetSpec, 'name'>, what: string, value: unknown, allowed: string): OfaError {
  return new OfaError('E_DATA_TRANSFORM', `the ${spec.name} data set spec has ${what} ${JSON.stringify(value)}; allowed: ${allowed}`, {
    hint: 'fix the spec (train/data/<set>.ts or the caller\'s DatasetSpec)',
  });
}

const isRange = (range: readonly number[], low: number, high: number) => range.length === 2 && range.every(Number.isFinite) && range[0] > low && range[0] <= range[1] && range[1] <= high;

/** The spec's train and eval transforms with their defaults filled in, checked. */
export function specTransforms(spec: Pick<DatasetSpec, 'name' | 'trainTransform' | 'evalTransform' | 'cropPadding'>): { train: TrainTransform; eval: EvalTransform } {
  if (spec.trainTransform && spec.cropPadding !== undefined) {
    throw invalid(spec, 'both cropPadding and trainTransform, cropPadding', spec.cropPadding, 'one of them (cropPadding p is short for trainTransform {kind: "pad-crop", padding: p})');
  }
  const train = spec.trainTransform ?? { kind: 'pad-crop', padding: spec.cropPadding ?? 0 };
  const evalTransform = spec.evalTransform ?? { kind: 'resize' };
  if (train.kind === 'pad-crop') {
    if (!Number.isInteger(train.padding) || train.padding < 0) throw invalid(spec, 'crop padding', train.padding, 'an integer >= 0');
  } else if (train.kind === 'random-resized-crop') {
    if (!isRange(train.scale, 0, 1)) throw invalid(spec, 'random-resized-crop scale', train.scale, '[min, max] with 0 < min <= max <= 1 (area fractions)');
    if (!isRange(train.ratio, 0, Infinity)) throw invalid(spec, 'random-resized-crop ratio', train.ratio, '[min, max] with 0 < min <= max (width / height)');
  } else {
    throw invalid(spec, 'train transform', train, 'kind "pad-crop" or "random-resized-crop"');
  }
  if (evalTransform.kind === 'resize-centre-crop') {
    const f = evalTransform.cropFraction;
    if (!Number.isFinite(f) || f <= 0 || f > 1) throw invalid(spec, 'centre-crop fraction', f, 'a number in (0, 1]');
  } else if (evalTransform.kind !== 'resize') {
    throw invalid(spec, 'eval transform', evalTransform, 'kind "resize" or "resize-centre-crop"');
  }
  return { train, eval: evalTransform };
}

/**
 * torchvision RandomResizedCrop.get_params: up to 10 tries of an area fraction uniform in `scale` and
 * an aspect ratio (width / height) log-uniform in `ratio`, kept if the box fits; else the largest
 * centred box with the ratio clamped into `ratio`.
 */
export function sampleResizedCropBox(height: number, width: number, scale: readonly [number, number], ratio: readonly [number, number], rng: Rng): CropBox {
  const area = height * width;
  const logLow = Math.log(ratio[0]);
  const logHigh = Math.log(ratio[1]);
  for (let attempt = 0; attempt < 10; attempt++) {
    const targetArea = area * (scale[0] + (scale[1] - scale[0]) * rng.next());
    const aspect = Math.exp(logLow + (logHigh - logLow) * rng.next());
    const w = roundHalfEven(Math.sqrt(targetArea * aspect));
    const h = roundHalfEven(Math.sqrt(targetArea / aspect));
    if (w > 0 && w <= width && h > 0 && h <= height) {
      const top = rng.int(height - h + 1);
      const left = rng.int(width - w + 1);
      return { top, left, height: h, width: w };
    }
  }
  const inputRatio = width / height;
  let w = width;
  let h = height;
  if (inputRatio < ratio[0]) h = roundHalfEven(w / ratio[0]);
  else if (inputRatio > ratio[1]) w = roundHalfEven(h * ratio[1]);
  return { top: Math.floor((height - h) / 2), left: Math.floor((width - w) / 2), height: h, width: w };
}

const whole = (size: number, resolution: number): AxisWindow => ({ start: 0, size, resized: resolution, skip: 0 });

/**
 * One training image's geometry, drawn from `rng` (crop first, then the flip where `flip` allows it:
 * the order the pad-crop pipeline has always drawn in, so its batches are unchanged).
 */
export function sampleTrainGeometry(transform: TrainTransform, height: number, width: number, resolution: number, flip: boolean, rng: Rng): ImageGeometry {
  if (transform.kind === 'pad-crop') {
    const { padding } = transform;
    const cropY = rng.int(2 * padding + 1);
    const cropX = rng.int(2 * padding + 1);
    return padCropGeometry({ padding, cropY, cropX, flip: flip && rng.next() < 0.5 }, height, width, resolution);
  }
  const box = sampleResizedCropBox(height, width, transform.scale, transform.ratio, rng);
  return {
    rows: { start: box.top, size: box.height, resized: resolution, skip: 0 },
    cols: { start: box.left, size: box.width, resized: resolution, skip: 0 },
    flip: flip && rng.next() < 0.5,
  };
}

/** The size of the shorter side after the evaluation resize: ceil(resolution / cropFraction). */
export function evalResizeSize(resolution: number, cropFraction: number): number {
  return Math.ceil(resolution / cropFraction);
}

/** An evaluation image's geometry (the same for every image of a batch). */
export function evalGeometry(transform: EvalTransform, height: number, width: number, resolution: number): ImageGeometry {
  if (transform.kind === 'resize') return { rows: whole(height, resolution), cols: whole(width, resolution), flip: false };
  // torchvision Resize(s): the shorter side becomes s, the longer int(s * long / short); then
  // CenterCrop(r) keeps the r x r block at round((size - r) / 2).
  const short = evalResizeSize(resolution, transform.cropFraction);
  const resizedHeight = height <= width ? short : Math.floor((short * height) / width);
  const resizedWidth = height <= width ? Math.floor((short * width) / height) : short;
  return {
    rows: { start: 0, size: height, resized: resizedHeight, skip: roundHalfEven((resizedHeight - resolution) / 2) },
    cols: { start: 0, size: width, resized: resizedWidth, skip: roundHalfEven((resizedWidth - resolution) / 2) },
    flip: false,
  };
}
