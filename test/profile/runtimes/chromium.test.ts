// The chromium runtime for real (issue 16): Debian's chromium driven by playwright-core, onnxruntime-web
// in the page, on models the tests build. The loopback model server against hostile requests, the device
// file's browser settings, wasm with 1 and 2 threads (a cross-origin isolated page), WebGPU (SwiftShader
// on a host without a GPU), a model the EP cannot run, console errors in failures, a remote browser
// server reached by wsEndpoint. One browser is shared by the tests of this file (held open by before()).
// The page's faults (a hung or crashed page, Ctrl-C) are in chromium-faults.test.ts, in their own browser.
import test from 'ava';
import { request } from 'node:http';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { checkDevice, loadDevice, measureModel, openInference } from '../../../profile/index.ts';
import { measureInterleaved } from '../../../profile/measure.ts';
import { validateDevice } from '../../../profile/predict.ts';
import { findDeviceFaults, type DeviceProfile } from '../../../profile/device.ts';
import { acquirePage, closeAllBrowsers, ortDistFolder, type BrowserFacts, type PageFacts, type PageHandle } from '../../../profile/runtimes/chromium/browser.ts';
import { startModelServer, type ModelServer } from '../../../profile/runtimes/chromium/server.ts';
import { browserSettings } from '../../../profile/runtimes/chromium/settings.ts';
import { FAST, cpuDevice, matmulModel } from '../fixtures.ts';

const require = createRequire(import.meta.url);
const { onnx } = require('onnx-proto') as typeof import('onnx-proto');

const EXECUTABLE = '/usr/bin/chromium';

/** A chromium device (wasm, 1 thread) with the given changes. */
function chromiumDevice(name: string, changes: Record<string, unknown> = {}): DeviceProfile {
  const base = cpuDevice(name);
  return validateDevice({ ...base, runtime: 'chromium', executionProvider: 'wasm', ...changes, session: { ...(base.session as object), ...((changes.session as object) ?? {}) } }, `test device ${name}`);
}

/** relu(x W) for the matmul fixture, x [rows, 16]. */
function matmulArithmetic(input: Float32Array, rows: number): Float32Array {
  const weights = Float32Array.from({ length: 256 }, (_, i) => Math.sin(i));
  const out = new Float32Array(rows * 16);
  for (let r = 0; r < rows; r++)
    for (let c = 0; c < 16; c++) {
      let sum = 0;
      for (let k = 0; k < 16; k++) sum += input[r * 16 + k] * weights[k * 16 + c];
      out[r * 16 + c] = Math.max(0, sum);
    }
  return out;
}

const maxAbsDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let worst = a.length === b.length ? 0 : Infinity;
  for (let i = 0; i < Math.min(a.length, b.length); i++) worst = Math.max(worst, Math.abs(a[i] - b[i]) || 0);
  return worst;
};

/** y = Det(x), x float32 [2, 3, 3]: an operator onnxruntime's CPU EP has and its WebGPU EP (1.30) lacks. */
function detModel(): Uint8Array {
  const valueInfo = (name: string, dims: number[]) => ({ name, type: { tensorType: { elemType: onnx.TensorProto.DataType.FLOAT, shape: { dim: dims.map((dimValue) => ({ dimValue })) } } } });
  const model = onnx.ModelProto.create({
    irVersion: 8,
    opsetImport: [{ domain: '', version: 17 }],
    graph: { name: 'det', node: [{ opType: 'Det', input: ['x'], output: ['y'], name: 'det' }], input: [valueInfo('x', [2, 3, 3])], output: [valueInfo('y', [2])] },
  });
  return onnx.ModelProto.encode(model).finish();
}

/** One raw HTTP request (the path exactly as given: no URL normalisation on the way). */
function rawGet(server: ModelServer, path: string, method = 'GET'): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: Buffer }> {
  const { hostname, port } = new URL(server.origin);
  return new Promise((resolve, reject) => {
    const req = request({ host: hostname, port, path, method, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end();
  });
}

let hold: PageHandle | undefined;
test.before(async () => {
  // Keeps the shared browser open between tests (a released browser closes after a short linger).
  hold = await acquirePage(browserSettings(loadDevice('chromium-wasm-1t')), 1, 'wasm');
});
test.after.always(async () => {
  await hold?.release();
  await closeAllBrowsers();
});

test('the model server: allowlisted paths under the token only, with the isolation headers; hostile paths, a missing or wrong token: 404', async (t) => {
  const server = await startModelServer({ ortDist: ortDistFolder() });
  try {
    t.regex(server.origin, /^http:\/\/127\.0\.0\.1:\d+$/);
    const token = new URL(server.pageUrl).pathname.split('/')[1];
    t.regex(token, /^[0-9a-f]{32}$/);
    const page = await rawGet(server, `/${token}/`);
    t.is(page.status, 200);
    t.is(page.headers['cross-origin-opener-policy'], 'same-origin');
    t.is(page.headers['cross-origin-embedder-policy'], 'require-corp');
    t.regex(page.body.toString(), /<script type="module" src="page.js">/);
    const wasm = await rawGet(server, `/${token}/ort/ort-wasm-simd-threaded.wasm`, 'HEAD');
    t.is(wasm.status, 200);
    t.is(wasm.headers['content-type'], 'application/wasm');
    t.is((await rawGet(server, `/${token}/page.js`)).status, 200);
    const model = server.addModel(new Uint8Array([7, 8, 9]));
    const served = await rawGet(server, new URL(model.url).pathname);
    t.deepEqual([...served.body], [7, 8, 9]);

    const hostile = [
      '/',
      `/${token}`,
      `/${token}/ort/`,
      `/${token}/models/`,
      `/${token}/ort/../../package.json`,
      `/${token}/ort/../page.js`,
      `/${token}/ort/%2e%2e/%2e%2e/package.json`,
      `/${token}/ort/%2E%2E%2F%2E%2E%2Fpackage.json`,
      `/${token}/ort/..%2f..%2fpackage.json`,
      `/${token}/%2e%2e/${token}/page.js`,
      `/${token}/./page.js`,
      `/${token}//page.js`,
      `/${token}/ort/ort.wasm.min.mjs.map`,
      `/${token}/ort/${join(ortDistFolder(), 'ort.wasm.min.mjs')}`,
      join(ortDistFolder(), 'ort.wasm.min.mjs'),
      '/etc/passwd',
      '//etc/passwd',
      `${server.origin}/${token}/page.js`,
      `/${token}/page.js/`,
      `/${token.toUpperCase()}/page.js`,
      '/page.js',
      '/ort/ort.wasm.min.mjs',
      `/${token.slice(0, 31)}/page.js`,
      `/${token}0/page.js`,
      `/${'0'.repeat(32)}/page.js`,
      `/${token}/models/${model.id}`,
      `/${token}/models/../models/${model.id}.onnx`,
      `/${token}/${dirname(ortDistFolder())}/package.json`,
    ];
    for (const path of hostile) {
      const response = await rawGet(server, path);
      t.is(response.status, 404, path);
      t.is(response.body.toString(), 'not found\n', path);
    }
    t.is((await rawGet(server, `/${token}/page.js`, 'POST')).status, 405);
    t.is((await rawGet(server, `/${token}/page.js`, 'DELETE')).status, 405);
    // A model is served only while its session opens.
    server.removeModel(model.id);
    t.is((await rawGet(server, new URL(model.url).pathname)).status, 404);
  } finally {
    await server.close();
  }
  await t.throwsAsync(rawGet(server, '/'), { code: 'ECONNREFUSED' } as never);
});

test('a non-loopback bind is refused unless explicitly allowed, by the server and by the device schema', async (t) => {
  for (const host of ['0.0.0.0', '::', '192.168.1.10']) {
    await t.throwsAsync(startModelServer({ ortDist: ortDistFolder(), host }), { code: 'E_SERVER_BIND', message: new RegExp(`"${host.replace(/\./g, '\\.')}" is not a loopback address; allowed: 127\\.0\\.0\\.1`) } as never);
  }
  const open = await startModelServer({ ortDist: ortDistFolder(), host: '0.0.0.0', allowNonLoopback: true, publicHost: '127.0.0.1' });
  t.is((await rawGet(open, new URL(open.pageUrl).pathname)).status, 200);
  await open.close();
  const faults = findDeviceFaults({ ...cpuDevice('open'), runtime: 'chromium', executionProvider: 'wasm', browser: { serverHost: '0.0.0.0' } });
  t.deepEqual(faults.map((f) => f.path), ['$.browser.serverHost']);
  t.regex(faults[0].message, /loopback only .*"allowNonLoopback": true/);
  t.deepEqual(findDeviceFaults({ ...cpuDevice('open'), runtime: 'chromium', executionProvider: 'wasm', browser: { serverHost: '0.0.0.0', allowNonLoopback: true } }), []);
});

test("the device file's browser settings: every fault names its path, the value and the rule; only chromium takes them", (t) => {
  const faultsOf = (browser: unknown, ep = 'wasm') => findDeviceFaults({ ...cpuDevice('b'), runtime: 'chromium', executionProvider: ep, browser }).map((f) => `${f.path}: ${f.message}`);
  t.deepEqual(faultsOf({}), []);
  t.deepEqual(faultsOf({ executablePath: '/opt/chromium/chrome', args: ['--foo'], timeoutMs: 5000, ortEntry: 'onnxruntime-web' }), []);
  t.deepEqual(faultsOf({ wsEndpoint: 'ws://10.0.0.5:3000/abc' }), []);
  t.regex(faultsOf('chromium')[0], /^\$\.browser: browser must be an object/);
  t.regex(faultsOf({ headless: false })[0], /^\$\.browser\.headless: unknown field "headless" in browser; allowed fields: executablePath, args, wsEndpoint/);
  t.regex(faultsOf({ args: ['no-dashes'] })[0], /^\$\.browser\.args: .*starting with "--"/);
  t.regex(faultsOf({ wsEndpoint: 'http://x:1/' })[0], /^\$\.browser\.wsEndpoint: wsEndpoint must be a ws:\/\/ or wss:\/\/ URL/);
  t.regex(faultsOf({ wsEndpoint: 'ws://x:1/', executablePath: '/usr/bin/chromium' })[0], /^\$\.browser\.executablePath: .*with wsEndpoint the browser server was launched elsewhere/);
  t.regex(faultsOf({ timeoutMs: 5 })[0], /^\$\.browser\.timeoutMs: timeoutMs must be an integer from 100 to 3600000/);
  t.regex(faultsOf({ ortEntry: 'onnxruntime-web/webgl' })[0], /^\$\.browser\.ortEntry: ortEntry must be one of "onnxruntime-web\/wasm", "onnxruntime-web\/webgpu", "onnxruntime-web"/);
  t.regex(faultsOf({ ortEntry: 'onnxruntime-web/wasm' }, 'webgpu')[0], /has no webgpu EP/);
  // Another runtime takes no browser field.
  const other = findDeviceFaults({ ...cpuDevice('c'), browser: {} });
  t.deepEqual(other.map((f) => f.path), ['$.browser']);
  t.regex(other[0].message, /unknown field "browser" in device profile/);
  t.throws(() => validateDevice({ ...cpuDevice('d'), runtime: 'chromium', executionProvider: 'wasm', browser: { timeoutMs: 'soon' } }), { code: 'E_DEVICE', message: /\$\.browser\.timeoutMs: .* \(value "soon"\)/ } as never);
});

test('a missing browser: the error names the executable and the install command', async (t) => {
  const device = chromiumDevice('nowhere', { browser: { executablePath: '/nonexistent/chromium' } });
  const error = await t.throwsAsync(checkDevice(device), { code: 'E_EP_UNAVAILABLE' } as never);
  t.regex(error!.message, /device nowhere: runtime chromium cannot start on this host: missing a chromium executable at \/nonexistent\/chromium \(`apt-get install chromium`/);
  t.regex((error as { hint?: string }).hint!, /wsEndpoint/);
});

test('wasm, 1 thread: the protocol runs in the page; the page facts are recorded; outputs equal the arithmetic', async (t) => {
  const device = loadDevice('chromium-wasm-1t');
  const result = await measureModel(matmulModel(['batch', 16]), device, { ...FAST, dims: { batch: 3 }, keepSamples: true });
  t.true(result.stats.count >= FAST.minSamples);
  t.is(result.samplesMs!.length, result.stats.count);
  t.true(result.sessionCreateMs > 0 && result.firstRunMs > 0 && result.stats.medianMs > 0);
  t.deepEqual(result.inputs, [{ name: 'x', type: 'float32', shape: [3, 16] }]);
  t.regex(result.runtime.version, /^onnxruntime-web 1\.\d+\.\d+ in chromium \d+\./);
  const settings = result.runtime.settings as { sessionOptions: Record<string, unknown>; browser: BrowserFacts; page: PageFacts; env: Record<string, unknown> };
  t.deepEqual(settings.sessionOptions.executionProviders, ['wasm']);
  t.deepEqual(settings.sessionOptions.extra, { session: { intra_op: { allow_spinning: '0' } } });
  t.is(settings.env.ortEntry, 'onnxruntime-web/wasm');
  t.is(settings.browser.mode, 'launched');
  t.is(settings.browser.executablePath, EXECUTABLE);
  t.true(settings.browser.launchArgs!.includes('--enable-unsafe-webgpu'));
  t.regex(settings.page.userAgent, /Chrome\/\d+/);
  t.true(settings.page.crossOriginIsolated);
  t.is(settings.page.wasmNumThreads, 1);
  t.true(settings.page.hardwareConcurrency >= 1);

  const input = Float32Array.from({ length: 3 * 16 }, (_, i) => Math.cos(i) * 0.5);
  const session = await openInference(matmulModel(['batch', 16]), device);
  try {
    t.deepEqual(session.inputs, [{ name: 'x', type: 'float32', shape: ['batch', 16] }]);
    const outputs = await session.run([{ name: 'x', data: input, dims: [3, 16] }]);
    t.deepEqual(Object.keys(outputs), ['y']);
    t.deepEqual(outputs.y.dims, [3, 16]);
    t.true(maxAbsDiff(outputs.y.data, matmulArithmetic(input, 3)) < 1e-5);
  } finally {
    await session.dispose();
  }

  // Interleaved (the table builder's protocol): two sessions in one page, visited in turn.
  const both = await measureInterleaved([matmulModel(['batch', 16]), matmulModel(['batch', 16])], device, { ...FAST, runsPerVisit: 2 });
  t.is(both.length, 2);
  for (const one of both) t.true(one.stats.count >= FAST.minSamples);
});

test('wasm, 2 threads: a cross-origin isolated page runs 2 wasm threads; outputs equal the arithmetic', async (t) => {
  const device = loadDevice('chromium-wasm-2t');
  const result = await measureModel(matmulModel(['batch', 16]), device, { ...FAST, dims: { batch: 2 } });
  const page = (result.runtime.settings as { page: PageFacts }).page;
  t.true(page.crossOriginIsolated);
  t.is(page.wasmNumThreads, 2);
  t.true(result.stats.count >= FAST.minSamples);
  const input = Float32Array.from({ length: 4 * 16 }, (_, i) => Math.sin(3 * i));
  const session = await openInference(matmulModel(['batch', 16]), device);
  try {
    const outputs = await session.run([{ name: 'x', data: input, dims: [4, 16] }]);
    t.true(maxAbsDiff(outputs.y.data, matmulArithmetic(input, 4)) < 1e-5);
  } finally {
    await session.dispose();
  }
});

test('webgpu: the page gets an adapter (SwiftShader without a GPU), measures and computes on it', async (t) => {
  const device = loadDevice('chromium-webgpu');
  const result = await measureModel(matmulModel(['batch', 16]), device, { warmupRuns: 1, minSamples: 3, minTimeMs: 0 });
  const settings = result.runtime.settings as { sessionOptions: { executionProviders: unknown[]; extra: { session: Record<string, unknown> } }; page: PageFacts; env: Record<string, unknown> };
  t.deepEqual(settings.sessionOptions.executionProviders, ['webgpu']);
  t.is(settings.sessionOptions.extra.session.disable_cpu_ep_fallback, '1');
  t.is(settings.env.ortEntry, 'onnxruntime-web/webgpu');
  t.true(settings.page.navigatorGpu);
  t.truthy(settings.page.adapter);
  t.log(`WebGPU adapter: ${JSON.stringify(settings.page.adapter)}`);
  t.true(result.stats.count >= 3);
  const input = Float32Array.from({ length: 2 * 16 }, (_, i) => Math.cos(i));
  const session = await openInference(matmulModel(['batch', 16]), device);
  try {
    const outputs = await session.run([{ name: 'x', data: input, dims: [2, 16] }]);
    const diff = maxAbsDiff(outputs.y.data, matmulArithmetic(input, 2));
    t.log(`webgpu vs arithmetic: max abs diff ${diff.toExponential(2)}`);
    t.true(diff < 1e-4);
  } finally {
    await session.dispose();
  }
});

test("webgpu through the package's default entry (onnxruntime-web: JSEP, WebGPU kernels written in JavaScript) computes on WebGPU too", async (t) => {
  const { file: _file, ...webgpu } = loadDevice('chromium-webgpu');
  const device = validateDevice({ ...webgpu, name: 'jsep', browser: { ortEntry: 'onnxruntime-web' } }, 'jsep');
  const input = Float32Array.from({ length: 2 * 16 }, (_, i) => Math.sin(i));
  const session = await openInference(matmulModel(['batch', 16]), device);
  try {
    const outputs = await session.run([{ name: 'x', data: input, dims: [2, 16] }]);
    t.true(maxAbsDiff(outputs.y.data, matmulArithmetic(input, 2)) < 1e-4);
  } finally {
    await session.dispose();
  }
});

test("a model the EP cannot run: the EP's message and no fallback; a broken model: the runtime's message", async (t) => {
  const error = await t.throwsAsync(openInference(detModel(), loadDevice('chromium-webgpu')), { code: 'E_MODEL' } as never);
  t.regex(error!.message, /device chromium-webgpu: execution provider "webgpu" of onnxruntime-web .* cannot run every node of the model, and falling back to the CPU EP is disabled: .*fallback to CPU EP has been explicitly disabled/);
  // The same model runs on the wasm EP (onnxruntime's CPU kernels): the refusal above is the EP's, not the model's.
  const wasm = await openInference(detModel(), loadDevice('chromium-wasm-1t'));
  const out = await wasm.run([{ name: 'x', data: Float32Array.from([1, 0, 0, 0, 2, 0, 0, 0, 3, 2, 0, 0, 0, 2, 0, 0, 0, 2]), dims: [2, 3, 3] }]);
  t.deepEqual([...out.y.data], [6, 8]);
  await wasm.dispose();
  const broken = await t.throwsAsync(openInference(new Uint8Array([1, 2, 3, 4, 5]), loadDevice('chromium-wasm-1t')), { code: 'E_MODEL' } as never);
  t.regex(broken!.message, /device chromium-wasm-1t: onnxruntime-web .* could not load the model: .*protobuf parsing failed/);
});

test("the page's console errors are part of a failure's message", async (t) => {
  const handle = await acquirePage(browserSettings(loadDevice('chromium-wasm-1t')), 1, 'wasm');
  try {
    await handle.page.evaluate(() => console.error('a message the page logged'));
    const error = await t.throwsAsync(handle.call('time', { id: 99999, key: '', request: {} }, 'timing'));
    t.regex(error!.message, /session 99999 is not open in this page/);
    t.regex((error as { console?: string }).console!, /the page's console said: a message the page logged/);
  } finally {
    await handle.release();
  }
});

test('a remote browser: a Playwright browser server reached by wsEndpoint, the model served through the connection', async (t) => {
  const { chromium } = await import('playwright-core');
  const server = await chromium.launchServer({ executablePath: EXECUTABLE, args: process.getuid?.() === 0 ? ['--no-sandbox'] : [], host: '127.0.0.1' });
  try {
    const device = chromiumDevice('remote-2t', { browser: { wsEndpoint: server.wsEndpoint() }, session: { intraOpNumThreads: 2 } });
    const result = await measureModel(matmulModel(['batch', 16]), device, { ...FAST, dims: { batch: 1 } });
    const settings = result.runtime.settings as { browser: BrowserFacts; page: PageFacts };
    t.is(settings.browser.mode, 'remote');
    t.is(settings.browser.serving, 'playwright-connection');
    // The endpoint's path (the server's secret) is not recorded.
    t.is(settings.browser.wsEndpoint, `ws://${new URL(server.wsEndpoint()).host}/...`);
    t.true(settings.page.crossOriginIsolated);
    t.is(settings.page.wasmNumThreads, 2);
    t.true(result.stats.count >= FAST.minSamples);
    const input = Float32Array.from({ length: 16 }, (_, i) => i / 16 - 0.5);
    const session = await openInference(matmulModel(['batch', 16]), device);
    const outputs = await session.run([{ name: 'x', data: input, dims: [1, 16] }]);
    t.true(maxAbsDiff(outputs.y.data, matmulArithmetic(input, 1)) < 1e-5);
    await session.dispose();
  } finally {
    await server.close();
  }
  const nobody = chromiumDevice('remote-none', { browser: { wsEndpoint: 'ws://127.0.0.1:9/nobody', timeoutMs: 5000 } });
  const error = await t.throwsAsync(checkDevice(nobody), { code: 'E_BROWSER' } as never);
  t.regex(error!.message, /could not connect to the Playwright browser server at ws:\/\/127\.0\.0\.1:9\/\.\.\./);
  t.regex((error as { hint?: string }).hint!, /launch-server/);
});
