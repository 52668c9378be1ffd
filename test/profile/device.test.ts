// Device profiles: the shipped files validate; bad files are refused with the JSON path of the fault,
// the bad value and the allowed values; a user adds a device with one JSON file.
import test from 'ava';
import { isOfaError } from '../../lib/errors.ts';
import { resolve } from 'node:path';
import { listDeviceNames, loadDevice, measureModel } from '../../profile/index.ts';
import { findDeviceFaults, validateDevice } from '../../profile/predict.ts';
import { RUNTIMES } from '../../profile/runtimes/index.ts';
import { FAST, cpuDevice, matmulModel, tempDir, writeTemp } from './fixtures.ts';

test('the shipped device profiles validate and name their runtime and EP', (t) => {
  const names = listDeviceNames();
  for (const name of ['cpu-1t', 'cpu-2t', 'wasm-node', 'cuda', 'webgpu']) t.true(names.includes(name), name);
  const cpu1 = loadDevice('cpu-1t');
  t.is(cpu1.runtime, 'onnxruntime-node');
  t.is(cpu1.executionProvider, 'cpu');
  t.is(cpu1.session.intraOpNumThreads, 1);
  t.is(cpu1.session.interOpNumThreads, 1);
  t.is(loadDevice('cpu-2t').session.intraOpNumThreads, 2);
  t.is(loadDevice('wasm-node').runtime, 'onnxruntime-web');
  t.is(loadDevice('cuda').executionProvider, 'cuda');
  t.is(loadDevice('webgpu').executionProvider, 'webgpu');
  // The devices folder is a parameter, by default ./devices (the checkout's, from its root).
  t.is(loadDevice('cpu-1t').file, resolve('devices', 'cpu-1t.json'));
  t.is(loadDevice('cpu-1t', { devicesDir: 'devices' }).file, resolve('devices', 'cpu-1t.json'));
});

test("the allowed runtimes and execution providers are the runtime registry's", (t) => {
  t.deepEqual(RUNTIMES.map((r) => r.name), ['onnxruntime-node', 'onnxruntime-web', 'chromium']);
  const message = faultOf({ ...cpuDevice(), runtime: 'tensorflow' }, '$.runtime')!.message;
  t.is(message, `runtime must be one of ${RUNTIMES.map((r) => JSON.stringify(r.name)).join(', ')}`);
  for (const runtime of RUNTIMES) {
    const ep = faultOf({ ...cpuDevice(), runtime: runtime.name, executionProvider: 'tpu' }, '$.executionProvider')!.message;
    t.is(ep, `execution provider must be one of ${runtime.executionProviders.map((e) => JSON.stringify(e)).join(', ')}`, runtime.name);
    for (const executionProvider of runtime.executionProviders) t.is(faultOf({ ...cpuDevice(), runtime: runtime.name, executionProvider }, '$.executionProvider'), undefined);
  }
});

function faultOf(value: unknown, path: string) {
  return findDeviceFaults(value).find((f) => f.path === path);
}

test('bad fields are refused with the JSON path, the bad value and the allowed values', (t) => {
  const runtime = faultOf({ ...cpuDevice(), runtime: 'tensorflow' }, '$.runtime');
  t.truthy(runtime);
  t.is(runtime!.value, 'tensorflow');
  t.regex(runtime!.message, /"onnxruntime-node", "onnxruntime-web", "chromium"/);

  const ep = faultOf({ ...cpuDevice(), executionProvider: 'tpu' }, '$.executionProvider');
  t.regex(ep!.message, /"cpu", "cuda", "tensorrt", "webgpu"/);
  // The allowed EPs depend on the runtime.
  t.regex(faultOf({ ...cpuDevice(), runtime: 'onnxruntime-web', executionProvider: 'cuda' }, '$.executionProvider')!.message, /"wasm", "webgpu"/);

  const threads = faultOf({ ...cpuDevice(), session: { ...(cpuDevice().session as object), intraOpNumThreads: 0 } }, '$.session.intraOpNumThreads');
  t.is(threads!.value, 0);
  t.regex(threads!.message, /integer from 1 to 256/);

  const { allowSpinning: _, ...noSpin } = cpuDevice().session as Record<string, unknown>;
  t.regex(faultOf({ ...cpuDevice(), session: noSpin }, '$.session.allowSpinning')!.message, /missing field "allowSpinning"/);
  t.regex(faultOf({ ...cpuDevice(), session: { ...noSpin, allowSpinning: 'yes' } }, '$.session.allowSpinning')!.message, /true or false/);
  t.regex(faultOf({ ...cpuDevice(), session: { ...noSpin, allowSpinning: true, executionMode: 'async' } }, '$.session.executionMode')!.message, /"sequential", "parallel"/);
  t.regex(faultOf({ ...cpuDevice(), threads: 4 }, '$.threads')!.message, /unknown field "threads".*allowed fields: .*executionProvider/);
  t.regex(faultOf({ ...cpuDevice(), latencyBudgetsMs: [2, 1] }, '$.latencyBudgetsMs[1]')!.message, /ascending/);
  t.regex(faultOf({ ...cpuDevice(), batchSize: 1.5 }, '$.batchSize')!.message, /integer/);
  t.regex(faultOf({ ...cpuDevice(), runtime: 'onnxruntime-web', executionProvider: 'wasm', session: { ...noSpin, allowSpinning: false, intraOpNumThreads: 2 } }, '$.session.intraOpNumThreads')!.message, /allowed: 1/);
  t.deepEqual(findDeviceFaults(cpuDevice()), []);
  t.is(findDeviceFaults([1])[0].path, '$');
});

test('loading a bad device file throws one error listing every fault with its path', (t) => {
  const dir = tempDir();
  const file = writeTemp(dir, 'bad.json', JSON.stringify({ ...cpuDevice('bad'), runtime: 'onnxruntime-node', executionProvider: 'npu', batchSize: 0 }));
  const error = t.throws(() => loadDevice(file));
  t.true(isOfaError(error));
  t.is((error as { code?: string }).code, 'E_DEVICE');
  t.regex(error!.message, /\$\.executionProvider: execution provider must be one of .*\(value "npu"\)/);
  t.regex(error!.message, /\$\.batchSize: batch size must be an integer from 1 to 4096 \(value 0\)/);
  t.throws(() => loadDevice(writeTemp(dir, 'broken.json', '{"name": ')), { message: /not valid JSON/ });
  t.throws(() => loadDevice('no-such-device'), { message: /no-such-device.*known devices: .*cpu-1t/ });
  t.throws(() => validateDevice({ ...cpuDevice(), name: 'Has Spaces' }), { message: /\$\.name/ });
});

test('a user adds a device by adding one JSON file, and it measures', async (t) => {
  const dir = tempDir();
  writeTemp(dir, 'my-box.json', JSON.stringify(cpuDevice('my-box')));
  writeTemp(dir, 'misnamed.json', JSON.stringify(cpuDevice('other-name')));
  t.deepEqual(listDeviceNames({ devicesDir: dir }), ['misnamed', 'my-box']);
  const device = loadDevice('my-box', { devicesDir: dir });
  t.throws(() => loadDevice('misnamed', { devicesDir: dir }), { message: /must equal the file name "misnamed"/ });
  const result = await measureModel(matmulModel(['batch', 16]), device, FAST);
  t.is(result.device.name, 'my-box');
  t.true(result.stats.count >= FAST.minSamples);
  t.true(result.stats.medianMs > 0);
});
