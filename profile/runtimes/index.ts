// Registry of runtimes (one file each). Adding a runtime: one file exporting a Runtime, one line here,
// and its name in RUNTIME_NAMES (profile/device.ts) so that device files may ask for it.
import type { RuntimeName } from '../device.ts';
import type { Runtime } from './types.ts';

const RUNTIMES: Record<RuntimeName, () => Promise<Runtime>> = {
  'onnxruntime-node': async () => (await import('./onnxruntime-node.ts')).onnxruntimeNode,
  'onnxruntime-web': async () => (await import('./onnxruntime-web.ts')).onnxruntimeWeb,
  chromium: async () => (await import('./chromium.ts')).chromium,
};

export async function getRuntime(name: RuntimeName): Promise<Runtime> {
  return RUNTIMES[name]();
}

export type { Runtime, RuntimeSession, RuntimeInfo, ValueInfo, InputElementType, TensorData } from './types.ts';
