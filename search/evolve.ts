// The two evolutionary searches of ofav2.md s4 over a CandidatePool (search/candidates.ts):
// - nsga2: a multi-objective search (NSGA-II: non-dominated sorting, crowding distance, binary
//   tournaments) for the front of predicted top-1 against predicted latency under one latency limit,
//   with OFA's mutation and uniform crossover making the offspring; every budget's pick is read off it;
// - evolution: OFA's single-budget evolution (population 100, 500 generations, parent ratio 0.25,
//   mutation ratio 0.5), the baseline.
// OFA's finder loops until a sample fits the budget, forever when none does; here every such loop is
// bounded (`maxTries`), and the caller has checked that the smallest subnet fits.
import type { Rng } from '../lib/rng.ts';
import { paretoFront, type Candidate, type CandidatePool } from './candidates.ts';
import { OFA_MUTATION, type Genome, type MutationRates } from './genome.ts';

export interface Nsga2Settings {
  population: number;
  generations: number;
  /** Share of each generation's offspring made by mutating one parent; the rest by crossing two (OFA's 0.5). */
  mutationRatio: number;
  mutation: MutationRates;
  /** Attempts to make one feasible, new child before giving up on it. */
  maxTries: number;
  /** Share of the population kept as the budgets' best subnets (split evenly between budgets). */
  budgetEliteRatio: number;
}

export interface EvolutionSettings {
  population: number;
  generations: number;
  parentRatio: number;
  mutationRatio: number;
  mutation: MutationRates;
  maxTries: number;
}

export const NSGA2_DEFAULTS: Nsga2Settings = { population: 100, generations: 150, mutationRatio: 0.5, mutation: OFA_MUTATION, maxTries: 20, budgetEliteRatio: 0.75 };

/** OFA's evolution finder's numbers (ofav2.md s4). */
export const EVOLUTION_DEFAULTS: EvolutionSettings = { population: 100, generations: 500, parentRatio: 0.25, mutationRatio: 0.5, mutation: OFA_MUTATION, maxTries: 20 };

/**
 * A first population within the latency limit: the seeds, then random subnets, then mutants of what was
 * found, each step bounded by `size * maxTries` attempts. Never empty while a seed fits.
 */
export function initialPopulation(pool: CandidatePool, rng: Rng, size: number, limitMs: number, seeds: readonly Genome[], settings: { mutation: MutationRates; maxTries: number }): Candidate[] {
  const chosen = new Map<string, Candidate>();
  const offer = (genome: Genome) => {
    const candidate = pool.latencyOf(genome);
    if (candidate.latencyMs <= limitMs && !chosen.has(candidate.key)) chosen.set(candidate.key, candidate);
  };
  for (const seed of seeds) if (chosen.size < size) offer(seed);
  for (let attempt = 0; attempt < size * settings.maxTries && chosen.size < size; attempt++) offer(pool.genomes.random(rng));
  for (let attempt = 0; attempt < size * settings.maxTries && chosen.size < size && chosen.size > 0; attempt++) {
    const members = [...chosen.values()];
    offer(pool.genomes.mutate(rng.pick(members).genome, rng, settings.mutation));
  }
  const population = [...chosen.values()];
  pool.score(population);
  return population;
}

interface Ranked {
  candidate: Candidate;
  rank: number;
  crowding: number;
}

const top1 = (c: Candidate) => c.top1 as number;

function dominates(a: Candidate, b: Candidate): boolean {
  return top1(a) >= top1(b) && a.latencyMs <= b.latencyMs && (top1(a) > top1(b) || a.latencyMs < b.latencyMs);
}

/** Deb's fast non-dominated sort: the fronts, best first. */
export function nonDominatedSort(candidates: readonly Candidate[]): Candidate[][] {
  const n = candidates.length;
  const dominatedBy = new Int32Array(n);
  const dominating: number[][] = Array.from({ length: n }, () => []);
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      if (dominates(candidates[i], candidates[j])) {
        dominating[i].push(j);
        dominatedBy[j]++;
      } else if (dominates(candidates[j], candidates[i])) {
        dominating[j].push(i);
        dominatedBy[i]++;
      }
    }
  }
  const fronts: Candidate[][] = [];
  let current: number[] = [];
  for (let i = 0; i < n; i++) if (dominatedBy[i] === 0) current.push(i);
  while (current.length > 0) {
    fronts.push(current.map((i) => candidates[i]));
    const next: number[] = [];
    for (const i of current) for (const j of dominating[i]) if (--dominatedBy[j] === 0) next.push(j);
    current = next;
  }
  return fronts;
}

/** Crowding distance of each member of one front (boundary points: infinite). */
export function crowdingDistances(front: readonly Candidate[]): Map<string, number> {
  const distance = new Map(front.map((c) => [c.key, 0]));
  for (const objective of [top1, (c: Candidate) => c.latencyMs]) {
    const sorted = [...front].sort((a, b) => objective(a) - objective(b) || (a.key < b.key ? -1 : 1));
    const span = objective(sorted[sorted.length - 1]) - objective(sorted[0]);
    distance.set(sorted[0].key, Infinity);
    distance.set(sorted[sorted.length - 1].key, Infinity);
    if (span === 0) continue;
    for (let i = 1; i < sorted.length - 1; i++) {
      const id = sorted[i].key;
      distance.set(id, (distance.get(id) as number) + (objective(sorted[i + 1]) - objective(sorted[i - 1])) / span);
    }
  }
  return distance;
}

/**
 * NSGA-II's environmental selection, made budget-aware: first, per budget, its best `budgetElite`
 * subnets within it (the exploitation OFA's per-budget evolution gets from truncation selection, here for
 * all budgets in one population); then whole non-dominated fronts while they fit, then the least crowded
 * of the next. Rank and crowding distance (for the tournaments) are every member's own.
 */
function select(candidates: readonly Candidate[], size: number, budgetsMs: readonly number[], budgetElite: number): { members: Ranked[]; elites: Candidate[][] } {
  const fronts = nonDominatedSort(candidates);
  const ranked = new Map<string, Ranked>();
  fronts.forEach((front, rank) => {
    const crowding = crowdingDistances(front);
    for (const candidate of front) ranked.set(candidate.key, { candidate, rank, crowding: crowding.get(candidate.key) as number });
  });
  const chosen = new Map<string, Ranked>();
  const byTop1 = [...candidates].sort((a, b) => top1(b) - top1(a) || (a.key < b.key ? -1 : 1));
  const elites = budgetsMs.map((budget) => {
    const best: Candidate[] = [];
    for (const candidate of byTop1) {
      if (best.length >= budgetElite) break;
      if (candidate.latencyMs > budget) continue;
      best.push(candidate);
      if (chosen.size < size) chosen.set(candidate.key, ranked.get(candidate.key) as Ranked);
    }
    return best;
  });
  for (const front of fronts) {
    if (chosen.size >= size) break;
    const members = front.map((candidate) => ranked.get(candidate.key) as Ranked).filter((member) => !chosen.has(member.candidate.key));
    if (chosen.size + members.length > size) members.sort((a, b) => b.crowding - a.crowding || (a.candidate.key < b.candidate.key ? -1 : 1));
    for (const member of members.slice(0, size - chosen.size)) chosen.set(member.candidate.key, member);
  }
  return { members: [...chosen.values()], elites };
}

function tournament(population: readonly Ranked[], rng: Rng): Ranked {
  const a = rng.pick(population);
  const b = rng.pick(population);
  if (a.rank !== b.rank) return a.rank < b.rank ? a : b;
  if (a.crowding !== b.crowding) return a.crowding > b.crowding ? a : b;
  return a.candidate.key <= b.candidate.key ? a : b;
}

export interface SearchProgress {
  generation: number;
  generations: number;
}

/**
 * NSGA-II under the largest budget as latency limit. Returns the front of every subnet it scored (not
 * only the last population's), so each budget reads its best pick off it.
 */
export function nsga2(pool: CandidatePool, rng: Rng, budgetsMs: readonly number[], seeds: readonly Genome[], settings: Nsga2Settings, onGeneration?: (progress: SearchProgress) => void): Candidate[] {
  const limitMs = Math.max(...budgetsMs);
  const elite = Math.max(1, Math.floor((settings.budgetEliteRatio * settings.population) / budgetsMs.length));
  let { members: population, elites } = select(initialPopulation(pool, rng, settings.population, limitMs, seeds, settings), settings.population, budgetsMs, elite);
  for (let generation = 0; generation < settings.generations; generation++) {
    const seen = new Set(population.map((member) => member.candidate.key));
    const offspring: Candidate[] = [];
    for (let k = 0; k < settings.population; k++) {
      // Half of the children come from one budget's elite (in turn) and must fit that budget; the other
      // half from tournaments over the whole population, within the largest budget. In each half, a
      // `mutationRatio` share are mutants, the rest crossovers.
      const fromBudget = k % 2 === 0 && settings.budgetEliteRatio > 0;
      const budget = fromBudget ? (k / 2) % budgetsMs.length : -1;
      const limit = fromBudget ? budgetsMs[budget] : limitMs;
      const mutant = (Math.floor(k / 2) % settings.population) / (settings.population / 2) < settings.mutationRatio;
      const parent = () => (fromBudget ? rng.pick(elites[budget]) : tournament(population, rng).candidate);
      for (let attempt = 0; attempt < settings.maxTries; attempt++) {
        const genome = mutant ? pool.genomes.mutate(parent().genome, rng, settings.mutation) : pool.genomes.crossover(parent().genome, parent().genome, rng);
        const child = pool.latencyOf(genome);
        if (child.latencyMs <= limit && !seen.has(child.key)) {
          seen.add(child.key);
          offspring.push(child);
          break;
        }
      }
    }
    pool.score(offspring);
    ({ members: population, elites } = select([...population.map((member) => member.candidate), ...offspring], settings.population, budgetsMs, elite));
    onGeneration?.({ generation: generation + 1, generations: settings.generations });
  }
  return paretoFront(pool.scored().filter((c) => c.latencyMs <= limitMs));
}

/**
 * OFA's evolution for one budget: the best `parentRatio` of the population are the parents; a
 * `mutationRatio` share of the children are mutants of one parent, the rest uniform crossovers of two;
 * the next population is parents plus children. A child that does not fit within `maxTries` attempts
 * is a copy of its (first) parent. Returns the best subnet found.
 */
export function evolution(pool: CandidatePool, rng: Rng, budgetMs: number, seeds: readonly Genome[], settings: EvolutionSettings, onGeneration?: (progress: SearchProgress) => void): Candidate {
  const byTop1 = (a: Candidate, b: Candidate) => top1(b) - top1(a) || (a.key < b.key ? -1 : 1);
  let population = initialPopulation(pool, rng, settings.population, budgetMs, seeds, settings);
  const parentCount = Math.max(1, Math.round(settings.parentRatio * settings.population));
  const mutants = Math.round(settings.mutationRatio * settings.population);
  let best = [...population].sort(byTop1)[0];
  for (let generation = 0; generation < settings.generations; generation++) {
    const parents = [...population].sort(byTop1).slice(0, parentCount);
    if (byTop1(parents[0], best) < 0) best = parents[0];
    const children: Candidate[] = [];
    for (let k = 0; k < settings.population; k++) {
      let child: Candidate | undefined;
      const first = rng.pick(parents);
      const second = k < mutants ? first : rng.pick(parents);
      for (let attempt = 0; attempt < settings.maxTries && !child; attempt++) {
        const genome = k < mutants ? pool.genomes.mutate(first.genome, rng, settings.mutation) : pool.genomes.crossover(first.genome, second.genome, rng);
        const candidate = pool.latencyOf(genome);
        if (candidate.latencyMs <= budgetMs) child = candidate;
      }
      children.push(child ?? first);
    }
    pool.score(children);
    population = [...parents, ...children];
    onGeneration?.({ generation: generation + 1, generations: settings.generations });
  }
  const last = [...population].sort(byTop1)[0];
  return byTop1(last, best) < 0 ? last : best;
}
