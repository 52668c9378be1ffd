// The search's figures (issue 13 item 4): per device and budget, the NSGA-II pick's predicted top-1 against
// the best of 10,000 random feasible subnets and against OFA's evolution run for that budget (predicted
// top-1 and time), and the time for all budgets of a device; plus the accuracy predictor's throughput in
// batches (SIMD kernel and plain loops). Run: `node --import tsx bench/run.ts search`.
//
// The accuracy predictor is $OFA_SEARCH_PREDICTOR (default supernets/fashion-ee-d/predictor.json, the one fitted
// on the shipped supernet's data set). Without it, a stand-in is fitted on synthetic accuracies (a known
// function of the encoding) and the bench says so: its times are real, its top-1 figures are not.
// Sizes: $OFA_SEARCH_DEVICES (cpu-1t,cpu-2t,wasm-node), $OFA_SEARCH_RANDOM (10000 feasible per budget),
// $OFA_SEARCH_EVOLUTION_GENERATIONS (500, OFA's), $OFA_SEARCH_GENERATIONS (NSGA-II's default).
import { existsSync } from 'node:fs';
import { createRng } from '../lib/rng.ts';
import { configId, encodeConfig, encodingLayout, sampleRandom, subnetCost, type SubnetConfig } from '../space/index.ts';
import { searchTag } from '../search/artifacts.ts';
import type { AccuracyDataset, DatasetRow } from '../search/dataset.ts';
import { createMlp, mlpPredictor } from '../search/mlp.ts';
import {
  EVOLUTION_DEFAULTS,
  NSGA2_DEFAULTS,
  accuracyPredictorOf,
  datasetConfigs,
  fitAccuracyPredictor,
  loadAccuracyPredictor,
  loadSearchDevice,
  prepareDevice,
  searchPrepared,
  type AccuracyPredictor,
} from '../search/index.ts';

const PRESET = 'fashion';
const VARIANT = 'ee-d';
const env = (name: string, fallback: number) => (process.env[name] ? Number(process.env[name]) : fallback);

function standInPredictor(): AccuracyPredictor {
  const space = { preset: PRESET, variant: VARIANT };
  const length = encodingLayout(PRESET, VARIANT).length;
  const rng = createRng(7);
  const weights = Float32Array.from({ length }, () => 0.5 * rng.normal());
  const rows: DatasetRow[] = datasetConfigs(space, 1000, 1).map((config) => {
    const encoding = encodeConfig(config);
    const cost = subnetCost(config);
    let linear = 0;
    for (let i = 0; i < length; i++) linear += weights[i] * encoding[i];
    const top1 = Math.min(0.95, 0.6 + 0.05 * Math.log(cost.macs / 1e5) + 0.05 / (1 + Math.exp(-linear)));
    return { id: configId(config), config, top1, loss: 1 - top1, macs: cost.macs, params: cost.params, images: 0 };
  });
  const header: AccuracyDataset['header'] = { ...searchTag('dataset'), preset: PRESET, variant: VARIANT, supernet: { checkpoint: 'stand-in', dir: 'stand-in', checksum: 'none', phase: 'none', epoch: 0, step: 0 }, split: 'synthetic', images: 0, recalibrationImages: 0, seed: 1, createdAt: new Date().toISOString() };
  const dataset: AccuracyDataset = { file: 'synthetic', header, rows, completeBytes: 0, truncatedTail: false };
  return accuracyPredictorOf(fitAccuracyPredictor(dataset, { epochs: 20 }));
}

function throughput(): void {
  const length = encodingLayout(PRESET, VARIANT).length;
  const rng = createRng(3);
  const configs = Array.from({ length: 2048 }, () => sampleRandom({ preset: PRESET, variant: VARIANT }, rng));
  const x = new Float32Array(configs.length * length);
  configs.forEach((config, i) => x.set(encodeConfig(config), i * length));
  const mlp = createMlp(length, [400, 400, 400], 0.8, createRng(4));
  for (const simd of [true, false]) {
    for (const batch of [1, 16, 256]) {
      const predict = mlpPredictor(mlp, batch, { simd });
      predict(x, Math.min(256, configs.length)); // warm-up
      let count = 0;
      const started = performance.now();
      while (performance.now() - started < 1000) {
        predict(x, simd ? configs.length : 256);
        count += simd ? configs.length : 256;
      }
      const seconds = (performance.now() - started) / 1000;
      console.log(`accuracy MLP ${length}-400-400-400-1, ${simd ? 'SIMD kernel' : 'plain loops'}, batches of ${String(batch).padStart(3)}: ${(count / seconds).toFixed(0)} predictions/s`);
    }
  }
}

/** Best predicted top-1 among `count` random subnets within each budget (draws shared, bounded). */
function randomBaseline(latency: { predict(c: SubnetConfig): { latencyMs: number } }, accuracy: AccuracyPredictor, budgets: readonly number[], count: number): { best: number; feasible: number; draws: number }[] {
  const rng = createRng(11);
  const ascending = [...budgets].sort((a, b) => a - b);
  const feasible = new Map<number, SubnetConfig[]>(ascending.map((b) => [b, []]));
  let draws = 0;
  const cap = 50 * count;
  while (draws < cap && (feasible.get(ascending[0]) as SubnetConfig[]).length < count) {
    const config = sampleRandom({ preset: PRESET, variant: VARIANT }, rng);
    draws++;
    const ms = latency.predict(config).latencyMs;
    for (const budget of ascending) {
      const list = feasible.get(budget) as SubnetConfig[];
      if (ms <= budget && list.length < count) list.push(config);
    }
  }
  return budgets.map((budget) => {
    const list = feasible.get(budget) as SubnetConfig[];
    const top1 = accuracy.predict(list);
    return { best: Math.max(...top1), feasible: list.length, draws };
  });
}

export async function run(): Promise<void> {
  throughput();
  const file = process.env.OFA_SEARCH_PREDICTOR ?? 'supernets/fashion-ee-d/predictor.json';
  let accuracy: AccuracyPredictor;
  if (existsSync(file)) accuracy = loadAccuracyPredictor(file);
  else {
    console.log(`note: no accuracy predictor at ${file}: a stand-in fitted on synthetic accuracies is used (times are real, top-1 figures are not)`);
    accuracy = standInPredictor();
  }
  const space = { preset: accuracy.preset, variant: accuracy.variant };
  const devices = (process.env.OFA_SEARCH_DEVICES ?? 'cpu-1t,cpu-2t,wasm-node').split(',');
  const randomCount = env('OFA_SEARCH_RANDOM', 10_000);
  const evolutionGenerations = env('OFA_SEARCH_EVOLUTION_GENERATIONS', EVOLUTION_DEFAULTS.generations);
  const generations = env('OFA_SEARCH_GENERATIONS', NSGA2_DEFAULTS.generations);
  for (const name of devices) {
    const device = loadSearchDevice(name, space);
    const nsga2 = searchPrepared(prepareDevice(space, accuracy, device), { seed: 1, nsga2: { generations } });
    const evolution = searchPrepared(prepareDevice(space, accuracy, device), { seed: 1, algorithm: 'evolution', evolution: { generations: evolutionGenerations } });
    const random = randomBaseline(device.latency, accuracy, device.budgetsMs, randomCount);
    console.log(
      `${name}: NSGA-II ${generations} generations, all ${device.budgetsMs.length} budgets in ${nsga2.seconds.toFixed(2)} s (${nsga2.cpuSeconds.toFixed(2)} CPU s; smallest-subnet check ${nsga2.prepareSeconds.toFixed(2)} s), ` +
        `${nsga2.accuracyPredictions} accuracy + ${nsga2.latencyPredictions} latency predictions, front of ${nsga2.front.length}; ` +
        `OFA evolution ${evolutionGenerations} generations per budget: ${evolution.seconds.toFixed(2)} s (${evolution.cpuSeconds.toFixed(2)} CPU s)`,
    );
    nsga2.picks.forEach((pick, i) => {
      const baseline = random[i];
      const ofa = evolution.picks[i];
      const verdict = pick.predictedTop1 >= baseline.best ? 'ok' : 'BELOW RANDOM';
      console.log(
        `  <= ${String(pick.budgetMs).padEnd(5)} ms: NSGA-II ${(100 * pick.predictedTop1).toFixed(2)}% at ${pick.predictedLatencyMs.toFixed(4)} ms | ` +
          `OFA evolution ${(100 * ofa.predictedTop1).toFixed(2)}% at ${ofa.predictedLatencyMs.toFixed(4)} ms | ` +
          `best of ${baseline.feasible} random feasible (${baseline.draws} drawn) ${(100 * baseline.best).toFixed(2)}% [${verdict}]`,
      );
    });
  }
}
