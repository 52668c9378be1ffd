// The wasm backend's missing training kernels, registered like tfjs's own register_all_kernels.ts
// (style.md): one {kernelName, backendName, kernelFunc} config per file.
import * as tf from '@tensorflow/tfjs-core';
import { conv2dBackpropFilterConfig } from './conv2d_backprop_filter.ts';
import { depthwiseBackpropFilterConfig } from './depthwise_backprop_filter.ts';
import { depthwiseBackpropInputConfig } from './depthwise_backprop_input.ts';

export const WASM_TRAINING_KERNELS: readonly tf.KernelConfig[] = [
  conv2dBackpropFilterConfig,
  depthwiseBackpropFilterConfig,
  depthwiseBackpropInputConfig,
];

/** Registers every kernel of WASM_TRAINING_KERNELS that the wasm backend does not already have. */
export function registerWasmTrainingKernels(): void {
  for (const config of WASM_TRAINING_KERNELS) {
    if (tf.getKernel(config.kernelName, config.backendName) === undefined) tf.registerKernel(config);
  }
}
