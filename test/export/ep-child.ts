// Runs exported models on one device in a process of its own and writes their outputs (eps.test.ts):
// onnxruntime-node's WebGPU EP reads VK_ICD_FILENAMES and finds libvulkan.so.1 only through the
// environment the process starts with. Job: {device, models: [{model, input, dims, output}]} (paths;
// inputs and outputs raw float32); prints {ok: true} or the error's code and message.
import { readFileSync, writeFileSync } from 'node:fs';
import { openInference } from '../../profile/index.ts';
import { validateDevice } from '../../profile/predict.ts';

interface Job {
  device: unknown;
  models: { model: string; input: string; dims: number[]; output: string }[];
}

const job = JSON.parse(readFileSync(process.argv[2], 'utf8')) as Job;
const device = validateDevice(job.device, 'job device');
try {
  for (const item of job.models) {
    const session = await openInference(new Uint8Array(readFileSync(item.model)), device);
    try {
      const bytes = readFileSync(item.input);
      const data = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
      const outputs = await session.run([{ name: 'input', data, dims: item.dims }]);
      writeFileSync(item.output, new Uint8Array(outputs.logits.data.buffer));
    } finally {
      await session.dispose();
    }
  }
  process.stdout.write(`${JSON.stringify({ ok: true })}\n`);
} catch (error) {
  process.stdout.write(`${JSON.stringify({ ok: false, code: (error as { code?: string }).code, message: (error as Error).message, hint: (error as { hint?: string }).hint })}\n`);
}
