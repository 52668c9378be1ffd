// Seeded sampling of subnet configurations: random, min, max, uniform, every one restricted to a set of
// allowed values per dimension, so that the training phases and the search share one sampler.
import { OfaError } from '../lib/errors.ts';
import type { Rng } from '../lib/rng.ts';
import { canonicalize, type LayerConfig, type SubnetConfig } from './config.ts';
import { layerCost, subnetCost } from './cost.ts';
import { subnetGeometry } from './geometry.ts';
import { fullDimensions, getPreset, getVariant, type Dimensions } from './presets.ts';

export interface SpaceRef {
  preset: string;
  variant: string;
  /** Restrictions of the allowed values (each must be a subset of the preset's values). */
  dimensions?: Partial<Dimensions>;
}

export function resolveDimensions(space: SpaceRef): Dimensions {
  const preset = getPreset(space.preset);
  const variant = getVariant(space.variant);
  const full = fullDimensions(preset, variant);
  const out = { ...full };
  for (const key of Object.keys(space.dimensions ?? {}) as (keyof Dimensions)[]) {
    const values = space.dimensions?.[key];
    if (values === undefined) continue;
    const allowed = full[key];
    const bad = values.filter((v) => !allowed.includes(v));
    if (values.length === 0 || bad.length > 0) {
      throw new OfaError(
        'E_DIMENSIONS',
        `dimensions.${key}: ${values.length === 0 ? 'empty' : `values ${bad.join(', ')} are not in the space`}; allowed: ${allowed.join(', ')}`,
      );
    }
    out[key] = [...new Set(values)].sort((a, b) => a - b);
  }
  return out;
}

function build(space: SpaceRef, choose: {
  resolution: number;
  exit: number;
  depth: (stage: number) => number;
  layer: (stage: number, layer: number) => LayerConfig;
}): SubnetConfig {
  const variant = getVariant(space.variant);
  const stageCount = variant.earlyExits ? choose.exit : 5;
  const config: SubnetConfig = {
    preset: space.preset,
    variant: space.variant,
    resolution: choose.resolution,
    stages: Array.from({ length: stageCount }, (_, s) => {
      const depth = choose.depth(s);
      return { depth, layers: Array.from({ length: depth }, (_, l) => choose.layer(s, l)) };
    }),
  };
  if (variant.earlyExits) config.exit = choose.exit;
  return config;
}

function layerOf(space: SpaceRef, kernel: number, expand: number, branches: number): LayerConfig {
  return getVariant(space.variant).parallelBlocks ? { kernel, expand, branches } : { kernel, expand };
}

export function sampleRandom(space: SpaceRef, rng: Rng): SubnetConfig {
  const dims = resolveDimensions(space);
  const resolution = rng.pick(dims.resolutions);
  const exit = rng.pick(dims.exits);
  return canonicalize(
    build(space, {
      resolution,
      exit,
      depth: () => rng.pick(dims.depths),
      layer: () => layerOf(space, rng.pick(dims.kernelSizes), rng.pick(dims.expandRatios), rng.pick(dims.branchMasks)),
    }),
  );
}

/** Picks, per layer, the allowed branch mask with the least (or most) MACs. */
function extremeMasks(config: SubnetConfig, dims: Dimensions, pick: 'min' | 'max'): SubnetConfig {
  if (!getVariant(config.variant).parallelBlocks) return config;
  const geometry = subnetGeometry(config);
  const stages = config.stages.map((stage, s) => ({
    depth: stage.depth,
    layers: stage.layers.map((layer, l) => {
      let best = dims.branchMasks[0];
      let bestMacs = pick === 'min' ? Infinity : -Infinity;
      for (const mask of dims.branchMasks) {
        const macs = layerCost({ ...geometry.stages[s].layers[l], branches: mask }).macs;
        if (pick === 'min' ? macs < bestMacs : macs > bestMacs) {
          best = mask;
          bestMacs = macs;
        }
      }
      return { ...layer, branches: best };
    }),
  }));
  return { ...config, stages };
}

export function sampleMin(space: SpaceRef): SubnetConfig {
  const dims = resolveDimensions(space);
  // Fewer layers, smaller kernels, expands and resolution always cost less; the exit does not: an
  // early head sits on a larger feature map, so an earlier exit can cost more. Try every exit.
  return extremeOverExits(space, dims, 'min', (exit) =>
    build(space, {
      resolution: dims.resolutions[0],
      exit,
      depth: () => dims.depths[0],
      layer: () => layerOf(space, dims.kernelSizes[0], dims.expandRatios[0], dims.branchMasks[0]),
    }),
  );
}

function extremeOverExits(space: SpaceRef, dims: Dimensions, pick: 'min' | 'max', make: (exit: number) => SubnetConfig): SubnetConfig {
  let best: SubnetConfig | undefined;
  let bestMacs = 0;
  for (const exit of dims.exits) {
    const config = canonicalize(extremeMasks(make(exit), dims, pick));
    const macs = subnetCost(config).macs;
    if (best === undefined || (pick === 'min' ? macs < bestMacs : macs > bestMacs)) {
      best = config;
      bestMacs = macs;
    }
  }
  return best as SubnetConfig;
}

export function sampleMax(space: SpaceRef): SubnetConfig {
  const dims = resolveDimensions(space);
  const last = <T>(values: readonly T[]) => values[values.length - 1];
  return extremeOverExits(space, dims, 'max', (exit) =>
    build(space, {
      resolution: last(dims.resolutions),
      exit,
      depth: () => last(dims.depths),
      layer: () => layerOf(space, last(dims.kernelSizes), last(dims.expandRatios), last(dims.branchMasks)),
    }),
  );
}

export interface UniformChoice {
  kernel: number;
  expand: number;
  depth: number;
  resolution?: number;
  exit?: number;
  branches?: number;
}

/** One kernel, expand and depth everywhere; resolution, exit and mask default to the largest allowed. */
export function sampleUniform(space: SpaceRef, choice: UniformChoice): SubnetConfig {
  const dims = resolveDimensions(space);
  const last = <T>(values: readonly T[]) => values[values.length - 1];
  return canonicalize(
    build(space, {
      resolution: choice.resolution ?? last(dims.resolutions),
      exit: choice.exit ?? last(dims.exits),
      depth: () => choice.depth,
      layer: () => layerOf(space, choice.kernel, choice.expand, choice.branches ?? last(dims.branchMasks)),
    }),
  );
}

/** Every uniform configuration of the allowed kernels x expands x depths. */
export function uniformConfigs(space: SpaceRef): SubnetConfig[] {
  const dims = resolveDimensions(space);
  const out: SubnetConfig[] = [];
  for (const depth of dims.depths)
    for (const kernel of dims.kernelSizes)
      for (const expand of dims.expandRatios) out.push(sampleUniform(space, { kernel, expand, depth }));
  return out;
}

/** The number of distinct subnets (networks) in the space, exactly. */
export function subnetCount(space: SpaceRef): bigint {
  const dims = resolveDimensions(space);
  const withMbconv = BigInt(dims.branchMasks.filter((m) => (m & 1) !== 0).length);
  const withoutMbconv = BigInt(dims.branchMasks.filter((m) => (m & 1) === 0).length);
  // Kernel and expand only matter when the MBConv branch is on (canonical form).
  const perLayer = BigInt(dims.kernelSizes.length * dims.expandRatios.length) * withMbconv + withoutMbconv;
  let perStage = 0n;
  for (const depth of dims.depths) perStage += perLayer ** BigInt(depth);
  let total = 0n;
  for (const exit of dims.exits) total += perStage ** BigInt(exit);
  return total * BigInt(dims.resolutions.length);
}

export { getPreset };
