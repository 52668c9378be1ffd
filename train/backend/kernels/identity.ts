// Identity for wasm, replacing the backend's own kernel, which copies the tensor: tfjs's tape clones
// (Identity) every tensor it saves for the backward pass, so a training step copied each activation
// once more (measured: ~5% of a step of the fashion max subnet). tfjs tensors are immutable (a
// variable's assign swaps its data, it does not write into it), so the clone can share the data with
// a reference count, as tfjs's cpu backend's Identity does.
import * as tf from '@tensorflow/tfjs-core';
import { runOriginal } from './compose.ts';

type KernelArgs = { inputs: tf.NamedTensorInfoMap; backend: tf.KernelBackend; attrs: tf.NamedAttrMap };

export function identity(args: KernelArgs): tf.TensorInfo {
  const { x } = args.inputs as { x: tf.TensorInfo };
  if (x.dtype === 'string') return runOriginal(tf.Identity, args);
  (args.backend as tf.KernelBackend & { incRef(dataId: object): void }).incRef(x.dataId);
  return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
}

export const identityConfig: tf.KernelConfig = {
  kernelName: tf.Identity,
  backendName: 'wasm',
  kernelFunc: identity as unknown as tf.KernelFunc,
};
