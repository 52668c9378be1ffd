// A small WebAssembly assembler: enough of the binary format (types, one imported memory, functions,
// exports, i32/f32/v128 instructions, structured loops) to write the training kernels that XNNPACK
// does not have, or has only slowly, with 128-bit SIMD. The module imports the tfjs wasm backend's own
// memory, so a kernel reads and writes tensors where tfjs keeps them (no copies). Written here at run
// time instead of compiled from C or Rust: these machines have no wasm toolchain, and a module of a
// few hundred bytes costs microseconds to build.

export const I32 = 0x7f;
export const F32 = 0x7d;
export const V128 = 0x7b;
export type ValueType = typeof I32 | typeof F32 | typeof V128;

/** An instruction sequence: expressions and statements are both plain byte lists. */
export type Code = number[];

function unsignedLeb(value: number): number[] {
  const out: number[] = [];
  let v = value >>> 0;
  do {
    let byte = v & 0x7f;
    v >>>= 7;
    if (v !== 0) byte |= 0x80;
    out.push(byte);
  } while (v !== 0);
  return out;
}

function signedLeb(value: number): number[] {
  const out: number[] = [];
  let v = value | 0;
  for (;;) {
    const byte = v & 0x7f;
    v >>= 7;
    const done = (v === 0 && (byte & 0x40) === 0) || (v === -1 && (byte & 0x40) !== 0);
    out.push(done ? byte : byte | 0x80);
    if (done) return out;
  }
}

function bytesOf(text: string): number[] {
  const bytes = [...new TextEncoder().encode(text)];
  return [...unsignedLeb(bytes.length), ...bytes];
}

function vector(items: number[][]): number[] {
  return [...unsignedLeb(items.length), ...items.flat()];
}

function section(id: number, body: number[]): number[] {
  return [id, ...unsignedLeb(body.length), ...body];
}

const simd = (opcode: number): Code => [0xfd, ...unsignedLeb(opcode)];
/** memarg: alignment hint (log2 bytes) and a constant byte offset. */
const memarg = (alignLog2: number, offset: number): Code => [...unsignedLeb(alignLog2), ...unsignedLeb(offset)];

/** Instructions, as functions of their operands' code (stack order: operands first). */
export const op = {
  i32: (value: number): Code => [0x41, ...signedLeb(value)],
  f32: (value: number): Code => {
    const bytes = new Uint8Array(new Float32Array([value]).buffer);
    return [0x43, ...bytes];
  },
  get: (local: number): Code => [0x20, ...unsignedLeb(local)],
  set: (local: number, value: Code): Code => [...value, 0x21, ...unsignedLeb(local)],
  add: (a: Code, b: Code): Code => [...a, ...b, 0x6a],
  sub: (a: Code, b: Code): Code => [...a, ...b, 0x6b],
  mul: (a: Code, b: Code): Code => [...a, ...b, 0x6c],
  /** Signed division (rounds toward zero): callers divide non-negative values only. */
  div: (a: Code, b: Code): Code => [...a, ...b, 0x6d],
  rem: (a: Code, b: Code): Code => [...a, ...b, 0x6f],
  lt: (a: Code, b: Code): Code => [...a, ...b, 0x48],
  ge: (a: Code, b: Code): Code => [...a, ...b, 0x4e],
  /** cond ? a : b, i32 (both sides are evaluated). */
  select: (a: Code, b: Code, cond: Code): Code => [...a, ...b, ...cond, 0x1b],
  max: (a: Code, b: Code): Code => op.select(a, b, op.ge(a, b)),
  min: (a: Code, b: Code): Code => op.select(a, b, op.lt(a, b)),
  f32Load: (address: Code, offset = 0): Code => [...address, 0x2a, ...memarg(2, offset)],
  f32Store: (address: Code, value: Code, offset = 0): Code => [...address, ...value, 0x38, ...memarg(2, offset)],
  f32Add: (a: Code, b: Code): Code => [...a, ...b, 0x92],
  f32Mul: (a: Code, b: Code): Code => [...a, ...b, 0x94],
  f32x4Sub: (a: Code, b: Code): Code => [...a, ...b, ...simd(0xe5)],
  f32x4Min: (a: Code, b: Code): Code => [...a, ...b, ...simd(0xe8)],
  f32x4Max: (a: Code, b: Code): Code => [...a, ...b, ...simd(0xe9)],
  /** Lane masks: all ones where a > b (a <= b), else zeros. */
  f32x4Gt: (a: Code, b: Code): Code => [...a, ...b, ...simd(0x44)],
  f32x4Le: (a: Code, b: Code): Code => [...a, ...b, ...simd(0x45)],
  v128And: (a: Code, b: Code): Code => [...a, ...b, ...simd(0x4e)],
  v128Load: (address: Code, offset = 0): Code => [...address, ...simd(0x00), ...memarg(2, offset)],
  v128Store: (address: Code, value: Code, offset = 0): Code => [...address, ...value, ...simd(0x0b), ...memarg(2, offset)],
  f32x4Splat: (value: Code): Code => [...value, ...simd(0x13)],
  f32x4Add: (a: Code, b: Code): Code => [...a, ...b, ...simd(0xe4)],
  f32x4Mul: (a: Code, b: Code): Code => [...a, ...b, ...simd(0xe6)],
};

/** One function under construction: i32 parameters, then locals allocated as the body needs them. */
export class FunctionBuilder {
  private readonly localTypes: ValueType[] = [];

  constructor(readonly name: string, readonly paramCount: number) {}

  /** A new local of `type`; its index follows the parameters. */
  local(type: ValueType = I32): number {
    this.localTypes.push(type);
    return this.paramCount + this.localTypes.length - 1;
  }

  /**
   * for (index = from; index < to; index += step) body. Evaluates `to` on every test, so pass a
   * local or a constant. The body must leave the stack empty and must not branch out.
   */
  forRange(index: number, from: Code, to: Code, body: Code, step: Code = op.i32(1)): Code {
    return [
      ...op.set(index, from),
      0x02, 0x40, // block
      0x03, 0x40, // loop
      ...op.ge(op.get(index), to), 0x0d, 0x01, // br_if to the block's end when index >= to
      ...body,
      ...op.set(index, op.add(op.get(index), step)),
      0x0c, 0x00, // br to the loop's start
      0x0b, 0x0b,
    ];
  }

  /** The function's entry in the code section: size, locals (one group per local), body, end. */
  encode(body: Code): number[] {
    const content = [...vector(this.localTypes.map((type) => [1, type])), ...body, 0x0b];
    return [...unsignedLeb(content.length), ...content];
  }
}

export interface FunctionDefinition {
  builder: FunctionBuilder;
  body: Code;
}

/** The module's bytes: every function takes i32 parameters, returns nothing and is exported by name. */
export function assemble(functions: FunctionDefinition[]): Uint8Array<ArrayBuffer> {
  const header = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];
  const arities = [...new Set(functions.map((f) => f.builder.paramCount))];
  const types = section(1, vector(arities.map((n) => [0x60, ...unsignedLeb(n), ...Array<number>(n).fill(I32), 0x00])));
  // The memory is imported without a maximum, so that any memory (the backend's grows) matches.
  const imports = section(2, vector([[...bytesOf('env'), ...bytesOf('memory'), 0x02, 0x00, 0x00]]));
  const declared = section(3, vector(functions.map((f) => unsignedLeb(arities.indexOf(f.builder.paramCount)))));
  const exports = section(7, vector(functions.map((f, index) => [...bytesOf(f.builder.name), 0x00, ...unsignedLeb(index)])));
  const code = section(10, vector(functions.map((f) => f.builder.encode(f.body))));
  return new Uint8Array([...header, ...types, ...imports, ...declared, ...exports, ...code]);
}
