// Candidates of a search: a genome with its config, id and the two predicted objectives, cached by id
// (evolution revisits subnets often). Latency is predicted first (the pure table predictor,
// profile/predict.ts); the accuracy predictor runs only on subnets within the latency limit, in batches.
import { configId, subnetCost, type SubnetConfig } from '../space/index.ts';
import type { Genome, GenomeSpace } from './genome.ts';

export interface Candidate {
  /** The genome's active genes (GenomeSpace.activeKey): one key per network, cheaper than its config id. */
  key: string;
  genome: Genome;
  config: SubnetConfig;
  latencyMs: number;
  /** Predicted top-1; undefined for a candidate over the latency limit (never predicted). */
  top1?: number;
}

/** What the search needs of a latency predictor (profile/predict.ts LatencyPredictor). */
export interface LatencyModel {
  predict(config: SubnetConfig): { latencyMs: number };
}

/** What the search needs of an accuracy predictor (search/predictor.ts AccuracyPredictor). */
export interface AccuracyModel {
  /** The space it was fitted for, when it knows (a search of another space is refused). */
  preset?: string;
  variant?: string;
  predict(configs: readonly SubnetConfig[]): ArrayLike<number>;
}

export class CandidatePool {
  private readonly byKey = new Map<string, Candidate>();
  latencyPredictions = 0;
  accuracyPredictions = 0;

  constructor(
    readonly genomes: GenomeSpace,
    readonly latency: LatencyModel,
    readonly accuracy: AccuracyModel,
  ) {}

  /** The candidate of a genome: its latency predicted (or cached); its accuracy still to come. */
  latencyOf(genome: Genome): Candidate {
    const key = this.genomes.activeKey(genome);
    let candidate = this.byKey.get(key);
    if (!candidate) {
      const config = this.genomes.toConfig(genome);
      this.latencyPredictions++;
      candidate = { key, genome, config, latencyMs: this.latency.predict(config).latencyMs };
      this.byKey.set(key, candidate);
    }
    return candidate;
  }

  /** Predicts the accuracy of every candidate that has none yet, in one batch. */
  score(candidates: readonly Candidate[]): void {
    const missing = [...new Set(candidates.filter((c) => c.top1 === undefined))];
    if (missing.length === 0) return;
    const top1 = this.accuracy.predict(missing.map((c) => c.config));
    this.accuracyPredictions += missing.length;
    missing.forEach((c, i) => (c.top1 = top1[i]));
  }

  /** Every candidate scored so far. */
  scored(): Candidate[] {
    return [...this.byKey.values()].filter((c) => c.top1 !== undefined);
  }
}

/**
 * The non-dominated candidates (higher top-1, lower latency) among `candidates`, by ascending latency:
 * each has a higher top-1 than every faster one. Ties broken by key, so the front is deterministic.
 */
export function paretoFront(candidates: readonly Candidate[]): Candidate[] {
  const sorted = [...candidates].sort((a, b) => a.latencyMs - b.latencyMs || (b.top1 as number) - (a.top1 as number) || (a.key < b.key ? -1 : 1));
  const front: Candidate[] = [];
  let best = -Infinity;
  for (const candidate of sorted) {
    if ((candidate.top1 as number) > best) {
      front.push(candidate);
      best = candidate.top1 as number;
    }
  }
  return front;
}

/** The best predicted top-1 within a budget (the front's last point at or under it). */
export function bestWithin(front: readonly Candidate[], budgetMs: number): Candidate | undefined {
  let best: Candidate | undefined;
  for (const candidate of front) if (candidate.latencyMs <= budgetMs && (!best || (candidate.top1 as number) > (best.top1 as number))) best = candidate;
  return best;
}

export function describeCandidate(candidate: Candidate): { id: string; config: SubnetConfig; predictedTop1: number; predictedLatencyMs: number; macs: number; params: number } {
  const cost = subnetCost(candidate.config);
  return { id: configId(candidate.config), config: candidate.config, predictedTop1: candidate.top1 as number, predictedLatencyMs: candidate.latencyMs, macs: cost.macs, params: cost.params };
}
