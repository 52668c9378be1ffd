// One image from uint8 HWC to normalised float32 HWC at the batch's resolution, in one pass: a window
// of the source (a random crop with zero padding like torchvision's RandomCrop(padding), a random
// resized crop's box, or the whole image), optional horizontal flip of the window, bilinear resize
// (half-pixel centres, no antialias: PyTorch align_corners=False, tf.image.resize 'bilinear'), of
// which a block may be kept (the centre crop of an evaluation resize), normalisation
// (x/255 - mean) / std per channel. transforms.ts decides the window of each image.
// ofav2.md s2: the input is resized per batch to the sampled resolution.
import type { DatasetSpec } from './types.ts';

/** A pad-crop window: offsets of the crop in the padded image, each in [0, 2 * padding]. */
export interface ImageTransform {
  cropY: number;
  cropX: number;
  padding: number;
  flip: boolean;
}

/**
 * Where the output reads its source along one axis: the window [start, start + size) of the source
 * axis (source pixels outside the image read as zero padding) is resized to `resized` samples, and
 * the output is samples skip .. skip + resolution - 1 of it.
 */
export interface AxisWindow {
  start: number;
  size: number;
  resized: number;
  skip: number;
}

/** One image's geometry: a window per axis; `flip` mirrors the window horizontally before the resize. */
export interface ImageGeometry {
  rows: AxisWindow;
  cols: AxisWindow;
  flip: boolean;
}

export type BilinearTaps = ReturnType<typeof bilinearTaps>;

/** The geometry of a pad-crop transform: the height x width window at (cropY, cropX) of the padded image. */
export function padCropGeometry(transform: ImageTransform, height: number, width: number, resolution: number): ImageGeometry {
  return {
    rows: { start: transform.cropY - transform.padding, size: height, resized: resolution, skip: 0 },
    cols: { start: transform.cropX - transform.padding, size: width, resized: resolution, skip: 0 },
    flip: transform.flip,
  };
}

/**
 * Source taps of a bilinear resize from `from` to `to` samples (half-pixel centres, edge clamped), for
 * the `count` outputs from `skip` on (default: all of them).
 */
export function bilinearTaps(from: number, to: number, skip = 0, count = to - skip): { low: Int32Array; high: Int32Array; weight: Float32Array } {
  const low = new Int32Array(count);
  const high = new Int32Array(count);
  const weight = new Float32Array(count);
  const scale = from / to;
  for (let i = 0; i < count; i++) {
    const position = Math.min(Math.max((i + skip + 0.5) * scale - 0.5, 0), from - 1);
    const l = Math.floor(position);
    low[i] = l;
    high[i] = Math.min(l + 1, from - 1);
    weight[i] = position - l;
  }
  return { low, high, weight };
}

/** The taps of one axis of a geometry at `resolution` outputs. */
export function windowTaps(window: AxisWindow, resolution: number): BilinearTaps {
  return bilinearTaps(window.size, window.resized, window.skip, resolution);
}

/**
 * Writes one transformed image into `out` at `outOffset` (resolution x resolution x channels floats).
 * `image` is the source image's bytes (height x width x channels). `taps`, when given, must be
 * windowTaps() of the geometry's rows and columns (the pipeline shares them between images).
 */
export function transformImage(
  image: Uint8Array,
  spec: Pick<DatasetSpec, 'height' | 'width' | 'channels' | 'mean' | 'std'>,
  transform: ImageTransform | ImageGeometry,
  resolution: number,
  out: Float32Array,
  outOffset: number,
  taps?: { rows: BilinearTaps; cols: BilinearTaps },
): void {
  const { height, width, channels } = spec;
  const geometry = 'rows' in transform ? transform : padCropGeometry(transform, height, width, resolution);
  const rows = taps?.rows ?? windowTaps(geometry.rows, resolution);
  const cols = taps?.cols ?? windowTaps(geometry.cols, resolution);
  const scale = new Float32Array(channels);
  const shift = new Float32Array(channels);
  for (let c = 0; c < channels; c++) {
    scale[c] = 1 / (255 * spec.std[c]);
    shift[c] = -spec.mean[c] / spec.std[c];
  }
  const dy = geometry.rows.start;
  const dx = geometry.cols.start;
  const windowWidth = geometry.cols.size;
  const flip = geometry.flip;
  // Crop, then flip the crop (torchvision's RandomCrop then RandomHorizontalFlip): window pixel (y, x)
  // is source pixel (y + dy, x' + dx) with x' = flip ? windowWidth-1-x : x; outside the source it is
  // the zero padding. Taps are turned into source offsets once per row and column (-1 = padding),
  // which keeps the inner loop to four loads and a few multiply-adds (bench/data.bench.ts).
  const rowOffset = (y: number): number => {
    const sy = y + dy;
    return sy < 0 || sy >= height ? -1 : sy * width * channels;
  };
  const colOffset = (x: number): number => {
    const sx = (flip ? windowWidth - 1 - x : x) + dx;
    return sx < 0 || sx >= width ? -1 : sx * channels;
  };
  const left = new Int32Array(resolution);
  const right = new Int32Array(resolution);
  for (let ox = 0; ox < resolution; ox++) {
    left[ox] = colOffset(cols.low[ox]);
    right[ox] = colOffset(cols.high[ox]);
  }
  const wxs = cols.weight;
  let o = outOffset;
  for (let oy = 0; oy < resolution; oy++) {
    const top = rowOffset(rows.low[oy]);
    const bottom = rowOffset(rows.high[oy]);
    const wy = rows.weight[oy];
    for (let ox = 0; ox < resolution; ox++) {
      const l = left[ox];
      const r = right[ox];
      const wx = wxs[ox];
      for (let c = 0; c < channels; c++) {
        const topLeft = top < 0 || l < 0 ? 0 : image[top + l + c];
        const topRight = top < 0 || r < 0 ? 0 : image[top + r + c];
        const bottomLeft = bottom < 0 || l < 0 ? 0 : image[bottom + l + c];
        const bottomRight = bottom < 0 || r < 0 ? 0 : image[bottom + r + c];
        const upper = topLeft + (topRight - topLeft) * wx;
        const lower = bottomLeft + (bottomRight - bottomLeft) * wx;
        out[o++] = (upper + (lower - upper) * wy) * scale[c] + shift[c];
      }
    }
  }
}
