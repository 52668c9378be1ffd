// A small ONNX graph builder over the `onnx-proto` message types (pipeline.md: "ONNX writing: onnx-proto").
// It knows ONNX, not OFA: nodes, float initializers, graph inputs/outputs, and the model envelope.
import onnxProto from 'onnx-proto';

export const onnx = onnxProto.onnx;
export type ModelProto = onnxProto.onnx.ModelProto;
export type NodeProto = onnxProto.onnx.INodeProto;

/** pipeline.md: "opset 17"; IR version 8 is what opset 17 runtimes (onnxruntime >= 1.12) expect. */
export const OPSET_VERSION = 17;
export const IR_VERSION = 8;
export const PRODUCER_NAME = 'ofav2';

const FLOAT = onnx.TensorProto.DataType.FLOAT;
const { AttributeType } = onnx.AttributeProto;

export type AttributeValue = number | number[] | string | { float: number };

/** Integer attributes are plain numbers, float ones `{ float: x }` (ONNX tells them apart by type). */
function attribute(name: string, value: AttributeValue): onnxProto.onnx.IAttributeProto {
  if (typeof value === 'string') return { name, type: AttributeType.STRING, s: new TextEncoder().encode(value) };
  if (Array.isArray(value)) return { name, type: AttributeType.INTS, ints: value };
  if (typeof value === 'object') return { name, type: AttributeType.FLOAT, f: value.float };
  return { name, type: AttributeType.INT, i: value };
}

export interface TensorInfo {
  name: string;
  /** Dimensions: a number, or a string for a symbolic dimension (e.g. 'batch'). */
  shape: (number | string)[];
}

function valueInfo(info: TensorInfo): onnxProto.onnx.IValueInfoProto {
  return {
    name: info.name,
    type: {
      tensorType: {
        elemType: FLOAT,
        shape: { dim: info.shape.map((d) => (typeof d === 'string' ? { dimParam: d } : { dimValue: d })) },
      },
    },
  };
}

export class GraphBuilder {
  private readonly nodes: onnxProto.onnx.INodeProto[] = [];
  private readonly initializers: onnxProto.onnx.ITensorProto[] = [];
  private readonly names = new Set<string>();

  /** Adds a float32 initializer; returns its name. */
  initializer(name: string, dims: number[], data: Float32Array): string {
    const size = dims.reduce((a, b) => a * b, 1);
    if (size !== data.length) throw new Error(`initializer ${name}: ${data.length} values for dims [${dims.join(', ')}]`);
    this.claim(name);
    // Raw little-endian bytes: compact and fast to parse (a copy, so later changes to `data` do not leak in).
    const raw = new Uint8Array(new Float32Array(data).buffer);
    this.initializers.push({ name, dims, dataType: FLOAT, rawData: raw });
    return name;
  }

  /** Adds a node whose single output is named like the node; returns the output name. */
  node(opType: string, name: string, inputs: string[], attributes: Record<string, AttributeValue> = {}): string {
    this.claim(name);
    this.nodes.push({
      opType,
      name,
      input: inputs,
      output: [name],
      attribute: Object.entries(attributes).map(([key, value]) => attribute(key, value)),
    });
    return name;
  }

  /**
   * Renames `value`, which must be the output of the last node, to `name` (graph outputs have fixed
   * names: `logits`, `output`).
   */
  renameLastOutput(value: string, name: string): string {
    const last = this.nodes[this.nodes.length - 1];
    const outputs = last?.output as string[] | undefined;
    if (!outputs || outputs[0] !== value) throw new Error(`ONNX graph: ${JSON.stringify(value)} is not the output of the last node`);
    this.claim(name);
    outputs[0] = name;
    return name;
  }

  private claim(name: string): void {
    if (this.names.has(name)) throw new Error(`ONNX graph: duplicate name ${JSON.stringify(name)}`);
    this.names.add(name);
  }

  build(options: { graphName: string; inputs: TensorInfo[]; outputs: TensorInfo[]; metadata?: Record<string, string>; docString?: string }): ModelProto {
    const graph: onnxProto.onnx.IGraphProto = {
      name: options.graphName,
      node: this.nodes,
      initializer: this.initializers,
      input: options.inputs.map(valueInfo),
      output: options.outputs.map(valueInfo),
    };
    return onnx.ModelProto.create({
      irVersion: IR_VERSION,
      opsetImport: [{ domain: '', version: OPSET_VERSION }],
      producerName: PRODUCER_NAME,
      producerVersion: '0.1.0',
      docString: options.docString ?? '',
      graph,
      metadataProps: Object.entries(options.metadata ?? {}).map(([key, value]) => ({ key, value })),
    });
  }
}

export function encodeModel(model: ModelProto): Uint8Array {
  return onnx.ModelProto.encode(model).finish();
}

export function decodeModel(bytes: Uint8Array): ModelProto {
  return onnx.ModelProto.decode(bytes);
}
