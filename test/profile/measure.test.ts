// The measuring protocol and EP enforcement: real onnxruntime sessions on models the test builds.
import test from 'ava';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { isOfaError } from '../../lib/errors.ts';
import { checkDevice, loadDevice, measureModel, readOnnxFile } from '../../profile/index.ts';
import { validateDevice } from '../../profile/predict.ts';
import { probeModel } from '../../profile/probe.ts';
import { median } from '../../profile/stats.ts';
import { onnxruntimeNode, sessionOptions } from '../../profile/runtimes/onnxruntime-node.ts';
import { main } from '../../cli/main.ts';
import { FAST, cpuDevice, matmulModel, mixedInputsModel, tempDir, writeTemp } from './fixtures.ts';

const require = createRequire(import.meta.url);

test('the protocol meets both floors, records the knobs and the host, and keeps raw samples on request', async (t) => {
  const device = loadDevice('cpu-1t');
  const result = await measureModel(matmulModel(), device, { warmupRuns: 3, minSamples: 12, minTimeMs: 20, keepSamples: true, dims: { sequence: 8 } });
  t.true(result.stats.count >= 12);
  t.true(result.samplingMs >= 20);
  t.is(result.samplesMs!.length, result.stats.count);
  t.is(result.stats.medianMs, median(result.samplesMs!));
  t.true(result.stats.p90Ms >= result.stats.medianMs && result.stats.p99Ms >= result.stats.p90Ms);
  t.true(result.sessionCreateMs > 0 && result.firstRunMs > 0);
  t.deepEqual(result.protocol, { warmupRuns: 3, minSamples: 12, minTimeMs: 20 });
  t.deepEqual(result.inputs, [{ name: 'x', type: 'float32', shape: [1, 8, 16] }]);
  const options = result.runtime.settings.sessionOptions as Record<string, unknown>;
  t.deepEqual(options.executionProviders, ['cpu']);
  t.is(options.intraOpNumThreads, 1);
  t.is(options.interOpNumThreads, 1);
  t.deepEqual(options.extra, { session: { intra_op: { allow_spinning: '0' } } });
  t.regex(result.runtime.version, /^onnxruntime-node \d+\.\d+\.\d+$/);
  t.true(result.host.logicalCores >= 1);
  t.is(result.host.nodeVersion, process.version);
  t.truthy(Date.parse(result.host.date));
  // Without keepSamples, no raw samples.
  t.is((await measureModel(matmulModel(), device, { ...FAST, dims: { sequence: 2 } })).samplesMs, undefined);
});

test('onnxruntime-web measures on its wasm EP inside Node, with mixed input types', async (t) => {
  const result = await measureModel(mixedInputsModel(), loadDevice('wasm-node'), { ...FAST, dims: { batch: 3 } });
  t.regex(result.runtime.version, /^onnxruntime-web /);
  // V8 compiles the runtime's wasm with TurboFan up front, so no sample times baseline-compiled code.
  t.regex((result.runtime.settings.env as { v8WasmCompiler: string }).v8WasmCompiler, /--no-liftoff/);
  t.deepEqual(result.inputs.map((i) => [i.name, i.type, i.shape]), [['x', 'float32', [3, 4]], ['ids', 'int64', [3, 4]]]);
  t.true(result.stats.count >= FAST.minSamples);
});

/** The outcome of starting a device's EP here: undefined when it runs, else the error. */
async function startError(device: Parameters<typeof checkDevice>[0]): Promise<unknown> {
  return checkDevice(device).then(
    () => undefined,
    (error: unknown) => error,
  );
}

// The EP tests hold on any machine: where an EP can start, it must measure on that EP; where it cannot,
// the error must say why and what to install.
test('EP enforcement: cuda without its EP libraries is refused, naming the missing files and the install flag; with them it runs or says why not', async (t) => {
  const folder = join(dirname(require.resolve('onnxruntime-node/package.json')), 'bin', 'napi-v6', process.platform, process.arch);
  const device = loadDevice('cuda');
  if (!existsSync(join(folder, 'libonnxruntime_providers_cuda.so'))) {
    // As on these machines: onnxruntime-node installed with onnxruntime-node-install=skip (pipeline.md).
    t.log('no CUDA EP libraries: checking the error');
    const error = await t.throwsAsync(measureModel(probeModel(), device, FAST));
    t.true(isOfaError(error));
    t.is((error as { code?: string }).code, 'E_EP_UNAVAILABLE');
    t.regex(error!.message, /"cuda".*missing .*libonnxruntime_providers_cuda\.so/);
    t.regex((error as { hint?: string }).hint!, /--onnxruntime-node-install=cuda12.*CUDA 12 driver/);
    return;
  }
  const error = await startError(device);
  if (error === undefined) {
    t.log('the CUDA EP starts here: checking that it measures on cuda');
    const result = await measureModel(probeModel(), device, FAST);
    t.deepEqual((result.runtime.settings.sessionOptions as { executionProviders: unknown[] }).executionProviders, ['cuda']);
    t.true(result.stats.count >= FAST.minSamples && result.stats.medianMs > 0);
  } else {
    t.log('CUDA EP libraries but no usable GPU: checking the error');
    t.true(isOfaError(error));
    t.is((error as { code?: string }).code, 'E_EP_UNAVAILABLE');
    t.regex((error as Error).message, /"cuda".*cannot start/);
    t.regex((error as { hint?: string }).hint!, /CUDA 12 driver/);
  }
});

test('EP enforcement: webgpu with no GPU adapter is an error, not a CPU run; with one it measures on webgpu', async (t) => {
  const device = loadDevice('webgpu');
  const error = await startError(device);
  if (error === undefined) {
    t.log('a GPU adapter is visible here: checking that webgpu measures');
    const result = await measureModel(probeModel(), device, FAST);
    t.deepEqual((result.runtime.settings.sessionOptions as { executionProviders: unknown[] }).executionProviders, ['webgpu']);
    t.true(result.stats.count >= FAST.minSamples && result.stats.medianMs > 0);
  } else {
    t.log('no GPU adapter here: checking the error');
    t.is((error as { code?: string }).code, 'E_EP_UNAVAILABLE');
    t.regex((error as Error).message, /"webgpu".*adapter/i);
    t.regex((error as { hint?: string }).hint!, /GPU adapter/);
  }
  // Any EP but cpu is asked for with CPU fallback disabled, so a node it cannot run fails loudly.
  const options = sessionOptions(loadDevice('webgpu')) as { executionProviders: unknown[]; extra: { session: Record<string, unknown> } };
  t.deepEqual(options.executionProviders, ['webgpu']);
  t.is(options.extra.session.disable_cpu_ep_fallback, '1');
});

test('EP enforcement: an EP the runtime build does not have, and webgpu in onnxruntime-web inside Node', async (t) => {
  // This build's EPs (Linux x64: cpu, webgpu, cuda, tensorrt): one that onnxruntime-node builds may have but this one lacks.
  const built = (require('onnxruntime-node') as { listSupportedBackends(): { name: string }[] }).listSupportedBackends().map((b) => b.name);
  const absent = onnxruntimeNode.executionProviders.find((ep) => !built.includes(ep))!;
  const other = validateDevice({ ...cpuDevice('other-box'), executionProvider: absent });
  const error = await t.throwsAsync(measureModel(probeModel(), other, FAST), { message: new RegExp(`"${absent}".*no such EP; its EPs: ${built.map((name) => `${name}[^,]*`).join(', ')}$`) });
  t.is((error as { code?: string }).code, 'E_EP_UNAVAILABLE');
  const webOnGpu = validateDevice({ ...cpuDevice('web-gpu'), runtime: 'onnxruntime-web', executionProvider: 'webgpu' });
  await t.throwsAsync(measureModel(probeModel(), webOnGpu, FAST), { message: /cannot start inside Node; available here: wasm/ });
  const browser = validateDevice({ ...cpuDevice('browser'), runtime: 'chromium', executionProvider: 'wasm', browser: { executablePath: '/nonexistent/chromium' } });
  await t.throwsAsync(checkDevice(browser), { message: /chromium/ });
});

test('a file that is not ONNX is a clear error, from the API and from the CLI', async (t) => {
  const dir = tempDir();
  const text = writeTemp(dir, 'notes.onnx', 'these are not the weights you are looking for\n');
  t.throws(() => readOnnxFile(text), { code: 'E_NOT_ONNX', message: /notes\.onnx" is not an ONNX model/ } as never);
  t.throws(() => readOnnxFile(writeTemp(dir, 'empty.onnx', '')), { message: /is empty/ });
  t.throws(() => readOnnxFile(writeTemp(dir, 'config.json', JSON.stringify(cpuDevice()))), { message: /is not an ONNX model/ });
  t.throws(() => readOnnxFile(join(dir, 'missing.onnx')), { message: /does not exist/ });
  const writes: string[] = [];
  const original = process.stderr.write.bind(process.stderr);
  process.stderr.write = ((chunk: string) => (writes.push(String(chunk)), true)) as typeof process.stderr.write;
  let code: number;
  try {
    code = await main(['profile', 'model', text, '--device', 'cpu-1t']);
  } finally {
    process.stderr.write = original;
  }
  t.is(code, 2);
  t.regex(writes.join(''), /E_NOT_ONNX/);
});

test('a symbolic dimension left unset is refused, naming it; set, it is used', async (t) => {
  const device = loadDevice('cpu-1t');
  const model = matmulModel(['batch', 'sequence', 16]);
  const error = await t.throwsAsync(measureModel(model, device, FAST));
  t.is((error as { code?: string }).code, 'E_DIM_UNSET');
  t.regex(error!.message, /sequence \(input "x", axis 1\)/);
  t.regex((error as { hint?: string }).hint!, /--dim sequence=1/);
  await t.throwsAsync(measureModel(model, device, { ...FAST, dims: { sequence: 4, heads: 2 } }), { message: /--dim heads: the model has no such symbolic dimension; its symbolic dimensions: batch, sequence/ });
  const result = await measureModel(model, device, { ...FAST, dims: { batch: 2, sequence: 4 } });
  t.deepEqual(result.inputs[0].shape, [2, 4, 16]);
});

test('ofa profile model --json prints the measurement, and --out writes the same report, tagged', async (t) => {
  const dir = tempDir();
  const file = writeTemp(dir, 'm.onnx', matmulModel(['batch', 16]));
  const writes: string[] = [];
  const original = process.stdout.write.bind(process.stdout);
  process.stdout.write = ((chunk: string) => (writes.push(String(chunk)), true)) as typeof process.stdout.write;
  let code: number;
  try {
    code = await main(['profile', 'model', file, '--device', 'cpu-2t', '--runs', '5', '--min-time', '0', '--warmup', '1', '--raw', '--json', '--out', join(dir, 'measurement.json')]);
  } finally {
    process.stdout.write = original;
  }
  t.is(code, 0);
  const report = JSON.parse(writes.join(''));
  // The report as printed is the file written with --out, tagged.
  t.deepEqual(JSON.parse(readFileSync(join(dir, 'measurement.json'), 'utf8')), report);
  t.deepEqual([report.format, report.formatVersion], ['ofav2/measurement', 1]);
  t.is(report.device.name, 'cpu-2t');
  t.is(report.device.session.intraOpNumThreads, 2);
  t.is(report.model.sha256.length, 64);
  t.is(report.samplesMs.length, report.stats.count);
  t.deepEqual(report.inputs[0].shape, [1, 16]);
  t.true(readFileSync(file).length === report.model.bytes);
});
