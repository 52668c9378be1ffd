// Where a subnet's weights come from: a trained supernet (through train/'s one boundary, openSupernet)
// or seeded random initialisation (issue 5: `--random-init --seed S`).
import type { BackendPreference, CheckpointChoice } from '../train/index.ts';
import type { SubnetConfig } from '../space/index.ts';
import type { StaticSubnet } from '../subnet/index.ts';
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

/** A trained supernet's weights (`dir`: a checkpoint, a run folder or an EPS folder). */
export async function checkpointWeights(dir: string, options: { checkpoint?: CheckpointChoice; backend?: BackendPreference } = {}): Promise<WeightSource> {
  // Loaded on demand: profile/ imports this stage for random-weight models and does not load the trainer.
  const { openSupernet } = await import('../train/index.ts');
  // The backend is process-wide: a caller that already runs on one (tests on cpu) names it.
  const supernet = await openSupernet(dir, { checkpoint: options.checkpoint, backend: options.backend });
  return {
    checksum: supernet.facts.checksum,
    preset: supernet.facts.preset,
    variant: supernet.facts.variant,
    check: (config) => void supernet.check(config),
    subnet: (config) => supernet.subnet(config),
    dispose: () => supernet.close(),
  };
}
