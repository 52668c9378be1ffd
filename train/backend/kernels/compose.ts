// Helpers to build a wasm kernel out of other wasm kernels, the way tfjs's backends compose theirs:
// call the registered kernelFunc directly (no tape, no engine bookkeeping) and free intermediates.
// Everything stays in wasm memory; nothing is read back to JavaScript (pipeline.md: no dataSync).
import * as tf from '@tensorflow/tfjs-core';

export type Backend = tf.KernelBackend & { disposeData(dataId: object, force?: boolean): boolean };
type Attrs = Record<string, unknown>;

/** A kernel call bound to one backend; `free` releases every intermediate it produced. */
export class Composer {
  private readonly made: tf.TensorInfo[] = [];

  constructor(readonly backend: Backend, readonly backendName = 'wasm') {}

  run(kernelName: string, inputs: Record<string, tf.TensorInfo>, attrs: Attrs = {}): tf.TensorInfo {
    const config = tf.getKernel(kernelName, this.backendName);
    if (config === undefined) throw new Error(`kernel ${kernelName} is not registered for backend ${this.backendName}`);
    const out = config.kernelFunc({ inputs, attrs: attrs as tf.NamedAttrMap, backend: this.backend });
    const info = (Array.isArray(out) ? out[0] : out) as tf.TensorInfo;
    this.made.push(info);
    return info;
  }

  reshape(x: tf.TensorInfo, shape: number[]): tf.TensorInfo {
    return this.run('Reshape', { x }, { shape });
  }

  transpose(x: tf.TensorInfo, perm: number[]): tf.TensorInfo {
    return this.run('Transpose', { x }, { perm });
  }

  /** Releases every intermediate except `keep` (the kernel's output). */
  free(keep: tf.TensorInfo): tf.TensorInfo {
    for (const info of this.made) if (info !== keep) this.backend.disposeData(info.dataId);
    this.made.length = 0;
    return keep;
  }
}

// The backend's own kernels that a project kernel replaces, kept for the cases the replacement
// does not cover (e.g. MaxPoolGrad with overlapping windows, Conv2DBackpropInput of a 3x3 conv).
const originals = new Map<string, tf.KernelConfig>();

export function keepOriginal(config: tf.KernelConfig): void {
  originals.set(`${config.backendName}/${config.kernelName}`, config);
}

/** Runs the backend's own kernel that a project kernel replaced. */
export function runOriginal(kernelName: string, args: { inputs: tf.NamedTensorInfoMap; backend: tf.KernelBackend; attrs: tf.NamedAttrMap }, backendName = 'wasm'): tf.TensorInfo {
  const config = originals.get(`${backendName}/${kernelName}`);
  if (config === undefined) throw new Error(`${kernelName} on ${backendName} (train/backend): this case needs the backend's own kernel, which is not registered`);
  return config.kernelFunc(args as Parameters<tf.KernelFunc>[0]) as tf.TensorInfo;
}
