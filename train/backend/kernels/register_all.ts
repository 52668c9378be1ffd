// The wasm backend's missing, wrong (MaxPoolGrad) or slow (Conv2DBackpropInput, Sum, Mean, Identity,
// DepthwiseConv2dNative, Slice) training kernels, registered like tfjs's
// own register_all_kernels.ts (style.md): one {kernelName, backendName, kernelFunc} config per file.
import * as tf from '@tensorflow/tfjs-core';
import { conv2dBackpropFilterConfig } from './conv2d_backprop_filter.ts';
import { depthwiseBackpropFilterConfig } from './depthwise_backprop_filter.ts';
import { depthwiseBackpropInputConfig } from './depthwise_backprop_input.ts';
import { depthwiseForwardConfig } from './depthwise_forward.ts';
import { keepOriginal } from './compose.ts';
import { conv2dBackpropInputConfig } from './conv2d_backprop_input.ts';
import { identityConfig } from './identity.ts';
import { maxPoolGradConfig } from './max_pool_grad.ts';
import { sliceConfig } from './slice.ts';
import { meanConfig, sumConfig } from './sum_mean.ts';

export const WASM_TRAINING_KERNELS: readonly tf.KernelConfig[] = [
  conv2dBackpropFilterConfig,
  conv2dBackpropInputConfig,
  depthwiseBackpropFilterConfig,
  depthwiseBackpropInputConfig,
  depthwiseForwardConfig,
  maxPoolGradConfig,
  sumConfig,
  meanConfig,
  identityConfig,
  sliceConfig,
];

/** Registers every kernel of WASM_TRAINING_KERNELS, replacing a backend kernel of the same name. */
export function registerWasmTrainingKernels(): void {
  for (const config of WASM_TRAINING_KERNELS) {
    const existing = tf.getKernel(config.kernelName, config.backendName);
    if (existing === config) continue;
    if (existing !== undefined) {
      keepOriginal(existing);
      tf.unregisterKernel(config.kernelName, config.backendName);
    }
    tf.registerKernel(config);
  }
}
