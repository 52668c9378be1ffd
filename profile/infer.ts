// Running a model for its outputs (not its time) on a device's runtime and execution provider: what a
// deploy verifies an export with and scores its true top-1 with (issue 14). One session, reused.
import type { DeviceProfile } from './device.ts';
import { getRuntime, type InferInput, type InferOutput, type ValueInfo } from './runtimes/index.ts';

export interface InferenceSession {
  readonly inputs: ValueInfo[];
  readonly outputs: ValueInfo[];
  /** One inference on float32 inputs; every output as a Float32Array with its dims. */
  run(inputs: readonly InferInput[]): Promise<Record<string, InferOutput>>;
  dispose(): Promise<void>;
}

/** Opens one session of `model` on `device` (its EP enforced, as for measuring) for inference. */
export async function openInference(model: Uint8Array, device: DeviceProfile): Promise<InferenceSession> {
  const runtime = getRuntime(device.runtime);
  const session = await runtime.createSession(model, device);
  return {
    inputs: session.inputs,
    outputs: session.outputs,
    run: (inputs) => runtime.infer(session, inputs),
    dispose: () => session.dispose(),
  };
}
