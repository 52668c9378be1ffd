// The measuring protocol (pipeline.md "Measuring latency"): one session per (model, device); session
// creation and the first run timed separately; warm-up runs; then single runs until both the sample
// count and the time floor are met; median, p90, p99, MAD; raw samples on request. Every knob and the
// host facts are recorded with the result. The runs themselves are timed by the runtime, where the
// model runs (Runtime.time in profile/runtimes/): this file only says what to time and summarises.
import { OfaError } from '../lib/errors.ts';
import { deviceKnobs, type DeviceKnobs, type DeviceProfile } from './device.ts';
import { hostFacts, type HostFacts } from './host.ts';
import { planInputs } from './inputs.ts';
import { getRuntime, type RuntimeInfo, type RuntimeSession } from './runtimes/index.ts';
import { summarize, type SampleStats } from './stats.ts';
import type { Protocol } from './table.ts';

export type { Protocol };

export interface MeasureOptions {
  /** Warm-up runs after the first run, not recorded (default 10). */
  warmupRuns?: number;
  /** Sample at least this many single runs (default 64)... */
  minSamples?: number;
  /** ...and for at least this long in total, in milliseconds (default 1000). */
  minTimeMs?: number;
  /** Keep every sample in the result (default false). */
  keepSamples?: boolean;
  /** Sizes of symbolic input dimensions by name; `batch` defaults to the device's batch size. */
  dims?: Record<string, number>;
  /** Seed of the generated input values. */
  seed?: number;
}

export const DEFAULT_PROTOCOL = { warmupRuns: 10, minSamples: 64, minTimeMs: 1000 } as const;

export interface Measurement {
  device: DeviceKnobs;
  runtime: RuntimeInfo;
  host: HostFacts;
  protocol: Protocol;
  inputs: { name: string; type: string; shape: number[] }[];
  sessionCreateMs: number;
  firstRunMs: number;
  samplingMs: number;
  stats: SampleStats;
  samplesMs?: number[];
}

export function resolveProtocol(options: MeasureOptions = {}): Protocol {
  const protocol = {
    warmupRuns: options.warmupRuns ?? DEFAULT_PROTOCOL.warmupRuns,
    minSamples: options.minSamples ?? DEFAULT_PROTOCOL.minSamples,
    minTimeMs: options.minTimeMs ?? DEFAULT_PROTOCOL.minTimeMs,
  };
  for (const [key, value] of Object.entries(protocol)) {
    if (!Number.isFinite(value) || value < 0 || (key === 'minSamples' && (value < 1 || !Number.isInteger(value)))) {
      throw new OfaError('E_PROTOCOL', `${key} ${value} is not valid; allowed: ${key === 'minSamples' ? 'an integer >= 1' : 'a number >= 0'}`);
    }
  }
  return protocol;
}

/** The dims with `batch` defaulted to the device's batch size (when the session has a `batch` dimension). */
export function dimsFor(device: DeviceProfile, dims: Record<string, number> = {}, session?: RuntimeSession): Record<string, number> {
  const hasBatch = session ? session.inputs.some((input) => input.shape.includes('batch')) : true;
  return hasBatch && dims.batch === undefined ? { ...dims, batch: device.batchSize } : { ...dims };
}

export interface InterleavedOptions extends MeasureOptions {
  /** Consecutive timed runs of one model per visit (default 8). */
  runsPerVisit?: number;
}

export interface InterleavedMeasurement {
  sessionCreateMs: number;
  firstRunMs: number;
  /** Sum of this model's timed runs, ms. */
  sampledMs: number;
  stats: SampleStats;
  samplesMs?: number[];
}

const sinceMs = (start: bigint) => Number(process.hrtime.bigint() - start) / 1e6;

/**
 * The protocol for many models at once, interleaved (pipeline.md: "these machines are shared and
 * noisy: compare by ratios measured in one run, interleaved"): one session per model, each timed at
 * creation and first run and warmed up; then rounds visiting every model in turn for `runsPerVisit`
 * single timed runs, until every model has both `minSamples` samples and `minTimeMs` of summed run
 * time. A burst of load from another process then spreads over all models instead of biasing one.
 */
export async function measureInterleaved(models: readonly Uint8Array[], device: DeviceProfile, options: InterleavedOptions = {}): Promise<InterleavedMeasurement[]> {
  const protocol = resolveProtocol(options);
  const runsPerVisit = options.runsPerVisit ?? 8;
  const runtime = getRuntime(device.runtime);
  const open: { session: RuntimeSession; plan: ReturnType<typeof planInputs>; createMs: number; firstRunMs: number; samples: number[]; sampledMs: number }[] = [];
  try {
    for (const model of models) {
      const createStart = process.hrtime.bigint();
      const session = await runtime.createSession(model, device);
      const createMs = sinceMs(createStart);
      const entry = { session, plan: { tensors: [], seed: 0 } as ReturnType<typeof planInputs>, createMs, firstRunMs: 0, samples: [] as number[], sampledMs: 0 };
      open.push(entry);
      entry.plan = planInputs(session.inputs, dimsFor(device, options.dims, session), options.seed ?? 1);
      const warm = await runtime.time(session, entry.plan, { firstRun: true, warmupRuns: protocol.warmupRuns, minSamples: 0, minTimeMs: 0 });
      entry.firstRunMs = warm.firstRunMs ?? 0;
    }
    const unfinished = (e: (typeof open)[number]) => e.samples.length < protocol.minSamples || e.sampledMs < protocol.minTimeMs;
    let pending = open.filter(unfinished);
    while (pending.length > 0) {
      for (const entry of pending) {
        const visit = await runtime.time(entry.session, entry.plan, { firstRun: false, warmupRuns: 0, minSamples: runsPerVisit, minTimeMs: 0 });
        for (const ms of visit.samplesMs) {
          entry.samples.push(ms);
          entry.sampledMs += ms;
        }
      }
      pending = pending.filter(unfinished);
    }
    return open.map((e) => ({
      sessionCreateMs: e.createMs,
      firstRunMs: e.firstRunMs,
      sampledMs: e.sampledMs,
      stats: summarize(e.samples),
      ...(options.keepSamples ? { samplesMs: e.samples } : {}),
    }));
  } finally {
    for (const entry of open) await entry.session.dispose();
  }
}

/** Measures one model on one device with the full protocol (one fresh session). */
export async function measureModel(model: Uint8Array, device: DeviceProfile, options: MeasureOptions = {}): Promise<Measurement> {
  const protocol = resolveProtocol(options);
  const runtime = getRuntime(device.runtime);
  const host = hostFacts();
  const info = await runtime.info(device);
  const createStart = process.hrtime.bigint();
  const session = await runtime.createSession(model, device);
  const sessionCreateMs = sinceMs(createStart);
  try {
    const plan = planInputs(session.inputs, dimsFor(device, options.dims, session), options.seed ?? 1);
    const timing = await runtime.time(session, plan, { firstRun: true, ...protocol });
    return {
      device: deviceKnobs(device),
      runtime: info,
      host,
      protocol,
      inputs: plan.tensors.map((tensor) => ({ name: tensor.name, type: tensor.type, shape: tensor.dims })),
      sessionCreateMs,
      firstRunMs: timing.firstRunMs ?? 0,
      samplingMs: timing.samplingMs,
      stats: summarize(timing.samplesMs),
      ...(options.keepSamples ? { samplesMs: timing.samplesMs } : {}),
    };
  } finally {
    await session.dispose();
  }
}
