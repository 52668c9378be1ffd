// Model files: a quick structural check that bytes are an ONNX model (before any runtime sees them, so
// that a wrong file is a clear error), and input generation from the model's declared inputs.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { OfaError } from '../lib/errors.ts';
import { createRng } from '../lib/rng.ts';
import type { InputElementType, RuntimeSession, TensorData, ValueInfo } from './runtimes/index.ts';

const require = createRequire(import.meta.url);

export interface OnnxSummary {
  irVersion: number;
  opsets: { domain: string; version: number }[];
  producer: string;
  nodeCount: number;
  bytes: number;
  sha256: string;
  /** metadata_props (our exporter stores the subnet config, MACs, params there). */
  metadata: Record<string, string>;
}

/** Reads and checks an ONNX file; errors name the file and what is wrong with it. */
export function readOnnxFile(path: string): { bytes: Uint8Array; summary: OnnxSummary } {
  if (!existsSync(path) || !statSync(path).isFile()) {
    throw new OfaError('E_READ', `model file ${JSON.stringify(path)} does not exist`, { hint: 'pass the path of an .onnx file' });
  }
  const bytes = new Uint8Array(readFileSync(path));
  return { bytes, summary: inspectOnnx(bytes, `model file ${JSON.stringify(path)}`) };
}

export function inspectOnnx(bytes: Uint8Array, input = 'model'): OnnxSummary {
  const notOnnx = (why: string) =>
    new OfaError('E_NOT_ONNX', `${input} is not an ONNX model: ${why}`, { hint: 'pass an .onnx file (a serialized onnx.ModelProto), e.g. one written by `ofa export`' });
  if (bytes.length === 0) throw notOnnx('the file is empty');
  const { onnx } = require('onnx-proto') as typeof import('onnx-proto');
  let model: import('onnx-proto').onnx.ModelProto;
  try {
    model = onnx.ModelProto.decode(bytes);
  } catch (error) {
    throw notOnnx(`protobuf decoding failed (${(error as Error).message})`);
  }
  const irVersion = Number(model.irVersion ?? 0);
  if (!model.graph || irVersion <= 0 || (model.graph.node?.length ?? 0) === 0) {
    throw notOnnx(`no ModelProto with an ir_version and a graph with nodes (ir_version ${irVersion}, ${model.graph?.node?.length ?? 0} nodes)`);
  }
  const metadata: Record<string, string> = {};
  for (const prop of model.metadataProps ?? []) if (prop.key) metadata[prop.key] = prop.value ?? '';
  return {
    irVersion,
    opsets: (model.opsetImport ?? []).map((o) => ({ domain: o.domain ?? '', version: Number(o.version ?? 0) })),
    producer: `${model.producerName ?? ''} ${model.producerVersion ?? ''}`.trim(),
    nodeCount: model.graph.node?.length ?? 0,
    bytes: bytes.length,
    sha256: createHash('sha256').update(bytes).digest('hex'),
    metadata,
  };
}

const FILLABLE: readonly InputElementType[] = ['float32', 'float64', 'int32', 'int64', 'int8', 'uint8', 'bool'];

/** Name of a symbolic dimension for the --dim flag: its declared name, or input[axis] when unnamed. */
export function dimName(input: ValueInfo, axis: number): string {
  const dim = input.shape[axis];
  return typeof dim === 'string' && dim !== '' ? dim : `${input.name}[${axis}]`;
}

/**
 * Concrete shapes for every input: fixed sizes as declared, symbolic ones from `dims` (by name). A
 * symbolic dimension with no value, or a value for a name no input has, is an error naming it.
 */
export function resolveInputShapes(inputs: readonly ValueInfo[], dims: Record<string, number>): { info: ValueInfo; dims: number[] }[] {
  const used = new Set<string>();
  const unset: string[] = [];
  const symbolic = new Set<string>();
  const out = inputs.map((info) => ({
    info,
    dims: info.shape.map((dim, axis) => {
      if (typeof dim === 'number' && dim >= 0) return dim;
      const name = dimName(info, axis);
      symbolic.add(name);
      if (dims[name] === undefined) {
        unset.push(`${name} (input ${JSON.stringify(info.name)}, axis ${axis})`);
        return -1;
      }
      used.add(name);
      return dims[name];
    }),
  }));
  if (unset.length > 0) {
    throw new OfaError('E_DIM_UNSET', `symbolic dimension${unset.length > 1 ? 's' : ''} left unset: ${unset.join(', ')}`, {
      hint: `set ${unset.length > 1 ? 'them' : 'it'} with --dim NAME=SIZE (e.g. --dim ${unset[0].split(' ')[0]}=1)`,
    });
  }
  const unknown = Object.keys(dims).filter((name) => !used.has(name) && !symbolic.has(name));
  if (unknown.length > 0) {
    throw new OfaError('E_DIM_UNKNOWN', `--dim ${unknown.join(', ')}: the model has no such symbolic dimension; its symbolic dimensions: ${[...symbolic].join(', ') || '(none)'}`);
  }
  for (const entry of out) {
    const bad = entry.dims.find((d) => !Number.isInteger(d) || d < 1);
    if (bad !== undefined) throw new OfaError('E_DIM', `input ${JSON.stringify(entry.info.name)}: dimension ${bad} is not a positive integer`);
  }
  return out;
}

/** Seeded input tensors for the runtime session (values in [-1, 1): latency does not depend on them). */
export function makeFeeds(session: RuntimeSession, dims: Record<string, number>, seed = 1): Record<string, unknown> {
  const rng = createRng(seed);
  const feeds: Record<string, unknown> = {};
  for (const { info, dims: shape } of resolveInputShapes(session.inputs, dims)) {
    const type = info.type as InputElementType;
    if (!FILLABLE.includes(type)) {
      throw new OfaError('E_INPUT_TYPE', `input ${JSON.stringify(info.name)} has type ${info.type}; the profiler can generate: ${FILLABLE.join(', ')}`);
    }
    const size = shape.reduce((a, b) => a * b, 1);
    let data: TensorData;
    switch (type) {
      case 'float32':
        data = Float32Array.from({ length: size }, () => rng.next() * 2 - 1);
        break;
      case 'float64':
        data = Float64Array.from({ length: size }, () => rng.next() * 2 - 1);
        break;
      case 'int32':
        data = new Int32Array(size);
        break;
      case 'int64':
        data = new BigInt64Array(size);
        break;
      case 'int8':
        data = new Int8Array(size);
        break;
      default:
        data = new Uint8Array(size);
    }
    feeds[info.name] = session.tensor(type, data, shape);
  }
  return feeds;
}
