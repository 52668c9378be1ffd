// One image from uint8 HWC to normalised float32 HWC at the batch's resolution, in one pass:
// random crop with zero padding (in pixel space, like torchvision's RandomCrop(padding)), optional
// horizontal flip, bilinear resize (half-pixel centres, no antialias: PyTorch align_corners=False,
// tf.image.resize 'bilinear'), normalisation (x/255 - mean) / std per channel.
// ofav2.md s2: the input is resized per batch to the sampled resolution.
import type { DatasetSpec } from './types.ts';

export interface ImageTransform {
  /** Offsets of the crop window in the padded image, each in [0, 2 * padding]. */
  cropY: number;
  cropX: number;
  padding: number;
  flip: boolean;
}

/** Source taps of a bilinear resize from `from` to `to` samples (half-pixel centres, edge clamped). */
export function bilinearTaps(from: number, to: number): { low: Int32Array; high: Int32Array; weight: Float32Array } {
  const low = new Int32Array(to);
  const high = new Int32Array(to);
  const weight = new Float32Array(to);
  const scale = from / to;
  for (let o = 0; o < to; o++) {
    const position = Math.min(Math.max((o + 0.5) * scale - 0.5, 0), from - 1);
    const l = Math.floor(position);
    low[o] = l;
    high[o] = Math.min(l + 1, from - 1);
    weight[o] = position - l;
  }
  return { low, high, weight };
}

/**
 * Writes one transformed image into `out` at `outOffset` (resolution x resolution x channels floats).
 * `image` is the source image's bytes (height x width x channels).
 */
export function transformImage(
  image: Uint8Array,
  spec: Pick<DatasetSpec, 'height' | 'width' | 'channels' | 'mean' | 'std'>,
  transform: ImageTransform,
  resolution: number,
  out: Float32Array,
  outOffset: number,
  taps?: { rows: ReturnType<typeof bilinearTaps>; cols: ReturnType<typeof bilinearTaps> },
): void {
  const { height, width, channels } = spec;
  const rows = taps?.rows ?? bilinearTaps(height, resolution);
  const cols = taps?.cols ?? bilinearTaps(width, resolution);
  const scale = new Float32Array(channels);
  const shift = new Float32Array(channels);
  for (let c = 0; c < channels; c++) {
    scale[c] = 1 / (255 * spec.std[c]);
    shift[c] = -spec.mean[c] / spec.std[c];
  }
  const dy = transform.cropY - transform.padding;
  const dx = transform.cropX - transform.padding;
  // Crop, then flip the crop (torchvision's RandomCrop then RandomHorizontalFlip): output pixel (y, x)
  // reads source pixel (y + dy, x' + dx) with x' = flip ? width-1-x : x; outside the source it is the
  // zero padding. Taps are turned into source offsets once per row and column (-1 = padding), which
  // keeps the inner loop to four loads and a few multiply-adds (bench/data.bench.ts).
  const rowOffset = (y: number): number => {
    const sy = y + dy;
    return sy < 0 || sy >= height ? -1 : sy * width * channels;
  };
  const colOffset = (x: number): number => {
    const sx = (transform.flip ? width - 1 - x : x) + dx;
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
