// Model files: a quick structural check that bytes are an ONNX model (before any runtime sees them, so
// that a wrong file is a clear error). Input generation is profile/inputs.ts.
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { OfaError } from '../lib/errors.ts';
import { readInputBytes } from '../lib/json.ts';

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
  // A folder is "a folder, not a file", not "does not exist" (lib/json.ts readInputBytes).
  const bytes = readInputBytes(path, `model file ${JSON.stringify(path)}`, { code: 'E_READ', maxBytes: 2 ** 31, hint: 'pass the path of an .onnx file' });
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
