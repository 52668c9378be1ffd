// The exporter's cross-check on every execution provider (issue 16 item 3): on a sample of random-init
// micro subnets of each variant, the ONNX export run on onnxruntime-web in Chromium (wasm with 1 and 2
// threads, WebGPU) and on onnxruntime-node's WebGPU EP equals the tfjs eval-mode forward
// (staticForward), as subnets.test.ts checks onnxruntime-node's cpu and onnxruntime-web's wasm inside
// Node. The sample: per variant its min subnet and a seeded random one, batches of 1 and 2, on wasm; the
// random one in a batch of 2 on WebGPU (on SwiftShader every new kernel shape costs a shader compile: ~8 s
// for a micro subnet's first run here under load, ~4 s more for another batch size).
// The largest differences are logged per EP.
//
// Bounds: wasm is onnxruntime's CPU kernels compiled to wasm: the same 1e-4 absolute bound as the other
// cross-checks (seen here: 4.5e-6). WebGPU runs other kernels (WGSL shaders: other summation orders and
// tilings, fused multiply-adds) whose built-ins are not correctly rounded (WGSL allows exp 3 + 2|x| ULP,
// division 2.5 ULP), on hardware this project has not seen: 1e-3 relative to the largest |logit| (at
// least 1e-3 absolute). Seen here on SwiftShader: up to 3.9e-6 (batches 1 and 2), a 250x margin that a wrong kernel or layout
// (differences of order 1) still cannot hide in.
// onnxruntime-node's WebGPU EP runs in a child process started with VK_ICD_FILENAMES pointing at
// SwiftShader (shipped with Debian's chromium) and chromium's libvulkan.so.1 on the loader path.
import test from 'ava';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { encodeModel, exportSubnet, randomStaticSubnet } from '../../export/index.ts';
import { createRng } from '../../lib/rng.ts';
import { loadDevice, openInference, type DeviceProfile } from '../../profile/index.ts';
import { closeAllBrowsers } from '../../profile/runtimes/chromium/browser.ts';
import { VARIANT_NAMES, configId, sampleMin, sampleRandom, type SubnetConfig } from '../../space/index.ts';
import { staticForward } from '../../subnet/index.ts';
import { maxAbsDiff, nhwcToNchw, randomImages, tf, useCpuBackend } from './harness.ts';

const RANDOM_PER_VARIANT = 1;
const BATCHES = [1, 2];
/** The batch size WebGPU runs (more than 1: it exercises the symbolic batch dimension). */
const WEBGPU_BATCH = 2;
const WASM_BOUND = 1e-4;
/** WebGPU: relative to the largest |logit| of the batch, at least 1e-3 absolute (see the header). */
const WEBGPU_RELATIVE = 1e-3;
const webgpuBound = (scale: number) => WEBGPU_RELATIVE * Math.max(1, scale);

const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';
const CHROMIUM_LIBRARIES = '/usr/lib/chromium';

interface Case {
  name: string;
  /** Seeded random (else the variant's min subnet): the WebGPU sample. */
  random: boolean;
  model: Uint8Array;
  /** Per batch size: NCHW input and the tfjs logits. */
  batches: { dims: number[]; input: Float32Array; expected: Float32Array; scale: number }[];
}

/** The min subnet and seeded random ones of a variant (distinct configs). */
function configsOf(variant: string): SubnetConfig[] {
  const space = { preset: 'micro', variant };
  const byId = new Map<string, SubnetConfig>([[configId(sampleMin(space)), sampleMin(space)]]);
  for (let seed = 0; byId.size < 1 + RANDOM_PER_VARIANT && seed < 100; seed++) {
    const config = sampleRandom(space, createRng(500 + 100 * VARIANT_NAMES.indexOf(variant as never) + seed));
    byId.set(configId(config), config);
  }
  return [...byId.values()];
}

let cases: Case[] = [];
/** The WebGPU sample: the random subnet of each variant, in one batch. */
const webgpuSample = () => cases.filter((item) => item.random).map((item) => ({ ...item, batches: item.batches.filter((batch) => batch.dims[0] === WEBGPU_BATCH) }));
test.before(async () => {
  await useCpuBackend();
  cases = VARIANT_NAMES.flatMap((variant) =>
    configsOf(variant).map((config, i) => {
      const subnet = randomStaticSubnet(config, 31 * i + 7);
      const r = config.resolution;
      const c = subnet.inputChannels;
      const total = BATCHES.reduce((a, b) => a + b, 0);
      const images = randomImages(9173 + i, total, r, c);
      const expected = tf.tidy(() => staticForward(subnet, tf.tensor4d(images, [total, r, r, c])).dataSync() as Float32Array);
      let offset = 0;
      const batches = BATCHES.map((batch) => {
        const slice = expected.slice(offset * subnet.numClasses, (offset + batch) * subnet.numClasses);
        const input = nhwcToNchw(images.subarray(offset * r * r * c, (offset + batch) * r * r * c), batch, r, c);
        offset += batch;
        return { dims: [batch, c, r, r], input, expected: slice, scale: maxAbsDiff(slice, new Float32Array(slice.length)) };
      });
      return { name: `${variant} #${i}`, random: i > 0, model: encodeModel(exportSubnet(subnet, { source: `random-init:seed=${31 * i + 7}` })), batches };
    }),
  );
});
test.after.always(closeAllBrowsers);

/** Outputs of every case on a device of this process (openInference: the device's runtime and EP). */
async function runHere(device: DeviceProfile, sample: readonly Case[]): Promise<Float32Array[][]> {
  const outputs: Float32Array[][] = [];
  for (const item of sample) {
    const session = await openInference(item.model, device);
    try {
      const perBatch: Float32Array[] = [];
      for (const batch of item.batches) perBatch.push((await session.run([{ name: 'input', data: batch.input, dims: batch.dims }])).logits.data);
      outputs.push(perBatch);
    } finally {
      await session.dispose();
    }
  }
  return outputs;
}

/** The worst absolute difference and the worst ratio to the bound, over every case and batch; fails any case over its bound. */
function compare(t: import('ava').ExecutionContext, ep: string, sample: readonly Case[], outputs: Float32Array[][], bound: (scale: number) => number): void {
  let worst = 0;
  let worstRelative = 0;
  let worstCase = '';
  sample.forEach((item, i) =>
    item.batches.forEach((batch, b) => {
      const diff = maxAbsDiff(outputs[i][b], batch.expected);
      if (diff > worst) [worst, worstCase] = [diff, `${item.name} batch ${batch.dims[0]}`];
      worstRelative = Math.max(worstRelative, diff / Math.max(1, batch.scale));
      t.true(diff <= bound(batch.scale), `${ep} ${item.name} batch ${batch.dims[0]}: max abs diff ${diff} > ${bound(batch.scale)} (largest |logit| ${batch.scale})`);
    }),
  );
  const largest = Math.max(...sample.flatMap((item) => item.batches.map((batch) => batch.scale)));
  t.log(`${ep}: ${sample.length} subnets x batches ${sample[0].batches.map((batch) => batch.dims[0]).join(', ')}: largest max abs diff vs tfjs ${worst.toExponential(2)} (${worstCase}), relative to max(1, |logit|) ${worstRelative.toExponential(2)}; largest |logit| ${largest.toFixed(2)}`);
}

for (const name of ['chromium-wasm-1t', 'chromium-wasm-2t']) {
  test(`${name}: micro subnets of every variant == tfjs eval forward within ${WASM_BOUND}`, async (t) => {
    compare(t, name, cases, await runHere(loadDevice(name), cases), () => WASM_BOUND);
  });
}

test(`chromium-webgpu: micro subnets of every variant == tfjs eval forward within ${WEBGPU_RELATIVE} x max(1, |logit|)`, async (t) => {
  const sample = webgpuSample();
  compare(t, 'chromium-webgpu', sample, await runHere(loadDevice('chromium-webgpu'), sample), webgpuBound);
});

test(`onnxruntime-node webgpu (SwiftShader, in a child process): micro subnets of every variant == tfjs eval forward within ${WEBGPU_RELATIVE} x max(1, |logit|)`, async (t) => {
  t.true(existsSync(SWIFTSHADER_ICD), `SwiftShader's Vulkan ICD at ${SWIFTSHADER_ICD} (apt-get install chromium)`);
  const dir = mkdtempSync(join(tmpdir(), 'ofa-eps-'));
  const sample = webgpuSample();
  try {
    const models = sample.flatMap((item, i) => {
      writeFileSync(join(dir, `${i}.onnx`), item.model);
      return item.batches.map((batch, b) => {
        writeFileSync(join(dir, `${i}-${b}.in`), new Uint8Array(batch.input.buffer, batch.input.byteOffset, batch.input.byteLength));
        return { model: join(dir, `${i}.onnx`), input: join(dir, `${i}-${b}.in`), dims: batch.dims, output: join(dir, `${i}-${b}.out`) };
      });
    });
    writeFileSync(join(dir, 'job.json'), JSON.stringify({ device: { ...loadDevice('webgpu'), file: undefined }, models }));
    const env = {
      ...process.env,
      VK_ICD_FILENAMES: SWIFTSHADER_ICD,
      LD_LIBRARY_PATH: [CHROMIUM_LIBRARIES, process.env.LD_LIBRARY_PATH].filter(Boolean).join(':'),
    };
    const child = fileURLToPath(new URL('./ep-child.ts', import.meta.url));
    const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', child, join(dir, 'job.json')], { env, maxBuffer: 1 << 20 });
    const answer = JSON.parse(stdout.trim().split('\n').pop()!) as { ok: boolean; code?: string; message?: string; hint?: string };
    t.true(answer.ok, `the child: ${answer.code}: ${answer.message} (hint: ${answer.hint})`);
    if (!answer.ok) return;
    const outputs = sample.map((item, i) =>
      item.batches.map((_, b) => {
        const bytes = readFileSync(join(dir, `${i}-${b}.out`));
        return new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
      }),
    );
    compare(t, 'onnxruntime-node webgpu', sample, outputs, webgpuBound);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
