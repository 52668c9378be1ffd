// Sum and Mean for wasm over a contiguous run of axes that leaves an inner axis (BN statistics over
// [N, H, W] of NHWC, their gradients, global average pooling over [H, W]): replacing the backend's own
// kernels, which transpose the reduced axes to the end and then reduce. The mean is XNNPACK's average
// pooling with one window over the reduced run: x as [outer, M, 1, inner], window [M, 1] (measured on
// fresh [32,14,14,96] tensors over axes 0,1,2: 0.3 ms, against ~1.3 ms for the backend's Sum and
// ~7 ms for a GEMM with a row of ones, which repacks x as weights every call); the sum is that mean
// times M. Other reductions (the last axis, int32) keep the backend's kernels.
import * as tf from '@tensorflow/tfjs-core';
import { type Backend, Composer, runOriginal } from './compose.ts';

type KernelArgs = { inputs: tf.NamedTensorInfoMap; backend: tf.KernelBackend; attrs: tf.NamedAttrMap };

function reduceByProduct(kernelName: typeof tf.Sum | typeof tf.Mean, args: KernelArgs): tf.TensorInfo {
  const { x } = args.inputs as { x: tf.TensorInfo };
  const { axis, keepDims } = args.attrs as unknown as { axis: number | number[]; keepDims: boolean };
  const rank = x.shape.length;
  const axes = tf.util.parseAxisParam(axis, x.shape).sort((a, b) => a - b);
  const contiguous = axes.length > 0 && axes.every((a, i) => a === axes[0] + i);
  const first = axes[0];
  const last = axes[axes.length - 1];
  if (x.dtype !== 'float32' || !contiguous || last === rank - 1) return runOriginal(kernelName, args);
  const outer = x.shape.slice(0, first).reduce((a, b) => a * b, 1);
  const count = x.shape.slice(first, last + 1).reduce((a, b) => a * b, 1);
  const inner = x.shape.slice(last + 1).reduce((a, b) => a * b, 1);
  const outShape = keepDims ? x.shape.map((d, i) => (i >= first && i <= last ? 1 : d)) : x.shape.filter((_, i) => i < first || i > last);
  const c = new Composer(args.backend as Backend);
  if (count === 0) return runOriginal(kernelName, args);
  const mean = c.run('AvgPool', { x: c.reshape(x, [outer, count, 1, inner]) }, {
    filterSize: [count, 1],
    strides: [1, 1],
    pad: 'valid',
    dimRoundingMode: undefined,
  }); // [outer, 1, 1, inner]
  if (kernelName === tf.Mean) return c.free(c.reshape(mean, outShape));
  const scale = c.run('Fill', {}, { shape: [], value: count, dtype: 'float32' });
  return c.free(c.reshape(c.run('Multiply', { a: mean, b: scale }), outShape));
}

export const sumConfig: tf.KernelConfig = {
  kernelName: tf.Sum,
  backendName: 'wasm',
  kernelFunc: ((args: KernelArgs) => reduceByProduct(tf.Sum, args)) as unknown as tf.KernelFunc,
};

export const meanConfig: tf.KernelConfig = {
  kernelName: tf.Mean,
  backendName: 'wasm',
  kernelFunc: ((args: KernelArgs) => reduceByProduct(tf.Mean, args)) as unknown as tf.KernelFunc,
};
