// The presets and variants of the search space: every number is written here once (style.md).
// ofav2.md s1 (supernet), pipeline.md "Presets".
import { OfaError } from '../lib/errors.ts';

export type Activation = 'relu' | 'hswish';

export interface StageSpec {
  /** Output channels W_i of every layer in the stage. */
  width: number;
  /** Stride S_i of the stage's first layer (the others have stride 1). */
  stride: number;
  activation: Activation;
  squeezeExcite: boolean;
}

export interface Preset {
  name: string;
  inputChannels: number;
  numClasses: number;
  /** Allowed input resolutions (square), ascending. */
  resolutions: readonly number[];
  stemChannels: number;
  stemStride: number;
  stages: readonly StageSpec[];
  depths: readonly number[];
  kernelSizes: readonly number[];
  expandRatios: readonly number[];
  /** Exit head widths relative to the stage width W_i (ofav2.md s1: 6*W_i then 8*W_i). */
  headExpandFactor: number;
  headFeatureFactor: number;
  dropout: number;
}

export const VARIANT_NAMES = ['ofa', 'ee', 'd', 'p', 'ee-d', 'ee-p', 'd-p', 'ee-d-p'] as const;
export type VariantName = (typeof VARIANT_NAMES)[number];

export interface Variant {
  name: VariantName;
  /** Early exits: one exit head per stage, a subnet picks one (elastic height). */
  earlyExits: boolean;
  /** Dense skip connections within a stage. */
  denseSkip: boolean;
  /** Three parallel branches per layer, selected by a 3-bit mask (elastic level). */
  parallelBlocks: boolean;
}

const STAGE_ACTIVATIONS: readonly Activation[] = ['relu', 'relu', 'hswish', 'hswish', 'hswish'];
const STAGE_SE: readonly boolean[] = [false, true, false, true, true];

function stagesOf(widths: readonly number[], strides: readonly number[]): StageSpec[] {
  return widths.map((width, i) => ({ width, stride: strides[i], activation: STAGE_ACTIVATIONS[i], squeezeExcite: STAGE_SE[i] }));
}

function range(from: number, to: number, step: number): number[] {
  const out: number[] = [];
  for (let v = from; v <= to; v += step) out.push(v);
  return out;
}

const COMMON = {
  stemChannels: 16,
  stemStride: 2,
  depths: [2, 3, 4],
  kernelSizes: [3, 5, 7],
  expandRatios: [3, 4, 6],
  headExpandFactor: 6,
  headFeatureFactor: 8,
  dropout: 0.1,
} as const;

export const PRESETS: Readonly<Record<string, Preset>> = Object.freeze({
  'tiny-imagenet': {
    name: 'tiny-imagenet',
    inputChannels: 3,
    numClasses: 200,
    resolutions: range(48, 64, 4),
    stages: stagesOf([24, 40, 80, 112, 160], [2, 2, 2, 1, 2]),
    ...COMMON,
  },
  fashion: {
    name: 'fashion',
    inputChannels: 1,
    numClasses: 10,
    resolutions: range(20, 32, 4),
    stages: stagesOf([16, 24, 32, 48, 64], [1, 2, 1, 2, 1]),
    ...COMMON,
  },
  // A deliberately small preset with the fashion structure, for fast tests of the engine and exporter.
  micro: {
    name: 'micro',
    inputChannels: 1,
    numClasses: 4,
    resolutions: [8, 12],
    stages: stagesOf([8, 8, 16, 16, 16], [1, 2, 1, 2, 1]),
    ...COMMON,
    stemChannels: 8,
  },
});

export const PRESET_NAMES = Object.keys(PRESETS);
export const DEFAULT_PRESET = 'fashion';
export const DEFAULT_VARIANT: VariantName = 'ee-d';

export function getPreset(name: string, input = 'preset'): Preset {
  const preset = PRESETS[name];
  if (!preset) {
    throw new OfaError('E_PRESET', `${input}: unknown preset ${JSON.stringify(name)}; allowed: ${PRESET_NAMES.join(', ')}`);
  }
  return preset;
}

export function getVariant(name: string, input = 'variant'): Variant {
  if (!(VARIANT_NAMES as readonly string[]).includes(name)) {
    throw new OfaError('E_VARIANT', `${input}: unknown variant ${JSON.stringify(name)}; allowed: ${VARIANT_NAMES.join(', ')}`);
  }
  const parts = name.split('-');
  return {
    name: name as VariantName,
    earlyExits: parts.includes('ee'),
    denseSkip: parts.includes('d'),
    parallelBlocks: parts.includes('p'),
  };
}

/** Branch masks (ofav2.md s1): bit 0 = elastic MBConv, bit 1 = static 1x1 conv, bit 2 = static transform. */
export const BRANCH_MASKS = [1, 2, 3, 4, 5, 6, 7] as const;
export const BRANCH_MBCONV = 1;
export const BRANCH_CONV1X1 = 2;
export const BRANCH_TRANSFORM = 4;
export const STAGE_COUNT = 5;

/** OFA's make_divisible: nearest multiple of `divisor`, never below 90% of the value. */
export function makeDivisible(value: number, divisor = 8, minValue = divisor): number {
  let result = Math.max(minValue, Math.floor((value + divisor / 2) / divisor) * divisor);
  if (result < 0.9 * value) result += divisor;
  return result;
}

/** Middle (expanded) channels of an MBConv layer: make_divisible(round(Cin * expand), 8). */
export function midChannels(inChannels: number, expandRatio: number): number {
  return makeDivisible(Math.round(inChannels * expandRatio), 8);
}

/** Squeeze-excite reduced channels: make_divisible(mid / 4, 8). */
export function seChannels(mid: number): number {
  return makeDivisible(mid / 4, 8);
}

/** TensorFlow/ONNX SAME_UPPER output size. */
export function convOutputSize(inputSize: number, stride: number): number {
  return Math.ceil(inputSize / stride);
}

/** TF 'SAME' padding (extra pixel at the end, as ONNX SAME_UPPER): [before, after]. */
export function samePadding(inputSize: number, kernelSize: number, stride: number): [number, number] {
  const out = convOutputSize(inputSize, stride);
  const total = Math.max((out - 1) * stride + kernelSize - inputSize, 0);
  const before = Math.floor(total / 2);
  return [before, total - before];
}

/** The allowed values of every elastic dimension (ofav2.md s2). Training phases and search restrict them. */
export interface Dimensions {
  resolutions: readonly number[];
  /** Exit indices 1..5 (EE variants); [5] otherwise. */
  exits: readonly number[];
  depths: readonly number[];
  kernelSizes: readonly number[];
  expandRatios: readonly number[];
  /** Branch masks 1..7 (P variants); [1] otherwise (a layer without parallel blocks is its MBConv branch). */
  branchMasks: readonly number[];
}

export function fullDimensions(preset: Preset, variant: Variant): Dimensions {
  return {
    resolutions: [...preset.resolutions],
    exits: variant.earlyExits ? [1, 2, 3, 4, 5] : [STAGE_COUNT],
    depths: [...preset.depths],
    kernelSizes: [...preset.kernelSizes],
    expandRatios: [...preset.expandRatios],
    branchMasks: variant.parallelBlocks ? [...BRANCH_MASKS] : [BRANCH_MBCONV],
  };
}
