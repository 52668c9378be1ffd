// DepthwiseConv2dNativeBackpropFilter for wasm (pipeline.md: missing there), channel multiplier 1.
// dW[i,j,c] = sum_{n,y,x} xpad[n, y*s+i, x*s+j, c] * dy[n,y,x,c]: per channel c and image n this is
// a correlation of the input with dy, so one depthwise convolution over N*C channels computes it
// (input [1, H, W, N*C], filter = dy as [OH, OW, N*C, 1], dilation = the forward stride), followed
// by a sum over n. XNNPACK does the multiply-adds; no loop over the data in JavaScript.
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
  const input = c.reshape(c.transpose(x, [1, 2, 0, 3]), [1, inHeight, inWidth, lanes]);
  // dy as a filter, cut into blocks of blockSize x blockSize taps (zero-padded to a whole number of
  // blocks): XNNPACK's depthwise kernels are fast for 3x3 and 5x5 filters only (measured per tap:
  // 0.3 ms for 3x3/5x5, 0.7 ms for 7x7 and slower still for 14x14 on [32,14,14,96]), so nine 5x5
  // convolutions of 14x14 dy beat one 14x14 convolution ~4x. Each block reads the input window its
  // taps reach, and the blocks' k x k results are summed.
  const blockSize = Math.max(outHeight, outWidth) <= 3 ? 3 : 5;
  const blockRows = Math.ceil(outHeight / blockSize);
  const blockCols = Math.ceil(outWidth / blockSize);
  let filter = c.reshape(c.transpose(dy, [1, 2, 0, 3]), [outHeight, outWidth, lanes, 1]);
  if (blockRows * blockSize !== outHeight || blockCols * blockSize !== outWidth) {
    filter = c.run('PadV2', { x: filter }, {
      paddings: [[0, blockRows * blockSize - outHeight], [0, blockCols * blockSize - outWidth], [0, 0], [0, 0]],
      constantValue: 0,
    });
  }
  // Pad the input once so that every block's window lies inside it.
  const rows = padFor(inHeight, info.padInfo.top, blockRows * blockSize, strideHeight, filterHeight);
  const cols = padFor(inWidth, info.padInfo.left, blockCols * blockSize, strideWidth, filterWidth);
  const padded = c.run('PadV2', { x: input }, {
    paddings: [[0, 0], [rows.before, rows.after], [cols.before, cols.after], [0, 0]],
    constantValue: 0,
  });
  const windowHeight = (blockSize - 1) * strideHeight + filterHeight;
  const windowWidth = (blockSize - 1) * strideWidth + filterWidth;
  let taps: tf.TensorInfo | undefined;
  for (let bi = 0; bi < blockRows; bi++) {
    for (let bj = 0; bj < blockCols; bj++) {
      const single = blockRows === 1 && blockCols === 1;
      const block = single ? filter : c.run('Slice', { x: filter }, { begin: [bi * blockSize, bj * blockSize, 0, 0], size: [blockSize, blockSize, lanes, 1] });
      const window = c.run('Slice', { x: padded }, {
        begin: [0, bi * blockSize * strideHeight, bj * blockSize * strideWidth, 0],
        size: [1, windowHeight, windowWidth, lanes],
      });
      const part = c.run('DepthwiseConv2dNative', { x: window, filter: block }, {
        strides: [1, 1],
        dilations: [strideHeight, strideWidth],
        pad: 'valid',
      }); // [1, kh, kw, N*C]
      taps = taps === undefined ? part : c.run('Add', { a: taps, b: part });
    }
  }
  const perImage = c.reshape(taps as tf.TensorInfo, [filterHeight, filterWidth, batchSize, inChannels]);
  const summed = c.run('Sum', { x: perImage }, { axis: [2], keepDims: false });
  return c.free(c.reshape(summed, [filterHeight, filterWidth, inChannels, 1]));
}

export const depthwiseBackpropFilterConfig: tf.KernelConfig = {
  kernelName: tf.DepthwiseConv2dNativeBackpropFilter,
  backendName: 'wasm',
  kernelFunc: depthwiseBackpropFilter as unknown as tf.KernelFunc,
};
