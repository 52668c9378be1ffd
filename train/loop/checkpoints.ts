// Saving a run's state (parameters, BN statistics, momentum, data position, step) and keeping the
// phase's best checkpoint by validation score (ofav2.md s3 `model_best`).
import { join } from 'node:path';
import {
  BUFFER_PREFIX,
  MOMENTUM_PREFIX,
  PARAM_PREFIX,
  bestRecord,
  markBest,
  pruneCheckpoints,
  saveCheckpoint,
  type CheckpointManifestInput,
  type TensorMap,
} from '../checkpoint/index.ts';
import { firstNonFinite } from '../optim/index.ts';

export interface RunState {
  parameters: Map<string, Float32Array>;
  buffers: Map<string, Float32Array>;
  momentum: Map<string, Float32Array>;
}

export class CheckpointWriter {
  constructor(
    private readonly outDir: string,
    private readonly shapes: Map<string, number[]>,
    private readonly keep: number,
  ) {}

  /**
   * Writes `step-NNNNNNN` atomically. Returns the folder, or the name of a tensor holding NaN/Inf (the
   * NaN/Inf guard's second half: nothing non-finite is written over the last good checkpoint).
   */
  save(state: RunState, manifest: CheckpointManifestInput): { dir: string } | { nonFinite: string } {
    const bad = firstNonFinite(state.parameters) ?? firstNonFinite(state.buffers);
    if (bad !== undefined) return { nonFinite: bad };
    const tensors: TensorMap = new Map();
    const add = (values: Map<string, Float32Array>, prefix: string) => {
      for (const [name, data] of values) tensors.set(`${prefix}${name}`, { shape: this.shapes.get(name) ?? [data.length], data });
    };
    add(state.parameters, PARAM_PREFIX);
    add(state.buffers, BUFFER_PREFIX);
    add(state.momentum, MOMENTUM_PREFIX);
    const dir = join(this.outDir, `step-${String(manifest.step).padStart(7, '0')}`);
    saveCheckpoint(dir, { manifest, tensors });
    pruneCheckpoints(this.outDir, this.keep);
    return { dir };
  }

  /** Marks `dir` as the best when its score beats the recorded best (or none is recorded). */
  offerBest(dir: string, score: number, info: { epoch: number; step: number }): boolean {
    const current = this.bestScore();
    if (current !== undefined && !(score > current)) return false;
    markBest(this.outDir, dir, { score, ...info });
    return true;
  }

  bestScore(): number | undefined {
    return bestRecord(this.outDir)?.score;
  }
}
