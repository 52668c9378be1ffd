// The safetensors format (pipeline.md "Supernet checkpoint": the field's usual weights format), written
// and read here: 8-byte little-endian header length N, N bytes of JSON header
// {"name": {"dtype": "F32", "shape": [...], "data_offsets": [begin, end]}, "__metadata__": {...}}
// padded with spaces so that the data starts 8-byte aligned, then the tensors' bytes back to back
// (offsets relative to the end of the header). Only F32 is used by this project.
import { OfaError } from '../../lib/errors.ts';
import { decodeText, parseJsonText } from '../../lib/json.ts';
import { parseWith, z } from '../../lib/schema.ts';

export interface NamedTensor {
  shape: number[];
  data: Float32Array;
}

export type TensorMap = Map<string, NamedTensor>;

/** The largest header we accept when reading (the reference implementation's limit is 100 MB). */
const MAX_HEADER_BYTES = 100_000_000;

const littleEndianHost = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

function elementCount(shape: readonly number[]): number {
  return shape.reduce((product, size) => product * size, 1);
}

export function encodeSafetensors(tensors: TensorMap, metadata: Record<string, string> = {}): Uint8Array {
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length > 0) header.__metadata__ = metadata;
  let offset = 0;
  for (const [name, tensor] of tensors) {
    if (name === '__metadata__' || name.length === 0) throw new OfaError('E_TENSOR_NAME', `tensor name ${JSON.stringify(name)} is not allowed in a safetensors file; allowed: non-empty names other than "__metadata__"`);
    if (!tensor.shape.every((size) => Number.isInteger(size) && size >= 0)) {
      throw new OfaError('E_TENSOR_SHAPE', `tensor ${name}: shape ${JSON.stringify(tensor.shape)} is not allowed; allowed: non-negative integers`);
    }
    if (elementCount(tensor.shape) !== tensor.data.length) {
      throw new OfaError('E_TENSOR_DATA', `tensor ${name}: shape ${JSON.stringify(tensor.shape)} holds ${elementCount(tensor.shape)} values but the data has ${tensor.data.length}`, { kind: 'failure' });
    }
    header[name] = { dtype: 'F32', shape: tensor.shape, data_offsets: [offset, offset + tensor.data.byteLength] };
    offset += tensor.data.byteLength;
  }
  let json = JSON.stringify(header);
  const unpadded = Buffer.byteLength(json, 'utf8');
  json += ' '.repeat((8 - ((8 + unpadded) % 8)) % 8);
  const headerBytes = Buffer.from(json, 'utf8');
  const out = new Uint8Array(8 + headerBytes.length + offset);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(headerBytes.length), true);
  out.set(headerBytes, 8);
  let at = 8 + headerBytes.length;
  for (const tensor of tensors.values()) {
    // Little-endian float32 whatever the host; a plain byte copy on little-endian hosts.
    if (littleEndianHost) out.set(new Uint8Array(tensor.data.buffer, tensor.data.byteOffset, tensor.data.byteLength), at);
    else for (let i = 0; i < tensor.data.length; i++) view.setFloat32(at + 4 * i, tensor.data[i], true);
    at += tensor.data.byteLength;
  }
  return out;
}

/** One tensor's header entry (this project writes and reads F32 only). */
const TENSOR_ENTRY_SCHEMA = z.strictObject({
  dtype: z.string().refine((dtype) => dtype === 'F32', { message: 'must be "F32": this project reads F32 only' }),
  shape: z.array(z.int().nonnegative()).max(8),
  data_offsets: z.tuple([z.int().nonnegative(), z.int().nonnegative()]),
});
/** The header: tensors by name, plus the optional string-to-string `__metadata__`. */
const HEADER_SCHEMA = z.record(z.string().min(1), z.unknown()).superRefine((header, ctx) => {
  for (const [name, value] of Object.entries(header)) {
    const schema = name === '__metadata__' ? z.record(z.string(), z.string()) : TENSOR_ENTRY_SCHEMA;
    const result = schema.safeParse(value, { reportInput: true });
    if (!result.success) for (const issue of result.error.issues) ctx.addIssue({ ...issue, path: [name, ...issue.path] } as never);
  }
});

/**
 * Reads safetensors bytes. The header goes through the shared JSON reader (lib/json.ts: depth, __proto__,
 * overflowing numbers) and HEADER_SCHEMA; then the offsets are checked against the shapes and the data.
 * A damaged file is bad input (exit 2), like every other checkpoint fault.
 */
export function decodeSafetensors(bytes: Uint8Array, source = 'safetensors data'): { tensors: TensorMap; metadata: Record<string, string> } {
  const hint = 'the file is truncated or corrupt; use another checkpoint';
  const bad = (why: string) => new OfaError('E_SAFETENSORS', `${source} is not a valid safetensors file: ${why}`, { hint });
  if (bytes.length < 8) throw bad(`${bytes.length} bytes, shorter than the 8-byte header length`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = view.getBigUint64(0, true);
  if (headerLength > BigInt(Math.min(MAX_HEADER_BYTES, bytes.length - 8))) throw bad(`header length ${headerLength} exceeds the file (${bytes.length} bytes)`);
  const dataStart = 8 + Number(headerLength);
  const headerInput = `${source} (its JSON header)`;
  const text = decodeText(bytes.subarray(8, dataStart), headerInput, { code: 'E_SAFETENSORS', hint });
  const header = parseWith(HEADER_SCHEMA, parseJsonText(text.trimEnd(), headerInput, { code: 'E_SAFETENSORS', hint }), headerInput, { code: 'E_SAFETENSORS', hint });
  const dataLength = bytes.length - dataStart;
  const metadata = (header.__metadata__ ?? {}) as Record<string, string>;
  const entries: { name: string; shape: number[]; begin: number; end: number }[] = [];
  for (const [name, value] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const { shape, data_offsets: [begin, end] } = value as z.infer<typeof TENSOR_ENTRY_SCHEMA>;
    if (end - begin !== 4 * elementCount(shape)) throw bad(`tensor ${name}: data_offsets [${begin}, ${end}] hold ${end - begin} bytes, shape ${JSON.stringify(shape)} needs ${4 * elementCount(shape)}`);
    if (end > dataLength) throw bad(`tensor ${name}: data_offsets end ${end} is past the data (${dataLength} bytes)`);
    entries.push({ name, shape: shape as number[], begin, end });
  }
  // The format requires the tensors to cover the data exactly, without gaps or overlaps.
  const sorted = [...entries].sort((a, b) => a.begin - b.begin);
  let covered = 0;
  for (const entry of sorted) {
    if (entry.begin !== covered) throw bad(`tensor ${entry.name} starts at ${entry.begin}, expected ${covered} (gap or overlap)`);
    covered = entry.end;
  }
  if (covered !== dataLength) throw bad(`tensors cover ${covered} data bytes, the file has ${dataLength}`);
  const tensors: TensorMap = new Map();
  for (const entry of entries) {
    const data = new Float32Array((entry.end - entry.begin) / 4);
    if (littleEndianHost) new Uint8Array(data.buffer).set(bytes.subarray(dataStart + entry.begin, dataStart + entry.end));
    else for (let i = 0; i < data.length; i++) data[i] = view.getFloat32(dataStart + entry.begin + 4 * i, true);
    // No trained network holds NaN or Infinity (a diverged run saves nothing: E_NON_FINITE): such a value is damage.
    const at = data.findIndex((value) => !Number.isFinite(value));
    if (at >= 0) throw bad(`tensor ${entry.name} holds ${data[at]} at index ${at}; allowed: finite numbers`);
    tensors.set(entry.name, { shape: entry.shape, data });
  }
  return { tensors, metadata };
}
