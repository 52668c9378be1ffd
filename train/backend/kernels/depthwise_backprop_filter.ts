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
  const rows = padFor(inHeight, info.padInfo.top, outHeight, strideHeight, filterHeight);
  const cols = padFor(inWidth, info.padInfo.left, outWidth, strideWidth, filterWidth);
  const lanes = batchSize * inChannels;
  const input = c.reshape(c.transpose(x, [1, 2, 0, 3]), [1, inHeight, inWidth, lanes]);
  const filter = c.reshape(c.transpose(dy, [1, 2, 0, 3]), [outHeight, outWidth, lanes, 1]);
  let taps = c.run('DepthwiseConv2dNative', { x: input, filter }, {
    strides: [1, 1],
    dilations: [strideHeight, strideWidth],
    pad: [[0, 0], [rows.before, rows.after], [cols.before, cols.after], [0, 0]],
  }); // [1, >=kh, >=kw, N*C]
  if (rows.produced !== filterHeight || cols.produced !== filterWidth) {
    taps = c.run('Slice', { x: taps }, { begin: [0, 0, 0, 0], size: [1, filterHeight, filterWidth, lanes] });
  }
  const perImage = c.reshape(taps, [filterHeight, filterWidth, batchSize, inChannels]);
  const summed = c.run('Sum', { x: perImage }, { axis: [2], keepDims: false });
  return c.free(c.reshape(summed, [filterHeight, filterWidth, inChannels, 1]));
}

export const depthwiseBackpropFilterConfig: tf.KernelConfig = {
  kernelName: tf.DepthwiseConv2dNativeBackpropFilter,
  backendName: 'wasm',
  kernelFunc: depthwiseBackpropFilter as unknown as tf.KernelFunc,
};
