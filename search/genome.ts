// A subnet as the evolutionary search sees it (ofav2.md s4, after OFA's encoding): fixed-length gene lists
// (a resolution, an exit, a depth per stage, a kernel, expand and branch mask per layer position),
// including the genes that depth or the exit switch off, so that mutation and uniform crossover act on
// aligned positions. A genome stands for the canonical SubnetConfig its active genes give.
import type { Rng } from '../lib/rng.ts';
import { STAGE_COUNT, canonicalize, getVariant, resolveDimensions, type Dimensions, type SpaceRef, type SubnetConfig } from '../space/index.ts';

const POSITIONS = 4;

export interface Genome {
  resolution: number;
  exit: number;
  depths: number[];
  /** Per layer position, stage-major (stage s, position p at s * 4 + p). */
  kernels: number[];
  expands: number[];
  branches: number[];
}

/** The mutation of ofav2.md s4: each gene resampled with `probability`, the resolution with its own. */
export interface MutationRates {
  probability: number;
  resolutionProbability: number;
}

export const OFA_MUTATION: MutationRates = { probability: 0.1, resolutionProbability: 0.5 };

export class GenomeSpace {
  readonly dims: Dimensions;
  readonly earlyExits: boolean;
  readonly parallelBlocks: boolean;

  constructor(readonly space: SpaceRef) {
    this.dims = resolveDimensions(space);
    const variant = getVariant(space.variant);
    this.earlyExits = variant.earlyExits;
    this.parallelBlocks = variant.parallelBlocks;
  }

  random(rng: Rng): Genome {
    const { dims } = this;
    const layers = STAGE_COUNT * POSITIONS;
    return {
      resolution: rng.pick(dims.resolutions),
      exit: rng.pick(dims.exits),
      depths: Array.from({ length: STAGE_COUNT }, () => rng.pick(dims.depths)),
      kernels: Array.from({ length: layers }, () => rng.pick(dims.kernelSizes)),
      expands: Array.from({ length: layers }, () => rng.pick(dims.expandRatios)),
      branches: Array.from({ length: layers }, () => rng.pick(dims.branchMasks)),
    };
  }

  /** The genome of a config; genes the config leaves inactive take `fill`'s values. */
  fromConfig(config: SubnetConfig, fill: Genome): Genome {
    const genome = cloneGenome(fill);
    genome.resolution = config.resolution;
    genome.exit = config.exit ?? STAGE_COUNT;
    config.stages.forEach((stage, s) => {
      genome.depths[s] = stage.depth;
      stage.layers.forEach((layer, p) => {
        genome.kernels[s * POSITIONS + p] = layer.kernel;
        genome.expands[s * POSITIONS + p] = layer.expand;
        if (layer.branches !== undefined) genome.branches[s * POSITIONS + p] = layer.branches;
      });
    });
    return genome;
  }

  /** The smallest value of every gene. */
  minimal(): Genome {
    const { dims } = this;
    const layers = STAGE_COUNT * POSITIONS;
    return {
      resolution: dims.resolutions[0],
      exit: dims.exits[0],
      depths: new Array(STAGE_COUNT).fill(dims.depths[0]),
      kernels: new Array(layers).fill(dims.kernelSizes[0]),
      expands: new Array(layers).fill(dims.expandRatios[0]),
      branches: new Array(layers).fill(dims.branchMasks[0]),
    };
  }

  /**
   * The genes that make the network (those depth and the exit leave active; kernel and expand only with
   * the MBConv branch on, as in the canonical config), as a string: equal keys, equal networks.
   */
  activeKey(genome: Genome): string {
    const stageCount = this.earlyExits ? genome.exit : STAGE_COUNT;
    let key = `${genome.resolution}/${stageCount}`;
    for (let s = 0; s < stageCount; s++) {
      key += `|${genome.depths[s]}`;
      for (let p = 0; p < genome.depths[s]; p++) {
        const at = s * POSITIONS + p;
        if (!this.parallelBlocks) key += `,${genome.kernels[at]}x${genome.expands[at]}`;
        else if ((genome.branches[at] & 1) === 0) key += `,b${genome.branches[at]}`;
        else key += `,${genome.kernels[at]}x${genome.expands[at]}b${genome.branches[at]}`;
      }
    }
    return key;
  }

  toConfig(genome: Genome): SubnetConfig {
    const stageCount = this.earlyExits ? genome.exit : STAGE_COUNT;
    const config: SubnetConfig = {
      preset: this.space.preset,
      variant: this.space.variant,
      resolution: genome.resolution,
      stages: Array.from({ length: stageCount }, (_, s) => ({
        depth: genome.depths[s],
        layers: Array.from({ length: genome.depths[s] }, (_, p) => {
          const at = s * POSITIONS + p;
          return this.parallelBlocks ? { kernel: genome.kernels[at], expand: genome.expands[at], branches: genome.branches[at] } : { kernel: genome.kernels[at], expand: genome.expands[at] };
        }),
      })),
    };
    if (this.earlyExits) config.exit = genome.exit;
    return canonicalize(config);
  }

  mutate(genome: Genome, rng: Rng, rates: MutationRates = OFA_MUTATION): Genome {
    const { dims } = this;
    const child = cloneGenome(genome);
    if (rng.next() < rates.resolutionProbability) child.resolution = rng.pick(dims.resolutions);
    if (this.earlyExits && rng.next() < rates.probability) child.exit = rng.pick(dims.exits);
    for (let s = 0; s < STAGE_COUNT; s++) if (rng.next() < rates.probability) child.depths[s] = rng.pick(dims.depths);
    for (let i = 0; i < child.kernels.length; i++) {
      if (rng.next() < rates.probability) child.kernels[i] = rng.pick(dims.kernelSizes);
      if (rng.next() < rates.probability) child.expands[i] = rng.pick(dims.expandRatios);
      if (this.parallelBlocks && rng.next() < rates.probability) child.branches[i] = rng.pick(dims.branchMasks);
    }
    return child;
  }

  /** Uniform crossover: every gene from either parent with probability 1/2. */
  crossover(a: Genome, b: Genome, rng: Rng): Genome {
    const take = (x: number, y: number) => (rng.next() < 0.5 ? x : y);
    return {
      resolution: take(a.resolution, b.resolution),
      exit: take(a.exit, b.exit),
      depths: a.depths.map((value, i) => take(value, b.depths[i])),
      kernels: a.kernels.map((value, i) => take(value, b.kernels[i])),
      expands: a.expands.map((value, i) => take(value, b.expands[i])),
      branches: a.branches.map((value, i) => take(value, b.branches[i])),
    };
  }
}

export function cloneGenome(genome: Genome): Genome {
  return {
    resolution: genome.resolution,
    exit: genome.exit,
    depths: [...genome.depths],
    kernels: [...genome.kernels],
    expands: [...genome.expands],
    branches: [...genome.branches],
  };
}
