// profile/infer.ts openInference: a model's outputs on a device's runtime and EP (what a deploy verifies
// and scores with), equal to the model's arithmetic done here, on both in-process onnxruntimes; a runtime
// that cannot hand outputs back, or an EP that cannot start, is refused.
import test from 'ava';
import { openInference } from '../../profile/index.ts';
import { validateDevice } from '../../profile/predict.ts';
import { cpuDevice, matmulModel } from './fixtures.ts';

const weights = Float32Array.from({ length: 256 }, (_, i) => Math.sin(i));
const input = Float32Array.from({ length: 2 * 3 * 16 }, (_, i) => Math.cos(i) * 0.5);

/** y = relu(x W) for x [6, 16]. */
function expected(): Float32Array {
  const out = new Float32Array(6 * 16);
  for (let r = 0; r < 6; r++)
    for (let c = 0; c < 16; c++) {
      let sum = 0;
      for (let k = 0; k < 16; k++) sum += input[r * 16 + k] * weights[k * 16 + c];
      out[r * 16 + c] = Math.max(0, sum);
    }
  return out;
}

for (const [runtime, executionProvider] of [['onnxruntime-node', 'cpu'], ['onnxruntime-web', 'wasm']] as const) {
  test(`${runtime}/${executionProvider}: outputs with their dims, equal to the arithmetic`, async (t) => {
    const device = validateDevice({ ...cpuDevice(`infer-${executionProvider}`), runtime, executionProvider }, 'test');
    const session = await openInference(matmulModel(), device);
    try {
      t.deepEqual(session.inputs.map((i) => i.name), ['x']);
      const outputs = await session.run([{ name: 'x', data: input, dims: [2, 3, 16] }]);
      t.deepEqual(Object.keys(outputs), ['y']);
      t.deepEqual(outputs.y.dims, [2, 3, 16]);
      const want = expected();
      let worst = 0;
      for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(outputs.y.data[i] - want[i]));
      t.true(worst < 1e-5, `max abs diff ${worst}`);
    } finally {
      await session.dispose();
    }
  });
}

test('an EP that cannot start is refused (no fallback)', async (t) => {
  const device = validateDevice({ ...cpuDevice('infer-coreml'), executionProvider: 'coreml' }, 'test');
  await t.throwsAsync(openInference(matmulModel(), device), { code: 'E_EP_UNAVAILABLE' } as never);
});
