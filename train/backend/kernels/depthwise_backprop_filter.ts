// DepthwiseConv2dNativeBackpropFilter for wasm (pipeline.md: missing there), channel multiplier 1.
// dW[i,j,c] = sum_{n,y,x} xpad[n, y*s+i, x*s+j, c] * dy[n,y,x,c]: per channel c and image n a
// correlation of the input with dy, i.e. a depthwise convolution over N*C lanes with dy as the
// filter (OH x OW taps, dilation = the forward stride) and only k x k outputs, then a sum over n.
// XNNPACK's depthwise kernels are fast for 3x3 and 5x5 filters only (measured per tap on
// [32,14,14,96]: 3x3/5x5 ~0.3 ms, 7x7 ~0.7 ms, a 14x14 filter slower still), so dy is cut into
// B x B blocks (B = 3 or 5, zero-padded to whole blocks) and each block's input window is moved next
// to it in the lane dimension; then ONE 3x3/5x5 depthwise convolution computes every block and one
// Sum adds blocks and images. Data movement: contiguous window copies (memcpy) and 3-D/4-D
// Transposes, the wasm kernels that are fast (5-D Transpose and Gather were 100x slower here).
import * as tf from '@tensorflow/tfjs-core';
import { type Backend, Composer } from './compose.ts';
import { type Pad, assertSupported, convInfo, padFor } from './geometry.ts';

interface Attrs {
  strides: [number, number] | number;
  dilations?: [number, number] | number;
  pad: Pad;
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
  filterShape: [number, number, number, number];
}

/** The block size (3 or 5) with the fewest filter taps once dy is padded to whole blocks. */
export function blockSizeFor(outHeight: number, outWidth: number): number {
  const taps = (b: number) => Math.ceil(outHeight / b) * Math.ceil(outWidth / b) * b * b;
  return taps(5) <= taps(3) ? 5 : 3;
}

function starts(blocks: number, blockSize: number, stride: number): number[] {
  return Array.from({ length: blocks }, (_, b) => b * blockSize * stride);
}

export function depthwiseBackpropFilter(args: { inputs: tf.NamedTensorInfoMap; backend: tf.KernelBackend; attrs: tf.NamedAttrMap }): tf.TensorInfo {
  const { x, dy } = args.inputs as { x: tf.TensorInfo; dy: tf.TensorInfo };
  const attrs = args.attrs as unknown as Attrs;
  const info = convInfo(x.shape, attrs.filterShape, attrs.strides, attrs.dilations, attrs.pad, attrs.dimRoundingMode, true);
  assertSupported(tf.DepthwiseConv2dNativeBackpropFilter, info);
  if (attrs.filterShape[3] !== 1) {
    throw new Error(`${tf.DepthwiseConv2dNativeBackpropFilter} on wasm (train/backend): channel multiplier ${attrs.filterShape[3]} is not supported, only 1`);
  }
  const c = new Composer(args.backend as Backend);
  const { batchSize, inHeight, inWidth, inChannels, outHeight, outWidth } = info;
  const { strideHeight, strideWidth, filterHeight, filterWidth } = info;
  const lanes = batchSize * inChannels;
  const blockSize = blockSizeFor(outHeight, outWidth);
  const blockRows = Math.ceil(outHeight / blockSize);
  const blockCols = Math.ceil(outWidth / blockSize);
  const windowHeight = (blockSize - 1) * strideHeight + filterHeight;
  const windowWidth = (blockSize - 1) * strideWidth + filterWidth;

  // Input [H, W, N*C], padded so that every block's window lies inside it.
  const input = c.reshape(c.transpose(x, [1, 2, 0, 3]), [inHeight, inWidth, lanes]);
  const rows = padFor(inHeight, info.padInfo.top, blockRows * blockSize, strideHeight, filterHeight);
  const cols = padFor(inWidth, info.padInfo.left, blockCols * blockSize, strideWidth, filterWidth);
  const padded = c.run('PadV2', { x: input }, { paddings: [[rows.before, rows.after], [cols.before, cols.after], [0, 0]], constantValue: 0 });
  // Row windows [R*WH, Wp, L]; columns to the front, column windows [Q*WW, R*WH, L] = [Q, WW, R, WH, L].
  const rowWindows = c.leadingWindows(padded, starts(blockRows, blockSize, strideHeight), windowHeight);
  const columnsFirst = c.transpose(rowWindows, [1, 0, 2]);
  const windows = c.leadingWindows(columnsFirst, starts(blockCols, blockSize, strideWidth), windowWidth);
  // [Q*WW, R, WH, L] -> [WH, Q, WW, R, L] -> [WH, WW, Q, R*L]: lanes ordered (Q, R, N, C).
  const step1 = c.transpose(c.reshape(windows, [blockCols * windowWidth, blockRows, windowHeight, lanes]), [2, 0, 1, 3]);
  const step2 = c.transpose(c.reshape(step1, [windowHeight, blockCols, windowWidth, blockRows * lanes]), [0, 2, 1, 3]);
  const inputLanes = c.reshape(step2, [1, windowHeight, windowWidth, blockCols * blockRows * lanes]);

  // dy as the filter [OH, OW, L], zero-padded to [R, B, Q, B, L], to [B, B, Q, R*L] the same way.
  let filter = c.reshape(c.transpose(dy, [1, 2, 0, 3]), [outHeight, outWidth, lanes]);
  if (blockRows * blockSize !== outHeight || blockCols * blockSize !== outWidth) {
    filter = c.run('PadV2', { x: filter }, { paddings: [[0, blockRows * blockSize - outHeight], [0, blockCols * blockSize - outWidth], [0, 0]], constantValue: 0 });
  }
  const filter1 = c.transpose(c.reshape(filter, [blockRows, blockSize, blockCols * blockSize, lanes]), [1, 2, 0, 3]); // [B, Q*B, R, L]
  const filter2 = c.transpose(c.reshape(filter1, [blockSize, blockCols, blockSize, blockRows * lanes]), [0, 2, 1, 3]); // [B, B, Q, R*L]
  const filterLanes = c.reshape(filter2, [blockSize, blockSize, blockCols * blockRows * lanes, 1]);

  const taps = c.run('DepthwiseConv2dNative', { x: inputLanes, filter: filterLanes }, {
    strides: [1, 1],
    dilations: [strideHeight, strideWidth],
    pad: 'valid',
  }); // [1, kh, kw, Q*R*N*C]
  const perImage = c.reshape(taps, [filterHeight, filterWidth, blockCols * blockRows * batchSize, inChannels]);
  const summed = c.run('Sum', { x: perImage }, { axis: [2], keepDims: false });
  return c.free(c.reshape(summed, [filterHeight, filterWidth, inChannels, 1]));
}

export const depthwiseBackpropFilterConfig: tf.KernelConfig = {
  kernelName: tf.DepthwiseConv2dNativeBackpropFilter,
  backendName: 'wasm',
  kernelFunc: depthwiseBackpropFilter as unknown as tf.KernelFunc,
};
