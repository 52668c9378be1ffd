// DepthwiseConv2dNativeBackpropInput for wasm (pipeline.md: missing there), channel multiplier 1.
// dx[h] = sum_i dyUp[h + top - i] * w[i], with dyUp = dy with (stride - 1) zeros inserted after
// every element: a stride-1 depthwise convolution of dyUp with the spatially flipped filter,
// padded by (k - 1 - top) before. The zeros are inserted by a reshape + pad, so the whole
// gradient is three wasm kernels (PadV2, Reverse, XNNPACK depthwise) and a slice at most.
import * as tf from '@tensorflow/tfjs-core';
import { type Backend, Composer } from './compose.ts';
import { type Pad, assertSupported, convInfo, padFor } from './geometry.ts';

interface Attrs {
  strides: [number, number] | number;
  dilations?: [number, number] | number;
  pad: Pad;
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
  inputShape: [number, number, number, number];
}

export function depthwiseBackpropInput(args: { inputs: tf.NamedTensorInfoMap; backend: tf.KernelBackend; attrs: tf.NamedAttrMap }): tf.TensorInfo {
  const { dy, filter } = args.inputs as { dy: tf.TensorInfo; filter: tf.TensorInfo };
  const attrs = args.attrs as unknown as Attrs;
  const info = convInfo(attrs.inputShape, filter.shape, attrs.strides, attrs.dilations, attrs.pad, attrs.dimRoundingMode, true);
  assertSupported(tf.DepthwiseConv2dNativeBackpropInput, info);
  if (filter.shape[3] !== 1) {
    throw new Error(`${tf.DepthwiseConv2dNativeBackpropInput} on wasm (train/backend): channel multiplier ${filter.shape[3]} is not supported, only 1`);
  }
  const c = new Composer(args.backend as Backend);
  const { batchSize, inHeight, inWidth, inChannels, outHeight, outWidth } = info;
  const { strideHeight, strideWidth, filterHeight, filterWidth } = info;
  if (strideHeight === 2 && strideWidth === 2 && filterHeight >= 2 && filterWidth >= 2) {
    const dx = byPhases(c, dy, filter, info);
    if (dx !== undefined) return c.free(dx);
  }

  let spread = dy; // [N, OH*sh, OW*sw, C] with dy at multiples of the stride, zeros elsewhere
  if (strideHeight > 1 || strideWidth > 1) {
    const grid = c.reshape(dy, [batchSize, outHeight, 1, outWidth, 1, inChannels]);
    const padded = c.run('PadV2', { x: grid }, {
      paddings: [[0, 0], [0, 0], [0, strideHeight - 1], [0, 0], [0, strideWidth - 1], [0, 0]],
      constantValue: 0,
    });
    spread = c.reshape(padded, [batchSize, outHeight * strideHeight, outWidth * strideWidth, inChannels]);
  }
  const flipped = c.run('Reverse', { x: filter }, { dims: [0, 1] });
  const rows = padFor(outHeight * strideHeight, filterHeight - 1 - info.padInfo.top, filterHeight, 1, inHeight);
  const cols = padFor(outWidth * strideWidth, filterWidth - 1 - info.padInfo.left, filterWidth, 1, inWidth);
  let dx = c.run('DepthwiseConv2dNative', { x: spread, filter: flipped }, {
    strides: [1, 1],
    dilations: [1, 1],
    pad: [[0, 0], [rows.before, rows.after], [cols.before, cols.after], [0, 0]],
  });
  if (rows.produced !== inHeight || cols.produced !== inWidth) {
    dx = c.run('Slice', { x: dx }, { begin: [0, 0, 0, 0], size: [batchSize, inHeight, inWidth, inChannels] });
  }
  return c.free(dx);
}

interface Phase {
  /** First tap (in the flipped filter) of this phase's sub-kernel, taken every 2nd tap. */
  first: number;
  taps: number;
  top: number;
  bottom: number;
}

/** Rows h = 2p + parity of dx read taps i = 2j + r of the filter at dy rows p + offset - j. */
function phaseOf(parity: number, padBefore: number, kernel: number, dySize: number, length: number): Phase | undefined {
  const r = (parity + padBefore) % 2;
  const taps = Math.ceil((kernel - r) / 2);
  const offset = (parity + padBefore - r) / 2;
  const top = taps - 1 - offset;
  if (top < 0 || taps < 1) return undefined;
  // w[2j + r] = flipped[k - 1 - 2j - r]; the correlation runs over j' = taps - 1 - j.
  const first = kernel - 1 - r - 2 * (taps - 1);
  return { first, taps, top, bottom: Math.max(0, length + taps - 1 - top - dySize) };
}

/** [already fast, extra rows, extra columns] to reach a 3x3 or 5x5 sub-kernel. */
function fastShape(rows: number, cols: number): [boolean, number, number] {
  if ([4, 9, 25].includes(rows * cols)) return [true, 0, 0];
  const size = Math.max(rows, cols) <= 3 ? 3 : Math.max(rows, cols) <= 5 ? 5 : 0;
  return size === 0 ? [true, 0, 0] : [false, size - rows, size - cols];
}

/**
 * Stride 2: dx splits into 4 phases (even/odd rows x even/odd columns); each is a stride-1
 * depthwise convolution of dy itself with every 2nd tap of the flipped filter, so the work is the
 * forward's, not 4x it as on the zero-spread dy. The phases are interleaved by two Concats + reshapes.
 */
function byPhases(c: Composer, dy: tf.TensorInfo, filter: tf.TensorInfo, info: tf.backend_util.Conv2DInfo): tf.TensorInfo | undefined {
  const { batchSize, inHeight, inWidth, inChannels, outHeight, outWidth, filterHeight, filterWidth } = info;
  const rowsLength = Math.ceil(inHeight / 2);
  const colsLength = Math.ceil(inWidth / 2);
  const rowPhases = [0, 1].map((a) => phaseOf(a, info.padInfo.top, filterHeight, outHeight, rowsLength));
  const colPhases = [0, 1].map((b) => phaseOf(b, info.padInfo.left, filterWidth, outWidth, colsLength));
  if (rowPhases.includes(undefined) || colPhases.includes(undefined)) return undefined;
  const flipped = c.run('Reverse', { x: filter }, { dims: [0, 1] });
  const rows: tf.TensorInfo[] = [];
  for (const rowPhase of rowPhases as Phase[]) {
    const parts: tf.TensorInfo[] = [];
    for (const colPhase of colPhases as Phase[]) {
      const sub = c.run('StridedSlice', { x: flipped }, {
        begin: [rowPhase.first, colPhase.first, 0, 0],
        end: [filterHeight, filterWidth, inChannels, 1],
        strides: [2, 2, 1, 1],
        beginMask: 0, endMask: 0, ellipsisMask: 0, newAxisMask: 0, shrinkAxisMask: 0,
      }); // [taps, taps, C, 1]
      // XNNPACK is fast for 4, 9 and 25 taps only: a 4x4 or 4x3 sub-kernel (k = 7) runs faster as a
      // 5x5 with trailing zero taps (the zeros read extra dy rows/columns: more bottom padding).
      const [fast, extraRows, extraCols] = fastShape(rowPhase.taps, colPhase.taps);
      const kernel = fast ? sub : c.run('PadV2', { x: sub }, { paddings: [[0, extraRows], [0, extraCols], [0, 0], [0, 0]], constantValue: 0 });
      let part = c.run('DepthwiseConv2dNative', { x: dy, filter: kernel }, {
        strides: [1, 1],
        dilations: [1, 1],
        pad: [[0, 0], [rowPhase.top, rowPhase.bottom + extraRows], [colPhase.top, colPhase.bottom + extraCols], [0, 0]],
      });
      if (part.shape[1] !== rowsLength || part.shape[2] !== colsLength) {
        part = c.run('Slice', { x: part }, { begin: [0, 0, 0, 0], size: [batchSize, rowsLength, colsLength, inChannels] });
      }
      parts.push(part);
    }
    // [N, L, L', 2C] = column pairs (x, b) -> [N, L, 2L', C].
    const pairs = c.run('Concat', parts as unknown as Record<string, tf.TensorInfo>, { axis: 3 });
    rows.push(c.reshape(pairs, [batchSize, rowsLength, 2 * colsLength, inChannels]));
  }
  // [N, L, 2 * 2L', C] = row pairs (y, a) -> [N, 2L, 2L', C].
  const both = c.run('Concat', rows as unknown as Record<string, tf.TensorInfo>, { axis: 2 });
  let dx = c.reshape(both, [batchSize, 2 * rowsLength, 2 * colsLength, inChannels]);
  if (2 * rowsLength !== inHeight || 2 * colsLength !== inWidth) {
    dx = c.run('Slice', { x: dx }, { begin: [0, 0, 0, 0], size: [batchSize, inHeight, inWidth, inChannels] });
  }
  return dx;
}

export const depthwiseBackpropInputConfig: tf.KernelConfig = {
  kernelName: tf.DepthwiseConv2dNativeBackpropInput,
  backendName: 'wasm',
  kernelFunc: depthwiseBackpropInput as unknown as tf.KernelFunc,
};
