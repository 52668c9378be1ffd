// DepthwiseConv2dNativeBackpropFilter for wasm (pipeline.md: missing there), channel multiplier 1:
// dW[i,j,c] = sum_{n,y,x} xpad[n, y*s+i, x*s+j, c] * dy[n,y,x,c], one pass of the project's SIMD
// kernel (train/backend/simd/depthwise.ts) over the tensors where tfjs keeps them.
import * as tf from '@tensorflow/tfjs-core';
import { runDepthwise } from '../simd/index.ts';
import { type Pad, assertSupported, convInfo } from './geometry.ts';

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
  return runDepthwise(args.backend, 'backpropFilter', x, dy, [...attrs.filterShape], info);
}

export const depthwiseBackpropFilterConfig: tf.KernelConfig = {
  kernelName: tf.DepthwiseConv2dNativeBackpropFilter,
  backendName: 'wasm',
  kernelFunc: depthwiseBackpropFilter as unknown as tf.KernelFunc,
};
