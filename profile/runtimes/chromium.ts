// The chromium runtime: onnxruntime-web's wasm and WebGPU EPs inside a real browser (pipeline.md
// "Runtimes", "Beyond one machine"): Debian's chromium launched by playwright-core, or any Playwright
// browser server named by the device's `browser.wsEndpoint` (Selenium Grid and cloud browser farms
// expose one). A loopback server (chromium/server.ts) serves the page, onnxruntime-web's files and the
// model; the page (chromium/page.js) creates the session and runs the profiler's protocol itself, with
// performance.now(); Node sends the seeded inputs (profile/inputs.ts) as bytes and receives samples.
// Browsers and pages are shared per process (chromium/browser.ts). playwright-core loads on first use.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { OfaError } from '../../lib/errors.ts';
import type { DeviceProfile } from '../device.ts';
import { inputData } from '../inputs.ts';
import { acquirePage, PageError, type PageHandle } from './chromium/browser.ts';
import { browserFaults, browserSettings, ORT_ENTRIES } from './chromium/settings.ts';
import type { InferOutput, Runtime, RuntimeInfo, RuntimeSession, Timing } from './types.ts';

const require = createRequire(import.meta.url);

export interface ChromiumSession extends RuntimeSession {
  readonly device: DeviceProfile;
  readonly handle: PageHandle;
  /** The session's id inside its page. */
  readonly id: number;
  /** The input plan whose bytes the page holds (sent once per plan). */
  fedPlan?: string;
}

/** Session options exactly as the page hands them to InferenceSession.create (the thread count is page-wide). */
export function sessionOptions(device: DeviceProfile): Record<string, unknown> {
  const ep = device.executionProvider;
  const epOptions = device.executionProviderOptions ?? {};
  const session: Record<string, unknown> = { intra_op: { allow_spinning: device.session.allowSpinning ? '1' : '0' } };
  // No silent fallback (pipeline.md): a node webgpu cannot run fails session creation. The wasm EP is
  // onnxruntime's CPU EP compiled to wasm, so there is nothing to fall back from.
  if (ep !== 'wasm') session.disable_cpu_ep_fallback = '1';
  return {
    executionProviders: [Object.keys(epOptions).length > 0 ? { name: ep, ...epOptions } : ep],
    executionMode: device.session.executionMode,
    graphOptimizationLevel: device.session.graphOptimizationLevel,
    logSeverityLevel: 3,
    extra: { session },
  };
}

const EP_HINTS: Record<string, string> = {
  webgpu:
    'chromium exposes WebGPU on Linux with --enable-unsafe-webgpu (this runtime passes it to browsers it launches; launch a remote ' +
    'browser server with it too), on a page served from http://127.0.0.1 or https; with no GPU, chromium\'s adapter is SwiftShader ' +
    '(Debian\'s chromium ships /usr/lib/chromium/libvk_swiftshader.so)',
  wasm: 'wasm threads need a cross-origin isolated page (this runtime serves one) and SharedArrayBuffer in the browser',
};

function missingPieces(device: DeviceProfile): string[] {
  const missing: string[] = [];
  for (const name of ['playwright-core', 'onnxruntime-web']) {
    try {
      require.resolve(name);
    } catch {
      missing.push(`the npm package ${name} (\`npm install ${name}\`)`);
    }
  }
  const settings = browserSettings(device);
  if (settings.wsEndpoint === undefined && !existsSync(settings.executablePath)) {
    missing.push(`a chromium executable at ${settings.executablePath} (\`apt-get install chromium\` on Debian/Ubuntu, or set "browser": {"executablePath": ...} in the device file)`);
  }
  return missing;
}

/** A page's error as an OfaError: its kind decides the code, its message and console lines are kept. */
function pageFailure(error: unknown, device: DeviceProfile, handle: PageHandle | undefined): unknown {
  // The browser's own faults (launch, connection, crash, hang) are told without the device: name it.
  if (error instanceof OfaError && !error.message.startsWith(`device ${device.name}:`)) {
    return new OfaError(error.code, `device ${device.name}: ${error.message}`, { ...(error.hint === undefined ? {} : { hint: error.hint }), cause: error.cause ?? error });
  }
  if (!(error instanceof PageError)) return error;
  const where = handle ? `onnxruntime-web ${handle.facts.ortVersion} in chromium ${handle.browser.version}` : 'onnxruntime-web in chromium';
  const ep = JSON.stringify(device.executionProvider);
  const consoleHint = error.console ? `; ${error.console}` : '';
  error.message = error.message.replace(/^Can't create a session\. ERROR_CODE: \d+, ERROR_MESSAGE: /, '');
  switch (error.kind) {
    case 'ep-unavailable':
      return new OfaError('E_EP_UNAVAILABLE', `device ${device.name}: execution provider ${ep} of ${where} cannot start: ${error.message}`, {
        hint: `${EP_HINTS[device.executionProvider] ?? 'see the page console'}${consoleHint}`,
      });
    case 'ep-unsupported':
      return new OfaError('E_MODEL', `device ${device.name}: execution provider ${ep} of ${where} cannot run every node of the model, and falling back to the CPU EP is disabled: ${error.message}`, {
        hint: `the model needs an operator the EP lacks; profile it on a device whose EP has it (e.g. wasm)${consoleHint}`,
      });
    case 'model':
      return new OfaError('E_MODEL', `device ${device.name}: ${where} could not load the model: ${error.message}`, { hint: `check the file with \`ofa export inspect\`${consoleHint}` });
    case 'input':
      return new OfaError('E_INPUT_TYPE', `device ${device.name}: ${error.message}`);
    default:
      return new OfaError('E_BROWSER', `device ${device.name}: the profiler page failed: ${error.message}`, { hint: error.console ?? 'see the browser console' });
  }
}

const toBase64 = (data: ArrayBufferView) => Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('base64');
function float32FromBase64(text: string): Float32Array {
  const bytes = Buffer.from(text, 'base64');
  const out = new Float32Array(bytes.byteLength / 4);
  new Uint8Array(out.buffer).set(bytes);
  return out;
}

/** The device's page (launching or connecting to its browser when none is open). */
async function pageFor(device: DeviceProfile): Promise<PageHandle> {
  try {
    return await acquirePage(browserSettings(device), device.session.intraOpNumThreads, device.executionProvider);
  } catch (error) {
    throw pageFailure(error, device, undefined);
  }
}

async function withPage<T>(device: DeviceProfile, use: (handle: PageHandle) => Promise<T>): Promise<T> {
  const handle = await pageFor(device);
  try {
    return await use(handle);
  } catch (error) {
    throw pageFailure(error, device, handle);
  } finally {
    await handle.release();
  }
}

export const chromium: Runtime<ChromiumSession> = {
  name: 'chromium',
  executionProviders: ['wasm', 'webgpu'],
  deviceFields: ['browser'],
  deviceFaults: browserFaults,

  async check(device) {
    const missing = missingPieces(device);
    if (missing.length > 0) {
      throw new OfaError('E_EP_UNAVAILABLE', `device ${device.name}: runtime chromium cannot start on this host: missing ${missing.join('; ')}`, {
        hint: `install ${missing.length > 1 ? 'them' : 'it'}, or give "browser": {"wsEndpoint": "ws://..."} for a Playwright browser server elsewhere${device.executionProvider === 'webgpu' ? `; ${EP_HINTS.webgpu}` : ''}`,
      });
    }
  },

  async info(device): Promise<RuntimeInfo> {
    await this.check(device);
    const settings = browserSettings(device);
    return withPage(device, async (handle) => ({
      name: 'chromium',
      version: `onnxruntime-web ${handle.facts.ortVersion} in chromium ${handle.browser.version}`,
      settings: {
        sessionOptions: sessionOptions(device),
        env: { wasmNumThreads: device.session.intraOpNumThreads, wasmProxy: false, ortEntry: settings.ortEntry, ortModule: ORT_ENTRIES[settings.ortEntry].module },
        browser: handle.browser,
        page: handle.facts,
        timeoutMs: settings.timeoutMs,
      },
    }));
  },

  async createSession(model, device): Promise<ChromiumSession> {
    await this.check(device);
    const handle = await pageFor(device);
    const served = handle.server.addModel(model);
    try {
      const created = await handle.call<{ id: number; inputs: ChromiumSession['inputs']; outputs: ChromiumSession['outputs'] }>(
        'create',
        { modelUrl: served.url, options: sessionOptions(device), executionProvider: device.executionProvider, numThreads: device.session.intraOpNumThreads },
        'creating a session',
      );
      let disposed = false;
      return {
        device,
        handle,
        id: created.id,
        inputs: created.inputs,
        outputs: created.outputs,
        async dispose() {
          if (disposed) return;
          disposed = true;
          try {
            await handle.call('release', { id: created.id }, 'releasing a session');
          } catch {
            // A crashed or closed page has no session left to release.
          } finally {
            await handle.release();
          }
        },
      };
    } catch (error) {
      await handle.release();
      throw pageFailure(error, device, handle);
    } finally {
      // The page has fetched it (or failed to): nothing is served longer than needed.
      handle.server.removeModel(served.id);
    }
  },

  async time(session, plan, request): Promise<Timing> {
    try {
      const key = JSON.stringify(plan);
      if (session.fedPlan !== key) {
        const tensors = inputData(plan).map(({ spec, data }) => ({ name: spec.name, type: spec.type, dims: spec.dims, base64: toBase64(data) }));
        await session.handle.call('feed', { id: session.id, key, tensors }, 'receiving the inputs');
        session.fedPlan = key;
      }
      return await session.handle.call<Timing>('time', { id: session.id, key, request }, `timing runs (${JSON.stringify(request)})`);
    } catch (error) {
      throw pageFailure(error, session.device, session.handle);
    }
  },

  async infer(session, inputs) {
    try {
      const sent = inputs.map((input) => ({ name: input.name, dims: [...input.dims], base64: toBase64(input.data) }));
      const outputs = await session.handle.call<Record<string, { dims: number[]; base64: string }>>('infer', { id: session.id, inputs: sent }, 'running the model once');
      const result: Record<string, InferOutput> = {};
      for (const [name, output] of Object.entries(outputs)) result[name] = { data: float32FromBase64(output.base64), dims: output.dims };
      return result;
    } catch (error) {
      throw pageFailure(error, session.device, session.handle);
    }
  },
};
