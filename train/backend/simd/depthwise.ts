// Depthwise convolution (channel multiplier 1, NHWC, dilation 1) and its two gradients as 128-bit SIMD
// WebAssembly over the channel axis, which is contiguous in NHWC: 4 channels per f32x4 lane group,
// `VECTORS` groups per accumulator set, then a single f32x4 group and a scalar tail, so any channel
// count runs through the same code. XNNPACK's depthwise kernels are fast for 3x3 and 5x5 filters only
// (its 7x7 runs at about 0.9 GMAC/s here) and tfjs-wasm has no depthwise gradient kernels at all;
// composing the gradients from other tfjs kernels (the earlier approach) spent most of its time moving
// data. Every loop bound is clipped to the taps that hit the input, so padding costs nothing.
import { type Code, F32, FunctionBuilder, I32, V128, assemble, op } from './assembler.ts';

/** f32x4 groups per accumulator set: 8 channels, which divides every expanded width of the presets. */
const VECTORS = 2;

/** Parameters of every kernel, in this order; pointers are byte offsets into the backend's memory. */
const PARAMS = ['a', 'b', 'out', 'N', 'H', 'W', 'C', 'OH', 'OW', 'KH', 'KW', 'SH', 'SW', 'PT', 'PL'] as const;
type Param = (typeof PARAMS)[number];
const p = (name: Param): Code => op.get(PARAMS.indexOf(name));

/** One channel block: `count` accumulators of `lanes` floats each. */
interface Block {
  lanes: 1 | 4;
  accumulators: number[];
  zero: () => Code;
  load: (address: Code, offset: number) => Code;
  store: (address: Code, value: Code, offset: number) => Code;
  /** acc += a * b */
  multiplyAdd: (acc: number, a: Code, b: Code) => Code;
}

function blocks(f: FunctionBuilder): Block[] {
  const vectors = Array.from({ length: VECTORS }, () => f.local(V128));
  const scalar = f.local(F32);
  const vector = (accumulators: number[]): Block => ({
    lanes: 4,
    accumulators,
    zero: () => op.f32x4Splat(op.f32(0)),
    load: (address, offset) => op.v128Load(address, offset),
    store: (address, value, offset) => op.v128Store(address, value, offset),
    multiplyAdd: (acc, a, b) => op.set(acc, op.f32x4Add(op.get(acc), op.f32x4Mul(a, b))),
  });
  return [
    vector(vectors),
    vector(vectors.slice(0, 1)),
    {
      lanes: 1,
      accumulators: [scalar],
      zero: () => op.f32(0),
      load: (address, offset) => op.f32Load(address, offset),
      store: (address, value, offset) => op.f32Store(address, value, offset),
      multiplyAdd: (acc, a, b) => op.set(acc, op.f32Add(op.get(acc), op.f32Mul(a, b))),
    },
  ];
}

/** c over 0..C in blocks of 4*VECTORS channels, then 4, then 1; `body` handles channels c .. c+width-1. */
function channelLoop(f: FunctionBuilder, c: number, body: (block: Block) => Code): Code {
  const [wide, narrow, scalar] = blocks(f);
  const width = (block: Block) => block.lanes * block.accumulators.length;
  return [
    ...f.forRange(c, op.i32(0), op.sub(p('C'), op.i32(width(wide) - 1)), body(wide), op.i32(width(wide))),
    ...f.forRange(c, op.get(c), op.sub(p('C'), op.i32(3)), body(narrow), op.i32(4)),
    ...f.forRange(c, op.get(c), p('C'), body(scalar), op.i32(1)),
  ];
}

/** acc_k (+)= a[offset k] * b[offset k] over the block's accumulators. */
function multiplyAddAll(block: Block, a: Code, b: Code): Code {
  return block.accumulators.flatMap((acc, k) => block.multiplyAdd(acc, block.load(a, k * block.lanes * 4), block.load(b, k * block.lanes * 4)));
}

const bytes = (elements: Code): Code => op.mul(elements, op.i32(4));

/** out[n,oy,ox,c] = sum_{i,j} x[n, oy*SH-PT+i, ox*SW-PL+j, c] * w[i,j,c]  (a = x, b = w). */
function forward(): { builder: FunctionBuilder; body: Code } {
  const f = new FunctionBuilder('depthwiseForward', PARAMS.length);
  const [n, oy, ox, i, j, c, iy0, ix0, i0, i1, j0, j1, outPixel, xPixel, xp, wp, rowBytes] = Array.from({ length: 17 }, () => f.local(I32));
  const tap = (block: Block): Code => [
    ...block.accumulators.flatMap((acc) => op.set(acc, block.zero())),
    ...f.forRange(i, op.get(i0), op.get(i1), [
      ...op.set(xp, op.add(op.get(xPixel), bytes(op.add(op.mul(op.add(op.mul(op.get(i), p('W')), op.get(j0)), p('C')), op.get(c))))),
      ...op.set(wp, op.add(p('b'), bytes(op.add(op.mul(op.add(op.mul(op.get(i), p('KW')), op.get(j0)), p('C')), op.get(c))))),
      ...f.forRange(j, op.get(j0), op.get(j1), [
        ...multiplyAddAll(block, op.get(xp), op.get(wp)),
        ...op.set(xp, op.add(op.get(xp), op.get(rowBytes))),
        ...op.set(wp, op.add(op.get(wp), op.get(rowBytes))),
      ]),
    ]),
    ...block.accumulators.flatMap((acc, k) => block.store(op.add(op.get(outPixel), bytes(op.get(c))), op.get(acc), k * block.lanes * 4)),
  ];
  const body = [
    ...op.set(rowBytes, bytes(p('C'))),
    ...f.forRange(n, op.i32(0), p('N'), f.forRange(oy, op.i32(0), p('OH'), [
      ...op.set(iy0, op.sub(op.mul(op.get(oy), p('SH')), p('PT'))),
      ...op.set(i0, op.max(op.i32(0), op.sub(op.i32(0), op.get(iy0)))),
      ...op.set(i1, op.min(p('KH'), op.sub(p('H'), op.get(iy0)))),
      ...f.forRange(ox, op.i32(0), p('OW'), [
        ...op.set(ix0, op.sub(op.mul(op.get(ox), p('SW')), p('PL'))),
        ...op.set(j0, op.max(op.i32(0), op.sub(op.i32(0), op.get(ix0)))),
        ...op.set(j1, op.min(p('KW'), op.sub(p('W'), op.get(ix0)))),
        ...op.set(outPixel, op.add(p('out'), bytes(op.mul(op.add(op.mul(op.add(op.mul(op.get(n), p('OH')), op.get(oy)), p('OW')), op.get(ox)), p('C'))))),
        ...op.set(xPixel, op.add(p('a'), bytes(op.mul(op.add(op.mul(op.add(op.mul(op.get(n), p('H')), op.get(iy0)), p('W')), op.get(ix0)), p('C'))))),
        ...channelLoop(f, c, tap),
      ]),
    ])),
  ];
  return { builder: f, body };
}

/**
 * dx[n,iy,ix,c] = sum over taps (i,j) with oy = (iy+PT-i)/SH and ox = (ix+PL-j)/SW whole and inside
 * dy: dy[n,oy,ox,c] * w[i,j,c]  (a = dy, b = w; H, W are dx's size). The taps of one dx pixel are
 * every SH-th row and SW-th column of the filter, starting at the residue of iy+PT (ix+PL).
 */
function backpropInput(): { builder: FunctionBuilder; body: Code } {
  const f = new FunctionBuilder('depthwiseBackpropInput', PARAMS.length);
  const [n, iy, ix, i, j, c, t, u, low, i0, i1, j0, j1, outPixel, dyp, wp, rowBytes, tapColumnBytes] = Array.from({ length: 18 }, () => f.local(I32));
  const tap = (block: Block): Code => [
    ...block.accumulators.flatMap((acc) => op.set(acc, block.zero())),
    ...f.forRange(i, op.get(i0), op.get(i1), [
      // oy = (t - i) / SH, ox = (u - j0) / SW: both exact by the choice of i0 and j0.
      ...op.set(dyp, op.add(p('a'), bytes(op.add(op.mul(op.add(op.mul(op.add(op.mul(op.get(n), p('OH')), op.div(op.sub(op.get(t), op.get(i)), p('SH'))), p('OW')), op.div(op.sub(op.get(u), op.get(j0)), p('SW'))), p('C')), op.get(c))))),
      ...op.set(wp, op.add(p('b'), bytes(op.add(op.mul(op.add(op.mul(op.get(i), p('KW')), op.get(j0)), p('C')), op.get(c))))),
      ...f.forRange(j, op.get(j0), op.get(j1), [
        ...multiplyAddAll(block, op.get(dyp), op.get(wp)),
        ...op.set(dyp, op.sub(op.get(dyp), op.get(rowBytes))),
        ...op.set(wp, op.add(op.get(wp), op.get(tapColumnBytes))),
      ], p('SW')),
    ], p('SH')),
    ...block.accumulators.flatMap((acc, k) => block.store(op.add(op.get(outPixel), bytes(op.get(c))), op.get(acc), k * block.lanes * 4)),
  ];
  const body = [
    ...op.set(rowBytes, bytes(p('C'))),
    ...op.set(tapColumnBytes, op.mul(op.get(rowBytes), p('SW'))),
    ...f.forRange(n, op.i32(0), p('N'), f.forRange(iy, op.i32(0), p('H'), [
      ...op.set(t, op.add(op.get(iy), p('PT'))),
      ...op.set(low, op.max(op.i32(0), op.sub(op.get(t), op.mul(op.sub(p('OH'), op.i32(1)), p('SH'))))),
      ...op.set(i0, op.add(op.get(low), op.rem(op.sub(op.get(t), op.get(low)), p('SH')))),
      ...op.set(i1, op.min(p('KH'), op.add(op.get(t), op.i32(1)))),
      ...f.forRange(ix, op.i32(0), p('W'), [
        ...op.set(u, op.add(op.get(ix), p('PL'))),
        ...op.set(low, op.max(op.i32(0), op.sub(op.get(u), op.mul(op.sub(p('OW'), op.i32(1)), p('SW'))))),
        ...op.set(j0, op.add(op.get(low), op.rem(op.sub(op.get(u), op.get(low)), p('SW')))),
        ...op.set(j1, op.min(p('KW'), op.add(op.get(u), op.i32(1)))),
        ...op.set(outPixel, op.add(p('out'), bytes(op.mul(op.add(op.mul(op.add(op.mul(op.get(n), p('H')), op.get(iy)), p('W')), op.get(ix)), p('C'))))),
        ...channelLoop(f, c, tap),
      ]),
    ])),
  ];
  return { builder: f, body };
}

/**
 * dw[i,j,c] += sum_{n,oy,ox} x[n, oy*SH-PT+i, ox*SW-PL+j, c] * dy[n,oy,ox,c]  (a = x, b = dy; the
 * caller zeroes dw). Image by image, so that one image's x and dy stay in cache across all taps.
 */
function backpropFilter(): { builder: FunctionBuilder; body: Code } {
  const f = new FunctionBuilder('depthwiseBackpropFilter', PARAMS.length);
  const [n, oy, ox, i, j, c, oy0, oy1, ox0, ox1, tapRow, xp, dyp, rowBytes, xStepBytes, first] = Array.from({ length: 16 }, () => f.local(I32));
  /** First output index whose tap lands inside the input: ceil((pad - tap) / stride), at least 0. */
  const firstInside = (pad: Param, tapIndex: number, stride: Param): Code =>
    op.select(op.i32(0), op.div(op.add(op.sub(p(pad), op.get(tapIndex)), op.sub(p(stride), op.i32(1))), p(stride)), op.lt(op.sub(p(pad), op.get(tapIndex)), op.i32(1)));
  /** One past the last: min(out, floor((in - 1 + pad - tap) / stride) + 1), 0 if none. */
  const endInside = (size: Param, pad: Param, tapIndex: number, stride: Param, outSize: Param): Code => {
    const last = op.sub(op.add(op.sub(p(size), op.i32(1)), p(pad)), op.get(tapIndex));
    return op.select(op.i32(0), op.min(p(outSize), op.add(op.div(last, p(stride)), op.i32(1))), op.lt(last, op.i32(0)));
  };
  const tap = (block: Block): Code => [
    ...block.accumulators.flatMap((acc, k) => op.set(acc, block.load(op.add(op.get(tapRow), bytes(op.get(c))), k * block.lanes * 4))),
    ...f.forRange(oy, op.get(oy0), op.get(oy1), [
      ...op.set(xp, op.add(p('a'), bytes(op.add(op.mul(op.add(op.mul(op.add(op.mul(op.get(n), p('H')), op.add(op.sub(op.mul(op.get(oy), p('SH')), p('PT')), op.get(i))), p('W')), op.get(first)), p('C')), op.get(c))))),
      ...op.set(dyp, op.add(p('b'), bytes(op.add(op.mul(op.add(op.mul(op.add(op.mul(op.get(n), p('OH')), op.get(oy)), p('OW')), op.get(ox0)), p('C')), op.get(c))))),
      ...f.forRange(ox, op.get(ox0), op.get(ox1), [
        ...multiplyAddAll(block, op.get(xp), op.get(dyp)),
        ...op.set(xp, op.add(op.get(xp), op.get(xStepBytes))),
        ...op.set(dyp, op.add(op.get(dyp), op.get(rowBytes))),
      ]),
    ]),
    ...block.accumulators.flatMap((acc, k) => block.store(op.add(op.get(tapRow), bytes(op.get(c))), op.get(acc), k * block.lanes * 4)),
  ];
  const body = [
    ...op.set(rowBytes, bytes(p('C'))),
    ...op.set(xStepBytes, op.mul(op.get(rowBytes), p('SW'))),
    ...f.forRange(n, op.i32(0), p('N'), f.forRange(i, op.i32(0), p('KH'), [
      ...op.set(oy0, firstInside('PT', i, 'SH')),
      ...op.set(oy1, endInside('H', 'PT', i, 'SH', 'OH')),
      ...f.forRange(j, op.i32(0), p('KW'), [
        ...op.set(ox0, firstInside('PL', j, 'SW')),
        ...op.set(ox1, endInside('W', 'PL', j, 'SW', 'OW')),
        // The input column of ox0's tap.
        ...op.set(first, op.add(op.sub(op.mul(op.get(ox0), p('SW')), p('PL')), op.get(j))),
        ...op.set(tapRow, op.add(p('out'), bytes(op.mul(op.add(op.mul(op.get(i), p('KW')), op.get(j)), p('C'))))),
        ...channelLoop(f, c, tap),
      ]),
    ])),
  ];
  return { builder: f, body };
}

export interface DepthwiseGeometry {
  batch: number;
  inHeight: number;
  inWidth: number;
  channels: number;
  outHeight: number;
  outWidth: number;
  filterHeight: number;
  filterWidth: number;
  strideHeight: number;
  strideWidth: number;
  padTop: number;
  padLeft: number;
}

type Kernel = (...args: number[]) => void;
export interface DepthwiseKernels {
  /** out = depthwise(x, w): byte offsets of x [N,H,W,C], w [KH,KW,C] and out [N,OH,OW,C]. */
  forward(x: number, w: number, out: number, g: DepthwiseGeometry): void;
  /** dx [N,H,W,C] from dy [N,OH,OW,C] and w. */
  backpropInput(dy: number, w: number, dx: number, g: DepthwiseGeometry): void;
  /** dw [KH,KW,C] += from x and dy (zero dw first). */
  backpropFilter(x: number, dy: number, dw: number, g: DepthwiseGeometry): void;
}

let moduleBytes: Uint8Array<ArrayBuffer> | undefined;
const instances = new WeakMap<WebAssembly.Memory, DepthwiseKernels>();

/** The kernels bound to `memory` (one instance per memory, compiled once per process). */
export function depthwiseKernels(memory: WebAssembly.Memory): DepthwiseKernels {
  const existing = instances.get(memory);
  if (existing) return existing;
  moduleBytes ??= assemble([forward(), backpropInput(), backpropFilter()]);
  const instance = new WebAssembly.Instance(new WebAssembly.Module(moduleBytes), { env: { memory } });
  const exports = instance.exports as Record<string, Kernel>;
  const call = (kernel: Kernel) => (a: number, b: number, out: number, g: DepthwiseGeometry) =>
    kernel(a, b, out, g.batch, g.inHeight, g.inWidth, g.channels, g.outHeight, g.outWidth, g.filterHeight, g.filterWidth, g.strideHeight, g.strideWidth, g.padTop, g.padLeft);
  const kernels: DepthwiseKernels = {
    forward: call(exports.depthwiseForward),
    backpropInput: call(exports.depthwiseBackpropInput),
    backpropFilter: call(exports.depthwiseBackpropFilter),
  };
  instances.set(memory, kernels);
  return kernels;
}
