// Per-epoch validation (ofav2.md s3, the paper's code): a grid of uniform subnets from the min and max
// of every dimension the phase has unlocked (the whole kernel list in the kernel phase), at most
// `maxSubnets` of it (a fixed seeded draw, so that epochs are scored on the same subnets), each
// evaluated after BN recalibration on the whole held-out split. Their mean top-1 picks the phase's
// best checkpoint. The EE full phase scores the beta-weighted exit ensemble of the maximal network,
// averaged over the minimum and maximum resolution.
import { createRng } from '../../lib/rng.ts';
import { configId, sampleMax, sampleUniform, type SubnetConfig } from '../../space/index.ts';
import type { DatasetSpec, ImageSet } from '../data/index.ts';
import { evaluateSubnets, type EvalResult, type JobRunner } from './evaluate.ts';
import type { Phase } from './phases.ts';

export const DEFAULT_VALIDATION_SUBNETS = 8;

export interface ValidationPlan {
  subnets: SubnetConfig[];
  /** Score the exit ensemble (EE full phase). */
  ensemble: boolean;
}

const ends = <T>(values: readonly T[]): T[] => (values.length > 1 ? [values[0], values[values.length - 1]] : [...values]);

export function validationPlan(preset: string, variant: string, phase: Phase, options: { maxSubnets?: number; seed?: number } = {}): ValidationPlan {
  const maxSubnets = options.maxSubnets ?? DEFAULT_VALIDATION_SUBNETS;
  const d = phase.dimensions;
  const space = { preset, variant, dimensions: d };
  const resolutions = ends(d.resolutions);
  if (phase.name === 'full') {
    const max = sampleMax(space);
    return { subnets: resolutions.map((resolution) => ({ ...max, resolution })), ensemble: phase.allExits };
  }
  const kernels = phase.name === 'kernel' ? [...d.kernelSizes] : ends(d.kernelSizes);
  const grid: SubnetConfig[] = [];
  const seen = new Set<string>();
  for (const resolution of resolutions)
    for (const exit of ends(d.exits))
      for (const depth of ends(d.depths))
        for (const kernel of kernels)
          for (const expand of ends(d.expandRatios))
            for (const branches of ends(d.branchMasks)) {
              const config = sampleUniform(space, { resolution, exit, depth, kernel, expand, branches });
              const id = configId(config);
              if (!seen.has(id)) {
                seen.add(id);
                grid.push(config);
              }
            }
  if (grid.length <= maxSubnets) return { subnets: grid, ensemble: false };
  // A fixed draw: the first (all-minimum) and last (all-maximum) grid points, then seeded picks.
  const rng = createRng(options.seed ?? 0);
  const chosen = [grid[0], grid[grid.length - 1]];
  const rest = grid.slice(1, -1);
  while (chosen.length < maxSubnets && rest.length > 0) chosen.push(rest.splice(Math.floor(rng.next() * rest.length), 1)[0]);
  return { subnets: chosen, ensemble: false };
}

export interface Validation {
  results: EvalResult[];
  /** Mean top-1 of the plan's subnets. */
  score: number;
  seconds: number;
}

export async function validate(run: JobRunner, plan: ValidationPlan, data: { calibration: ImageSet; set: ImageSet; spec: DatasetSpec }, options: { recalibrationImages?: number; maxImages?: number; seed?: number } = {}): Promise<Validation> {
  const started = performance.now();
  const results = await evaluateSubnets(run, plan.subnets, data.calibration, data.set, data.spec, { ...options, ensemble: plan.ensemble });
  const score = results.reduce((total, r) => total + r.top1, 0) / Math.max(1, results.length);
  return { results, score, seconds: (performance.now() - started) / 1000 };
}
