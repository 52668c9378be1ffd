// The search on `micro` against an exactly solvable problem (issue 13 "Done when"): an additive synthetic
// accuracy (a known score per option) and the real additive table structure (every block key of the
// space, known costs), whose constrained optimum dynamic programming gives exactly; infeasible budgets;
// determinism; OFA's evolution as the baseline.
import test from 'ava';
import { isOfaError } from '../../lib/errors.ts';
import { createRng } from '../../lib/rng.ts';
import { makePredictor } from '../../profile/predict.ts';
import { configId, sampleMax, sampleMin, sampleRandom } from '../../space/index.ts';
import { CandidatePool } from '../../search/candidates.ts';
import { nonDominatedSort, crowdingDistances } from '../../search/evolve.ts';
import { GenomeSpace } from '../../search/genome.ts';
import { searchDevices, smallestSubnet } from '../../search/index.ts';
import { MICRO, additiveModel, additiveScore, additiveScores, exactFront, optimumWithin, syntheticTable } from './fixtures.ts';

const table = syntheticTable(MICRO, 5);
const latency = makePredictor(table);
const scores = additiveScores(MICRO, 6);
const accuracy = additiveModel(scores);
const smallestMs = latency.predict(sampleMin(MICRO)).latencyMs;
const largestMs = latency.predict(sampleMax(MICRO)).latencyMs;

test('the fixtures: the DP decomposition of the table agrees with the search\'s exact smallest subnet', (t) => {
  // The DP's front reaches at least the largest subnet's score, and starts at the smallest latency the search finds.
  const front = exactFront(MICRO, table, scores, Infinity);
  t.true(front[front.length - 1].score >= additiveScore(scores, sampleMax(MICRO)) - 1e-9);
  const pool = new CandidatePool(new GenomeSpace(MICRO), latency, accuracy);
  const smallest = smallestSubnet(pool);
  t.true(Math.abs(smallest.latencyMs - front[0].cost) < 1e-9, `smallest ${smallest.latencyMs} vs DP ${front[0].cost}`);
  t.true(smallest.latencyMs <= smallestMs);
  // No random subnet is faster than the smallest one.
  const rng = createRng(3);
  for (let i = 0; i < 500; i++) t.true(latency.predict(sampleRandom(MICRO, rng)).latencyMs >= smallest.latencyMs - 1e-12);
});

test('NSGA-II: each budget\'s pick is within 0.5% of the exact constrained optimum (DP) and never over budget', (t) => {
  const budgets = [0.15, 0.3, 0.5, 0.75].map((share) => smallestMs + share * (largestMs - smallestMs));
  const front = exactFront(MICRO, table, scores, Math.max(...budgets));
  const started = performance.now();
  const [result] = searchDevices(MICRO, accuracy, [{ name: 'synthetic', latency, budgetsMs: budgets }], { seed: 1 });
  t.log(`search: ${((performance.now() - started) / 1000).toFixed(2)} s, ${result.latencyPredictions} latency and ${result.accuracyPredictions} accuracy predictions, front of ${result.front.length}`);
  for (const pick of result.picks) {
    const optimum = optimumWithin(front, pick.budgetMs);
    const score = additiveScore(scores, pick.config);
    t.log(`budget ${pick.budgetMs.toFixed(4)} ms: pick ${score.toFixed(4)} at ${pick.predictedLatencyMs.toFixed(4)} ms; optimum ${optimum.toFixed(4)} (gap ${((100 * (optimum - score)) / optimum).toFixed(3)}%)`);
    t.true(pick.predictedLatencyMs <= pick.budgetMs, 'within budget');
    t.true(Math.abs(latency.predict(pick.config).latencyMs - pick.predictedLatencyMs) < 1e-12, 'its latency is the predictor\'s');
    t.true(Math.abs(score - pick.predictedTop1) < 1e-5, 'its score is the accuracy model\'s');
    t.true(score >= 0.995 * optimum, `within 0.5% of ${optimum}`);
    t.true(score <= optimum + 1e-6, 'never above the exact optimum');
    t.is(pick.id, configId(pick.config));
  }
  // The front is non-dominated and sorted by latency.
  for (let i = 1; i < result.front.length; i++) {
    t.true(result.front[i].predictedLatencyMs >= result.front[i - 1].predictedLatencyMs);
    t.true(result.front[i].predictedTop1 > result.front[i - 1].predictedTop1);
  }
});

test('OFA\'s evolution (the baseline) also keeps every budget and comes close to the optimum', (t) => {
  const budgets = [0.3, 0.6].map((share) => smallestMs + share * (largestMs - smallestMs));
  const front = exactFront(MICRO, table, scores, Math.max(...budgets));
  const [result] = searchDevices(MICRO, accuracy, [{ name: 'synthetic', latency, budgetsMs: budgets }], { seed: 2, algorithm: 'evolution', evolution: { generations: 60 } });
  for (const pick of result.picks) {
    const optimum = optimumWithin(front, pick.budgetMs);
    const score = additiveScore(scores, pick.config);
    t.log(`evolution, budget ${pick.budgetMs.toFixed(4)} ms: gap ${((100 * (optimum - score)) / optimum).toFixed(3)}%`);
    t.true(pick.predictedLatencyMs <= pick.budgetMs);
    t.true(score >= 0.98 * optimum);
  }
});

test('a budget below the smallest subnet\'s latency is refused before any search, naming device, budget and the smallest latency', (t) => {
  const budget = smallestMs / 2;
  const model = additiveModel(scores);
  // The refusal's cost as work, not wall-clock time: the exact smallest-subnet check's latency predictions.
  let latencyCalls = 0;
  const counted = { predict: (config: Parameters<typeof latency.predict>[0]) => (latencyCalls++, latency.predict(config)) };
  const started = performance.now();
  const error = t.throws(() => searchDevices(MICRO, model, [{ name: 'fine', latency: counted, budgetsMs: [1] }, { name: 'tiny-budget', latency: counted, budgetsMs: [budget, 1] }]));
  const seconds = (performance.now() - started) / 1000;
  t.true(isOfaError(error) && error.code === 'E_SEARCH_BUDGET');
  t.regex(error!.message, /device tiny-budget/);
  t.true(error!.message.includes(`${budget} ms`));
  const pool = new CandidatePool(new GenomeSpace(MICRO), latency, model);
  t.true(error!.message.includes(smallestSubnet(pool).latencyMs.toFixed(4)));
  t.is(model.calls, 0, 'no accuracy prediction was made: nothing was searched');
  t.true(latencyCalls > 0 && latencyCalls <= 20_000, `${latencyCalls} latency predictions before the refusal`);
  t.log(`refused in ${seconds.toFixed(3)} s after ${latencyCalls} latency predictions`);
  t.throws(() => searchDevices(MICRO, model, [{ name: 'none', latency, budgetsMs: [] }]), { code: 'E_SEARCH_OPTIONS' } as never);
  t.throws(() => searchDevices(MICRO, model, [{ name: 'zero', latency, budgetsMs: [0] }]), { code: 'E_SEARCH_OPTIONS' } as never);
});

test('the same seed gives the same result', (t) => {
  const budgets = [smallestMs + 0.4 * (largestMs - smallestMs)];
  const run = (seed: number) => {
    const [result] = searchDevices(MICRO, additiveModel(scores), [{ name: 'synthetic', latency, budgetsMs: budgets }], { seed, nsga2: { generations: 20 } });
    const { seconds: _, cpuSeconds: __, prepareSeconds: ___, ...rest } = result;
    return rest;
  };
  t.deepEqual(run(7), run(7));
  const evolution = (seed: number) => {
    const [result] = searchDevices(MICRO, additiveModel(scores), [{ name: 'synthetic', latency, budgetsMs: budgets }], { seed, algorithm: 'evolution', evolution: { generations: 10 } });
    return result.picks;
  };
  t.deepEqual(evolution(3), evolution(3));
});

test('non-dominated sorting and crowding distances', (t) => {
  const c = (key: string, top1: number, latencyMs: number) => ({ key, top1, latencyMs }) as never;
  const fronts = nonDominatedSort([c('a', 0.9, 2), c('b', 0.8, 1), c('c', 0.7, 1.5), c('d', 0.95, 3), c('e', 0.6, 3)]);
  t.deepEqual(fronts.map((front) => front.map((x) => x.key).sort()), [['a', 'b', 'd'], ['c'], ['e']]);
  const crowding = crowdingDistances(fronts[0]);
  t.is(crowding.get('b'), Infinity);
  t.is(crowding.get('d'), Infinity);
  // a: (0.95 - 0.8) / 0.15 + (3 - 1) / 2 = 2
  t.true(Math.abs((crowding.get('a') as number) - 2) < 1e-9);
});
