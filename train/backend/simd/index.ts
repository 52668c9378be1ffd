// Hand-written SIMD WebAssembly kernels that run inside the tfjs wasm backend's memory.
import type * as tf from '@tensorflow/tfjs-core';
import { type DepthwiseGeometry, type DepthwiseKernels, depthwiseKernels } from './depthwise.ts';

export type { DepthwiseGeometry, DepthwiseKernels } from './depthwise.ts';

/** The wasm backend as the project's kernels use it: its memory, tensor offsets and outputs. */
export type WasmBackend = tf.KernelBackend & {
  wasm: { asm?: { memory?: WebAssembly.Memory } };
  getMemoryOffset(dataId: object): number;
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(info: tf.TensorInfo): Float32Array;
  disposeData(dataId: object, force?: boolean): boolean;
};

/** The depthwise kernels bound to this backend's memory. */
export function depthwiseOn(backend: tf.KernelBackend): DepthwiseKernels {
  const memory = (backend as WasmBackend).wasm?.asm?.memory;
  if (!(memory instanceof WebAssembly.Memory)) {
    throw new Error('train/backend/simd: the tfjs wasm backend does not expose its memory (wasm.asm.memory); was @tensorflow/tfjs-backend-wasm upgraded?');
  }
  return depthwiseKernels(memory);
}

/** The kernels' geometry from tfjs's own padding arithmetic (computeConv2DInfo). */
export function depthwiseGeometry(info: tf.backend_util.Conv2DInfo): DepthwiseGeometry {
  return {
    batch: info.batchSize,
    inHeight: info.inHeight,
    inWidth: info.inWidth,
    channels: info.inChannels,
    outHeight: info.outHeight,
    outWidth: info.outWidth,
    filterHeight: info.filterHeight,
    filterWidth: info.filterWidth,
    strideHeight: info.strideHeight,
    strideWidth: info.strideWidth,
    padTop: info.padInfo.top,
    padLeft: info.padInfo.left,
  };
}

/**
 * Runs one depthwise kernel ('forward', 'backpropInput' or 'backpropFilter') on two input tensors into
 * a new float32 output of `outShape` (zeroed first for the filter gradient, which accumulates).
 */
export function runDepthwise(backend: tf.KernelBackend, kernel: keyof DepthwiseKernels, a: tf.TensorInfo, b: tf.TensorInfo, outShape: number[], info: tf.backend_util.Conv2DInfo): tf.TensorInfo {
  const wasm = backend as WasmBackend;
  const out = wasm.makeOutput(outShape, 'float32');
  if (kernel === 'backpropFilter') wasm.typedArrayFromHeap(out).fill(0);
  depthwiseOn(wasm)[kernel](wasm.getMemoryOffset(a.dataId), wasm.getMemoryOffset(b.dataId), wasm.getMemoryOffset(out.dataId), depthwiseGeometry(info));
  return out;
}
