// An independent MAC/parameter counter for the tests (issue 5: "an independent counter in the tests walks
// the ONNX graph"). It shares no code with export/inspect.ts: it decodes the bytes itself, derives conv
// output sizes from TF SAME semantics (ceil(size / stride)) and checks that the emitted pads agree with
// them, and counts by space/cost.ts's conventions.
import onnxProto from 'onnx-proto';

const { onnx } = onnxProto;

export interface GraphCount {
  macs: number;
  params: number;
  ops: Map<string, number>;
}

const product = (dims: number[]) => dims.reduce((a, b) => a * b, 1);

// What this counter reads of a decoded model (protobufjs fills repeated fields with [] when absent).
interface Attribute {
  name: string;
  i?: number | { toNumber(): number };
  ints: (number | { toNumber(): number })[];
}
interface Node {
  name: string;
  opType: string;
  input: string[];
  output: string[];
  attribute: Attribute[];
}
interface Decoded {
  graph: {
    node: Node[];
    initializer: { name: string; dims: (number | { toNumber(): number })[] }[];
    input: { name: string; type: { tensorType: { shape: { dim: { dimValue?: number | { toNumber(): number } }[] } } } }[];
  };
}

export function countGraph(bytes: Uint8Array): GraphCount {
  const { graph } = onnx.ModelProto.decode(bytes) as unknown as Decoded;
  // Per-sample shapes without the batch dimension: [C, H, W] or [features].
  const shapes = new Map<string, number[]>();
  const constants = new Set<string>();
  let params = 0;
  for (const t of graph.initializer) {
    const dims = t.dims.map(Number);
    shapes.set(t.name, dims);
    constants.add(t.name);
    params += product(dims);
  }
  for (const input of graph.input) {
    if (constants.has(input.name)) continue;
    const dims = input.type.tensorType.shape.dim.map((d) => Number(d.dimValue));
    shapes.set(input.name, dims.slice(1));
  }
  const ops = new Map<string, number>();
  let macs = 0;
  const attr = (node: Node, name: string) => node.attribute.find((a) => a.name === name);
  for (const node of graph.node) {
    ops.set(node.opType, (ops.get(node.opType) ?? 0) + 1);
    const x = shapes.get(node.input[0]);
    if (!x) throw new Error(`counter: no shape for ${node.input[0]} (node ${node.name})`);
    let y: number[];
    switch (node.opType) {
      case 'Conv': {
        const weight = shapes.get(node.input[1])!;
        const [cout, cinPerGroup, kh, kw] = weight;
        const stride = Number(attr(node, 'strides')!.ints[0]);
        const size = Math.ceil(x[1] / stride);
        const pads = attr(node, 'pads')!.ints.map(Number);
        const total = Math.max((size - 1) * stride + kh - x[1], 0);
        if (pads[0] + pads[2] !== total || pads[0] !== Math.floor(total / 2) || pads[1] !== pads[0] || pads[3] !== pads[2]) {
          throw new Error(`counter: node ${node.name} pads [${pads}] are not TF SAME for size ${x[1]}, kernel ${kh}, stride ${stride}`);
        }
        y = [cout, size, size];
        macs += size * size * cout * cinPerGroup * kh * kw;
        if (Number(attr(node, 'group')?.i ?? 1) !== x[0] / cinPerGroup) throw new Error(`counter: node ${node.name} group does not match its weight`);
        break;
      }
      case 'MaxPool': {
        const stride = Number(attr(node, 'strides')!.ints[0]);
        y = [x[0], Math.ceil(x[1] / stride), Math.ceil(x[2] / stride)];
        break;
      }
      case 'Add':
      case 'Mul': {
        const other = shapes.get(node.input[1])!;
        const a = constants.has(node.input[0]) ? other : x;
        y = a.map((d, i) => Math.max(d, x[i] ?? 1, other[i] ?? 1));
        macs += product(y);
        break;
      }
      case 'GlobalAveragePool':
        y = [x[0], 1, 1];
        macs += product(x);
        break;
      case 'Flatten':
        y = [product(x)];
        break;
      case 'Gemm': {
        const [k, n] = shapes.get(node.input[1])!;
        if (k !== x[0]) throw new Error(`counter: Gemm ${node.name} input ${x[0]} != weight rows ${k}`);
        y = [n];
        macs += k * n;
        break;
      }
      case 'Relu':
      case 'HardSwish':
      case 'HardSigmoid':
        y = x;
        break;
      default:
        throw new Error(`counter: unexpected op ${node.opType} (node ${node.name})`);
    }
    shapes.set(node.output[0], y);
  }
  return { macs, params, ops };
}
