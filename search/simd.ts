// The accuracy predictor's matrix products as 128-bit SIMD WebAssembly kernels, assembled here from their
// instructions (no toolchain, no binary blob in the tree). A search predicts 10^4 subnets per device with a
// 3 x 400 network (about 0.34 M multiply-adds each), so the predictor is the search's hot loop: measured on
// this shared 2-core host, plain Float32Array loops reached about 1 GFLOP/s, these kernels 7-8 GFLOP/s.
//
// dense (the forward pass): out[b, j] = act(bias[j] + sum_i x[b, i] w[j, i]) for row-major x [batch x
// inputs] and w [outputs x inputs], four batch rows by two outputs at a time (eight f32x4 accumulators
// over i), act = ReLU or identity. It needs batch % 4 == 0, inputs % 4 == 0 and outputs % 2 == 0; the
// caller pads. matmul (the backward products) is described below.

// --- A minimal WebAssembly binary writer (only what the kernel uses) ---------------------------------

function unsignedLeb(value: number): number[] {
  const out: number[] = [];
  do {
    let byte = value & 0x7f;
    value >>>= 7;
    if (value !== 0) byte |= 0x80;
    out.push(byte);
  } while (value !== 0);
  return out;
}

function signedLeb(value: number): number[] {
  const out: number[] = [];
  for (;;) {
    const byte = value & 0x7f;
    value >>= 7;
    if ((value === 0 && (byte & 0x40) === 0) || (value === -1 && (byte & 0x40) !== 0)) {
      out.push(byte);
      return out;
    }
    out.push(byte | 0x80);
  }
}

const text = (s: string) => [...unsignedLeb(s.length), ...Buffer.from(s, 'utf8')];
const vector = (items: number[][]) => [...unsignedLeb(items.length), ...items.flat()];
const section = (id: number, body: number[]) => [id, ...unsignedLeb(body.length), ...body];

// Value types.
const I32 = 0x7f;
const F32_TYPE = 0x7d;
const V128_TYPE = 0x7b;

/** Instruction helpers: each returns its bytes. */
const op = {
  get: (local: number) => [0x20, ...unsignedLeb(local)],
  set: (local: number) => [0x21, ...unsignedLeb(local)],
  tee: (local: number) => [0x22, ...unsignedLeb(local)],
  i32: (value: number) => [0x41, ...signedLeb(value)],
  i32Add: [0x6a],
  i32Mul: [0x6c],
  i32LtU: [0x49],
  i32Shl: [0x74],
  f32Add: [0x92],
  f32Max: [0x97],
  f32Const0: [0x43, 0, 0, 0, 0],
  f32Load: (offset = 0) => [0x2a, 2, ...unsignedLeb(offset)],
  f32Store: (offset = 0) => [0x38, 2, ...unsignedLeb(offset)],
  v128Load: (offset = 0) => [0xfd, ...unsignedLeb(0x00), 4, ...unsignedLeb(offset)],
  v128Store: (offset = 0) => [0xfd, ...unsignedLeb(0x0b), 4, ...unsignedLeb(offset)],
  f32x4Splat: [0xfd, ...unsignedLeb(0x13)],
  v128Const0: [0xfd, ...unsignedLeb(0x0c), ...new Array(16).fill(0)],
  f32x4Add: [0xfd, ...unsignedLeb(0xe4)],
  f32x4Mul: [0xfd, ...unsignedLeb(0xe6)],
  f32x4Lane: (lane: number) => [0xfd, ...unsignedLeb(0x1f), lane],
  block: [0x02, 0x40],
  loop: [0x03, 0x40],
  if: [0x04, 0x40],
  end: [0x0b],
  br: (depth: number) => [0x0c, ...unsignedLeb(depth)],
  brIf: (depth: number) => [0x0d, ...unsignedLeb(depth)],
};

// Parameters: x, w, bias, out (byte addresses), batch, inputs, outputs, relu (0/1).
const [X, W, BIAS, OUT, BATCH, INPUTS, OUTPUTS, RELU] = [0, 1, 2, 3, 4, 5, 6, 7];
// i32 locals.
const [B, J, K, ROW_BYTES, XP, WP0, WP1, OP] = [8, 9, 10, 11, 12, 13, 14, 15];
// v128 locals: eight accumulators acc[r][c] = 16 + 2r + c, two weight vectors, one input vector.
const ACC = 16;
const W0 = 24;
const W1 = 25;
const XV = 26;
// f32 local: one output value.
const VALUE = 27;

function kernelBody(): number[] {
  const code: number[] = [];
  const emit = (...parts: number[][]) => {
    for (const part of parts) code.push(...part);
  };
  // rowBytes = inputs * 4
  emit(op.get(INPUTS), op.i32(2), op.i32Shl, op.set(ROW_BYTES));
  // for b = 0; b < batch; b += 4
  emit(op.i32(0), op.set(B), op.block, op.loop);
  emit(op.get(B), op.get(BATCH), op.i32LtU, [0x45] /* i32.eqz */, op.brIf(1));
  //   for j = 0; j < outputs; j += 2
  emit(op.i32(0), op.set(J), op.block, op.loop);
  emit(op.get(J), op.get(OUTPUTS), op.i32LtU, [0x45], op.brIf(1));
  //     accumulators = 0
  for (let a = 0; a < 8; a++) emit(op.v128Const0, op.set(ACC + a));
  //     xp = x + b * rowBytes; wp0 = w + j * rowBytes; wp1 = wp0 + rowBytes
  emit(op.get(X), op.get(B), op.get(ROW_BYTES), op.i32Mul, op.i32Add, op.set(XP));
  emit(op.get(W), op.get(J), op.get(ROW_BYTES), op.i32Mul, op.i32Add, op.tee(WP0), op.get(ROW_BYTES), op.i32Add, op.set(WP1));
  //     for k = 0; k < rowBytes; k += 16
  emit(op.i32(0), op.set(K), op.block, op.loop);
  emit(op.get(K), op.get(ROW_BYTES), op.i32LtU, [0x45], op.brIf(1));
  emit(op.get(WP0), op.get(K), op.i32Add, op.v128Load(), op.set(W0));
  emit(op.get(WP1), op.get(K), op.i32Add, op.v128Load(), op.set(W1));
  for (let r = 0; r < 4; r++) {
    // xv = load(xp + r * rowBytes + k)
    emit(op.get(XP), op.get(K), op.i32Add);
    if (r > 0) emit(op.get(ROW_BYTES), op.i32(r), op.i32Mul, op.i32Add);
    emit(op.v128Load(), op.set(XV));
    for (let c = 0; c < 2; c++) {
      const acc = ACC + 2 * r + c;
      emit(op.get(acc), op.get(XV), op.get(c === 0 ? W0 : W1), op.f32x4Mul, op.f32x4Add, op.set(acc));
    }
  }
  emit(op.get(K), op.i32(16), op.i32Add, op.set(K), op.br(0), op.end, op.end);
  //     out[(b + r) * outputs + j + c] = act(hsum(acc[r][c]) + bias[j + c])
  for (let r = 0; r < 4; r++) {
    for (let c = 0; c < 2; c++) {
      const acc = ACC + 2 * r + c;
      emit(op.get(acc), op.f32x4Lane(0), op.get(acc), op.f32x4Lane(1), op.f32Add, op.get(acc), op.f32x4Lane(2), op.f32Add, op.get(acc), op.f32x4Lane(3), op.f32Add);
      emit(op.get(BIAS), op.get(J), op.i32(2), op.i32Shl, op.i32Add, op.f32Load(4 * c), op.f32Add, op.set(VALUE));
      emit(op.get(RELU), op.if, op.get(VALUE), op.f32Const0, op.f32Max, op.set(VALUE), op.end);
      // op = out + ((b + r) * outputs + j) * 4
      emit(op.get(OUT), op.get(B), op.i32(r), op.i32Add, op.get(OUTPUTS), op.i32Mul, op.get(J), op.i32Add, op.i32(2), op.i32Shl, op.i32Add, op.set(OP));
      emit(op.get(OP), op.get(VALUE), op.f32Store(4 * c));
    }
  }
  emit(op.get(J), op.i32(2), op.i32Add, op.set(J), op.br(0), op.end, op.end);
  emit(op.get(B), op.i32(4), op.i32Add, op.set(B), op.br(0), op.end, op.end);
  emit(op.end);
  const locals = vector([
    [...unsignedLeb(8), I32],
    [...unsignedLeb(11), V128_TYPE],
    [...unsignedLeb(1), F32_TYPE],
  ]);
  const body = [...locals, ...code];
  return [...unsignedLeb(body.length), ...body];
}

// matmul(a, b, c, m, q, p): c[m x p] = a[m x q] b[q x p], all row-major, m % 4 == 0 and p % 4 == 0: four
// rows of c by one f32x4 column block at a time, a's entries splatted. The backward products of training
// (input gradients g W; weight gradients g^T x) are of this form.
const [MA, MB, MC, MM, MQ, MP] = [0, 1, 2, 3, 4, 5];
const [MR, MCOL, MQI, AP, BP, QB, PB, CP] = [6, 7, 8, 9, 10, 11, 12, 13];
const MACC = 14; // four v128 accumulators 14..17
const MBV = 18;

function matmulBody(): number[] {
  const code: number[] = [];
  const emit = (...parts: number[][]) => {
    for (const part of parts) code.push(...part);
  };
  emit(op.get(MQ), op.i32(2), op.i32Shl, op.set(QB), op.get(MP), op.i32(2), op.i32Shl, op.set(PB));
  // for r = 0; r < m; r += 4
  emit(op.i32(0), op.set(MR), op.block, op.loop);
  emit(op.get(MR), op.get(MM), op.i32LtU, [0x45], op.brIf(1));
  //   for col = 0; col < p * 4 (bytes); col += 16
  emit(op.i32(0), op.set(MCOL), op.block, op.loop);
  emit(op.get(MCOL), op.get(PB), op.i32LtU, [0x45], op.brIf(1));
  for (let a = 0; a < 4; a++) emit(op.v128Const0, op.set(MACC + a));
  //     ap = a + r * qBytes; bp = b + col
  emit(op.get(MA), op.get(MR), op.get(QB), op.i32Mul, op.i32Add, op.set(AP));
  emit(op.get(MB), op.get(MCOL), op.i32Add, op.set(BP));
  //     for qi = 0; qi < q; qi++
  emit(op.i32(0), op.set(MQI), op.block, op.loop);
  emit(op.get(MQI), op.get(MQ), op.i32LtU, [0x45], op.brIf(1));
  emit(op.get(BP), op.v128Load(), op.set(MBV));
  for (let r = 0; r < 4; r++) {
    // acc[r] += splat(a[(row + r) * q + qi]) * bv
    emit(op.get(MACC + r), op.get(AP));
    if (r > 0) emit(op.get(QB), op.i32(r), op.i32Mul, op.i32Add);
    emit(op.f32Load(), op.f32x4Splat, op.get(MBV), op.f32x4Mul, op.f32x4Add, op.set(MACC + r));
  }
  emit(op.get(AP), op.i32(4), op.i32Add, op.set(AP), op.get(BP), op.get(PB), op.i32Add, op.set(BP));
  emit(op.get(MQI), op.i32(1), op.i32Add, op.set(MQI), op.br(0), op.end, op.end);
  //     c[(row + r) * p + col] = acc[r]
  for (let r = 0; r < 4; r++) {
    emit(op.get(MC), op.get(MR), op.i32(r), op.i32Add, op.get(PB), op.i32Mul, op.i32Add, op.get(MCOL), op.i32Add, op.set(CP));
    emit(op.get(CP), op.get(MACC + r), op.v128Store());
  }
  emit(op.get(MCOL), op.i32(16), op.i32Add, op.set(MCOL), op.br(0), op.end, op.end);
  emit(op.get(MR), op.i32(4), op.i32Add, op.set(MR), op.br(0), op.end, op.end);
  emit(op.end);
  const locals = vector([
    [...unsignedLeb(8), I32],
    [...unsignedLeb(5), V128_TYPE],
  ]);
  const body = [...locals, ...code];
  return [...unsignedLeb(body.length), ...body];
}

/**
 * The module: imports memory env.memory, exports dense(x, w, bias, out, batch, inputs, outputs, relu)
 * and matmul(a, b, c, m, q, p).
 */
export function kernelModule(): Uint8Array<ArrayBuffer> {
  const bytes = [
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, vector([
      [0x60, ...unsignedLeb(8), ...new Array(8).fill(I32), 0],
      [0x60, ...unsignedLeb(6), ...new Array(6).fill(I32), 0],
    ])),
    ...section(2, vector([[...text('env'), ...text('memory'), 0x02, 0x00, 0x01]])),
    ...section(3, vector([[0], [1]])),
    ...section(7, vector([
      [...text('dense'), 0x00, 0],
      [...text('matmul'), 0x00, 1],
    ])),
    ...section(10, vector([kernelBody(), matmulBody()])),
  ];
  return Uint8Array.from(bytes);
}

export type DenseKernel = (x: number, w: number, bias: number, out: number, batch: number, inputs: number, outputs: number, relu: number) => void;
export type MatmulKernel = (a: number, b: number, c: number, m: number, q: number, p: number) => void;

export interface Kernels {
  dense: DenseKernel;
  matmul: MatmulKernel;
}

let compiled: WebAssembly.Module | null | undefined;

/** The kernels bound to a memory, or undefined where WebAssembly SIMD is not available. */
export function instantiateKernels(memory: WebAssembly.Memory): Kernels | undefined {
  try {
    if (compiled === undefined) compiled = new WebAssembly.Module(kernelModule());
    if (compiled === null) return undefined;
    const instance = new WebAssembly.Instance(compiled, { env: { memory } });
    return { dense: instance.exports.dense as DenseKernel, matmul: instance.exports.matmul as MatmulKernel };
  } catch {
    compiled = null;
    return undefined;
  }
}
