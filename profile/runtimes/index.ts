// Registry of runtimes (one file each). Adding a runtime: one file exporting a Runtime, one line in
// RUNTIMES; device profiles may then name it and its execution providers (profile/device.ts reads them
// from here).
import { OfaError } from '../../lib/errors.ts';
import { chromium } from './chromium.ts';
import { onnxruntimeNode } from './onnxruntime-node.ts';
import { onnxruntimeWeb } from './onnxruntime-web.ts';
import type { Runtime } from './types.ts';

export const RUNTIMES: readonly Runtime[] = [onnxruntimeNode, onnxruntimeWeb, chromium];

export const RUNTIME_NAMES: readonly string[] = RUNTIMES.map((runtime) => runtime.name);

export function findRuntime(name: string): Runtime | undefined {
  return RUNTIMES.find((runtime) => runtime.name === name);
}

export function getRuntime(name: string): Runtime {
  const runtime = findRuntime(name);
  if (!runtime) throw new OfaError('E_RUNTIME_UNKNOWN', `runtime ${JSON.stringify(name)} is not known; known runtimes: ${RUNTIME_NAMES.join(', ')}`);
  return runtime;
}

export type { Runtime, RuntimeSession, RuntimeInfo, ValueInfo, InputElementType, InputSpec, InputPlan, TimingRequest, Timing, InferInput, InferOutput } from './types.ts';
