// Profiler benchmarks (issue 6): (1) the harness overhead, time per sample of the protocol against a bare
// loop over the same session, and the cost of the timing itself; (2) the run-to-run spread of repeated
// measurements of one model (coefficient of variation of the medians and of the fastest runs of fresh
// sessions, plain and divided by the speed reference measured beside them).
// Run alone: flock /tmp/ofav2-heavy.lock node --import tsx bench/run.ts profile
import { loadDevice } from '../profile/index.ts';
import { measureInterleaved, dimsFor } from '../profile/measure.ts';
import { planInputs } from '../profile/inputs.ts';
import { probeModel } from '../profile/probe.ts';
import { referenceModel } from '../profile/reference.ts';
import { getRuntime, type InputPlan, type Runtime } from '../profile/runtimes/index.ts';
// The bare loop below runs the Node runtimes' sessions directly: it measures their own timing loop.
import { feedsFor, type OrtSession } from '../profile/runtimes/ort.ts';
import { encodeModel, exportSubnet, randomInitSource, randomStaticSubnet } from '../export/index.ts';
import { sampleRandom } from '../space/index.ts';
import { createRng } from '../lib/rng.ts';

const round = (value: number, digits = 4) => Number(value.toFixed(digits));

async function bareLoopMs(session: OrtSession, plan: InputPlan, runs: number): Promise<number> {
  const feeds = feedsFor(session, plan);
  const start = process.hrtime.bigint();
  for (let i = 0; i < runs; i++) await session.run(feeds);
  return Number(process.hrtime.bigint() - start) / 1e6 / runs;
}

async function harnessOverhead(deviceName: string, model: Uint8Array, label: string): Promise<void> {
  const device = loadDevice(deviceName);
  // cpu-1t and wasm-node run on the two onnxruntime runtimes, whose sessions are OrtSessions.
  const runtime = getRuntime(device.runtime) as Runtime<OrtSession>;
  const session = await runtime.createSession(model, device);
  const plan = planInputs(session.inputs, dimsFor(device, {}, session));
  const runs = 2000;
  await runtime.time(session, plan, { firstRun: false, warmupRuns: 200, minSamples: 0, minTimeMs: 0 });
  // Interleave bare loops and protocol runs (the machine is shared: compare within one run).
  const bare: number[] = [];
  const harness: number[] = [];
  for (let rep = 0; rep < 5; rep++) {
    bare.push(await bareLoopMs(session, plan, runs));
    const timing = await runtime.time(session, plan, { firstRun: false, warmupRuns: 0, minSamples: runs, minTimeMs: 0 });
    harness.push(timing.samplingMs / timing.samplesMs.length);
  }
  await session.dispose();
  const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];
  const b = median(bare);
  const h = median(harness);
  console.log(`${label} on ${deviceName}: bare loop ${round(b * 1000, 2)} us/run, protocol ${round(h * 1000, 2)} us/sample, overhead ${round((h - b) * 1000, 2)} us/sample (${round(((h - b) / b) * 100, 1)}%)`);
}

function timerCost(): void {
  const n = 1_000_000;
  const start = process.hrtime.bigint();
  let sink = 0n;
  for (let i = 0; i < n; i++) sink += process.hrtime.bigint() - process.hrtime.bigint();
  const perPair = Number(process.hrtime.bigint() - start) / n;
  console.log(`timer: one process.hrtime.bigint() pair costs ${round(perPair, 1)} ns${sink > 0n ? '' : ''}`);
}

const cv = (values: number[]) => {
  const mean = values.reduce((x, y) => x + y, 0) / values.length;
  const std = Math.sqrt(values.reduce((x, y) => x + (y - mean) ** 2, 0) / (values.length - 1));
  return { mean, cv: std / mean };
};

/**
 * Run-to-run spread: the model measured `repeats` times, each time in a fresh session and interleaved
 * with the space's speed reference (profile/reference.ts), with the default protocol. Reports the
 * coefficient of variation of the median and of the fastest run, plain and divided by the reference's
 * figure from the same measurement (what the lookup tables and the predictor use).
 */
async function runToRun(deviceName: string, model: Uint8Array, label: string, repeats = 8): Promise<void> {
  const device = loadDevice(deviceName);
  const reference = referenceModel('fashion', 'ee-d');
  const rows: { median: number; min: number; refMedian: number; refMin: number }[] = [];
  for (let i = 0; i < repeats; i++) {
    const [subject, ref] = await measureInterleaved([model, reference], device);
    rows.push({ median: subject.stats.medianMs, min: subject.stats.minMs, refMedian: ref.stats.medianMs, refMin: ref.stats.minMs });
  }
  const median = cv(rows.map((r) => r.median));
  const min = cv(rows.map((r) => r.min));
  const medianScaled = cv(rows.map((r) => r.median / r.refMedian));
  const minScaled = cv(rows.map((r) => r.min / r.refMin));
  console.log(`${label} on ${deviceName}: ${repeats} fresh sessions x default protocol (10 warm-up, >=64 samples, >=1 s), interleaved with the speed reference`);
  console.log(`  medians ${rows.map((r) => round(r.median)).join(', ')} ms: CV ${round(median.cv * 100, 2)}% (divided by the reference's: ${round(medianScaled.cv * 100, 2)}%)`);
  console.log(`  fastest runs ${rows.map((r) => round(r.min)).join(', ')} ms: CV ${round(min.cv * 100, 2)}% (divided by the reference's: ${round(minScaled.cv * 100, 2)}%)`);
}

export async function run(): Promise<void> {
  timerCost();
  const tiny = probeModel();
  const config = sampleRandom({ preset: 'fashion', variant: 'ee-d' }, createRng(7));
  const subnet = encodeModel(exportSubnet(randomStaticSubnet(config, 7), { source: randomInitSource(7) }));
  for (const device of ['cpu-1t', 'wasm-node']) {
    await harnessOverhead(device, tiny, 'one-Relu model');
    await harnessOverhead(device, subnet, 'fashion ee-d random subnet');
  }
  for (const device of ['cpu-1t', 'cpu-2t', 'wasm-node']) await runToRun(device, subnet, 'fashion ee-d random subnet');
}
