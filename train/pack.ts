// A shipped supernet (issue 12): the weights of one checkpoint (parameters and BN statistics) with its
// manifest, no optimiser state, in a folder every `--checkpoint` flag accepts. Where it came from (the
// source checkpoint, its phase, its validation) is recorded in the manifest's `extra.packedFrom`.
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { BUFFER_PREFIX, PARAM_PREFIX, loadCheckpoint, saveCheckpoint, type CheckpointManifest, type TensorMap } from './checkpoint/index.ts';
import { OfaError } from '../lib/errors.ts';
import { resolveCheckpointDir, type CheckpointChoice } from './open.ts';

/** The checkpoint folder inside a packed supernet folder (which holds it and latest.json). */
export const PACKED_CHECKPOINT = 'checkpoint';

export function packSupernet(source: string, outDir: string, options: { checkpoint?: CheckpointChoice; force?: boolean } = {}): CheckpointManifest {
  if (existsSync(outDir) && !options.force) {
    throw new OfaError('E_RUN_EXISTS', `--out ${JSON.stringify(outDir)} already exists`, { hint: 'choose another folder, or pass --force to replace it' });
  }
  // Read (and verify) the source before anything is written: a bad source leaves no output folder.
  const checkpoint = loadCheckpoint(resolveCheckpointDir(source, options.checkpoint));
  if (options.force) rmSync(outDir, { recursive: true, force: true });
  const tensors: TensorMap = new Map([...checkpoint.tensors].filter(([name]) => name.startsWith(PARAM_PREFIX) || name.startsWith(BUFFER_PREFIX)));
  const { manifest } = checkpoint;
  return saveCheckpoint(join(outDir, PACKED_CHECKPOINT), {
    manifest: {
      preset: manifest.preset,
      variant: manifest.variant,
      phase: manifest.phase,
      epoch: manifest.epoch,
      step: manifest.step,
      seed: manifest.seed,
      dataState: null,
      optimizer: { name: 'none', hyperparameters: {}, state: {} },
      metrics: manifest.metrics,
      extra: { packedFrom: { checkpoint: checkpoint.dir, sha256: manifest.files['weights.safetensors'].sha256, createdAt: manifest.createdAt } },
    },
    tensors,
  });
}
