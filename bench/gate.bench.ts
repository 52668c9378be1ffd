// The gate measured (issue 15 item 4), on cpu-1t, each trial a whole `ofa gate` decision with fresh
// sessions (runGate, as the CLI calls it), its order seed its own:
//   1. false alarms: A/A trials, the same file as baseline and candidate, and two exports of the same
//      subnet (other weight seeds: other bytes, the same graph); the target is at most 1% regressions;
//   2. power: the same graph with a measured amount of extra work (a side branch of K x K MatMuls on the
//      input, an extra graph output, so that nothing prunes it) whose slowdown, measured for a long time
//      interleaved, is about 5% and 10%; the target is at least 95% of 5% slowdowns caught;
//   3. baseline-file mode, the same three pairs: a baseline recorded (recordBaseline, fresh sessions) and
//      then gated in other sessions, so that what differs between two measuring sessions is in it;
//   4. the time each decision took.
// Sizes from the environment (defaults are the full run; takes about an hour on these machines):
//   OFA_BENCH_GATE_TRIALS (A/A trials of each kind, 100), OFA_BENCH_GATE_POWER_TRIALS (per slowdown, 100),
//   OFA_BENCH_GATE_FILE_TRIALS (per pair in baseline-file mode, 40), OFA_BENCH_GATE_MAX_TIME (s, 60),
//   OFA_BENCH_GATE_CALIBRATE_S (s of interleaved measurement per extra-work model, 20),
//   OFA_BENCH_GATE_RECORD_ROUNDS (rounds of a recorded baseline, 300), OFA_BENCH_GATE_OUT (write the figures as JSON).
// Run alone: flock /tmp/ofav2-heavy.lock npm run bench -- gate
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import onnxProto from 'onnx-proto';
import { recordBaseline, runGate, type Decision, type GateResult } from '../deploy/index.ts';
import { DEPLOY_FORMAT } from '../deploy/gate/baseline.ts';
import { median } from '../deploy/gate/stats.ts';
import { encodeModel, exportSubnet, randomInitSource, randomStaticSubnet } from '../export/index.ts';
import { writeJsonAtomic } from '../lib/atomic.ts';
import { loadDevice, openRounds, type DeviceProfile } from '../profile/index.ts';
import { sampleUniform } from '../space/index.ts';

const { onnx } = onnxProto;
const env = (name: string, fallback: number) => (process.env[name] ? Number(process.env[name]) : fallback);

/** The subnet every pair is built from: mid-sized (kernel 5, expand 4, depth 3) at 28 px, about the speed reference. */
const SUBNET = { kernel: 5, expand: 4, depth: 3, resolution: 28 };
const WIDTH = 64;

function subnetBytes(seed: number): Uint8Array {
  const config = sampleUniform({ preset: 'fashion', variant: 'ee-d' }, SUBNET);
  return encodeModel(exportSubnet(randomStaticSubnet(config, seed), { source: randomInitSource(seed) }));
}

/**
 * The model with `repeats` extra MatMul + Relu steps (WIDTH x WIDTH) on a side branch of its input:
 * GlobalAveragePool -> Flatten -> MatMul(1 x WIDTH) -> repeats x (MatMul, Relu) -> extra output
 * `extra_work`. The main graph is untouched; session.run fetches every output, so the branch always runs.
 */
export function withExtraWork(bytes: Uint8Array, repeats: number): Uint8Array {
  const model = onnx.ModelProto.decode(bytes);
  const graph = model.graph!;
  const input = graph.input![0];
  const channels = Number(input.type!.tensorType!.shape!.dim![1].dimValue);
  const FLOAT = onnx.TensorProto.DataType.FLOAT;
  const weight = (name: string, rows: number, cols: number) => {
    const values = Float32Array.from({ length: rows * cols }, (_, i) => Math.sin(i + rows) / Math.sqrt(rows));
    return { name, dims: [rows, cols], dataType: FLOAT, rawData: new Uint8Array(values.buffer) };
  };
  const nodes = [
    { opType: 'GlobalAveragePool', input: [input.name!], output: ['extra_pool'], name: 'extra_pool' },
    { opType: 'Flatten', input: ['extra_pool'], output: ['extra_flat'], name: 'extra_flat', attribute: [{ name: 'axis', type: onnx.AttributeProto.AttributeType.INT, i: 1 }] },
    { opType: 'MatMul', input: ['extra_flat', 'extra_w0'], output: ['extra_h0'], name: 'extra_mm0' },
  ];
  const initializers = [weight('extra_w0', channels, WIDTH)];
  for (let r = 1; r <= repeats; r++) {
    initializers.push(weight(`extra_w${r}`, WIDTH, WIDTH));
    nodes.push({ opType: 'MatMul', input: [`extra_h${r - 1}`, `extra_w${r}`], output: [`extra_m${r}`], name: `extra_mm${r}` });
    nodes.push({ opType: 'Relu', input: [`extra_m${r}`], output: [`extra_h${r}`], name: `extra_relu${r}` });
  }
  graph.node!.push(...(nodes as never[]));
  graph.initializer!.push(...(initializers as never[]));
  graph.output!.push({ name: `extra_h${repeats}`, type: { tensorType: { elemType: FLOAT, shape: { dim: [{ dimParam: 'batch' }, { dimValue: WIDTH }] } } } } as never);
  return onnx.ModelProto.encode(model).finish();
}

/** The slowdown of `candidate` against `base`, measured interleaved (alternating order) for `seconds`: exp(median per-round log ratio). */
async function measuredRatio(base: Uint8Array, candidate: Uint8Array, device: DeviceProfile, seconds: number): Promise<{ ratio: number; rounds: number }> {
  const rounds = await openRounds([base, candidate], device, { runsPerVisit: 5 });
  try {
    const logRatios: number[] = [];
    const start = process.hrtime.bigint();
    let flip = false;
    while (Number(process.hrtime.bigint() - start) / 1e9 < seconds || logRatios.length < 20) {
      const order = flip ? [1, 0] : [0, 1];
      flip = !flip;
      const figures = [0, 0];
      for (const index of order) figures[index] = Math.min(...(await rounds.visit(index)));
      logRatios.push(Math.log(figures[1] / figures[0]));
    }
    return { ratio: Math.exp(median(logRatios)), rounds: logRatios.length };
  } finally {
    await rounds.close();
  }
}

interface Tally {
  label: string;
  trueRatio: number;
  trials: number;
  decisions: Record<Decision, number>;
  seconds: number[];
  rounds: number[];
}

const newTally = (label: string, trueRatio: number): Tally => ({ label, trueRatio, trials: 0, decisions: { pass: 0, regression: 0, improvement: 0, inconclusive: 0 }, seconds: [], rounds: [] });

function count(tally: Tally, result: GateResult, seconds: number): void {
  tally.trials++;
  tally.decisions[result.decision]++;
  tally.seconds.push(seconds);
  tally.rounds.push(result.rounds);
}

const quantile = (values: number[], q: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
};

function report(tally: Tally): Record<string, unknown> {
  const share = (decision: Decision) => tally.decisions[decision] / Math.max(1, tally.trials);
  const row = {
    pair: tally.label,
    trueRatio: Number(tally.trueRatio.toFixed(4)),
    trials: tally.trials,
    regression: share('regression'),
    pass: share('pass'),
    improvement: share('improvement'),
    inconclusive: share('inconclusive'),
    secondsMedian: Number(quantile(tally.seconds, 0.5).toFixed(2)),
    secondsP90: Number(quantile(tally.seconds, 0.9).toFixed(2)),
    secondsMax: Number(Math.max(...tally.seconds).toFixed(2)),
    roundsMedian: quantile(tally.rounds, 0.5),
  };
  console.log(
    `  ${row.pair.padEnd(44)} true x${row.trueRatio.toFixed(3)}  ${row.trials} trials: regression ${(row.regression * 100).toFixed(1)}%, pass ${(row.pass * 100).toFixed(1)}%, improvement ${(row.improvement * 100).toFixed(1)}%, inconclusive ${(row.inconclusive * 100).toFixed(1)}%; ` +
      `decision ${row.secondsMedian} s median, ${row.secondsP90} s p90, ${row.secondsMax} s max (${row.roundsMedian} rounds median)`,
  );
  return row;
}

async function timedGate(options: Parameters<typeof runGate>[0]): Promise<{ result: GateResult; seconds: number }> {
  const start = process.hrtime.bigint();
  const result = await runGate(options);
  return { result, seconds: Number(process.hrtime.bigint() - start) / 1e9 };
}

export async function run(): Promise<void> {
  const trials = env('OFA_BENCH_GATE_TRIALS', 100);
  const powerTrials = env('OFA_BENCH_GATE_POWER_TRIALS', 100);
  const fileTrials = env('OFA_BENCH_GATE_FILE_TRIALS', 40);
  const maxTimeS = env('OFA_BENCH_GATE_MAX_TIME', 60);
  const calibrateS = env('OFA_BENCH_GATE_CALIBRATE_S', 20);
  const recordRounds = env('OFA_BENCH_GATE_RECORD_ROUNDS', 300);
  const device = loadDevice('cpu-1t');
  const dir = mkdtempSync(join(tmpdir(), 'ofa-gate-bench-'));
  try {
    const base = subnetBytes(1);
    const file = (name: string, bytes: Uint8Array) => {
      const path = join(dir, name);
      writeFileSync(path, bytes);
      return path;
    };
    const basePath = file('base.onnx', base);
    const twinPath = file('twin.onnx', subnetBytes(2));

    // The extra work for 5% and 10%: the slowdown of 4 and 16 steps, a line through them, then each pick measured long.
    const probe = async (repeats: number) => (await measuredRatio(base, withExtraWork(base, repeats), device, Math.max(1, calibrateS / 4))).ratio;
    const [r4, r16] = [await probe(4), await probe(16)];
    const perStep = Math.max(1e-4, (r16 - r4) / 12);
    const stepsFor = (target: number) => Math.max(1, Math.round(4 + (target - r4) / perStep));
    console.log(`extra work on cpu-1t: x${r4.toFixed(4)} with 4 steps, x${r16.toFixed(4)} with 16 steps (${(perStep * 100).toFixed(2)}% per step)`);
    const pairs: { label: string; path: string; trueRatio: number }[] = [];
    for (const target of [1.05, 1.1]) {
      const steps = stepsFor(target);
      const bytes = withExtraWork(base, steps);
      const measured = await measuredRatio(base, bytes, device, calibrateS);
      console.log(`  ${steps} steps for x${target}: measured x${measured.ratio.toFixed(4)} over ${measured.rounds} interleaved rounds (${calibrateS} s)`);
      pairs.push({ label: `same graph + ${steps} MatMul steps (target x${target})`, path: file(`extra-${steps}.onnx`, bytes), trueRatio: measured.ratio });
    }

    const figures: Record<string, unknown>[] = [];
    console.log(`A/B mode (--max-time ${maxTimeS}s, threshold 5%, alpha 0.01, defaults otherwise):`);
    const abPairs = [
      { label: 'A/A: the same file', baseline: basePath, candidate: basePath, trueRatio: 1, n: trials },
      { label: 'A/A: two exports of the same subnet', baseline: basePath, candidate: twinPath, trueRatio: 1, n: trials },
      ...pairs.map((pair) => ({ label: pair.label, baseline: basePath, candidate: pair.path, trueRatio: pair.trueRatio, n: powerTrials })),
    ];
    for (const pair of abPairs) {
      const tally = newTally(pair.label, pair.trueRatio);
      for (let trial = 0; trial < pair.n; trial++) {
        const { result, seconds } = await timedGate({ device, baseline: pair.baseline, candidate: pair.candidate, maxTimeS, seed: 1000 + trial });
        count(tally, result, seconds);
      }
      figures.push({ mode: 'ab', ...report(tally) });
    }

    console.log(`baseline-file mode (a ${recordRounds}-round record per trial in its own sessions, then the gate in others):`);
    const filePairs = [
      { label: 'A/A: the same file', candidate: basePath, trueRatio: 1 },
      { label: 'A/A: two exports of the same subnet', candidate: twinPath, trueRatio: 1 },
      ...pairs.map((pair) => ({ label: pair.label, candidate: pair.path, trueRatio: pair.trueRatio })),
    ];
    for (const pair of filePairs) {
      const tally = newTally(pair.label, pair.trueRatio);
      for (let trial = 0; trial < fileTrials; trial++) {
        const record = await recordBaseline(basePath, device, { rounds: recordRounds, seed: 5000 + trial });
        const baselineFile = join(dir, 'deploy.json');
        writeFileSync(baselineFile, JSON.stringify({ ...DEPLOY_FORMAT, deployments: [{ id: 'base', gate: record }] }));
        const { result, seconds } = await timedGate({ device, baseline: baselineFile, candidate: pair.candidate, maxTimeS, seed: 1000 + trial });
        count(tally, result, seconds);
      }
      figures.push({ mode: 'baseline-file', ...report(tally) });
    }
    const out = process.env.OFA_BENCH_GATE_OUT;
    if (out) {
      writeJsonAtomic(out, { format: 'ofav2/gate-bench', formatVersion: 1, device: device.name, date: new Date().toISOString(), settings: { trials, powerTrials, fileTrials, maxTimeS, calibrateS, recordRounds }, figures });
      console.log(`written to ${out}`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
