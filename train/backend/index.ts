// Training backend (pipeline.md "Trainer: TensorFlow.js"): tfjs-node when it loads, otherwise the
// wasm backend (XNNPACK, SIMD) plus the gradient kernels it lacks (./kernels), with tfjs-core's
// gradient functions registered (./gradients.ts). The pure-JS cpu backend is selectable for
// reference runs (tests, the naive baseline of bench/train.bench.ts).
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { createRequire } from 'node:module';
import path from 'node:path';
import { OfaError, describeValue } from '../../lib/errors.ts';
import { registerCoreGradients } from './gradients.ts';
import { registerBatchNormKernels } from './kernels/batch_norm.ts';
import { registerWasmTrainingKernels } from './kernels/register_all.ts';

export { registerCoreGradients } from './gradients.ts';
export { registerWasmTrainingKernels, WASM_TRAINING_KERNELS } from './kernels/register_all.ts';
export { BATCH_NORM_ACTIVATE, BATCH_NORM_ACTIVATE_GRAD, BATCH_NORM_KERNELS, BATCH_NORM_MOMENTS, type BatchNormAttrs, type FusedActivation } from './kernels/batch_norm.ts';

export type BackendPreference = 'auto' | 'tfjs-node' | 'wasm' | 'cpu';

export interface BackendOptions {
  /** 'auto' (default): tfjs-node if it can be imported, else wasm. */
  prefer?: BackendPreference;
  /** Intra-op threads. tfjs-node reads it (TF_NUM_INTRAOP_THREADS) when it first loads; the wasm
   *  backend runs one thread under Node (its threaded build needs emscripten pthread workers that
   *  Node cannot start), so both cores are used through train/parallel's worker threads instead. */
  threads?: number;
  /** Write the one-line "backend: ..." message to stderr (default true). */
  log?: boolean;
}

export interface BackendInfo {
  /** tfjs backend name as tf.getBackend() reports it: 'tensorflow', 'wasm' or 'cpu'. */
  name: string;
  /** Human-readable: which package, SIMD, threads, why a fallback was taken. */
  detail: string;
}

const PREFERENCES: readonly BackendPreference[] = ['auto', 'tfjs-node', 'wasm', 'cpu'];

let current: { key: string; info: Promise<BackendInfo> } | undefined;

/** Folder holding the wasm backend's .wasm binaries; in Node they are read from disk by path. */
export function wasmBinaryFolder(): string {
  const require = createRequire(import.meta.url);
  return path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm')) + path.sep;
}

async function tryTfjsNode(threads: number | undefined): Promise<{ ok: true } | { ok: false; reason: string }> {
  if (threads !== undefined && process.env.TF_NUM_INTRAOP_THREADS === undefined) {
    process.env.TF_NUM_INTRAOP_THREADS = String(threads);
  }
  try {
    // A variable specifier keeps TypeScript from requiring the optional package's types.
    const name = '@tensorflow/tfjs-node';
    await import(name);
    return { ok: true };
  } catch (error) {
    const message = error instanceof Error ? error.message.split('\n')[0] : String(error);
    return { ok: false, reason: message };
  }
}

async function startWasm(): Promise<string> {
  // Node has SharedArrayBuffer, so tfjs would pick the threaded-simd build, whose pthread workers
  // cannot be started here: force the single-threaded SIMD build.
  tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
  setWasmPaths(wasmBinaryFolder());
  const ok = await tf.setBackend('wasm');
  if (!ok) {
    throw new OfaError('E_BACKEND_INIT', 'the tfjs wasm backend failed to initialise', {
      kind: 'failure',
      hint: `check that ${wasmBinaryFolder()} holds tfjs-backend-wasm-simd.wasm`,
    });
  }
  await tf.ready();
  // After initialisation, so that the wasm kernels we replace have run their setup (MaxPoolGrad
  // keeps the original for overlapping windows).
  registerWasmTrainingKernels();
  const simd = await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT');
  return `@tensorflow/tfjs-backend-wasm (XNNPACK, ${simd ? 'SIMD' : 'no SIMD'}, 1 thread) + project training kernels`;
}

async function start(prefer: BackendPreference, threads: number | undefined): Promise<BackendInfo> {
  await registerCoreGradients();
  registerBatchNormKernels();
  if (prefer === 'cpu') {
    await tf.setBackend('cpu');
    await tf.ready();
    return { name: 'cpu', detail: '@tensorflow/tfjs-backend-cpu (pure JavaScript reference backend)' };
  }
  let fallback = '';
  if (prefer === 'auto' || prefer === 'tfjs-node') {
    const node = await tryTfjsNode(threads);
    if (node.ok) {
      await tf.setBackend('tensorflow');
      await tf.ready();
      return { name: tf.getBackend(), detail: '@tensorflow/tfjs-node (libtensorflow)' };
    }
    if (prefer === 'tfjs-node') {
      throw new OfaError('E_BACKEND_UNAVAILABLE', `backend "tfjs-node" cannot be loaded: ${node.reason}`, {
        hint: 'install @tensorflow/tfjs-node (it downloads libtensorflow), or use prefer "auto" or "wasm"',
      });
    }
    fallback = ' (tfjs-node not available)';
  }
  const detail = await startWasm();
  return { name: 'wasm', detail: detail + fallback };
}

/**
 * Selects and initialises the training backend once per thread; later calls with the same
 * preference return the same answer, a different preference switches backend.
 */
export function initBackend(options: BackendOptions = {}): Promise<BackendInfo> {
  const prefer = options.prefer ?? 'auto';
  if (!PREFERENCES.includes(prefer)) {
    throw new OfaError('E_BACKEND', `backend preference ${describeValue(prefer)} is not one of ${PREFERENCES.join(', ')}`);
  }
  if (options.threads !== undefined && !(Number.isInteger(options.threads) && options.threads >= 1)) {
    throw new OfaError('E_THREADS', `threads ${describeValue(options.threads)} must be an integer >= 1`);
  }
  const key = `${prefer}/${options.threads ?? ''}`;
  if (current === undefined || current.key !== key) {
    const info = start(prefer, options.threads);
    current = { key, info };
    if (options.log ?? true) {
      info.then((i) => process.stderr.write(`backend: ${i.name} - ${i.detail}\n`), () => undefined);
    }
  }
  return current.info;
}

/**
 * Copies a float32 tensor's values into `target` (at `offset`). On wasm it copies straight out of the
 * backend's heap: `data()`/`dataSync()` would first copy into a fresh ArrayBuffer each time, and
 * those buffers (megabytes per training step) made V8 collect garbage for "external memory pressure"
 * dozens of times a second (measured with --trace-gc in the training workers).
 */
export function readInto(tensor: tf.Tensor, target: Float32Array, offset = 0): void {
  const backend = tf.engine().findBackend(tf.getBackend()) as tf.KernelBackend & { typedArrayFromHeap?: (info: tf.TensorInfo) => Float32Array };
  if (tf.getBackend() === 'wasm' && typeof backend.typedArrayFromHeap === 'function' && tensor.dtype === 'float32') {
    target.set(backend.typedArrayFromHeap({ dataId: tensor.dataId, shape: tensor.shape, dtype: tensor.dtype }), offset);
    return;
  }
  target.set(tensor.dataSync() as Float32Array, offset);
}
