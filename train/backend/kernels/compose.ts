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
