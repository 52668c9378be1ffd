// A device check that really starts the execution provider: runtime.check() catches missing libraries
// cheaply, but some EPs (webgpu) only fail when a session asks for an adapter. The probe model is one
// Relu, written here so that the check depends on no other stage.
import { createRequire } from 'node:module';
import type { DeviceProfile } from './device.ts';
import { getRuntime } from './runtimes/index.ts';

const require = createRequire(import.meta.url);

/** A minimal opset-17 ONNX model: y = Relu(x), x float32 [batch, 8] with a symbolic batch dimension. */
export function probeModel(): Uint8Array {
  const { onnx } = require('onnx-proto') as typeof import('onnx-proto');
  const valueInfo = (name: string) => ({ name, type: { tensorType: { elemType: onnx.TensorProto.DataType.FLOAT, shape: { dim: [{ dimParam: 'batch' }, { dimValue: 8 }] } } } });
  const model = onnx.ModelProto.create({
    irVersion: 8,
    opsetImport: [{ domain: '', version: 17 }],
    producerName: 'ofav2-probe',
    graph: { name: 'probe', node: [{ opType: 'Relu', input: ['x'], output: ['y'], name: 'relu' }], input: [valueInfo('x')], output: [valueInfo('y')] },
  });
  return onnx.ModelProto.encode(model).finish();
}

/** Throws an OfaError naming what is missing when the device's runtime or EP cannot run here. */
export async function checkDevice(device: DeviceProfile): Promise<void> {
  const runtime = getRuntime(device.runtime);
  await runtime.check(device);
  const session = await runtime.createSession(probeModel(), device);
  try {
    // One run, where the model runs (a browser runtime would run it in its page).
    await runtime.time(session, { tensors: [{ name: 'x', type: 'float32', dims: [1, 8] }], seed: 1 }, { firstRun: true, warmupRuns: 0, minSamples: 0, minTimeMs: 0 });
  } finally {
    await session.dispose();
  }
}
