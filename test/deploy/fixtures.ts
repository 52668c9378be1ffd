// Fixtures of the deploy tests: a random-init micro supernet checkpoint saved here (perturbed so that BN
// recalibration and folding are not trivially right), generated quadrant images as the data, and a
// devices folder with cpu-1t (onnxruntime-node) and wasm-node (onnxruntime-web) style devices, each with
// a synthetic latency table and an identity calibration.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import type { DeployData } from '../../deploy/index.ts';
import { ARTIFACT_FORMATS } from '../../profile/predict.ts';
import { joinTensors, saveCheckpoint, type TensorMap } from '../../train/checkpoint/index.ts';
import { openSupernet, type OpenedSupernet } from '../../train/index.ts';
import { Supernet } from '../../train/supernet/index.ts';
import { syntheticTable } from '../search/fixtures.ts';
import { makeSet, SPEC } from '../train/fixtures/quadrants.ts';
import { perturb } from '../train/fixtures/supernet.ts';

export const SPACE = { preset: 'micro', variant: 'ee-d' } as const;
/** A short protocol (the real one: 10 warm-up runs, 64 samples, 1 s). */
export const FAST = { warmupRuns: 2, minSamples: 8, minTimeMs: 0 } as const;

const dirs: string[] = [];
export function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(dir);
  return dir;
}
export function removeTempDirs(): void {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
}

export function deployData(): DeployData {
  return { calibration: makeSet(256, 11), test: makeSet(96, 12), spec: SPEC };
}

/** A perturbed random-init micro ee-d supernet saved as a checkpoint, opened on the cpu backend. */
export async function microSupernet(seed = 5): Promise<OpenedSupernet> {
  return openSupernet(await microCheckpoint(seed), { backend: 'cpu' });
}

/** The checkpoint folder of a perturbed random-init micro ee-d supernet. */
export async function microCheckpoint(seed = 5): Promise<string> {
  await tf.setBackend('cpu');
  const net = new Supernet({ ...SPACE, seed });
  perturb(net, seed + 1);
  const toMap = (vars: Map<string, tf.Variable>): TensorMap => new Map([...vars].map(([name, v]) => [name, { shape: [...v.shape], data: v.dataSync() as Float32Array }]));
  const ckpt = join(tempDir('ofa-deploy-ckpt-'), 'ckpt');
  saveCheckpoint(ckpt, {
    manifest: { ...SPACE, phase: 'full', epoch: 1, step: 1, seed, dataState: null, optimizer: { name: 'sgd', hyperparameters: {}, state: {} }, metrics: {} },
    tensors: joinTensors({ parameters: toMap(net.parameters), buffers: toMap(net.buffers) }),
  });
  net.dispose();
  return ckpt;
}

const SESSION = { intraOpNumThreads: 1, interOpNumThreads: 1, executionMode: 'sequential', graphOptimizationLevel: 'all', allowSpinning: false };
export const TEST_DEVICES = {
  'cpu-1t': { runtime: 'onnxruntime-node', executionProvider: 'cpu' },
  'wasm-node': { runtime: 'onnxruntime-web', executionProvider: 'wasm' },
  // onnxruntime-web's wasm EP in a headless Chromium page (Debian's chromium): verified, measured and scored in the page.
  'chromium-wasm-1t': { runtime: 'chromium', executionProvider: 'wasm' },
  // An EP that no Linux build of onnxruntime-node has: a device that cannot start on these hosts.
  'coreml-x': { runtime: 'onnxruntime-node', executionProvider: 'coreml' },
} as const;

/** A devices folder with `names` of TEST_DEVICES, each with a synthetic table and calibration (unless `bare`). */
export function devicesDir(names: readonly (keyof typeof TEST_DEVICES)[], options: { budgetsMs?: number[]; bare?: readonly string[]; calibrationScale?: number; referenceMs?: number } = {}): string {
  const dir = tempDir('ofa-deploy-devices-');
  names.forEach((name, index) => {
    writeFileSync(join(dir, `${name}.json`), JSON.stringify({ name, description: `test device ${name}`, ...TEST_DEVICES[name], session: SESSION, batchSize: 1, latencyBudgetsMs: options.budgetsMs ?? [50] }));
    if (options.bare?.includes(name)) return;
    mkdirSync(join(dir, name));
    const table = syntheticTable(SPACE, 20 + index, name);
    writeFileSync(join(dir, name, `lut-${SPACE.preset}-${SPACE.variant}.json`), JSON.stringify(table));
    const calibration = { ...ARTIFACT_FORMATS.calibration, device: name, preset: SPACE.preset, variant: SPACE.variant, coefficients: { scale: options.calibrationScale ?? 1, perBlockMs: 0, offsetMs: 0 }, statistic: 'min', ...(options.referenceMs ? { reference: { configId: 'reference', medianMs: options.referenceMs, minMs: options.referenceMs } } : {}) };
    writeFileSync(join(dir, name, `calibration-${SPACE.preset}-${SPACE.variant}.json`), JSON.stringify(calibration));
  });
  return dir;
}
