// ONNX models the profiler tests build themselves (independent of the exporter), plus temp folders.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { onnx } = require('onnx-proto') as typeof import('onnx-proto');

type Dim = number | string;

function valueInfo(name: string, elemType: number, dims: Dim[]) {
  return { name, type: { tensorType: { elemType, shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) } } } };
}

/** y = MatMul(x, W) + Relu, x float32 [dims..., 16]; W a fixed 16x16 initializer. */
export function matmulModel(inputDims: Dim[] = ['batch', 'sequence', 16]): Uint8Array {
  const weights = Float32Array.from({ length: 256 }, (_, i) => Math.sin(i));
  const model = onnx.ModelProto.create({
    irVersion: 8,
    opsetImport: [{ domain: '', version: 17 }],
    producerName: 'ofav2-test',
    graph: {
      name: 'matmul',
      node: [
        { opType: 'MatMul', input: ['x', 'w'], output: ['h'], name: 'mm' },
        { opType: 'Relu', input: ['h'], output: ['y'], name: 'relu' },
      ],
      initializer: [{ name: 'w', dims: [16, 16], dataType: onnx.TensorProto.DataType.FLOAT, rawData: new Uint8Array(weights.buffer) }],
      input: [valueInfo('x', onnx.TensorProto.DataType.FLOAT, inputDims)],
      output: [valueInfo('y', onnx.TensorProto.DataType.FLOAT, [...inputDims.slice(0, -1), 16])],
    },
  });
  return onnx.ModelProto.encode(model).finish();
}

/** Two inputs of different types: ids int64 [batch, 4] cast to float and added to x float32 [batch, 4]. */
export function mixedInputsModel(): Uint8Array {
  const model = onnx.ModelProto.create({
    irVersion: 8,
    opsetImport: [{ domain: '', version: 17 }],
    producerName: 'ofav2-test',
    graph: {
      name: 'mixed',
      node: [
        { opType: 'Cast', input: ['ids'], output: ['idsFloat'], name: 'cast', attribute: [{ name: 'to', type: onnx.AttributeProto.AttributeType.INT, i: onnx.TensorProto.DataType.FLOAT }] },
        { opType: 'Add', input: ['x', 'idsFloat'], output: ['y'], name: 'add' },
      ],
      input: [valueInfo('x', onnx.TensorProto.DataType.FLOAT, ['batch', 4]), valueInfo('ids', onnx.TensorProto.DataType.INT64, ['batch', 4])],
      output: [valueInfo('y', onnx.TensorProto.DataType.FLOAT, ['batch', 4])],
    },
  });
  return onnx.ModelProto.encode(model).finish();
}

export function tempDir(prefix = 'ofa-profile-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export function writeTemp(dir: string, name: string, data: string | Uint8Array): string {
  const path = join(dir, name);
  writeFileSync(path, data);
  return path;
}

/** A valid device profile object (cpu-1t's settings) to mutate in tests. */
export function cpuDevice(name = 'test-cpu'): Record<string, unknown> {
  return {
    name,
    description: 'test device',
    runtime: 'onnxruntime-node',
    executionProvider: 'cpu',
    session: { intraOpNumThreads: 1, interOpNumThreads: 1, executionMode: 'sequential', graphOptimizationLevel: 'all', allowSpinning: false },
    batchSize: 1,
    latencyBudgetsMs: [1, 2],
  };
}

/** A fast protocol for tests (the real defaults are 10 warm-up runs, 64 samples, 1 s). */
export const FAST = { warmupRuns: 2, minSamples: 5, minTimeMs: 0 } as const;
