// The static world (style.md: OFA's get_active_subnet boundary): the weights of ONE subnet, with every
// elastic choice resolved (kernels transformed, channels sliced, BN statistics copied). The supernet's
// `extractSubnet` produces it; the exporter consumes it and knows nothing of elasticity.
//
// Layouts follow TensorFlow.js (NHWC activations):
//   conv weight       [kernel, kernel, inChannels, outChannels]
//   depthwise weight  [kernel, kernel, channels, 1]
//   dense weight      [inChannels, outChannels]
// Convolutions use TF 'SAME' padding (ONNX SAME_UPPER: the extra pixel at the end); see
// space/presets.ts samePadding(). Max-pooling (transform branch) uses kernel = stride, SAME padding.
import type { Activation, HeadGeometry, LayerGeometry, StemGeometry, SubnetConfig } from '../space/index.ts';

export interface StaticTensor {
  shape: number[];
  data: Float32Array;
}

export interface StaticBatchNorm {
  gamma: Float32Array;
  beta: Float32Array;
  runningMean: Float32Array;
  runningVariance: Float32Array;
  epsilon: number;
}

/** Convolution (optionally depthwise) -> optional bias -> optional BN -> optional activation. */
export interface StaticConv {
  weight: StaticTensor;
  depthwise: boolean;
  stride: number;
  bias?: Float32Array;
  batchNorm?: StaticBatchNorm;
  activation: Activation | 'hsigmoid' | 'none';
}

export interface StaticSqueezeExcite {
  /** mid -> seMid, 1x1 with bias, ReLU (weight [1,1,mid,seMid]). */
  reduce: StaticConv;
  /** seMid -> mid, 1x1 with bias, h-sigmoid. */
  expand: StaticConv;
}

/** The MBConv branch (ofav2.md s1). `expandConv` is absent for expand ratio 1 (the stem's block). */
export interface StaticMBConv {
  expandConv?: StaticConv;
  depthwise: StaticConv;
  squeezeExcite?: StaticSqueezeExcite;
  project: StaticConv;
  residual: boolean;
}

/** Branch 2 of a parallel layer: max-pool (stride > 1), 1x1 conv (Cin != Cout), then BN + act. */
export interface StaticTransform {
  /** Max-pool kernel = stride; 1 means no pooling. */
  poolKernel: number;
  /** 1x1 conv with BN and activation when Cin != Cout. */
  conv?: StaticConv;
  /** Standalone BN + activation when Cin == Cout. */
  batchNorm?: StaticBatchNorm;
  activation: Activation;
}

export interface StaticLayer {
  geometry: LayerGeometry;
  mbconv?: StaticMBConv;
  conv1x1?: StaticConv;
  transform?: StaticTransform;
}

export interface StaticStage {
  index: number;
  /** Dense skip connections inside the stage (ofav2.md s1). */
  denseSkip: boolean;
  layers: StaticLayer[];
}

export interface StaticHead {
  geometry: HeadGeometry;
  /** 1x1 conv to 6*W + BN + h-swish. */
  expand: StaticConv;
  /** After global average pooling: 1x1 conv to 8*W, no BN, no bias, h-swish (weight [1,1,6W,8W]). */
  featureMix: StaticConv;
  /** Linear to the classes: weight [8W, classes] and bias. */
  classifier: { weight: StaticTensor; bias: Float32Array };
}

export interface StaticSubnet {
  config: SubnetConfig;
  inputChannels: number;
  numClasses: number;
  resolution: number;
  stem: { geometry: StemGeometry; conv: StaticConv; block: StaticMBConv };
  stages: StaticStage[];
  head: StaticHead;
}
