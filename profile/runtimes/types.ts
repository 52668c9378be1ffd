// The runtime plug-in surface (style.md: a registry of small config objects, one file per runtime, like
// onnxruntime-common's backends). A runtime opens sessions and times them itself, where the model runs:
// in this process for onnxruntime-node and onnxruntime-web, inside a browser page for a browser runtime.
// So everything that crosses time() is plain data (input plans, protocol numbers, samples in ms), which
// a page can receive and send back as JSON; profile/measure.ts only sees this interface.
//
// A runtime file is imported by the registry, and the registry by the device schema, which the latency
// predictor loads: so a runtime file imports only node builtins, lib/ and types at its top, and loads
// its runtime package (onnxruntime-*, playwright-core) on first use.
import type { DeviceFault, DeviceProfile } from '../device.ts';

/** Element types the input generator can fill (profile/inputs.ts). */
export type InputElementType = 'float32' | 'float64' | 'int32' | 'int64' | 'int8' | 'uint8' | 'bool';

export interface ValueInfo {
  name: string;
  /** onnxruntime's type name (float32, int64, ...). */
  type: string;
  /** Fixed sizes as numbers, symbolic dimensions by name ('' when unnamed). */
  shape: (number | string)[];
}

/** One model input as it is fed: name, element type, concrete shape. */
export interface InputSpec {
  name: string;
  type: InputElementType;
  dims: number[];
}

/** What to feed a session: every input, filled with seeded values (profile/inputs.ts inputData). */
export interface InputPlan {
  tensors: InputSpec[];
  seed: number;
}

/**
 * One timing request. With `firstRun`, one run is timed on its own first (a fresh session's first run),
 * then `warmupRuns` untimed runs; then single runs, each timed alone, until both `minSamples` samples
 * and `minTimeMs` of sampling time are reached (0 and 0: no samples). The interleaved protocol asks
 * for one first run and the warm-up, then for `runsPerVisit` samples per visit (profile/measure.ts).
 */
export interface TimingRequest {
  firstRun: boolean;
  warmupRuns: number;
  minSamples: number;
  minTimeMs: number;
}

export interface Timing {
  /** The first run, ms (with `firstRun`). */
  firstRunMs?: number;
  /** Every timed single run, ms, in order. */
  samplesMs: number[];
  /** Wall time of the sampling phase, ms. */
  samplingMs: number;
}

/** A session as the protocol sees it: its declared inputs and outputs, and a way to close it. */
export interface RuntimeSession {
  readonly inputs: ValueInfo[];
  readonly outputs: ValueInfo[];
  dispose(): Promise<void>;
}

/** A float32 input fed to Runtime.infer, and an output it hands back. */
export interface InferInput {
  name: string;
  data: Float32Array;
  dims: readonly number[];
}
export interface InferOutput {
  data: Float32Array;
  dims: number[];
}

export interface RuntimeInfo {
  name: string;
  /** Package name and version, e.g. onnxruntime-node 1.30.0. */
  version: string;
  /** The session options exactly as handed to the runtime, plus runtime-wide settings (env.wasm...). */
  settings: Record<string, unknown>;
}

export interface Runtime<S extends RuntimeSession = RuntimeSession> {
  /** The `runtime` value of a device profile. */
  name: string;
  /** The `executionProvider` values a device profile may ask of it (whether they start here is check()'s job). */
  executionProviders: readonly string[];
  /** Runtime-specific rules on a device profile (the schema checks the common fields). */
  deviceFaults?(device: Record<string, unknown>): DeviceFault[];
  /** Top-level device-profile fields that only this runtime takes (checked by its deviceFaults), e.g. chromium's `browser`. */
  deviceFields?: readonly string[];
  /**
   * Throws an OfaError naming what is missing (and how a user installs it) when the device's execution
   * provider cannot start on this host. Cheap: run before any measurement.
   */
  check(device: DeviceProfile): Promise<void>;
  info(device: DeviceProfile): Promise<RuntimeInfo>;
  /** One session for one (model, device); refuses to fall back to another execution provider. */
  createSession(model: Uint8Array, device: DeviceProfile): Promise<S>;
  /** Runs a timing request where the model runs (see TimingRequest). */
  time(session: S, inputs: InputPlan, request: TimingRequest): Promise<Timing>;
  /** Runs the model once on given inputs and hands back its outputs (absent: the runtime cannot, e.g. a browser). */
  infer(session: S, inputs: readonly InferInput[]): Promise<Record<string, InferOutput>>;
}
