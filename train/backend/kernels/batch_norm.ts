// The project's fused training batch norm + activation kernels (see train/backend/simd/batch_norm.ts
// for the maths), for the wasm backend (SIMD when the channel count is a multiple of 4) and the cpu
// backend (the plain JavaScript below, which is also the reference the wasm kernels are tested
// against). train/supernet/ops.ts uses them whenever the current backend has them registered, and
// tfjs's composite ops otherwise (tfjs-node).
//   OfaBatchNormMoments      {x}                                 -> [mean, variance]  (biased)
//   OfaBatchNormActivate     {x, mean, variance, gamma, beta}    -> y
//   OfaBatchNormActivateGrad {dy, x, mean, variance, gamma, beta} -> [dx, dgamma, dbeta]
// x is any rank with channels last; attrs: {activation: 'none' | 'relu' | 'hswish', epsilon}.
import * as tf from '@tensorflow/tfjs-core';
import { type FusedActivation, batchNormKernels } from '../simd/batch_norm.ts';
import type { WasmBackend } from '../simd/index.ts';

export const BATCH_NORM_MOMENTS = 'OfaBatchNormMoments';
export const BATCH_NORM_ACTIVATE = 'OfaBatchNormActivate';
export const BATCH_NORM_ACTIVATE_GRAD = 'OfaBatchNormActivateGrad';
export type { FusedActivation } from '../simd/batch_norm.ts';

export interface BatchNormAttrs {
  activation: FusedActivation;
  epsilon: number;
}

// ---- plain JavaScript (cpu backend, and channel counts that are not a multiple of 4 on wasm) ----

function relu6(v: number): number {
  return Math.min(Math.max(v, 0), 6);
}

function activate(activation: FusedActivation, z: number): number {
  if (activation === 'relu') return z > 0 ? z : 0;
  if (activation === 'hswish') return (z * relu6(z + 3)) / 6;
  return z;
}

function derivative(activation: FusedActivation, z: number): number {
  if (activation === 'relu') return z > 0 ? 1 : 0;
  if (activation === 'hswish') return (relu6(z + 3) + (z + 3 > 0 && z + 3 <= 6 ? z : 0)) / 6;
  return 1;
}

export function momentsJs(x: Float32Array, channels: number, mean: Float32Array, variance: Float32Array): void {
  const rows = x.length / channels;
  const sum = new Float64Array(channels);
  for (let i = 0; i < x.length; i++) sum[i % channels] += x[i];
  for (let c = 0; c < channels; c++) mean[c] = sum[c] / rows;
  sum.fill(0);
  for (let i = 0; i < x.length; i++) {
    const d = x[i] - mean[i % channels];
    sum[i % channels] += d * d;
  }
  for (let c = 0; c < channels; c++) variance[c] = sum[c] / rows;
}

/** Per channel s = gamma / sqrt(var + eps) and t = beta - mean * s. */
function scaleShift(mean: Float32Array, variance: Float32Array, gamma: Float32Array, beta: Float32Array, epsilon: number): { scale: Float32Array; shift: Float32Array } {
  const scale = new Float32Array(mean.length);
  const shift = new Float32Array(mean.length);
  for (let c = 0; c < mean.length; c++) {
    scale[c] = gamma[c] / Math.sqrt(variance[c] + epsilon);
    shift[c] = beta[c] - mean[c] * scale[c];
  }
  return { scale, shift };
}

function forwardJs(x: Float32Array, scale: Float32Array, shift: Float32Array, activation: FusedActivation, y: Float32Array): void {
  const channels = scale.length;
  for (let i = 0; i < x.length; i++) {
    const c = i % channels;
    y[i] = activate(activation, Math.fround(x[i] * scale[c]) + shift[c]);
  }
}

function backwardReduceJs(dy: Float32Array, x: Float32Array, scale: Float32Array, shift: Float32Array, mean: Float32Array, activation: FusedActivation, sumDz: Float32Array, sumDzXc: Float32Array): void {
  const channels = scale.length;
  const dzSum = new Float64Array(channels);
  const dzXcSum = new Float64Array(channels);
  for (let i = 0; i < x.length; i++) {
    const c = i % channels;
    const dz = dy[i] * derivative(activation, Math.fround(x[i] * scale[c]) + shift[c]);
    dzSum[c] += dz;
    dzXcSum[c] += dz * (x[i] - mean[c]);
  }
  sumDz.set(dzSum);
  sumDzXc.set(dzXcSum);
}

function backwardInputJs(dy: Float32Array, x: Float32Array, scale: Float32Array, shift: Float32Array, mean: Float32Array, k1: Float32Array, k2: Float32Array, activation: FusedActivation, dx: Float32Array): void {
  const channels = scale.length;
  for (let i = 0; i < x.length; i++) {
    const c = i % channels;
    const dz = dy[i] * derivative(activation, Math.fround(x[i] * scale[c]) + shift[c]);
    dx[i] = scale[c] * (dz - k1[c] - (x[i] - mean[c]) * k2[c]);
  }
}

/** dgamma, dbeta and the per-channel factors of dx from the two sums of the backward's first sweep. */
function gradientFactors(sumDz: Float32Array, sumDzXc: Float32Array, variance: Float32Array, epsilon: number, rows: number) {
  const channels = sumDz.length;
  const dgamma = new Float32Array(channels);
  const k1 = new Float32Array(channels);
  const k2 = new Float32Array(channels);
  for (let c = 0; c < channels; c++) {
    const inverse = 1 / Math.sqrt(variance[c] + epsilon);
    dgamma[c] = sumDzXc[c] * inverse;
    k1[c] = sumDz[c] / rows;
    k2[c] = (sumDzXc[c] * inverse * inverse) / rows;
  }
  return { dgamma, dbeta: Float32Array.from(sumDz), k1, k2 };
}

// ---- the kernels over either backend ---------------------------------------------------------------

type Args = { inputs: tf.NamedTensorInfoMap; backend: tf.KernelBackend; attrs: tf.NamedAttrMap };

/** Reading inputs and making outputs on the cpu backend (values in JS) or wasm (views of its heap). */
interface Access {
  /** Outputs first (on wasm an allocation may grow the heap and detach earlier views). */
  output(shape: number[]): tf.TensorInfo;
  view(info: tf.TensorInfo): Float32Array;
  write(info: tf.TensorInfo, values: Float32Array): void;
  /** wasm only: byte offsets for the SIMD kernels, and a scratch vector in the heap. */
  simd?: { offset(info: tf.TensorInfo): number; scratch(values: Float32Array): tf.TensorInfo; free(info: tf.TensorInfo): void; memory: WebAssembly.Memory };
}

type CpuBackend = tf.KernelBackend & { data: { get(dataId: object): { values: Float32Array } }; makeTensorInfo(shape: number[], dtype: tf.DataType, values?: Float32Array): tf.TensorInfo };

function accessOf(backendName: 'cpu' | 'wasm', backend: tf.KernelBackend): Access {
  if (backendName === 'cpu') {
    const cpu = backend as CpuBackend;
    return {
      output: (shape) => cpu.makeTensorInfo(shape, 'float32', new Float32Array(shape.reduce((a, b) => a * b, 1))),
      view: (info) => cpu.data.get(info.dataId).values,
      write: (info, values) => cpu.data.get(info.dataId).values.set(values),
    };
  }
  const wasm = backend as WasmBackend;
  const memory = wasm.wasm.asm?.memory;
  return {
    output: (shape) => wasm.makeOutput(shape, 'float32'),
    view: (info) => wasm.typedArrayFromHeap(info),
    write: (info, values) => wasm.typedArrayFromHeap(info).set(values),
    ...(memory instanceof WebAssembly.Memory
      ? {
          simd: {
            memory,
            offset: (info: tf.TensorInfo) => wasm.getMemoryOffset(info.dataId),
            scratch: (values: Float32Array) => {
              const info = wasm.makeOutput([values.length], 'float32');
              wasm.typedArrayFromHeap(info).set(values);
              return info;
            },
            free: (info: tf.TensorInfo) => wasm.disposeData(info.dataId),
          },
        }
      : {}),
  };
}

const channelsOf = (info: tf.TensorInfo) => info.shape[info.shape.length - 1];
const useSimd = (access: Access, channels: number) => access.simd !== undefined && channels % 4 === 0;

function moments(backendName: 'cpu' | 'wasm', args: Args): tf.TensorInfo[] {
  const { x } = args.inputs as { x: tf.TensorInfo };
  const access = accessOf(backendName, args.backend);
  const channels = channelsOf(x);
  const mean = access.output([channels]);
  const variance = access.output([channels]);
  const rows = tf.util.sizeFromShape(x.shape) / channels;
  if (useSimd(access, channels) && rows > 0) {
    const simd = access.simd!;
    const kernels = batchNormKernels(simd.memory);
    const sums = access.view(mean);
    sums.fill(0);
    kernels.channelSum(simd.offset(x), simd.offset(mean), rows, channels);
    for (let c = 0; c < channels; c++) sums[c] /= rows;
    access.view(variance).fill(0);
    kernels.channelSquaredDeviation(simd.offset(x), simd.offset(mean), simd.offset(variance), rows, channels);
    const squares = access.view(variance);
    for (let c = 0; c < channels; c++) squares[c] /= rows;
    return [mean, variance];
  }
  momentsJs(access.view(x), channels, access.view(mean), access.view(variance));
  return [mean, variance];
}

function forward(backendName: 'cpu' | 'wasm', args: Args): tf.TensorInfo {
  const { x, mean, variance, gamma, beta } = args.inputs as Record<string, tf.TensorInfo>;
  const { activation, epsilon } = args.attrs as unknown as BatchNormAttrs;
  const access = accessOf(backendName, args.backend);
  const channels = channelsOf(x);
  const y = access.output([...x.shape]);
  const { scale, shift } = scaleShift(access.view(mean), access.view(variance), access.view(gamma), access.view(beta), epsilon);
  const rows = tf.util.sizeFromShape(x.shape) / channels;
  if (useSimd(access, channels) && rows > 0) {
    const simd = access.simd!;
    const scratch = [simd.scratch(scale), simd.scratch(shift)];
    batchNormKernels(simd.memory).forward(activation, simd.offset(x), simd.offset(scratch[0]), simd.offset(scratch[1]), simd.offset(y), rows, channels);
    for (const info of scratch) simd.free(info);
    return y;
  }
  forwardJs(access.view(x), scale, shift, activation, access.view(y));
  return y;
}

function backward(backendName: 'cpu' | 'wasm', args: Args): tf.TensorInfo[] {
  const { dy, x, mean, variance, gamma, beta } = args.inputs as Record<string, tf.TensorInfo>;
  const { activation, epsilon } = args.attrs as unknown as BatchNormAttrs;
  const access = accessOf(backendName, args.backend);
  const channels = channelsOf(x);
  const rows = tf.util.sizeFromShape(x.shape) / channels;
  const dx = access.output([...x.shape]);
  const dgammaInfo = access.output([channels]);
  const dbetaInfo = access.output([channels]);
  const meanValues = access.view(mean);
  const varianceValues = Float32Array.from(access.view(variance));
  const { scale, shift } = scaleShift(meanValues, varianceValues, access.view(gamma), access.view(beta), epsilon);
  if (useSimd(access, channels) && rows > 0) {
    const simd = access.simd!;
    const kernels = batchNormKernels(simd.memory);
    const zeros = new Float32Array(channels);
    const [scaleInfo, shiftInfo, sumDzInfo, sumDzXcInfo] = [simd.scratch(scale), simd.scratch(shift), simd.scratch(zeros), simd.scratch(zeros)];
    kernels.backwardReduce(activation, simd.offset(dy), simd.offset(x), simd.offset(scaleInfo), simd.offset(shiftInfo), simd.offset(mean), simd.offset(sumDzInfo), simd.offset(sumDzXcInfo), rows, channels);
    const factors = gradientFactors(Float32Array.from(access.view(sumDzInfo)), Float32Array.from(access.view(sumDzXcInfo)), varianceValues, epsilon, rows);
    const [k1Info, k2Info] = [simd.scratch(factors.k1), simd.scratch(factors.k2)];
    kernels.backwardInput(activation, simd.offset(dy), simd.offset(x), simd.offset(scaleInfo), simd.offset(shiftInfo), simd.offset(mean), simd.offset(k1Info), simd.offset(k2Info), simd.offset(dx), rows, channels);
    for (const info of [scaleInfo, shiftInfo, sumDzInfo, sumDzXcInfo, k1Info, k2Info]) simd.free(info);
    access.write(dgammaInfo, factors.dgamma);
    access.write(dbetaInfo, factors.dbeta);
    return [dx, dgammaInfo, dbetaInfo];
  }
  const sumDz = new Float32Array(channels);
  const sumDzXc = new Float32Array(channels);
  const dyValues = access.view(dy);
  const xValues = access.view(x);
  backwardReduceJs(dyValues, xValues, scale, shift, meanValues, activation, sumDz, sumDzXc);
  const factors = gradientFactors(sumDz, sumDzXc, varianceValues, epsilon, rows);
  backwardInputJs(dyValues, xValues, scale, shift, meanValues, factors.k1, factors.k2, activation, access.view(dx));
  access.write(dgammaInfo, factors.dgamma);
  access.write(dbetaInfo, factors.dbeta);
  return [dx, dgammaInfo, dbetaInfo];
}

function configsFor(backendName: 'cpu' | 'wasm'): tf.KernelConfig[] {
  return [
    { kernelName: BATCH_NORM_MOMENTS, backendName, kernelFunc: ((args: Args) => moments(backendName, args)) as unknown as tf.KernelFunc },
    { kernelName: BATCH_NORM_ACTIVATE, backendName, kernelFunc: ((args: Args) => forward(backendName, args)) as unknown as tf.KernelFunc },
    { kernelName: BATCH_NORM_ACTIVATE_GRAD, backendName, kernelFunc: ((args: Args) => backward(backendName, args)) as unknown as tf.KernelFunc },
  ];
}

export const BATCH_NORM_KERNELS: readonly tf.KernelConfig[] = [...configsFor('cpu'), ...configsFor('wasm')];

/** Registers the fused kernels for cpu and wasm (once; tfjs's registry is global). */
export function registerBatchNormKernels(): void {
  for (const config of BATCH_NORM_KERNELS) {
    if (tf.getKernel(config.kernelName, config.backendName) === undefined) tf.registerKernel(config);
  }
}
