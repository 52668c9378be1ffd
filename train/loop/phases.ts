// The training phases of extended progressive shrinking (ofav2.md s3), as data: the loop takes a phase
// description (allowed values, subnets per step, LR schedule, teacher) instead of hard-coding one.
import { OfaError } from '../../lib/errors.ts';
import { fullDimensions, getPreset, getVariant, type Dimensions } from '../../space/index.ts';

export const PHASE_NAMES = [
  'full',
  'kernel',
  'level-1',
  'level-2',
  'height-1',
  'height-2',
  'height-3',
  'height-4',
  'depth-1',
  'depth-2',
  'expand-1',
  'expand-2',
] as const;
export type PhaseName = (typeof PHASE_NAMES)[number];

export type TeacherKind = 'none' | 'previous-phase' | 'full-phase';

export interface Phase {
  name: PhaseName;
  /** Allowed values per dimension; options not yet unlocked stay at their maximum. */
  dimensions: Dimensions;
  /** Epochs at the paper's scale (Tiny ImageNet, batch 64); presets may scale them keeping the ratios. */
  epochs: number;
  baseLr: number;
  warmupEpochs: number;
  /** Subnets sampled per step, their gradients accumulated before one update. */
  subnetsPerStep: number;
  /** For the full phase of EE variants, every exit is trained with weights alpha (ofav2.md s3). */
  allExits: boolean;
  /** Dropout before the classifier (ofav2.md s3: 0.2 in the full phase, 0.1 after it). */
  dropout: number;
}

/**
 * A phase's epochs and warm-up at `scale` times the paper's (ofav2.md s3; `ofa train eps --scale S`):
 * epochs rounded, at least 1; warm-up epochs kept fractional (they run as whole steps).
 */
export function scaledEpochs(phase: Phase, scale: number): { epochs: number; warmupEpochs: number } {
  if (!(Number.isFinite(scale) && scale > 0 && scale <= 1)) {
    throw new OfaError('E_SCALE', `scale ${scale} is not allowed; allowed: a number in (0, 1] (the share of the paper's epochs)`);
  }
  return { epochs: Math.max(1, Math.round(phase.epochs * scale)), warmupEpochs: phase.warmupEpochs * scale };
}

interface PhaseRow {
  name: PhaseName;
  epochs: number;
  baseLr: number;
  warmupEpochs: number;
  subnetsPerStep: number;
  needs?: 'ee' | 'p';
  /** Dimensions unlocked by this phase (added to those of the phases before it). */
  unlock: (d: Dimensions) => Partial<Dimensions>;
}

// ofav2.md s3, table "Training: extended progressive shrinking".
const ROWS: PhaseRow[] = [
  { name: 'full', epochs: 180, baseLr: 0.08, warmupEpochs: 0, subnetsPerStep: 1, unlock: () => ({}) },
  { name: 'kernel', epochs: 120, baseLr: 0.03, warmupEpochs: 5, subnetsPerStep: 1, unlock: (d) => ({ kernelSizes: d.kernelSizes }) },
  { name: 'level-1', epochs: 25, baseLr: 2.5e-3, warmupEpochs: 0, subnetsPerStep: 2, needs: 'p', unlock: () => ({ branchMasks: [3, 5, 6, 7] }) },
  { name: 'level-2', epochs: 120, baseLr: 7.5e-3, warmupEpochs: 5, subnetsPerStep: 2, needs: 'p', unlock: (d) => ({ branchMasks: d.branchMasks }) },
  { name: 'height-1', epochs: 25, baseLr: 1.875e-3, warmupEpochs: 0, subnetsPerStep: 2, needs: 'ee', unlock: () => ({ exits: [4, 5] }) },
  { name: 'height-2', epochs: 60, baseLr: 3.75e-3, warmupEpochs: 5, subnetsPerStep: 2, needs: 'ee', unlock: () => ({ exits: [3, 4, 5] }) },
  { name: 'height-3', epochs: 90, baseLr: 7.5e-3, warmupEpochs: 5, subnetsPerStep: 2, needs: 'ee', unlock: () => ({ exits: [2, 3, 4, 5] }) },
  { name: 'height-4', epochs: 120, baseLr: 1.5e-2, warmupEpochs: 5, subnetsPerStep: 2, needs: 'ee', unlock: (d) => ({ exits: d.exits }) },
  { name: 'depth-1', epochs: 25, baseLr: 2.5e-3, warmupEpochs: 0, subnetsPerStep: 2, unlock: () => ({ depths: [3, 4] }) },
  { name: 'depth-2', epochs: 120, baseLr: 7.5e-3, warmupEpochs: 5, subnetsPerStep: 2, unlock: (d) => ({ depths: d.depths }) },
  { name: 'expand-1', epochs: 25, baseLr: 2.5e-3, warmupEpochs: 0, subnetsPerStep: 4, unlock: () => ({ expandRatios: [4, 6] }) },
  { name: 'expand-2', epochs: 120, baseLr: 7.5e-3, warmupEpochs: 5, subnetsPerStep: 4, unlock: (d) => ({ expandRatios: d.expandRatios }) },
];

/** The phases that apply to a variant, in training order. */
export function phasesFor(presetName: string, variantName: string): Phase[] {
  const preset = getPreset(presetName);
  const variant = getVariant(variantName);
  const full = fullDimensions(preset, variant);
  const max = <T>(values: readonly T[]) => [values[values.length - 1]];
  // Before any unlock, every dimension is at its maximum; resolution is elastic from the start (OFA).
  let current: Dimensions = {
    resolutions: full.resolutions,
    exits: max(full.exits),
    depths: max(full.depths),
    kernelSizes: max(full.kernelSizes),
    expandRatios: max(full.expandRatios),
    branchMasks: max(full.branchMasks),
  };
  const phases: Phase[] = [];
  for (const row of ROWS) {
    if (row.needs === 'ee' && !variant.earlyExits) continue;
    if (row.needs === 'p' && !variant.parallelBlocks) continue;
    current = { ...current, ...row.unlock(full) };
    phases.push({
      name: row.name,
      dimensions: current,
      epochs: row.epochs,
      baseLr: row.baseLr,
      warmupEpochs: row.warmupEpochs,
      subnetsPerStep: row.subnetsPerStep,
      allExits: row.name === 'full' && variant.earlyExits,
      dropout: row.name === 'full' ? 0.2 : 0.1,
    });
  }
  return phases;
}

export function getPhase(presetName: string, variantName: string, phaseName: string): Phase {
  const phases = phasesFor(presetName, variantName);
  const phase = phases.find((p) => p.name === phaseName);
  if (!phase) {
    throw new OfaError('E_PHASE', `phase ${JSON.stringify(phaseName)} does not apply to variant ${variantName}; allowed: ${phases.map((p) => p.name).join(', ')}`);
  }
  return phase;
}
