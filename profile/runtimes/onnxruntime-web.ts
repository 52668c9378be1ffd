// onnxruntime-web inside Node (pipeline.md "Runtimes"): its wasm EP, single-threaded there. Its webgpu
// EP needs a browser; in Node it is refused (use the chromium runtime).
import v8 from 'node:v8';
import { OfaError } from '../../lib/errors.ts';
import type { DeviceProfile } from '../device.ts';
import { timeOrtSession, inferOrtSession, wrapOrtSession, type OrtSession } from './ort.ts';
import type { Runtime, RuntimeInfo } from './types.ts';

type OrtWeb = typeof import('onnxruntime-web');

/**
 * V8 compiles WebAssembly with its baseline compiler (Liftoff) first and re-compiles hot functions with
 * TurboFan later, in the background. Measured here on a fashion subnet: the first ~60 runs of the first
 * session in a process took 17-21 ms, then 1.0 ms once tiered up; so a table built early in a process
 * would time Liftoff code. Compiling with TurboFan up front (--no-liftoff, set before the runtime's wasm
 * module is compiled) makes every sample time optimised code, at the price of a longer first session
 * creation (about 1.5 s alone, ~10 s on a loaded host), once per process.
 */
export const WASM_COMPILER = '--no-liftoff (TurboFan up front; no baseline-compiler tier-up during measurement)';

let ortModule: Promise<OrtWeb> | undefined;
function ort(): Promise<OrtWeb> {
  if (!ortModule) v8.setFlagsFromString('--no-liftoff');
  ortModule ??= (import('onnxruntime-web') as Promise<OrtWeb>).then((module) => {
    // The package's exports map hides package.json: the version comes from the runtime itself.
    version = module.env.versions.web ?? 'unknown';
    return module;
  });
  return ortModule;
}

let version = 'unknown';
function packageVersion(): string {
  return version;
}

/** Session options exactly as handed to InferenceSession.create (the thread count is env-wide). */
export function sessionOptions(device: DeviceProfile): Record<string, unknown> {
  return {
    executionProviders: [device.executionProvider],
    executionMode: device.session.executionMode,
    graphOptimizationLevel: device.session.graphOptimizationLevel,
    logSeverityLevel: 3,
    extra: { session: { intra_op: { allow_spinning: device.session.allowSpinning ? '1' : '0' } } },
  };
}

async function configureEnv(device: DeviceProfile): Promise<OrtWeb> {
  const module = await ort();
  // The wasm thread count is process-wide and fixed at the first session: set it every time so that a
  // mismatch is visible in the recorded settings.
  module.env.wasm.numThreads = device.session.intraOpNumThreads;
  module.env.wasm.proxy = false;
  return module;
}

export const onnxruntimeWeb: Runtime<OrtSession> = {
  name: 'onnxruntime-web',
  executionProviders: ['wasm', 'webgpu'],

  // onnxruntime-web runs single-threaded inside Node (pipeline.md), and its wasm thread count is one knob.
  deviceFaults(device) {
    const session = device.session;
    const threads = typeof session === 'object' && session !== null ? (session as Record<string, unknown>).intraOpNumThreads : undefined;
    return typeof threads === 'number' && threads !== 1
      ? [{ path: '$.session.intraOpNumThreads', value: threads, message: 'onnxruntime-web inside Node runs its wasm EP on 1 thread; allowed: 1' }]
      : [];
  },

  async check(device) {
    await ort();
    if (device.executionProvider !== 'wasm') {
      throw new OfaError(
        'E_EP_UNAVAILABLE',
        `device ${device.name}: execution provider ${JSON.stringify(device.executionProvider)} of onnxruntime-web ${packageVersion()} cannot start inside Node; available here: wasm`,
        { hint: 'onnxruntime-web runs webgpu only inside a browser: use runtime "chromium" (with playwright-core and a chromium build)', kind: 'failure' },
      );
    }
  },

  async info(device): Promise<RuntimeInfo> {
    const module = await configureEnv(device);
    return {
      name: 'onnxruntime-web',
      version: `onnxruntime-web ${packageVersion()}`,
      settings: { sessionOptions: sessionOptions(device), env: { wasmNumThreads: module.env.wasm.numThreads, wasmProxy: module.env.wasm.proxy, simd: 'always (ort-wasm-simd-threaded build)', v8WasmCompiler: WASM_COMPILER } },
    };
  },

  async createSession(model, device): Promise<OrtSession> {
    await this.check(device);
    const { InferenceSession, Tensor } = await configureEnv(device);
    let session: Awaited<ReturnType<typeof InferenceSession.create>>;
    try {
      session = await InferenceSession.create(model, sessionOptions(device) as never);
    } catch (error) {
      const message = String((error as Error)?.message ?? error).split('\n')[0];
      if (/backend not found|no available backend/i.test(message)) {
        throw new OfaError('E_EP_UNAVAILABLE', `device ${device.name}: onnxruntime-web could not start ${JSON.stringify(device.executionProvider)}: ${message}`, { kind: 'failure', cause: error });
      }
      throw new OfaError('E_MODEL', `onnxruntime-web could not load the model: ${message}`, { kind: 'bad-input', cause: error });
    }
    return wrapOrtSession(session as never, Tensor as never);
  },

  time: timeOrtSession,
  infer: inferOrtSession,
};
