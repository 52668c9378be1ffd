// Fixtures of the search tests: a latency table on `micro` with the real block keys (space/blocks.ts) and
// known costs, an additive synthetic accuracy (a known score per option), and the exact constrained
// optimum of their combination by dynamic programming over layers and stages (Pareto sets).
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRng } from '../../lib/rng.ts';
import { ARTIFACT_FORMATS, type LatencyTable } from '../../profile/predict.ts';
import { blockCost, blocksOfConfig, blockKey, enumerateBlocks } from '../../space/blocks.ts';
import { STAGE_COUNT, resolveDimensions, sampleUniform, type SpaceRef, type SubnetConfig } from '../../space/index.ts';

export const MICRO: SpaceRef = { preset: 'micro', variant: 'ee-d' };

const tempDirs: string[] = [];
export function tempDir(prefix = 'ofa-search-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  tempDirs.push(dir);
  return dir;
}
export function removeTempDirs(): void {
  for (const dir of tempDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
}

/**
 * A complete table of the space: every block's entry is a fixed overhead plus a cost per MAC, each
 * scaled by a seeded factor in [0.7, 1.3] (no two blocks alike; larger blocks mostly cost more).
 */
const SYNTHETIC_HOST = {
  cpuModel: 'synthetic',
  logicalCores: 1,
  platform: 'linux',
  arch: 'x64',
  osRelease: 'synthetic',
  hostname: 'synthetic',
  totalMemoryMiB: 1024,
  nodeVersion: 'v20.0.0',
  loadAverage1m: 0,
  date: '2026-01-01T00:00:00.000Z',
};

export function syntheticTable(space: SpaceRef, seed: number, device = 'synthetic'): LatencyTable {
  const rng = createRng(seed);
  const entries: LatencyTable['entries'] = {};
  for (const [key, block] of enumerateBlocks(space)) {
    const ms = (0.004 + blockCost(block).macs * 2e-7) * (0.7 + 0.6 * rng.next());
    entries[key] = { medianMs: ms, minMs: ms, p90Ms: ms, madMs: 0, samples: 64, sessionCreateMs: 0, firstRunMs: 0, run: 0, block };
  }
  return {
    ...ARTIFACT_FORMATS.lut,
    preset: space.preset,
    variant: space.variant,
    // A whole table as `ofa profile lut` writes one (LUT_SCHEMA refuses less): cpu-1t's knobs, one run.
    device: {
      name: device,
      runtime: 'onnxruntime-node',
      executionProvider: 'cpu',
      executionProviderOptions: {},
      session: { intraOpNumThreads: 1, interOpNumThreads: 1, executionMode: 'sequential', graphOptimizationLevel: 'all', allowSpinning: false },
      batchSize: 1,
    },
    runtime: 'synthetic',
    expectedEntries: Object.keys(entries).length,
    complete: true,
    runs: [{ startedAt: '2026-01-01T00:00:00.000Z', host: SYNTHETIC_HOST, protocol: { warmupRuns: 0, minSamples: 64, minTimeMs: 0 }, measured: Object.keys(entries).length }],
    entries,
  };
}

/** A known score per option, summed over the options a subnet uses (inactive layers score nothing). */
export interface AdditiveScores {
  resolution: Map<number, number>;
  exit: Map<number, number>;
  /** [stage][depth] */
  depth: Map<number, number>[];
  /** [stage * 4 + position] -> `${kernel}/${expand}` -> score */
  layer: Map<string, number>[];
}

export function additiveScores(space: SpaceRef, seed: number): AdditiveScores {
  const rng = createRng(seed);
  const dims = resolveDimensions(space);
  // Larger options tend to score higher (as accuracy does), with noise so that the optimum is not trivial.
  const ranked = (values: readonly number[], step: number) => new Map(values.map((v, i) => [v, step * i + step * 0.8 * rng.next()]));
  return {
    resolution: ranked(dims.resolutions, 0.02),
    exit: ranked(dims.exits, 0.03),
    depth: Array.from({ length: STAGE_COUNT }, () => ranked(dims.depths, 0.004)),
    layer: Array.from({ length: STAGE_COUNT * 4 }, () => {
      const scores = new Map<string, number>();
      dims.kernelSizes.forEach((kernel, k) => dims.expandRatios.forEach((expand, e) => scores.set(`${kernel}/${expand}`, 0.003 * k + 0.004 * e + 0.004 * rng.next())));
      return scores;
    }),
  };
}

export function additiveScore(scores: AdditiveScores, config: SubnetConfig): number {
  let total = 0.3 + (scores.resolution.get(config.resolution) as number) + (scores.exit.get(config.exit ?? STAGE_COUNT) as number);
  config.stages.forEach((stage, s) => {
    total += scores.depth[s].get(stage.depth) as number;
    stage.layers.forEach((layer, p) => (total += scores.layer[s * 4 + p].get(`${layer.kernel}/${layer.expand}`) as number));
  });
  return total;
}

export function additiveModel(scores: AdditiveScores): { predict(configs: readonly SubnetConfig[]): Float32Array; calls: number } {
  const model = {
    calls: 0,
    predict(configs: readonly SubnetConfig[]) {
      model.calls++;
      return Float32Array.from(configs, (config) => additiveScore(scores, config));
    },
  };
  return model;
}

type Point = { cost: number; score: number };

/** The Pareto set (lower cost, higher score) of points, by ascending cost. */
function prune(points: Point[], maxCost: number): Point[] {
  points.sort((a, b) => a.cost - b.cost || b.score - a.score);
  const out: Point[] = [];
  for (const point of points) if (point.cost <= maxCost && (out.length === 0 || point.score > out[out.length - 1].score)) out.push(point);
  return out;
}

function merge(a: Point[], b: Point[], maxCost: number): Point[] {
  const out: Point[] = [];
  for (const x of a) for (const y of b) if (x.cost + y.cost <= maxCost) out.push({ cost: x.cost + y.cost, score: x.score + y.score });
  return prune(out, maxCost);
}

/**
 * The exact Pareto set of (table latency, additive score) over the whole space, up to `maxCost`: per
 * resolution and exit, each layer position's options, merged into each stage depth's, merged over the
 * stages. Block costs come from the blocks of uniform configs (a layer's block depends only on its own
 * choice, position, stage depth, resolution and exit: space/blocks.ts enumerateBlocks).
 */
export function exactFront(space: SpaceRef, table: LatencyTable, scores: AdditiveScores, maxCost: number): Point[] {
  const dims = resolveDimensions(space);
  const cost = (key: string) => table.entries[key].medianMs;
  const all: Point[] = [];
  for (const resolution of dims.resolutions) {
    for (const exit of dims.exits) {
      const stages = space.variant.includes('ee') ? exit : STAGE_COUNT;
      // layerOptions[s][depth][p] and stageOutput[s][depth], from uniform configs of every layer choice.
      const layerOptions = new Map<string, Point[]>();
      const fixed = { cost: 0, score: 0.3 + (scores.resolution.get(resolution) as number) + (scores.exit.get(exit) as number) };
      const stageExtra = new Map<string, number>();
      for (const depth of dims.depths) {
        for (const kernel of dims.kernelSizes) {
          for (const expand of dims.expandRatios) {
            const config = sampleUniform(space, { kernel, expand, depth, resolution, exit });
            const blocks = blocksOfConfig(config);
            let at = 0;
            const stem = blocks[at++];
            fixed.cost = cost(blockKey(stem)) + cost(blockKey(blocks[blocks.length - 1]));
            for (let s = 0; s < stages; s++) {
              for (let p = 0; p < depth; p++) {
                const key = `${s}/${depth}/${p}`;
                const list = layerOptions.get(key) ?? [];
                list.push({ cost: cost(blockKey(blocks[at++])), score: scores.layer[s * 4 + p].get(`${kernel}/${expand}`) as number });
                layerOptions.set(key, list);
              }
              const extra = blocks[at].kind === 'stageOutput' ? cost(blockKey(blocks[at++])) : 0;
              stageExtra.set(`${s}/${depth}`, extra);
            }
          }
        }
      }
      let total: Point[] = [fixed];
      for (let s = 0; s < stages; s++) {
        const stageFront: Point[] = [];
        for (const depth of dims.depths) {
          let front: Point[] = [{ cost: stageExtra.get(`${s}/${depth}`) as number, score: scores.depth[s].get(depth) as number }];
          for (let p = 0; p < depth; p++) front = merge(front, prune(layerOptions.get(`${s}/${depth}/${p}`) as Point[], maxCost), maxCost);
          stageFront.push(...front);
        }
        total = merge(total, prune(stageFront, maxCost), maxCost);
      }
      all.push(...total);
    }
  }
  return prune(all, maxCost);
}

export function optimumWithin(front: readonly Point[], budget: number): number {
  let best = -Infinity;
  for (const point of front) if (point.cost <= budget) best = Math.max(best, point.score);
  return best;
}

/** A devices folder with one device (cpu-1t's settings) and, optionally, its table and calibration. */
export function devicesFolder(name: string, files: { table?: LatencyTable; calibration?: boolean; budgetsMs?: number[] } = {}): string {
  const dir = tempDir('ofa-search-devices-');
  const device = {
    name,
    description: 'test device',
    runtime: 'onnxruntime-node',
    executionProvider: 'cpu',
    session: { intraOpNumThreads: 1, interOpNumThreads: 1, executionMode: 'sequential', graphOptimizationLevel: 'all', allowSpinning: false },
    batchSize: 1,
    latencyBudgetsMs: files.budgetsMs ?? [0.5, 1],
  };
  writeFileSync(join(dir, `${name}.json`), JSON.stringify(device));
  mkdirSync(join(dir, name));
  if (files.table) writeFileSync(join(dir, name, `lut-${files.table.preset}-${files.table.variant}.json`), JSON.stringify(files.table));
  if (files.calibration && files.table) {
    const calibration = { ...ARTIFACT_FORMATS.calibration, device: name, preset: files.table.preset, variant: files.table.variant, coefficients: { scale: 1, perBlockMs: 0, offsetMs: 0 }, statistic: 'min' };
    writeFileSync(join(dir, name, `calibration-${files.table.preset}-${files.table.variant}.json`), JSON.stringify(calibration));
  }
  return dir;
}
