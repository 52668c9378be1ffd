// MaxPoolGrad for wasm, replacing the backend's own kernel: found by the end-to-end gradient check
// (test/train/backend.test.ts) that wasm's MaxPoolGrad is wrong for 'same' padding on odd sizes
// (7x7 -> 4x4 with kernel 2, stride 2: max abs error ~500 against cpu). The supernet's only
// max-pool has kernel = stride (ofav2.md s1: the transform branch of a parallel block), i.e.
// non-overlapping windows, so the gradient is dy routed to the first maximum of each window
// (row-major, as tfjs's cpu backend and PyTorch pick it): a reshape into windows, an equality
// mask with the pooled output, and "no earlier maximum" from two exclusive cumulative sums.
// Overlapping windows (kernel != stride) keep the backend's own kernel.
import * as tf from '@tensorflow/tfjs-core';
import { type Backend, Composer, runOriginal } from './compose.ts';

interface Attrs {
  filterSize: [number, number] | number;
  strides: [number, number] | number;
  pad: 'same' | 'valid' | number | tf.backend_util.ExplicitPadding;
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
}

type KernelArgs = { inputs: tf.NamedTensorInfoMap; backend: tf.KernelBackend; attrs: tf.NamedAttrMap };

export function maxPoolGrad(args: KernelArgs): tf.TensorInfo {
  const { dy, input, output } = args.inputs as { dy: tf.TensorInfo; input: tf.TensorInfo; output: tf.TensorInfo };
  const attrs = args.attrs as unknown as Attrs;
  const info = tf.backend_util.computePool2DInfo(
    input.shape as [number, number, number, number], attrs.filterSize, attrs.strides, 1, attrs.pad, attrs.dimRoundingMode);
  const { batchSize, inHeight, inWidth, inChannels, outHeight, outWidth, strideHeight, strideWidth } = info;
  if (info.filterHeight !== strideHeight || info.filterWidth !== strideWidth) {
    return runOriginal(tf.MaxPoolGrad, args);
  }
  const c = new Composer(args.backend as Backend);
  const { top, left } = info.padInfo;
  const gridHeight = outHeight * strideHeight;
  const gridWidth = outWidth * strideWidth;

  // The input on the window grid: rows -top .. gridHeight-top, padded with -inf (never a maximum).
  let grid = c.run('PadV2', { x: input }, {
    paddings: [[0, 0], [top, Math.max(0, gridHeight - inHeight - top)], [left, Math.max(0, gridWidth - inWidth - left)], [0, 0]],
    constantValue: Number.NEGATIVE_INFINITY,
  });
  if (grid.shape[1] !== gridHeight || grid.shape[2] !== gridWidth) {
    grid = c.run('Slice', { x: grid }, { begin: [0, 0, 0, 0], size: [batchSize, gridHeight, gridWidth, inChannels] });
  }
  const windows = c.reshape(grid, [batchSize, outHeight, strideHeight, outWidth, strideWidth, inChannels]);
  const pooled = c.reshape(output, [batchSize, outHeight, 1, outWidth, 1, inChannels]);
  const isMax = c.run('Cast', { x: c.run('Equal', { a: windows, b: pooled }) }, { dtype: 'float32' });
  const earlierInRow = c.run('Cumsum', { x: isMax }, { axis: 4, exclusive: true, reverse: false });
  const rowHasMax = c.run('Max', { x: isMax }, { reductionIndices: [4], keepDims: true });
  const earlierRows = c.run('Cumsum', { x: rowHasMax }, { axis: 2, exclusive: true, reverse: false });
  const earlier = c.run('Add', { a: earlierInRow, b: earlierRows });
  const first = c.run('Multiply', { a: isMax, b: c.run('Cast', { x: c.run('Equal', { a: earlier, b: c.run('ZerosLike', { x: rowHasMax }) }) }, { dtype: 'float32' }) });
  const routed = c.run('Multiply', { a: first, b: c.reshape(dy, [batchSize, outHeight, 1, outWidth, 1, inChannels]) });
  let dx = c.reshape(routed, [batchSize, gridHeight, gridWidth, inChannels]);
  // Back from the grid to the input: drop the padding, add zero rows the windows never covered.
  const missingRows = Math.max(0, inHeight + top - gridHeight);
  const missingCols = Math.max(0, inWidth + left - gridWidth);
  if (missingRows > 0 || missingCols > 0) {
    dx = c.run('PadV2', { x: dx }, { paddings: [[0, 0], [0, missingRows], [0, missingCols], [0, 0]], constantValue: 0 });
  }
  if (dx.shape[1] !== inHeight || dx.shape[2] !== inWidth) {
    dx = c.run('Slice', { x: dx }, { begin: [0, top, left, 0], size: [batchSize, inHeight, inWidth, inChannels] });
  }
  return c.free(dx);
}

export const maxPoolGradConfig: tf.KernelConfig = {
  kernelName: tf.MaxPoolGrad,
  backendName: 'wasm',
  kernelFunc: maxPoolGrad as unknown as tf.KernelFunc,
};
