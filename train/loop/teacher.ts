// The teacher of a phase (ofav2.md s3). PET: the best checkpoint of the phase before, set to its maximal
// configuration (all exits for EE variants), its BN statistics recalibrated, frozen. The baseline: the
// full phase's best the same way. Both run in the workers without gradients, in training mode as the
// paper's code runs them (BN on the batch's statistics); PET with dropout 0.1, the baseline with 0.
import * as tf from '@tensorflow/tfjs-core';
import { sampleMax, type SubnetConfig } from '../../space/index.ts';
import { readSupernetCheckpoint } from '../open.ts';
import type { DatasetSpec, ImageSet } from '../data/index.ts';
import { Supernet } from '../supernet/index.ts';
import { assignVariables, recalibrate } from './evaluate.ts';

/** How the teacher runs: `pet` (dropout 0.1) or `baseline` (dropout 0), both in training mode. */
export type TeacherMode = 'pet' | 'baseline';

export const TEACHER_DROPOUT: Record<TeacherMode, number> = { pet: 0.1, baseline: 0 };

export interface Teacher {
  /** The checkpoint folder the teacher came from. */
  checkpoint: string;
  phase: string;
  config: SubnetConfig;
  ensemble: boolean;
  dropoutRate: number;
  parameters: Map<string, Float32Array>;
  /** BN statistics recalibrated for `config` (all exits for EE). */
  buffers: Map<string, Float32Array>;
}

export function prepareTeacher(
  dir: string,
  options: { preset: string; variant: string; mode: TeacherMode; calibration: ImageSet; spec: DatasetSpec; recalibrationImages?: number; seed?: number },
): Teacher {
  // A phase folder stands for its best checkpoint (per-epoch validation), else its latest.
  const { checkpoint, weights } = readSupernetCheckpoint(dir, { expectPreset: options.preset, expectVariant: options.variant });
  const net = new Supernet({ preset: options.preset, variant: options.variant, seed: checkpoint.manifest.seed });
  try {
    assignVariables(net.parameters, weights.parameters);
    assignVariables(net.buffers, weights.buffers);
    const max = sampleMax({ preset: options.preset, variant: options.variant });
    const ensemble = net.variant.earlyExits;
    recalibrate(net, max, options.calibration, options.spec, { recalibrationImages: options.recalibrationImages, seed: options.seed, allExits: ensemble });
    const read = (variables: Map<string, tf.Variable>) => new Map([...variables].map(([name, v]) => [name, Float32Array.from(v.dataSync() as Float32Array)]));
    return {
      checkpoint: checkpoint.dir,
      phase: checkpoint.manifest.phase,
      config: max,
      ensemble,
      dropoutRate: TEACHER_DROPOUT[options.mode],
      parameters: read(net.parameters),
      buffers: read(net.buffers),
    };
  } finally {
    net.dispose();
  }
}
