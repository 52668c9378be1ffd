// Where a subnet's weights come from: a trained supernet checkpoint (train/checkpoint/, pipeline.md
// "Supernet checkpoint") or seeded random initialisation (issue 5: `--random-init --seed S`).
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { OfaError } from '../lib/errors.ts';
import { latestCheckpoint, loadCheckpoint, splitTensors, WEIGHTS_FILE, type TensorMap } from '../train/checkpoint/index.ts';
import type { StaticSubnet } from '../train/static.ts';
import { Supernet } from '../train/supernet/index.ts';
import type { SubnetConfig } from '../space/index.ts';
import { randomStaticSubnet } from './random.ts';
import { randomInitSource } from './subnet.ts';

export interface WeightSource {
  /** The `supernet_checksum` metadata: the checkpoint's weights sha256, or `random-init:seed=S`. */
  checksum: string;
  preset?: string;
  variant?: string;
  /** Throws a clear OfaError when `config` does not fit these weights (another preset or variant). */
  check(config: SubnetConfig): void;
  subnet(config: SubnetConfig): StaticSubnet;
  dispose(): void;
}

export function randomInitWeights(seed: number): WeightSource {
  // Random weights fit any valid config: the config itself defines the network.
  return { checksum: randomInitSource(seed), check: () => {}, subnet: (config) => randomStaticSubnet(config, seed), dispose: () => {} };
}

function assignAll(kind: string, dir: string, targets: Map<string, tf.Variable>, tensors: TensorMap): void {
  const missing = [...targets.keys()].filter((name) => !tensors.has(name));
  const extra = [...tensors.keys()].filter((name) => !targets.has(name));
  if (missing.length > 0 || extra.length > 0) {
    const show = (names: string[]) => names.slice(0, 5).join(', ') + (names.length > 5 ? `, ... (${names.length})` : '');
    throw new OfaError(
      'E_CHECKPOINT_MISMATCH',
      `checkpoint ${JSON.stringify(dir)}: its ${kind} do not match the supernet of its manifest` +
        (missing.length ? `; missing: ${show(missing)}` : '') +
        (extra.length ? `; unexpected: ${show(extra)}` : ''),
      { hint: 'the checkpoint was written by another version of the supernet', kind: 'failure' },
    );
  }
  for (const [name, variable] of targets) {
    const tensor = tensors.get(name)!;
    if (tensor.shape.join('x') !== variable.shape.join('x')) {
      throw new OfaError('E_CHECKPOINT_MISMATCH', `checkpoint ${JSON.stringify(dir)}: ${kind.slice(0, -1)} ${name} has shape [${tensor.shape.join(', ')}]; the supernet expects [${variable.shape.join(', ')}]`, {
        kind: 'failure',
      });
    }
    variable.assign(tf.tensor(tensor.data, tensor.shape, 'float32'));
  }
}

/** Loads a checkpoint (checksums verified by train/checkpoint) into a Supernet that extracts subnets. */
export function checkpointWeights(dir: string): WeightSource {
  // A run folder (with latest.json) stands for its latest complete checkpoint.
  const checkpoint = loadCheckpoint(latestCheckpoint(dir) ?? dir);
  const { manifest } = checkpoint;
  const supernet = new Supernet({ preset: manifest.preset, variant: manifest.variant, seed: manifest.seed });
  try {
    const { parameters, buffers } = splitTensors(checkpoint.tensors);
    tf.tidy(() => {
      assignAll('parameters', checkpoint.dir, supernet.parameters, parameters);
      assignAll('buffers', checkpoint.dir, supernet.buffers, buffers);
    });
  } catch (error) {
    supernet.dispose();
    throw error;
  }
  const check = (config: SubnetConfig) => {
    if (config.preset !== manifest.preset || config.variant !== manifest.variant) {
      throw new OfaError(
        'E_CONFIG_SUPERNET',
        `subnet config of preset ${JSON.stringify(config.preset)} variant ${JSON.stringify(config.variant)} does not fit the checkpoint ${JSON.stringify(checkpoint.dir)}, a supernet of preset ${JSON.stringify(manifest.preset)} variant ${JSON.stringify(manifest.variant)}`,
        { hint: "export configs of the checkpoint's preset and variant, or choose another checkpoint" },
      );
    }
  };
  return {
    checksum: `sha256:${manifest.files[WEIGHTS_FILE]?.sha256 ?? 'unknown'}`,
    preset: manifest.preset,
    variant: manifest.variant,
    check,
    subnet: (config) => {
      check(config);
      return supernet.extractSubnet(config);
    },
    dispose: () => supernet.dispose(),
  };
}
