// Shared helpers of the exporter tests: seeded images, NHWC -> NCHW, runs in tfjs (cpu backend),
// onnxruntime-node (cpu EP) and onnxruntime-web (wasm EP inside Node, one thread).
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import * as ortNode from 'onnxruntime-node';
import * as ortWeb from 'onnxruntime-web';
import { createRng } from '../../lib/rng.ts';

ortWeb.env.wasm.numThreads = 1;

export async function useCpuBackend(): Promise<void> {
  await tf.setBackend('cpu');
  await tf.ready();
}

/** Seeded N(0, 1) images, NHWC. */
export function randomImages(seed: number, batch: number, size: number, channels: number): Float32Array {
  const rng = createRng(seed);
  return Float32Array.from({ length: batch * size * size * channels }, () => rng.normal());
}

export function nhwcToNchw(data: Float32Array, batch: number, size: number, channels: number): Float32Array {
  const out = new Float32Array(data.length);
  for (let n = 0; n < batch; n++)
    for (let y = 0; y < size; y++)
      for (let x = 0; x < size; x++)
        for (let c = 0; c < channels; c++) out[((n * channels + c) * size + y) * size + x] = data[((n * size + y) * size + x) * channels + c];
  return out;
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Infinity;
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (!(d <= m)) m = Number.isNaN(d) ? Infinity : d;
  }
  return m;
}

export interface Runtimes {
  node: ortNode.InferenceSession;
  web: ortWeb.InferenceSession;
}

/**
 * `optimization` 'all' is what deployment uses (fusions, layout changes); 'basic' (constant folding,
 * redundant-node removal) creates sessions several times faster, so the tests use it for most models.
 */
export async function openSessions(bytes: Uint8Array, optimization: 'basic' | 'all' = 'all'): Promise<Runtimes> {
  const [node, web] = await Promise.all([
    ortNode.InferenceSession.create(bytes, { executionProviders: ['cpu'], intraOpNumThreads: 1, graphOptimizationLevel: optimization }),
    ortWeb.InferenceSession.create(bytes, { executionProviders: ['wasm'], graphOptimizationLevel: optimization }),
  ]);
  return { node, web };
}

export async function closeSessions(sessions: Runtimes): Promise<void> {
  await Promise.all([sessions.node.release(), sessions.web.release()]);
}

/** Runs one session with named NCHW float inputs; returns the single output's data and dims. */
export async function runNode(session: ortNode.InferenceSession, inputs: Record<string, { data: Float32Array; dims: number[] }>): Promise<{ data: Float32Array; dims: readonly number[] }> {
  const feeds: Record<string, ortNode.Tensor> = {};
  for (const [name, t] of Object.entries(inputs)) feeds[name] = new ortNode.Tensor('float32', t.data, t.dims);
  const result = await session.run(feeds);
  const out = result[session.outputNames[0]];
  return { data: out.data as Float32Array, dims: out.dims };
}

export async function runWeb(session: ortWeb.InferenceSession, inputs: Record<string, { data: Float32Array; dims: number[] }>): Promise<{ data: Float32Array; dims: readonly number[] }> {
  const feeds: Record<string, ortWeb.Tensor> = {};
  for (const [name, t] of Object.entries(inputs)) feeds[name] = new ortWeb.Tensor('float32', t.data, t.dims);
  const result = await session.run(feeds);
  const out = result[session.outputNames[0]];
  return { data: out.data as Float32Array, dims: out.dims };
}

export { tf };
