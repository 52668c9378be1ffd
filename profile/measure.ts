// The measuring protocol (pipeline.md "Measuring latency"): one session per (model, device); session
// creation and the first run timed separately; warm-up runs; then single runs until both the sample
// count and the time floor are met; median, p90, p99, MAD; raw samples on request. Every knob and the
// host facts are recorded with the result.
import { OfaError } from '../lib/errors.ts';
import type { DeviceProfile } from './device.ts';
import { hostFacts, type HostFacts } from './host.ts';
import { makeFeeds, resolveInputShapes } from './model.ts';
import { getRuntime, type RuntimeInfo, type RuntimeSession } from './runtimes/index.ts';
import { summarize, type SampleStats } from './stats.ts';

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

export interface Protocol {
  warmupRuns: number;
  minSamples: number;
  minTimeMs: number;
}

export interface SessionTiming {
  firstRunMs: number;
  /** Wall time of the sampling phase (all samples), ms. */
  samplingMs: number;
  stats: SampleStats;
  samplesMs?: number[];
}

export interface Measurement {
  device: Omit<DeviceProfile, 'file' | 'description' | 'latencyBudgetsMs'>;
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

const nowMs = () => Number(process.hrtime.bigint()) / 1e6;

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

/**
 * Times an open session: the first run, the warm-up runs, then single runs (each timed alone with
 * process.hrtime.bigint) until both floors are met.
 */
export async function timeSession(session: RuntimeSession, feeds: Record<string, unknown>, protocol: Protocol, keepSamples = false): Promise<SessionTiming> {
  let start = process.hrtime.bigint();
  await session.run(feeds);
  const firstRunMs = Number(process.hrtime.bigint() - start) / 1e6;
  for (let i = 0; i < protocol.warmupRuns; i++) await session.run(feeds);
  const samples: number[] = [];
  const samplingStart = nowMs();
  const minTimeNs = BigInt(Math.round(protocol.minTimeMs * 1e6));
  const begin = process.hrtime.bigint();
  let elapsed = 0n;
  while (samples.length < protocol.minSamples || elapsed < minTimeNs) {
    start = process.hrtime.bigint();
    await session.run(feeds);
    const end = process.hrtime.bigint();
    samples.push(Number(end - start) / 1e6);
    elapsed = end - begin;
  }
  const samplingMs = nowMs() - samplingStart;
  return { firstRunMs, samplingMs, stats: summarize(samples), samplesMs: keepSamples ? samples : undefined };
}

export function deviceKnobs(device: DeviceProfile): Measurement['device'] {
  return {
    name: device.name,
    runtime: device.runtime,
    executionProvider: device.executionProvider,
    executionProviderOptions: device.executionProviderOptions ?? {},
    session: { ...device.session },
    batchSize: device.batchSize,
  };
}

/** The dims with `batch` defaulted to the device's batch size. */
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
  const runtime = await getRuntime(device.runtime);
  const open: { session: RuntimeSession; feeds: Record<string, unknown>; createMs: number; firstRunMs: number; samples: number[]; sampledNs: bigint }[] = [];
  try {
    for (const model of models) {
      const createStart = process.hrtime.bigint();
      const session = await runtime.createSession(model, device);
      const createMs = Number(process.hrtime.bigint() - createStart) / 1e6;
      const entry = { session, feeds: {} as Record<string, unknown>, createMs, firstRunMs: 0, samples: [] as number[], sampledNs: 0n };
      open.push(entry);
      entry.feeds = makeFeeds(session, dimsFor(device, options.dims, session), options.seed ?? 1);
      const start = process.hrtime.bigint();
      await session.run(entry.feeds);
      entry.firstRunMs = Number(process.hrtime.bigint() - start) / 1e6;
      for (let i = 0; i < protocol.warmupRuns; i++) await session.run(entry.feeds);
    }
    const minTimeNs = BigInt(Math.round(protocol.minTimeMs * 1e6));
    let pending = open.filter((e) => e.samples.length < protocol.minSamples || e.sampledNs < minTimeNs);
    while (pending.length > 0) {
      for (const entry of pending) {
        for (let r = 0; r < runsPerVisit; r++) {
          const start = process.hrtime.bigint();
          await entry.session.run(entry.feeds);
          const ns = process.hrtime.bigint() - start;
          entry.samples.push(Number(ns) / 1e6);
          entry.sampledNs += ns;
        }
      }
      pending = pending.filter((e) => e.samples.length < protocol.minSamples || e.sampledNs < minTimeNs);
    }
    return open.map((e) => ({
      sessionCreateMs: e.createMs,
      firstRunMs: e.firstRunMs,
      sampledMs: Number(e.sampledNs) / 1e6,
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
  const runtime = await getRuntime(device.runtime);
  const host = hostFacts();
  const info = await runtime.info(device);
  const createStart = process.hrtime.bigint();
  const session = await runtime.createSession(model, device);
  const sessionCreateMs = Number(process.hrtime.bigint() - createStart) / 1e6;
  try {
    const dims = dimsFor(device, options.dims, session);
    const shapes = resolveInputShapes(session.inputs, dims);
    const feeds = makeFeeds(session, dims, options.seed ?? 1);
    const timing = await timeSession(session, feeds, protocol, options.keepSamples ?? false);
    return {
      device: deviceKnobs(device),
      runtime: info,
      host,
      protocol,
      inputs: shapes.map((s) => ({ name: s.info.name, type: s.info.type, shape: s.dims })),
      sessionCreateMs,
      firstRunMs: timing.firstRunMs,
      samplingMs: timing.samplingMs,
      stats: timing.stats,
      ...(timing.samplesMs ? { samplesMs: timing.samplesMs } : {}),
    };
  } finally {
    await session.dispose();
  }
}
