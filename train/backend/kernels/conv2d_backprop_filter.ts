// Conv2DBackpropFilter for wasm (pipeline.md: missing there). dW[i,j,ci,co] =
// sum_{n,y,x} xpad[n, y*s+i, x*s+j, ci] * dy[n,y,x,co].
// - 1x1 without padding: one matmul of the (strided, transposed) input with dy over the N*H*W rows.
// - otherwise: the same sum is a convolution of the input with dy as the filter: batch <- Cin,
//   channels <- N, filter taps <- (OH, OW), dilation <- the forward stride. XNNPACK then does
//   the work (GEMM), instead of a loop over the data.
import * as tf from '@tensorflow/tfjs-core';
import { type Backend, Composer } from './compose.ts';
import { type Pad, assertSupported, convInfo, padFor } from './geometry.ts';

interface Attrs {
  strides: [number, number] | number;
  pad: Pad;
  dataFormat?: string;
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
  filterShape: [number, number, number, number];
}

export function conv2dBackpropFilter(args: { inputs: tf.NamedTensorInfoMap; backend: tf.KernelBackend; attrs: tf.NamedAttrMap }): tf.TensorInfo {
  const { x, dy } = args.inputs as { x: tf.TensorInfo; dy: tf.TensorInfo };
  const attrs = args.attrs as unknown as Attrs;
  const info = convInfo(x.shape, attrs.filterShape, attrs.strides, 1, attrs.pad, attrs.dimRoundingMode, false);
  assertSupported(tf.Conv2DBackpropFilter, info, attrs.dataFormat);
  const c = new Composer(args.backend as Backend);
  const { batchSize, inHeight, inWidth, inChannels, outHeight, outWidth, outChannels } = info;
  const { strideHeight, strideWidth, filterHeight, filterWidth } = info;
  const { top, left } = info.padInfo;

  if (filterHeight === 1 && filterWidth === 1 && top === 0 && left === 0) {
    let xs = x;
    if (strideHeight > 1 || strideWidth > 1 || outHeight * strideHeight < inHeight || outWidth * strideWidth < inWidth) {
      xs = c.run('StridedSlice', { x }, {
        begin: [0, 0, 0, 0],
        end: [batchSize, (outHeight - 1) * strideHeight + 1, (outWidth - 1) * strideWidth + 1, inChannels],
        strides: [1, strideHeight, strideWidth, 1],
        beginMask: 0, endMask: 0, ellipsisMask: 0, newAxisMask: 0, shrinkAxisMask: 0,
      });
    }
    const rows = batchSize * outHeight * outWidth;
    // wasm's BatchMatMul reaches XNNPACK only without transposes (measured: transposeA 21 ms, an
    // explicit Transpose + plain matmul 4 ms on 6272 rows x 96 x 24).
    const a = c.transpose(c.reshape(xs, [1, rows, inChannels]), [0, 2, 1]);
    const b = c.reshape(dy, [1, rows, outChannels]);
    const product = c.run('BatchMatMul', { a, b }, { transposeA: false, transposeB: false });
    return c.free(c.reshape(product, [1, 1, inChannels, outChannels]));
  }

  const rows = padFor(inHeight, top, outHeight, strideHeight, filterHeight);
  const cols = padFor(inWidth, left, outWidth, strideWidth, filterWidth);
  const input = c.transpose(x, [3, 1, 2, 0]); // [Cin, H, W, N]
  const filter = c.transpose(dy, [1, 2, 0, 3]); // [OH, OW, N, Cout]
  let out = c.run('Conv2D', { x: input, filter }, {
    strides: [1, 1],
    dilations: [strideHeight, strideWidth],
    pad: [[0, 0], [rows.before, rows.after], [cols.before, cols.after], [0, 0]],
    dataFormat: 'NHWC',
  }); // [Cin, >=kh, >=kw, Cout]
  if (rows.produced !== filterHeight || cols.produced !== filterWidth) {
    out = c.run('Slice', { x: out }, { begin: [0, 0, 0, 0], size: [inChannels, filterHeight, filterWidth, outChannels] });
  }
  return c.free(c.transpose(out, [1, 2, 0, 3]));
}

export const conv2dBackpropFilterConfig: tf.KernelConfig = {
  kernelName: tf.Conv2DBackpropFilter,
  backendName: 'wasm',
  kernelFunc: conv2dBackpropFilter as unknown as tf.KernelFunc,
};
