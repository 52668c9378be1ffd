// One model on several devices, measured interleaved in one run (issue 16, "In your note"): the max
// subnet of a preset and variant (default fashion ee-d), exported with random-init weights (latency does
// not depend on the weights' values), one session per device, each timed at creation and first run and
// warmed up; then rounds visiting every device in turn, `--visit` timed runs at a time (one on a WebGPU
// device: a run on SwiftShader takes about a second), until each device has its runs and time. A burst of
// load from another process then spreads over all devices instead of biasing one. Prints a Markdown
// table (median, fastest, p90, runs, session creation, first run) and writes everything as JSON.
//
//   LD_LIBRARY_PATH=/usr/lib/chromium VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json \
//     node --import tsx results/chromium/interleaved.ts --out results/chromium/interleaved-fashion-ee-d.json
//
// The two variables let onnxruntime-node's webgpu device start on SwiftShader (devices/README.md); without
// them that device is reported as unavailable and the others are measured.
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { encodeModel, exportSubnet, randomStaticSubnet } from '../../export/index.ts';
import { hostFacts, loadDevice, type DeviceProfile } from '../../profile/index.ts';
import { planInputs } from '../../profile/inputs.ts';
import { dimsFor } from '../../profile/measure.ts';
import { getRuntime, type InputPlan, type Runtime, type RuntimeInfo, type RuntimeSession } from '../../profile/runtimes/index.ts';
import { closeAllBrowsers } from '../../profile/runtimes/chromium/browser.ts';
import { summarize, type SampleStats } from '../../profile/stats.ts';
import { configId, sampleMax } from '../../space/index.ts';

const { values: flags } = parseArgs({
  options: {
    preset: { type: 'string', default: 'fashion' },
    variant: { type: 'string', default: 'ee-d' },
    devices: { type: 'string', default: 'wasm-node,chromium-wasm-1t,chromium-wasm-2t,cpu-1t,chromium-webgpu,webgpu' },
    runs: { type: 'string', default: '64' },
    'min-time': { type: 'string', default: '1' },
    'gpu-runs': { type: 'string', default: '16' },
    warmup: { type: 'string', default: '10' },
    visit: { type: 'string', default: '8' },
    out: { type: 'string' },
  },
});
const runs = Number(flags.runs);
const minTimeMs = 1000 * Number(flags['min-time']);
const gpuRuns = Number(flags['gpu-runs']);
const warmupRuns = Number(flags.warmup);
const visit = Number(flags.visit);

interface Entry {
  device: DeviceProfile;
  runtime: Runtime;
  info?: RuntimeInfo;
  session?: RuntimeSession;
  plan?: InputPlan;
  createMs?: number;
  firstRunMs?: number;
  samples: number[];
  sampledMs: number;
  unavailable?: string;
}

const sinceMs = (start: bigint) => Number(process.hrtime.bigint() - start) / 1e6;
const isGpu = (entry: Entry) => entry.device.executionProvider === 'webgpu';
const wanted = (entry: Entry) => (isGpu(entry) ? gpuRuns : runs);

const config = sampleMax({ preset: flags.preset!, variant: flags.variant! });
const model = encodeModel(exportSubnet(randomStaticSubnet(config, 1), { source: 'random-init:seed=1' }));
const entries: Entry[] = flags.devices!.split(',').map((name) => {
  const device = loadDevice(name);
  return { device, runtime: getRuntime(device.runtime), samples: [], sampledMs: 0 };
});

try {
  for (const entry of entries) {
    try {
      await entry.runtime.check(entry.device);
      entry.info = await entry.runtime.info(entry.device);
      const start = process.hrtime.bigint();
      entry.session = await entry.runtime.createSession(model, entry.device);
      entry.createMs = sinceMs(start);
      entry.plan = planInputs(entry.session.inputs, dimsFor(entry.device, {}, entry.session), 1);
      const warm = await entry.runtime.time(entry.session, entry.plan, { firstRun: true, warmupRuns, minSamples: 0, minTimeMs: 0 });
      entry.firstRunMs = warm.firstRunMs;
      process.stderr.write(`${entry.device.name}: session ${entry.createMs.toFixed(0)} ms, first run ${entry.firstRunMs?.toFixed(1)} ms\n`);
    } catch (error) {
      entry.unavailable = `${(error as { code?: string }).code ?? 'error'}: ${(error as Error).message}`;
      process.stderr.write(`${entry.device.name}: unavailable: ${entry.unavailable}\n`);
    }
  }
  const unfinished = (entry: Entry) => entry.session !== undefined && (entry.samples.length < wanted(entry) || entry.sampledMs < minTimeMs);
  for (let round = 1; entries.some(unfinished); round++) {
    for (const entry of entries.filter(unfinished)) {
      const timing = await entry.runtime.time(entry.session!, entry.plan!, { firstRun: false, warmupRuns: 0, minSamples: isGpu(entry) ? 1 : visit, minTimeMs: 0 });
      for (const ms of timing.samplesMs) {
        entry.samples.push(ms);
        entry.sampledMs += ms;
      }
    }
    if (round % 10 === 0) process.stderr.write(`round ${round}: ${entries.map((e) => `${e.device.name} ${e.samples.length}`).join(', ')}\n`);
  }
} finally {
  for (const entry of entries) await entry.session?.dispose().catch(() => {});
  await closeAllBrowsers();
}

const rows = entries.map((entry) => ({
  device: entry.device.name,
  runtime: `${entry.device.runtime}/${entry.device.executionProvider}`,
  version: entry.info?.version,
  ...(entry.unavailable ? { unavailable: entry.unavailable } : {}),
  sessionCreateMs: entry.createMs,
  firstRunMs: entry.firstRunMs,
  stats: entry.samples.length > 0 ? (summarize(entry.samples) as SampleStats) : undefined,
  samplesMs: entry.samples,
  settings: entry.info?.settings,
}));
const fmt = (value: number | undefined, digits = 3) => (value === undefined ? '-' : value.toFixed(digits));
const table = [
  `${flags.preset} ${flags.variant} max subnet (${configId(config)}), interleaved, ${new Date().toISOString()}, ${hostFacts().cpuModel}`,
  '',
  '| device | runtime/EP | median ms | fastest ms | p90 ms | runs | session ms | first run ms |',
  '| --- | --- | --- | --- | --- | --- | --- | --- |',
  ...rows.map((row) =>
    row.unavailable
      ? `| ${row.device} | ${row.runtime} | unavailable: ${row.unavailable.split('\n')[0]} | | | | | |`
      : `| ${row.device} | ${row.runtime} | ${fmt(row.stats?.medianMs)} | ${fmt(row.stats?.minMs)} | ${fmt(row.stats?.p90Ms)} | ${row.samplesMs.length} | ${fmt(row.sessionCreateMs, 0)} | ${fmt(row.firstRunMs, 1)} |`,
  ),
].join('\n');
process.stdout.write(`${table}\n`);
if (flags.out) {
  writeFileSync(
    flags.out,
    `${JSON.stringify({ format: 'ofav2/interleaved-devices', formatVersion: 1, preset: flags.preset, variant: flags.variant, config, protocol: { warmupRuns, runs, gpuRuns, minTimeMs, visit }, host: hostFacts(), rows }, null, 2)}\n`,
  );
}
