// The search per device (issue 13 item 3; ofav2.md s4): latency from the device's table and calibration
// (the pure predictor of profile/predict.ts), accuracy from the accuracy predictor; one NSGA-II run per
// device gives the front of predicted top-1 against predicted latency up to the device's largest budget,
// and each budget's pick is read off it (or, as the baseline, OFA's evolution runs once per budget).
// Before any search, every budget is checked against the smallest latency a subnet reaches on the device.
import { OfaError } from '../lib/errors.ts';
import { createRng } from '../lib/rng.ts';
import { STAGE_COUNT, configId, type SpaceRef, type SubnetConfig } from '../space/index.ts';
import { CandidatePool, bestWithin, describeCandidate, paretoFront, type AccuracyModel, type Candidate, type LatencyModel } from './candidates.ts';
import { EVOLUTION_DEFAULTS, NSGA2_DEFAULTS, evolution, nsga2, type EvolutionSettings, type Nsga2Settings, type SearchProgress } from './evolve.ts';
import { GenomeSpace, cloneGenome, type Genome } from './genome.ts';

export const SEARCH_ALGORITHMS = ['nsga2', 'evolution'] as const;
export type SearchAlgorithm = (typeof SEARCH_ALGORITHMS)[number];

export interface SearchDevice {
  name: string;
  latency: LatencyModel;
  /** Ascending or not; each must be at least the smallest reachable latency. */
  budgetsMs: readonly number[];
}

export interface SearchOptions {
  algorithm?: SearchAlgorithm;
  seed?: number;
  /** NSGA-II settings (population, generations, ...); defaults NSGA2_DEFAULTS. */
  nsga2?: Partial<Nsga2Settings>;
  /** OFA evolution settings; defaults EVOLUTION_DEFAULTS (ofav2.md s4). */
  evolution?: Partial<EvolutionSettings>;
  onProgress?: (device: string, progress: SearchProgress & { budgetMs?: number }) => void;
}

export interface PickRecord {
  budgetMs: number;
  id: string;
  config: SubnetConfig;
  predictedTop1: number;
  predictedLatencyMs: number;
  macs: number;
  params: number;
}

export interface DeviceSearchResult {
  device: string;
  algorithm: SearchAlgorithm;
  /** The smallest predicted latency any subnet reaches, and that subnet. */
  smallest: { id: string; latencyMs: number };
  /** Wall-clock seconds: all budgets of the device, the smallest-latency check included. */
  seconds: number;
  /** The process's CPU seconds over the same span (on a shared host, wall-clock time includes waiting). */
  cpuSeconds: number;
  /** Of `seconds`, finding the smallest subnet and checking the budgets. */
  prepareSeconds: number;
  latencyPredictions: number;
  accuracyPredictions: number;
  picks: PickRecord[];
  /** The front of predicted top-1 against predicted latency up to the largest budget, by latency. */
  front: Omit<PickRecord, 'budgetMs'>[];
}

/**
 * The subnet of least predicted latency. A lookup-table prediction is a sum over blocks (plus per-block,
 * per-MAC and per-parameter terms, all additive: profile/predictor.ts), and a layer's block depends only
 * on its own choices, its position, the stage's depth and the resolution; so per resolution and exit,
 * each layer's cheapest choice and then each stage's cheapest depth can be found one at a time, and
 * their combination is the exact minimum for an additive predictor (a few thousand predictions).
 */
export function smallestSubnet(pool: CandidatePool): Candidate {
  const { dims, earlyExits } = pool.genomes;
  const layerChoices: [number, number, number][] = [];
  for (const kernel of dims.kernelSizes) for (const expand of dims.expandRatios) for (const branches of dims.branchMasks) layerChoices.push([kernel, expand, branches]);
  const latency = (genome: Genome) => pool.latencyOf(genome).latencyMs;
  let best: Candidate | undefined;
  for (const resolution of dims.resolutions) {
    for (const exit of dims.exits) {
      const genome = pool.genomes.minimal();
      genome.resolution = resolution;
      genome.exit = exit;
      const stages = earlyExits ? exit : STAGE_COUNT;
      for (let s = 0; s < stages; s++) {
        let bestStage: { latencyMs: number; genome: Genome } | undefined;
        for (const depth of dims.depths) {
          const trial = cloneGenome(genome);
          trial.depths[s] = depth;
          for (let p = 0; p < depth; p++) {
            const at = s * 4 + p;
            let bestChoice: { latencyMs: number; choice: [number, number, number] } | undefined;
            for (const choice of layerChoices) {
              [trial.kernels[at], trial.expands[at], trial.branches[at]] = choice;
              const ms = latency(trial);
              if (!bestChoice || ms < bestChoice.latencyMs) bestChoice = { latencyMs: ms, choice };
            }
            [trial.kernels[at], trial.expands[at], trial.branches[at]] = bestChoice!.choice;
          }
          const ms = latency(trial);
          if (!bestStage || ms < bestStage.latencyMs) bestStage = { latencyMs: ms, genome: trial };
        }
        Object.assign(genome, cloneGenome(bestStage!.genome));
      }
      const candidate = pool.latencyOf(genome);
      if (!best || candidate.latencyMs < best.latencyMs) best = candidate;
    }
  }
  return best as Candidate;
}

/** Throws E_SEARCH_BUDGET naming the device, the budget and the smallest reachable latency. */
export function checkBudgets(space: SpaceRef, device: string, budgetsMs: readonly number[], smallest: Candidate): void {
  if (budgetsMs.length === 0) throw new OfaError('E_SEARCH_OPTIONS', `device ${device}: no latency budgets to search for`, { hint: 'give --budgets-ms, or set latencyBudgetsMs in the device file' });
  for (const budget of budgetsMs) {
    if (!(budget > 0) || !Number.isFinite(budget)) throw new OfaError('E_SEARCH_OPTIONS', `device ${device}: latency budget ${budget} ms is not valid; allowed: a number > 0`);
  }
  const below = budgetsMs.filter((budget) => budget < smallest.latencyMs);
  if (below.length > 0) {
    throw new OfaError(
      'E_SEARCH_BUDGET',
      `device ${device}: latency budget ${below.map((b) => `${b} ms`).join(', ')} ${below.length > 1 ? 'are' : 'is'} below the smallest predicted latency any ${space.preset}/${space.variant} subnet reaches on it, ${smallest.latencyMs.toFixed(4)} ms (subnet ${configId(smallest.config)})`,
      { hint: `give budgets of at least ${smallest.latencyMs.toFixed(4)} ms for ${device} (--budgets-ms), or search another device` },
    );
  }
}

/** A device ready to search: its pool and smallest subnet, its budgets checked. */
export interface PreparedDevice {
  device: SearchDevice;
  pool: CandidatePool;
  smallest: Candidate;
  seconds: number;
  cpuSeconds: number;
}

const cpuSecondsOf = (usage: NodeJS.CpuUsage) => (usage.user + usage.system) / 1e6;

/** Refuses an accuracy predictor fitted for another space than the search's. */
export function checkAccuracySpace(space: SpaceRef, accuracy: AccuracyModel, source = 'the accuracy predictor'): void {
  if (accuracy.preset === undefined && accuracy.variant === undefined) return;
  if (accuracy.preset !== space.preset || accuracy.variant !== space.variant) {
    throw new OfaError('E_ACCURACY_PREDICTOR_SPACE', `${source} was fitted for ${accuracy.preset}/${accuracy.variant} subnets; the search is for ${space.preset}/${space.variant}`, {
      hint: `fit one on a data set of the ${space.preset}/${space.variant} supernet: ofa search dataset, then ofa search fit`,
    });
  }
}

export function prepareDevice(space: SpaceRef, accuracy: AccuracyModel, device: SearchDevice): PreparedDevice {
  checkAccuracySpace(space, accuracy);
  const started = performance.now();
  const cpu = process.cpuUsage();
  const pool = new CandidatePool(new GenomeSpace(space), device.latency, accuracy);
  const smallest = smallestSubnet(pool);
  checkBudgets(space, device.name, device.budgetsMs, smallest);
  return { device, pool, smallest, seconds: (performance.now() - started) / 1000, cpuSeconds: cpuSecondsOf(process.cpuUsage(cpu)) };
}

const pickOf = (budgetMs: number, candidate: Candidate): PickRecord => ({ budgetMs, ...describeCandidate(candidate) });

/** Searches one prepared device for all its budgets. Deterministic for a seed. */
export function searchPrepared(prepared: PreparedDevice, options: SearchOptions = {}): DeviceSearchResult {
  const started = performance.now();
  const cpu = process.cpuUsage();
  const algorithm = options.algorithm ?? 'nsga2';
  const seed = options.seed ?? 1;
  const { device, smallest } = prepared;
  const budgets = [...device.budgetsMs];
  const limit = Math.max(...budgets);
  const seeds = [smallest.genome];
  let picks: PickRecord[];
  let front: Candidate[];
  let latencyPredictions = prepared.pool.latencyPredictions;
  let accuracyPredictions = prepared.pool.accuracyPredictions;
  if (algorithm === 'nsga2') {
    const settings = { ...NSGA2_DEFAULTS, ...options.nsga2 };
    checkSettings(settings);
    const progress = (p: SearchProgress) => options.onProgress?.(device.name, p);
    front = nsga2(prepared.pool, createRng(seed), budgets, seeds, settings, progress);
    // The smallest subnet was seeded into the first population: every budget has a pick.
    picks = budgets.map((budget) => pickOf(budget, bestWithin(front, budget) as Candidate));
    latencyPredictions = prepared.pool.latencyPredictions;
    accuracyPredictions = prepared.pool.accuracyPredictions;
  } else {
    const settings = { ...EVOLUTION_DEFAULTS, ...options.evolution };
    checkSettings(settings);
    const scored: Candidate[] = [];
    picks = budgets.map((budget) => {
      // One run per budget, as OFA's finder runs: its own pool, the smallest subnet as a seed.
      const pool = new CandidatePool(prepared.pool.genomes, device.latency, prepared.pool.accuracy);
      const best = evolution(pool, createRng(seed), budget, seeds, settings, (p) => options.onProgress?.(device.name, { ...p, budgetMs: budget }));
      latencyPredictions += pool.latencyPredictions;
      accuracyPredictions += pool.accuracyPredictions;
      scored.push(...pool.scored().filter((c) => c.latencyMs <= limit));
      return pickOf(budget, best);
    });
    front = paretoFront([...new Map(scored.map((c) => [c.key, c])).values()]);
  }
  return {
    device: device.name,
    algorithm,
    smallest: { id: configId(smallest.config), latencyMs: smallest.latencyMs },
    seconds: prepared.seconds + (performance.now() - started) / 1000,
    cpuSeconds: prepared.cpuSeconds + cpuSecondsOf(process.cpuUsage(cpu)),
    prepareSeconds: prepared.seconds,
    latencyPredictions,
    accuracyPredictions,
    picks,
    front: front.map((candidate) => describeCandidate(candidate)),
  };
}

function checkSettings(settings: Partial<Nsga2Settings & EvolutionSettings>): void {
  const integer = (name: string, value: number | undefined, min: number) => {
    if (value !== undefined && (!Number.isInteger(value) || value < min)) throw new OfaError('E_SEARCH_OPTIONS', `${name} ${value} is not valid; allowed: an integer >= ${min}`);
  };
  const fraction = (name: string, value: number | undefined) => {
    if (value !== undefined && !(value >= 0 && value <= 1)) throw new OfaError('E_SEARCH_OPTIONS', `${name} ${value} is not valid; allowed: a fraction from 0 to 1`);
  };
  integer('population', settings.population, 2);
  integer('generations', settings.generations, 0);
  integer('maxTries', settings.maxTries, 1);
  fraction('mutation ratio', settings.mutationRatio);
  fraction('parent ratio', settings.parentRatio);
  fraction('mutation probability', settings.mutation?.probability);
  fraction('resolution mutation probability', settings.mutation?.resolutionProbability);
}

/** Every device's budgets checked first (an infeasible budget fails before any search), then each searched. */
export function searchDevices(space: SpaceRef, accuracy: AccuracyModel, devices: readonly SearchDevice[], options: SearchOptions = {}): DeviceSearchResult[] {
  const prepared = devices.map((device) => prepareDevice(space, accuracy, device));
  return prepared.map((device) => searchPrepared(device, options));
}
