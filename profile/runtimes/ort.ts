// What onnxruntime-node and onnxruntime-web share inside Node: one session adapter (both packages have the
// same InferenceSession API) and the timing loop, which runs in this process, around session.run, with
// process.hrtime.bigint().
import { inputData } from '../inputs.ts';
import type { InferInput, InferOutput, InputPlan, RuntimeSession, Timing, TimingRequest, ValueInfo } from './types.ts';

/** An onnxruntime session in this process: it can be fed tensors and run. */
export interface OrtSession extends RuntimeSession {
  /** Wraps data as this runtime's tensor type (the two packages do not share Tensor classes). */
  tensor(type: string, data: ArrayBufferView, dims: number[]): unknown;
  /** One inference; resolves when the outputs are ready. */
  run(feeds: Record<string, unknown>): Promise<void>;
  /** One inference that hands back every output's data and dims (verification, accuracy). */
  runForOutputs(feeds: Record<string, unknown>): Promise<Record<string, { data: unknown; dims: readonly number[] }>>;
}

/** The parts of an onnxruntime (node or web) session and Tensor class that an OrtSession wraps. */
interface OrtSessionLike {
  readonly inputMetadata: readonly unknown[];
  readonly outputMetadata: readonly unknown[];
  run(feeds: never): Promise<unknown>;
  release(): Promise<void>;
}
type OrtTensorClass = new (type: never, data: never, dims: number[]) => unknown;

export function wrapOrtSession(session: OrtSessionLike, Tensor: OrtTensorClass): OrtSession {
  const metadata = (list: readonly unknown[]): ValueInfo[] =>
    list.map((m) => {
      const value = m as { name: string; isTensor: boolean; type?: string; shape?: (number | string)[] };
      return { name: value.name, type: value.isTensor ? value.type ?? 'unknown' : 'non-tensor', shape: value.shape ?? [] };
    });
  return {
    inputs: metadata(session.inputMetadata),
    outputs: metadata(session.outputMetadata),
    tensor: (type, data, dims) => new Tensor(type as never, data as never, dims),
    async run(feeds) {
      await session.run(feeds as never);
    },
    async runForOutputs(feeds) {
      return (await session.run(feeds as never)) as Record<string, { data: unknown; dims: readonly number[] }>;
    },
    async dispose() {
      await session.release();
    },
  };
}

/** The plan's tensors for a session (made once per session and plan: the interleaved protocol visits often). */
const feedCache = new WeakMap<OrtSession, { key: string; feeds: Record<string, unknown> }>();
export function feedsFor(session: OrtSession, plan: InputPlan): Record<string, unknown> {
  const key = JSON.stringify(plan);
  const cached = feedCache.get(session);
  if (cached?.key === key) return cached.feeds;
  const feeds: Record<string, unknown> = {};
  for (const { spec, data } of inputData(plan)) feeds[spec.name] = session.tensor(spec.type, data, spec.dims);
  feedCache.set(session, { key, feeds });
  return feeds;
}

const nowMs = () => Number(process.hrtime.bigint()) / 1e6;

/**
 * The timing request in this process: the first run, the warm-up runs, then single runs (each timed
 * alone with process.hrtime.bigint) until both floors are met.
 */
export async function timeOrtSession(session: OrtSession, plan: InputPlan, request: TimingRequest): Promise<Timing> {
  const feeds = feedsFor(session, plan);
  let firstRunMs: number | undefined;
  let start: bigint;
  if (request.firstRun) {
    start = process.hrtime.bigint();
    await session.run(feeds);
    firstRunMs = Number(process.hrtime.bigint() - start) / 1e6;
  }
  for (let i = 0; i < request.warmupRuns; i++) await session.run(feeds);
  const samples: number[] = [];
  const samplingStart = nowMs();
  const minTimeNs = BigInt(Math.round(request.minTimeMs * 1e6));
  const begin = process.hrtime.bigint();
  let elapsed = 0n;
  while (samples.length < request.minSamples || elapsed < minTimeNs) {
    start = process.hrtime.bigint();
    await session.run(feeds);
    const end = process.hrtime.bigint();
    samples.push(Number(end - start) / 1e6);
    elapsed = end - begin;
  }
  return { ...(firstRunMs === undefined ? {} : { firstRunMs }), samplesMs: samples, samplingMs: nowMs() - samplingStart };
}

/** One inference on float32 inputs, every output as a Float32Array (Runtime.infer of both onnxruntimes). */
export async function inferOrtSession(session: OrtSession, inputs: readonly InferInput[]): Promise<Record<string, InferOutput>> {
  const feeds: Record<string, unknown> = {};
  for (const input of inputs) feeds[input.name] = session.tensor('float32', input.data, [...input.dims]);
  const results = await session.runForOutputs(feeds);
  const outputs: Record<string, InferOutput> = {};
  for (const [name, value] of Object.entries(results)) outputs[name] = { data: Float32Array.from(value.data as ArrayLike<number>), dims: [...value.dims] };
  return outputs;
}
