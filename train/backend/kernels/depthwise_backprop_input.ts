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

export const depthwiseBackpropInputConfig: tf.KernelConfig = {
  kernelName: tf.DepthwiseConv2dNativeBackpropInput,
  backendName: 'wasm',
  kernelFunc: depthwiseBackpropInput as unknown as tf.KernelFunc,
};
