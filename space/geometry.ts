// The shapes of a subnet, block by block: the one place that derives channel widths, spatial sizes,
// strides, residuals and dense-skip terms from a SubnetConfig. Costs, the supernet, the exporter and
// the lookup tables all read their structure from here.
import { configContext, exitOf, type SubnetConfig } from './config.ts';
import {
  BRANCH_CONV1X1,
  BRANCH_MBCONV,
  BRANCH_TRANSFORM,
  convOutputSize,
  midChannels,
  seChannels,
  type Activation,
  type Preset,
  type Variant,
} from './presets.ts';

export interface StemGeometry {
  inputSize: number;
  outputSize: number;
  inChannels: number;
  outChannels: number;
  kernel: number;
  stride: number;
  /** The fixed first MBConv: 3x3 depthwise, expand 1, ReLU, identity residual. */
  blockKernel: number;
}

export interface LayerGeometry {
  /** 1-based stage and layer position, as in node names (`stage2.layer1`). */
  stage: number;
  layer: number;
  inputSize: number;
  outputSize: number;
  inChannels: number;
  outChannels: number;
  stride: number;
  kernel: number;
  expand: number;
  /** Expanded (middle) channels of the MBConv branch. */
  mid: number;
  squeezeExcite: boolean;
  /** Reduced channels of the SE block (0 without SE). */
  seMid: number;
  activation: Activation;
  /** Identity residual around the MBConv branch (stride 1 and Cin == Cout). */
  residual: boolean;
  /** Active branches (bit 0 MBConv, bit 1 static 1x1 conv, bit 2 static transform); 1 without P. */
  branches: number;
  /** Tensors summed to form this layer's input (1 without dense skips; with them, denseSkipTerms(d - 1).length). */
  inputTerms: number;
}

export interface HeadGeometry {
  /** The exit index (1..5); 5 is the final head. */
  exit: number;
  inputSize: number;
  inChannels: number;
  expandChannels: number;
  featureChannels: number;
  numClasses: number;
}

export interface StageGeometry {
  index: number;
  depth: number;
  /** Tensors summed to form the stage output (1 without dense skips; with them, denseSkipTerms(depth).length). */
  outputTerms: number;
  layers: LayerGeometry[];
}

export interface SubnetGeometry {
  preset: Preset;
  variant: Variant;
  resolution: number;
  stem: StemGeometry;
  stages: StageGeometry[];
  head: HeadGeometry;
}

export function headGeometry(preset: Preset, exit: number, inputSize: number): HeadGeometry {
  const width = preset.stages[exit - 1].width;
  return {
    exit,
    inputSize,
    inChannels: width,
    expandChannels: preset.headExpandFactor * width,
    featureChannels: preset.headFeatureFactor * width,
    numClasses: preset.numClasses,
  };
}

export function subnetGeometry(config: SubnetConfig): SubnetGeometry {
  const { preset, variant } = configContext(config);
  const stemOut = convOutputSize(config.resolution, preset.stemStride);
  const stem: StemGeometry = {
    inputSize: config.resolution,
    outputSize: stemOut,
    inChannels: preset.inputChannels,
    outChannels: preset.stemChannels,
    kernel: 3,
    stride: preset.stemStride,
    blockKernel: 3,
  };
  let size = stemOut;
  let channels = preset.stemChannels;
  const stages: StageGeometry[] = config.stages.map((stageConfig, s) => {
    const spec = preset.stages[s];
    const layers = stageConfig.layers.map((layerConfig, l): LayerGeometry => {
      const stride = l === 0 ? spec.stride : 1;
      const inChannels = l === 0 ? channels : spec.width;
      const inputSize = l === 0 ? size : convOutputSize(size, spec.stride);
      const mid = midChannels(inChannels, layerConfig.expand);
      const position = l + 1;
      return {
        stage: s + 1,
        layer: position,
        inputSize,
        outputSize: convOutputSize(inputSize, stride),
        inChannels,
        outChannels: spec.width,
        stride,
        kernel: layerConfig.kernel,
        expand: layerConfig.expand,
        mid,
        squeezeExcite: spec.squeezeExcite,
        seMid: spec.squeezeExcite ? seChannels(mid) : 0,
        activation: spec.activation,
        residual: stride === 1 && inChannels === spec.width,
        branches: variant.parallelBlocks ? (layerConfig.branches as number) : BRANCH_MBCONV,
        inputTerms: variant.denseSkip && position >= 2 ? denseSkipTerms(position - 1).length : 1,
      };
    });
    size = convOutputSize(size, spec.stride);
    channels = spec.width;
    return { index: s + 1, depth: stageConfig.depth, outputTerms: variant.denseSkip ? denseSkipTerms(stageConfig.depth).length : 1, layers };
  });
  return { preset, variant, resolution: config.resolution, stem, stages, head: headGeometry(preset, exitOf(config), size) };
}

/**
 * ofav2.md s1 dense skips, as the paper's code wires them (`get_input_tensor`): after n layers of a stage
 * with outputs y_1..y_n, the next layer's input (and, for n = the active depth, the stage output) is
 * y_n + y_1 + ... + y_{n-2}: y_{n-1} is left out because layer n's identity residual already carries it.
 * Returns the 0-based indices into [y_1..y_n] in the order they are summed (left to right); the supernet,
 * the static forward and the ONNX exporter all sum in this order so that they agree to float rounding.
 */
export function denseSkipTerms(n: number): number[] {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`denseSkipTerms: n must be an integer >= 1, got ${n}`);
  const terms = [n - 1];
  for (let j = 0; j < n - 2; j++) terms.push(j);
  return terms;
}

export function activeBranches(mask: number): { mbconv: boolean; conv1x1: boolean; transform: boolean; count: number } {
  const mbconv = (mask & BRANCH_MBCONV) !== 0;
  const conv1x1 = (mask & BRANCH_CONV1X1) !== 0;
  const transform = (mask & BRANCH_TRANSFORM) !== 0;
  return { mbconv, conv1x1, transform, count: Number(mbconv) + Number(conv1x1) + Number(transform) };
}
