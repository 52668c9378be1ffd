// DepthwiseConv2dNative for wasm, replacing XNNPACK's where the project's SIMD kernel applies (channel
// multiplier 1, dilation 1, NHWC): XNNPACK's runs 7x7 filters about 10x slower here, and 3x3/5x5 ones
// slower too (`npm run bench -- kernels` prints both). Other cases go to the backend's own kernel.
import * as tf from '@tensorflow/tfjs-core';
import { runDepthwise } from '../simd/index.ts';
import { runOriginal } from './compose.ts';
import { type Pad, convInfo } from './geometry.ts';

interface Attrs {
  strides: [number, number] | number;
  dilations?: [number, number] | number;
  pad: Pad;
  dataFormat?: string;
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
}

export function depthwiseForward(args: { inputs: tf.NamedTensorInfoMap; backend: tf.KernelBackend; attrs: tf.NamedAttrMap }): tf.TensorInfo {
  const { x, filter } = args.inputs as { x: tf.TensorInfo; filter: tf.TensorInfo };
  const attrs = args.attrs as unknown as Attrs;
  const info = convInfo(x.shape, filter.shape, attrs.strides, attrs.dilations, attrs.pad, attrs.dimRoundingMode, true);
  const layout = attrs.dataFormat === undefined || attrs.dataFormat === 'NHWC' || attrs.dataFormat === 'channelsLast';
  if (filter.shape[3] !== 1 || info.dilationHeight !== 1 || info.dilationWidth !== 1 || !layout || x.dtype !== 'float32') {
    return runOriginal(tf.DepthwiseConv2dNative, args);
  }
  return runDepthwise(args.backend, 'forward', x, filter, [info.batchSize, info.outHeight, info.outWidth, info.outChannels], info);
}

export const depthwiseForwardConfig: tf.KernelConfig = {
  kernelName: tf.DepthwiseConv2dNative,
  backendName: 'wasm',
  kernelFunc: depthwiseForward as unknown as tf.KernelFunc,
};
