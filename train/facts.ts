// What a trained supernet is, read from its manifest alone (no weights read, no engine loaded): the
// second public entry of train/, for the stages that must stay light (the search checks that its
// accuracy predictor was measured on the --checkpoint it is given). openSupernet() reads the same facts.
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { OfaError } from '../lib/errors.ts';
import { readEpsState } from './eps/state.ts';
import { bestCheckpoint, latestCheckpoint, readCheckpointManifest, MANIFEST_FILE, WEIGHTS_FILE, type CheckpointManifest } from './checkpoint/checkpoint.ts';

/** Which checkpoint of a run folder: its best (per-epoch validation), its latest, or the default. */
export type CheckpointChoice = 'best' | 'latest' | 'default';

/** The manifest's identity fields, plus the folder opened and the weights' checksum. */
export interface SupernetFacts extends Pick<CheckpointManifest, 'preset' | 'variant' | 'phase' | 'epoch' | 'step' | 'seed'> {
  /** The checkpoint folder that was opened. */
  dir: string;
  /** `sha256:<hex>` of the weights file: the `supernet_checksum` of every export. */
  checksum: string;
}

export function factsOf(dir: string, manifest: CheckpointManifest): SupernetFacts {
  return {
    dir,
    preset: manifest.preset,
    variant: manifest.variant,
    phase: manifest.phase,
    epoch: manifest.epoch,
    step: manifest.step,
    seed: manifest.seed,
    checksum: `sha256:${manifest.files[WEIGHTS_FILE].sha256}`,
  };
}

/**
 * The facts of the checkpoint a folder stands for (resolveCheckpointDir), from its manifest: the
 * checksum is the one the manifest records (openSupernet verifies the weights against it).
 */
export function readSupernetFacts(dir: string, options: { checkpoint?: CheckpointChoice } = {}): SupernetFacts {
  const folder = resolveCheckpointDir(dir, options.checkpoint);
  return factsOf(folder, readCheckpointManifest(folder));
}

function readPointer(path: string): boolean {
  return existsSync(path);
}

/**
 * The checkpoint folder a user-given folder stands for: a checkpoint itself; a phase (run) folder's best
 * checkpoint, else its latest; an EPS schedule folder's last finished phase (eps-state.json).
 */
export function resolveCheckpointDir(dir: string, choice: CheckpointChoice = 'default'): string {
  const root = resolve(dir);
  if (!existsSync(root)) {
    throw new OfaError('E_CHECKPOINT', `checkpoint ${JSON.stringify(dir)} does not exist`, { hint: 'pass a checkpoint folder, a training run folder, or an `ofa train eps` folder' });
  }
  if (readPointer(join(root, MANIFEST_FILE)) && choice === 'default') return root;
  const statePath = join(root, 'eps-state.json');
  if (readPointer(statePath)) {
    const state = readEpsState(statePath);
    const done = state.phases.filter((p) => p.status === 'done');
    if (done.length === 0) throw new OfaError('E_CHECKPOINT', `EPS folder ${JSON.stringify(dir)} has no finished phase yet`, { hint: 'wait for its first phase, or pass a phase folder' });
    return resolveCheckpointDir(join(root, done[done.length - 1].dir), choice === 'default' ? 'best' : choice);
  }
  const best = choice !== 'latest' ? bestCheckpoint(root) : undefined;
  if (best) return best;
  if (choice === 'best') throw new OfaError('E_CHECKPOINT', `run folder ${JSON.stringify(dir)} has no best checkpoint (best.json)`, { hint: 'use --checkpoint-choice latest, or a run with per-epoch validation' });
  const latest = latestCheckpoint(root);
  if (latest) return latest;
  if (readPointer(join(root, MANIFEST_FILE))) return root;
  throw new OfaError('E_CHECKPOINT', `${JSON.stringify(dir)} holds no checkpoint (no manifest.json, best.json or latest.json)`, {
    hint: 'pass a checkpoint folder (manifest.json + weights.safetensors), a training run folder, or an `ofa train eps` folder',
  });
}

