// DepthwiseConv2dNativeBackpropInput for wasm (pipeline.md: missing there), channel multiplier 1:
// dx[n,h,w,c] = sum of dy[n,y,x,c] * w[i,j,c] over the taps with y*s+i-top = h and x*s+j-left = w,
// one pass of the project's SIMD kernel (train/backend/simd/depthwise.ts).
import * as tf from '@tensorflow/tfjs-core';
import { runDepthwise } from '../simd/index.ts';
import { type Pad, assertSupported, convInfo } from './geometry.ts';

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
  return runDepthwise(args.backend, 'backpropInput', dy, filter, [...attrs.inputShape], info);
}

export const depthwiseBackpropInputConfig: tf.KernelConfig = {
  kernelName: tf.DepthwiseConv2dNativeBackpropInput,
  backendName: 'wasm',
  kernelFunc: depthwiseBackpropInput as unknown as tf.KernelFunc,
};
