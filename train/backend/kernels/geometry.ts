// Padding arithmetic shared by the gradient kernels: tfjs's own computeConv2DInfo decides the
// forward padding (SAME, VALID, explicit, numeric), so the gradients agree with the forward op.
import * as tf from '@tensorflow/tfjs-core';

export type Pad = 'same' | 'valid' | number | tf.backend_util.ExplicitPadding;

export function convInfo(
  inShape: number[],
  filterShape: number[],
  strides: number | [number, number],
  dilations: number | [number, number] | undefined,
  pad: Pad,
  dimRoundingMode: 'floor' | 'round' | 'ceil' | undefined,
  depthwise: boolean,
): tf.backend_util.Conv2DInfo {
  return tf.backend_util.computeConv2DInfo(
    inShape as [number, number, number, number],
    filterShape as [number, number, number, number],
    strides,
    dilations ?? 1,
    pad,
    dimRoundingMode,
    depthwise,
    'channelsLast',
  );
}

export function assertSupported(kernelName: string, info: tf.backend_util.Conv2DInfo, dataFormat?: string): void {
  if (info.dilationHeight !== 1 || info.dilationWidth !== 1) {
    throw new Error(`${kernelName} on wasm (train/backend): dilation ${info.dilationHeight}x${info.dilationWidth} is not supported, only 1`);
  }
  if (dataFormat !== undefined && dataFormat !== 'NHWC' && dataFormat !== 'channelsLast') {
    throw new Error(`${kernelName} on wasm (train/backend): data format ${dataFormat} is not supported, only NHWC`);
  }
}

/**
 * Padding (before, after) of an input of length `inSize` so that a correlation with a kernel of
 * `kernelSize` taps, stride 1 and dilation `dilation` produces at least `outSize` outputs; `before`
 * is given by the forward op. Returns the padding and how many outputs it yields.
 */
export function padFor(inSize: number, before: number, kernelSize: number, dilation: number, outSize: number): { before: number; after: number; produced: number } {
  const needed = (kernelSize - 1) * dilation + outSize;
  const after = Math.max(0, needed - inSize - before);
  return { before, after, produced: inSize + before + after - (kernelSize - 1) * dilation };
}
