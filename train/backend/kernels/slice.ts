// Slice for wasm, replacing the backend's: tfjs-wasm's Slice first copies the WHOLE input out of wasm
// memory into a fresh JavaScript ArrayBuffer (readSync) and then copies element by element. The
// supernet slices every elastic weight and BN vector on every step (channel prefixes, kernel crops),
// and those throw-away buffers made V8 collect garbage for "external memory pressure" dozens of times
// a second. Here the slice is copied inside wasm memory, one contiguous run at a time.
import * as tf from '@tensorflow/tfjs-core';
import type { WasmBackend } from '../simd/index.ts';
import { runOriginal } from './compose.ts';

export function slice(args: { inputs: tf.NamedTensorInfoMap; backend: tf.KernelBackend; attrs: tf.NamedAttrMap }): tf.TensorInfo {
  const { x } = args.inputs as { x: tf.TensorInfo };
  const { begin, size } = args.attrs as unknown as { begin: number | number[]; size: number | number[] };
  if (x.dtype !== 'float32' && x.dtype !== 'int32') return runOriginal(tf.Slice, args);
  const [starts, sizes] = tf.slice_util.parseSliceParams(x as tf.Tensor, begin, size);
  const backend = args.backend as WasmBackend;
  const out = backend.makeOutput(sizes, x.dtype);
  const total = sizes.reduce((a, b) => a * b, 1);
  if (total === 0) return out;
  const source = backend.typedArrayFromHeap(x);
  const target = backend.typedArrayFromHeap(out);
  const rank = x.shape.length;
  const strides = tf.util.computeStrides(x.shape);
  // The trailing axes taken whole, plus the first partial one from the end, are one contiguous run.
  let axis = rank - 1;
  while (axis > 0 && sizes[axis] === x.shape[axis]) axis--;
  const run = sizes.slice(axis).reduce((a, b) => a * b, 1);
  const outer = sizes.slice(0, axis);
  const index = new Array<number>(axis).fill(0);
  const base = starts.reduce((offset, start, k) => offset + start * (k < rank - 1 ? strides[k] : 1), 0);
  for (let written = 0; written < total; written += run) {
    let offset = base;
    for (let k = 0; k < axis; k++) offset += index[k] * strides[k];
    target.set(source.subarray(offset, offset + run), written);
    for (let k = axis - 1; k >= 0; k--) {
      if (++index[k] < outer[k]) break;
      index[k] = 0;
    }
  }
  return out;
}

export const sliceConfig: tf.KernelConfig = {
  kernelName: tf.Slice,
  backendName: 'wasm',
  kernelFunc: slice as unknown as tf.KernelFunc,
};
