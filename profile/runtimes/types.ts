// The runtime plug-in surface (style.md: a registry of small config objects, one file per runtime, like
// onnxruntime-common's backends). The measuring protocol (profile/measure.ts) only sees this interface.
import type { DeviceProfile, RuntimeName } from '../device.ts';

/** Element types the input generator can fill. */
export type InputElementType = 'float32' | 'float64' | 'int32' | 'int64' | 'int8' | 'uint8' | 'bool';

export interface ValueInfo {
  name: string;
  /** onnxruntime's type name (float32, int64, ...). */
  type: string;
  /** Fixed sizes as numbers, symbolic dimensions by name ('' when unnamed). */
  shape: (number | string)[];
}

export type TensorData = Float32Array | Float64Array | Int32Array | BigInt64Array | Int8Array | Uint8Array;

export interface RuntimeSession {
  readonly inputs: ValueInfo[];
  readonly outputs: ValueInfo[];
  /** Wraps data as this runtime's tensor type (runtimes do not share Tensor classes). */
  tensor(type: InputElementType, data: TensorData, dims: number[]): unknown;
  /** One inference; resolves when the outputs are ready. */
  run(feeds: Record<string, unknown>): Promise<void>;
  dispose(): Promise<void>;
}

export interface RuntimeInfo {
  name: RuntimeName;
  /** Package name and version, e.g. onnxruntime-node 1.30.0. */
  version: string;
  /** The session options exactly as handed to the runtime, plus runtime-wide settings (env.wasm...). */
  settings: Record<string, unknown>;
}

export interface Runtime {
  name: RuntimeName;
  /**
   * Throws an OfaError naming what is missing (and how a user installs it) when the device's execution
   * provider cannot start on this host. Cheap: run before any measurement.
   */
  check(device: DeviceProfile): Promise<void>;
  info(device: DeviceProfile): Promise<RuntimeInfo>;
  /** One session for one (model, device); refuses to fall back to another execution provider. */
  createSession(model: Uint8Array, device: DeviceProfile): Promise<RuntimeSession>;
}

/** The parts of an onnxruntime (node or web) session and Tensor class that a RuntimeSession wraps. */
interface OrtSessionLike {
  readonly inputMetadata: readonly unknown[];
  readonly outputMetadata: readonly unknown[];
  run(feeds: never): Promise<unknown>;
  release(): Promise<void>;
}
type OrtTensorClass = new (type: never, data: never, dims: number[]) => unknown;

/** Both onnxruntime packages share their session API: one adapter serves them. */
export function wrapOrtSession(session: OrtSessionLike, Tensor: OrtTensorClass): RuntimeSession {
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
    async dispose() {
      await session.release();
    },
  };
}
