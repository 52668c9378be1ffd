// The predictor encoding of ofav2.md s4 as a fixed-length vector.
//
// Layout, in order (K kernel sizes, E expand ratios, R resolutions of the preset):
//   for each stage s = 1..5, for each layer position p = 1..4 (20 blocks):
//     K one-hot kernel, E one-hot expand      (all zeros when the layer is inactive: depth, exit, or
//                                              the MBConv branch switched off)
//     3 branch-mask bits (P variants only)    (bit 0 MBConv, bit 1 1x1 conv, bit 2 transform)
//   R one-hot resolution
//   5 one-hot exit (EE variants only)
// Length = 20 * (K + E + 3 [P]) + R + 5 [EE]; `ofa`/`fashion`: 20 * 6 + 4 = 124.
import { configContext, exitOf, type SubnetConfig } from './config.ts';
import { STAGE_COUNT, getPreset, getVariant } from './presets.ts';

export interface EncodingSegment {
  name: string;
  offset: number;
  length: number;
}

export const MAX_DEPTH = 4;

export function encodingLayout(presetName: string, variantName: string): { length: number; segments: EncodingSegment[] } {
  const preset = getPreset(presetName);
  const variant = getVariant(variantName);
  const segments: EncodingSegment[] = [];
  let offset = 0;
  const push = (name: string, length: number) => {
    segments.push({ name, offset, length });
    offset += length;
  };
  for (let s = 1; s <= STAGE_COUNT; s++) {
    for (let p = 1; p <= MAX_DEPTH; p++) {
      push(`stage${s}.layer${p}.kernel`, preset.kernelSizes.length);
      push(`stage${s}.layer${p}.expand`, preset.expandRatios.length);
      if (variant.parallelBlocks) push(`stage${s}.layer${p}.branches`, 3);
    }
  }
  push('resolution', preset.resolutions.length);
  if (variant.earlyExits) push('exit', STAGE_COUNT);
  return { length: offset, segments };
}

export function encodeConfig(config: SubnetConfig): Float32Array {
  const { preset, variant } = configContext(config);
  const { length, segments } = encodingLayout(config.preset, config.variant);
  const vector = new Float32Array(length);
  const at = new Map(segments.map((segment) => [segment.name, segment.offset]));
  config.stages.forEach((stage, s) => {
    stage.layers.forEach((layer, l) => {
      const name = `stage${s + 1}.layer${l + 1}`;
      const mbconvOn = !variant.parallelBlocks || ((layer.branches as number) & 1) !== 0;
      if (mbconvOn) {
        vector[(at.get(`${name}.kernel`) as number) + preset.kernelSizes.indexOf(layer.kernel)] = 1;
        vector[(at.get(`${name}.expand`) as number) + preset.expandRatios.indexOf(layer.expand)] = 1;
      }
      if (variant.parallelBlocks) {
        const base = at.get(`${name}.branches`) as number;
        for (let bit = 0; bit < 3; bit++) vector[base + bit] = ((layer.branches as number) >> bit) & 1;
      }
    });
  });
  vector[(at.get('resolution') as number) + preset.resolutions.indexOf(config.resolution)] = 1;
  if (variant.earlyExits) vector[(at.get('exit') as number) + exitOf(config) - 1] = 1;
  return vector;
}
