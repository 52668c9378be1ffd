// The one boundary out of the elastic world (style.md: OFA's get_active_subnet): a trained supernet is
// opened from a folder, and what leaves it is manifest facts, static subnets and evaluations. Export,
// eval, the search's accuracy data set and deploy all come through here; nothing downstream builds a
// Supernet or knows the checkpoint layout.
import { OfaError } from '../lib/errors.ts';
import { validateConfig, type SubnetConfig } from '../space/index.ts';
import { ensureBackend, type StaticSubnet } from '../subnet/index.ts';
import { initBackend, type BackendPreference } from './backend/index.ts';
import { loadCheckpoint, supernetWeights, type Checkpoint, type SupernetWeights } from './checkpoint/index.ts';
import { factsOf, resolveCheckpointDir, type CheckpointChoice, type SupernetFacts } from './facts.ts';

export { resolveCheckpointDir, type CheckpointChoice, type SupernetFacts };
import type { DatasetSpec, ImageSet } from './data/index.ts';
import { assignVariables, evaluateSubnet, evaluateSubnets, recalibrate, type EvalResult } from './loop/evaluate.ts';
import { ParallelTrainer } from './parallel/index.ts';
import { Supernet } from './supernet/index.ts';


export interface OpenSupernetOptions {
  /** 'default': a checkpoint folder as is; a phase folder's best, else its latest; an EPS folder's last phase. */
  checkpoint?: CheckpointChoice;
  backend?: BackendPreference;
  /** Print the backend line (default false). */
  log?: boolean;
}

/** Images to evaluate on and to recalibrate BN with (ofav2.md s3). */
export interface EvalData {
  calibration: ImageSet;
  set: ImageSet;
  spec: DatasetSpec;
}

export interface EvaluateOptions {
  /** Recompute BN statistics for the subnet first (default true; ofav2.md s3). */
  recalibrateBn?: boolean;
  /** Images for recalibration (default 2000). */
  recalibrationImages?: number;
  /** Images of `set` to use (default all). */
  maxImages?: number;
  seed?: number;
}

export interface OpenedSupernet {
  readonly facts: SupernetFacts;
  /** The config, validated and checked to be of this supernet's preset and variant (E_CONFIG_SUPERNET). */
  check(config: SubnetConfig): SubnetConfig;
  /**
   * The static weights of one subnet. With `recalibrate`, its BN statistics are first recomputed on
   * those images (a deployed model is the model whose accuracy is reported); otherwise the supernet's
   * running statistics are used.
   */
  subnet(config: SubnetConfig, options?: { recalibrate?: { images: ImageSet; spec: DatasetSpec; count?: number; seed?: number } }): StaticSubnet;
  /** Top-1 and loss of one subnet; the supernet's own BN statistics are restored afterwards. */
  evaluate(config: SubnetConfig, data: EvalData, options?: EvaluateOptions): EvalResult;
  /**
   * evaluate() for many subnets on worker threads (both cores by default): each worker recalibrates
   * and scores whole subnets, two at a time on two workers. Results in config order.
   */
  evaluateMany(configs: readonly SubnetConfig[], data: EvalData, options?: EvaluateOptions & { workers?: number; returnLogits?: boolean }): Promise<(EvalResult & { logits?: Float32Array })[]>;
  /** The parameters and buffers (plain arrays), e.g. for training workers. */
  weights(): SupernetWeights;
  close(): Promise<void>;
}

/** The shapes of a supernet's variables, to check a checkpoint against. */
export function supernetShapes(net: Supernet): { parameters: Map<string, number[]>; buffers: Map<string, number[]> } {
  return {
    parameters: new Map([...net.parameters].map(([name, v]) => [name, [...v.shape]])),
    buffers: new Map([...net.buffers].map(([name, v]) => [name, [...v.shape]])),
  };
}

/** Reads and checks a checkpoint's weights for a supernet of its preset and variant (no backend needed). */
export function readSupernetCheckpoint(dir: string, options: { expectPreset?: string; expectVariant?: string; choice?: CheckpointChoice } = {}): { checkpoint: Checkpoint; weights: SupernetWeights } {
  const checkpoint = loadCheckpoint(resolveCheckpointDir(dir, options.choice), { expectPreset: options.expectPreset, expectVariant: options.expectVariant });
  const shapes = shapesOf(checkpoint.manifest.preset, checkpoint.manifest.variant);
  return { checkpoint, weights: supernetWeights(checkpoint, shapes) };
}

const shapeCache = new Map<string, { parameters: Map<string, number[]>; buffers: Map<string, number[]> }>();

/** Variable shapes of a preset/variant supernet (built once on the cpu backend's engine-free path). */
export function shapesOf(preset: string, variant: string): { parameters: Map<string, number[]>; buffers: Map<string, number[]> } {
  const key = `${preset}/${variant}`;
  let shapes = shapeCache.get(key);
  if (!shapes) {
    // Building a Supernet needs a tfjs backend; a process that has not chosen one gets cpu (subnet/).
    ensureBackend();
    const net = new Supernet({ preset, variant, seed: 0 });
    try {
      shapes = supernetShapes(net);
    } finally {
      net.dispose();
    }
    shapeCache.set(key, shapes);
  }
  return shapes;
}

/** Opens a trained supernet: `dir` is a checkpoint, a run folder or an EPS folder (resolveCheckpointDir). */
export async function openSupernet(dir: string, options: OpenSupernetOptions = {}): Promise<OpenedSupernet> {
  await initBackend({ prefer: options.backend ?? 'auto', log: options.log ?? false });
  const { checkpoint, weights } = readSupernetCheckpoint(dir, { choice: options.checkpoint });
  const { manifest } = checkpoint;
  const net = new Supernet({ preset: manifest.preset, variant: manifest.variant, seed: manifest.seed });
  assignVariables(net.parameters, weights.parameters);
  assignVariables(net.buffers, weights.buffers);
  const facts: SupernetFacts = factsOf(checkpoint.dir, manifest);
  const check = (config: SubnetConfig): SubnetConfig => {
    const valid = validateConfig(config);
    if (valid.preset !== facts.preset || valid.variant !== facts.variant) {
      throw new OfaError(
        'E_CONFIG_SUPERNET',
        `subnet config of preset ${JSON.stringify(valid.preset)} variant ${JSON.stringify(valid.variant)} does not fit the checkpoint ${JSON.stringify(facts.dir)}, a supernet of preset ${JSON.stringify(facts.preset)} variant ${JSON.stringify(facts.variant)}`,
        { hint: "use configs of the checkpoint's preset and variant, or choose another checkpoint" },
      );
    }
    return valid;
  };
  // BN recalibration changes the running statistics; they are put back after every use.
  const restoreBuffers = () => assignVariables(net.buffers, weights.buffers);
  let pool: { workers: number | undefined; trainer: Promise<ParallelTrainer> } | undefined;
  const workersFor = (workers: number | undefined): Promise<ParallelTrainer> => {
    if (pool && pool.workers === workers) return pool.trainer;
    const previous = pool?.trainer;
    const trainer = (async () => {
      if (previous) await (await previous).close();
      const created = await ParallelTrainer.create({ preset: facts.preset, variant: facts.variant, seed: facts.seed, workers, shards: Math.max(2, workers ?? 2), backend: options.backend });
      created.load({ parameters: weights.parameters, buffers: weights.buffers });
      return created;
    })();
    pool = { workers, trainer };
    return trainer;
  };
  return {
    facts,
    check,
    subnet(config, subnetOptions = {}) {
      const valid = check(config);
      if (!subnetOptions.recalibrate) return net.extractSubnet(valid);
      try {
        const { images, spec, count, seed } = subnetOptions.recalibrate;
        recalibrate(net, valid, images, spec, { recalibrationImages: count, seed });
        return net.extractSubnet(valid);
      } finally {
        restoreBuffers();
      }
    },
    evaluate(config, data, evalOptions = {}) {
      const valid = check(config);
      try {
        return evaluateSubnet(net, valid, data.calibration, data.set, data.spec, {
          recalibrationImages: evalOptions.recalibrateBn === false ? 0 : evalOptions.recalibrationImages,
          maxImages: evalOptions.maxImages,
          seed: evalOptions.seed,
        });
      } finally {
        restoreBuffers();
      }
    },
    async evaluateMany(configs, data, evalOptions = {}) {
      const valid = configs.map(check);
      const trainer = await workersFor(evalOptions.workers);
      return evaluateSubnets((jobs) => trainer.evaluate(jobs), valid, data.calibration, data.set, data.spec, {
        recalibrationImages: evalOptions.recalibrateBn === false ? 0 : evalOptions.recalibrationImages,
        maxImages: evalOptions.maxImages,
        seed: evalOptions.seed,
        returnLogits: evalOptions.returnLogits,
      });
    },
    weights: () => weights,
    close: async () => {
      net.dispose();
      if (pool) await (await pool.trainer).close();
    },
  };
}
