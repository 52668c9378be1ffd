// Weight layouts (tfjs -> ONNX) and BN folding (pipeline.md: "BN folded into convolutions").
import type { StaticBatchNorm, StaticConv, StaticTensor } from '../subnet/index.ts';

export interface OnnxConvWeights {
  /** OIHW: [Cout, Cin / group, k, k]. */
  dims: number[];
  weight: Float32Array;
  bias?: Float32Array;
  group: number;
  kernel: number;
}

/** tfjs conv [k, k, Cin, Cout] -> ONNX [Cout, Cin, k, k]; depthwise [k, k, C, 1] -> [C, 1, k, k], group C. */
export function toOihw(tensor: StaticTensor, depthwise: boolean): { dims: number[]; data: Float32Array; group: number } {
  const [kh, kw, cin, cout] = tensor.shape;
  if (tensor.shape.length !== 4 || kh !== kw) throw new Error(`conv weight of shape [${tensor.shape.join(', ')}] is not [k, k, Cin, Cout]`);
  const src = tensor.data;
  if (depthwise) {
    if (cout !== 1) throw new Error(`depthwise weight of shape [${tensor.shape.join(', ')}] is not [k, k, C, 1]`);
    const data = new Float32Array(src.length);
    for (let h = 0; h < kh; h++)
      for (let w = 0; w < kw; w++)
        for (let c = 0; c < cin; c++) data[(c * kh + h) * kw + w] = src[(h * kw + w) * cin + c];
    return { dims: [cin, 1, kh, kw], data, group: cin };
  }
  const data = new Float32Array(src.length);
  for (let h = 0; h < kh; h++)
    for (let w = 0; w < kw; w++)
      for (let i = 0; i < cin; i++)
        for (let o = 0; o < cout; o++) data[((o * cin + i) * kh + h) * kw + w] = src[((h * kw + w) * cin + i) * cout + o];
  return { dims: [cout, cin, kh, kw], data, group: 1 };
}

/** Per-channel scale and shift of an eval-mode BN: y = scale * x + shift (computed in float64). */
export function batchNormAffine(bn: StaticBatchNorm): { scale: Float64Array; shift: Float64Array } {
  const n = bn.gamma.length;
  const scale = new Float64Array(n);
  const shift = new Float64Array(n);
  for (let c = 0; c < n; c++) {
    scale[c] = bn.gamma[c] / Math.sqrt(bn.runningVariance[c] + bn.epsilon);
    shift[c] = bn.beta[c] - bn.runningMean[c] * scale[c];
  }
  return { scale, shift };
}

/**
 * ONNX weights of a conv. With `foldBatchNorm`, its BN goes into the weights and bias:
 * W'[o] = W[o] * s_o and b' = s_o * b_o + t_o, with s, t the BN's affine form.
 */
export function convWeights(conv: StaticConv, foldBatchNorm: boolean): OnnxConvWeights {
  const { dims, data, group } = toOihw(conv.weight, conv.depthwise);
  const kernel = dims[2];
  if (!foldBatchNorm || !conv.batchNorm) return { dims, weight: data, bias: conv.bias, group, kernel };
  const { scale, shift } = batchNormAffine(conv.batchNorm);
  const cout = dims[0];
  const perOutput = data.length / cout;
  const weight = new Float32Array(data.length);
  const bias = new Float32Array(cout);
  for (let o = 0; o < cout; o++) {
    for (let j = 0; j < perOutput; j++) weight[o * perOutput + j] = data[o * perOutput + j] * scale[o];
    bias[o] = (conv.bias ? conv.bias[o] : 0) * scale[o] + shift[o];
  }
  return { dims, weight, bias, group, kernel };
}
