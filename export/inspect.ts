// Reads an ONNX model back: metadata, an op histogram, and MACs and params counted from the graph itself
// (shape propagation from the inputs and initializers), with the conventions of space/cost.ts. Used by
// `ofa export inspect`; the tests check these counts with their own, separate walker.
import { OfaError } from '../lib/errors.ts';
import { decodeModel, type ModelProto, type NodeProto } from './onnx.ts';

export interface ModelSummary {
  irVersion: number;
  opset: number;
  producer: string;
  metadata: Record<string, string>;
  inputs: { name: string; shape: (number | string)[] }[];
  outputs: { name: string; shape: (number | string)[] }[];
  /** Node count per op type, sorted by op name. */
  ops: Record<string, number>;
  nodes: number;
  /** Multiply-accumulates per sample (batch 1), counted on the graph. */
  macs: number;
  /** Float values stored in initializers. */
  params: number;
}

type Shape = number[];

function toNumber(value: unknown): number {
  return typeof value === 'number' ? value : Number(value);
}

function attributes(node: NodeProto): Map<string, { i: number; f: number; ints: number[] }> {
  const out = new Map<string, { i: number; f: number; ints: number[] }>();
  for (const a of node.attribute ?? []) {
    out.set(a.name ?? '', { i: toNumber(a.i ?? 0), f: a.f ?? 0, ints: (a.ints ?? []).map(toNumber) });
  }
  return out;
}

function broadcast(a: Shape, b: Shape): Shape {
  const n = Math.max(a.length, b.length);
  const out: Shape = [];
  for (let i = 0; i < n; i++) {
    const x = a[a.length - n + i] ?? 1;
    const y = b[b.length - n + i] ?? 1;
    out.push(Math.max(x, y));
  }
  return out;
}

const size = (shape: Shape) => shape.reduce((a, b) => a * b, 1);

export function decodeModelFile(bytes: Uint8Array, input = 'model'): ModelProto {
  try {
    const model = decodeModel(bytes);
    if (!model.graph) throw new Error('no graph');
    return model;
  } catch (error) {
    throw new OfaError('E_ONNX', `${input} is not a readable ONNX model: ${(error as Error).message}`, { hint: 'pass a .onnx file written by `ofa export`' });
  }
}

/** Summarises a model; MACs follow space/cost.ts, counted per sample (symbolic dimensions taken as 1). */
export function summarizeModel(model: ModelProto): ModelSummary {
  const graph = model.graph;
  if (!graph) throw new OfaError('E_ONNX', 'ONNX model has no graph');
  const shapes = new Map<string, Shape>();
  let params = 0;
  for (const init of graph.initializer ?? []) {
    const dims = (init.dims ?? []).map(toNumber);
    shapes.set(init.name ?? '', dims);
    params += size(dims);
  }
  const dimsOf = (info: NonNullable<typeof graph.input>[number]) =>
    (info.type?.tensorType?.shape?.dim ?? []).map((d) => (d.dimParam ? d.dimParam : toNumber(d.dimValue ?? 0)));
  const inputs = (graph.input ?? []).map((info) => ({ name: info.name ?? '', shape: dimsOf(info) }));
  for (const input of inputs) {
    if (!shapes.has(input.name)) shapes.set(input.name, input.shape.map((d) => (typeof d === 'string' ? 1 : d)));
  }
  const ops: Record<string, number> = {};
  let macs = 0;
  for (const node of graph.node ?? []) {
    const op = node.opType ?? '';
    ops[op] = (ops[op] ?? 0) + 1;
    const ins = (node.input ?? []).map((name) => {
      const shape = shapes.get(name);
      if (!shape) throw new OfaError('E_ONNX_COUNT', `ONNX node ${node.name}: input ${JSON.stringify(name)} has no known shape`, { kind: 'failure' });
      return shape;
    });
    const attrs = attributes(node);
    let out: Shape;
    switch (op) {
      case 'Conv':
      case 'MaxPool': {
        const [n, c, h, w] = ins[0];
        const kernel = attrs.get('kernel_shape')?.ints ?? (op === 'Conv' ? ins[1].slice(2) : [1, 1]);
        const strides = attrs.get('strides')?.ints ?? [1, 1];
        const pads = attrs.get('pads')?.ints ?? [0, 0, 0, 0];
        const oh = Math.floor((h + pads[0] + pads[2] - kernel[0]) / strides[0]) + 1;
        const ow = Math.floor((w + pads[1] + pads[3] - kernel[1]) / strides[1]) + 1;
        if (op === 'Conv') {
          const [m, cPerGroup, kh, kw] = ins[1];
          out = [n, m, oh, ow];
          macs += oh * ow * m * cPerGroup * kh * kw;
        } else out = [n, c, oh, ow];
        break;
      }
      case 'Add':
      case 'Mul':
        out = broadcast(ins[0], ins[1]);
        macs += size(out.slice(1));
        break;
      case 'BatchNormalization':
        // Unfolded models only (benchmarks): a scale and a shift per element, as a standalone BN.
        out = ins[0];
        macs += 2 * size(out.slice(1));
        break;
      case 'GlobalAveragePool':
        out = [ins[0][0], ins[0][1], 1, 1];
        macs += size(ins[0].slice(1));
        break;
      case 'Flatten': {
        const axis = attrs.get('axis')?.i ?? 1;
        out = [size(ins[0].slice(0, axis)), size(ins[0].slice(axis))];
        break;
      }
      case 'Gemm': {
        const transB = attrs.get('transB')?.i ?? 0;
        const [k, units] = transB ? [ins[1][1], ins[1][0]] : ins[1];
        out = [ins[0][0], units];
        macs += k * units;
        break;
      }
      case 'Relu':
      case 'HardSwish':
      case 'HardSigmoid':
        out = ins[0];
        break;
      default:
        throw new OfaError('E_ONNX_COUNT', `ONNX node ${node.name}: op ${op} is not one the exporter emits; cannot count it`, { kind: 'failure' });
    }
    for (const name of node.output ?? []) shapes.set(name, out);
  }
  const sortedOps: Record<string, number> = {};
  for (const key of Object.keys(ops).sort()) sortedOps[key] = ops[key];
  const metadata: Record<string, string> = {};
  for (const entry of model.metadataProps ?? []) metadata[entry.key ?? ''] = entry.value ?? '';
  return {
    irVersion: toNumber(model.irVersion ?? 0),
    opset: toNumber(model.opsetImport?.find((o) => !o.domain)?.version ?? 0),
    producer: model.producerName ?? '',
    metadata,
    inputs,
    outputs: (graph.output ?? []).map((info) => ({ name: info.name ?? '', shape: dimsOf(info) })),
    ops: sortedOps,
    nodes: (graph.node ?? []).length,
    macs,
    params,
  };
}
