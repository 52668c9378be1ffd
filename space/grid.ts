// The paper's "best subnet" grid (ofav2.md s3): every uniform subnet of resolution {min, max} x kernel
// {3, 7} x expand {3, 4, 6} x depth {2, 4}, x exit {1, 5} for early-exit variants, x every branch mask
// for parallel-block variants. Kernels and expands outside the preset's lists are dropped.
import { fullDimensions, getPreset, getVariant } from './presets.ts';
import { configId, type SubnetConfig } from './config.ts';
import { sampleUniform } from './sample.ts';

export function paperGrid(presetName: string, variantName: string): SubnetConfig[] {
  const preset = getPreset(presetName);
  const variant = getVariant(variantName);
  const d = fullDimensions(preset, variant);
  const pick = (wanted: number[], allowed: readonly number[]) => wanted.filter((v) => allowed.includes(v));
  const resolutions = [d.resolutions[0], d.resolutions[d.resolutions.length - 1]];
  const exits = variant.earlyExits ? pick([1, 5], d.exits) : [d.exits[d.exits.length - 1]];
  const masks = variant.parallelBlocks ? [...d.branchMasks] : [d.branchMasks[d.branchMasks.length - 1]];
  const out: SubnetConfig[] = [];
  const seen = new Set<string>();
  for (const resolution of resolutions)
    for (const exit of exits)
      for (const kernel of pick([3, 7], d.kernelSizes))
        for (const expand of pick([3, 4, 6], d.expandRatios))
          for (const depth of pick([2, 4], d.depths))
            for (const branches of masks) {
              const config = sampleUniform({ preset: presetName, variant: variantName }, { resolution, exit, kernel, expand, depth, branches });
              const id = configId(config);
              if (!seen.has(id)) {
                seen.add(id);
                out.push(config);
              }
            }
  return out;
}
