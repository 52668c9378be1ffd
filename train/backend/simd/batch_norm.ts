// Training batch normalisation fused with its activation, as SIMD WebAssembly over [M, C] rows (M =
// N*H*W, C contiguous, C a multiple of 4): the batch statistics, the normalised and activated output,
// and the backward pass in two sweeps. tfjs composes the same from about a dozen elementwise kernels
// forward and three dozen backward, each a full pass over the activations plus JavaScript bookkeeping
// per kernel (ofav2's fashion max subnet ran ~7,900 kernels per 32-image step, most of them these).
// The maths, per channel (s = gamma / sqrt(var + eps), t = beta - mean * s, z = x * s + t):
//   forward   y = act(z)
//   backward  dz = dy * act'(z);  dbeta = sum dz;  dgamma = sum dz (x - mean) / sqrt(var + eps)
//             dx = s * (dz - sum(dz) / M - (x - mean) * sum(dz (x - mean)) / (M (var + eps)))
import { type Code, FunctionBuilder, I32, V128, assemble, op } from './assembler.ts';

export type FusedActivation = 'none' | 'relu' | 'hswish';
export const FUSED_ACTIVATIONS: readonly FusedActivation[] = ['none', 'relu', 'hswish'];

const splat = (value: number): Code => op.f32x4Splat(op.f32(value));

/** act(z) on a vector. */
function activate(activation: FusedActivation, z: Code, scratch: number): Code {
  switch (activation) {
    case 'none':
      return z;
    case 'relu':
      return op.f32x4Max(z, splat(0));
    case 'hswish':
      // z * relu6(z + 3) / 6, z kept in a local because it is used twice.
      return [...op.set(scratch, z), ...op.f32x4Mul(op.f32x4Mul(op.get(scratch), op.f32x4Min(op.f32x4Max(op.f32x4Add(op.get(scratch), splat(3)), splat(0)), splat(6))), splat(1 / 6))];
  }
}

/**
 * dy * act'(z), with the derivative tfjs's own gradients give: relu' = [z > 0]; h-swish' =
 * (relu6(z + 3) + z * [0 < z + 3 <= 6]) / 6.
 */
function derivative(activation: FusedActivation, dy: Code, z: Code, zLocal: number, tLocal: number): Code {
  switch (activation) {
    case 'none':
      return dy;
    case 'relu':
      return op.v128And(dy, op.f32x4Gt(z, splat(0)));
    case 'hswish': {
      const t = op.get(tLocal);
      const inside = op.v128And(op.f32x4Gt(t, splat(0)), op.f32x4Le(t, splat(6)));
      return [
        ...op.set(zLocal, z),
        ...op.set(tLocal, op.f32x4Add(op.get(zLocal), splat(3))),
        ...op.f32x4Mul(dy, op.f32x4Mul(op.f32x4Add(op.f32x4Min(op.f32x4Max(t, splat(0)), splat(6)), op.v128And(op.get(zLocal), inside)), splat(1 / 6))),
      ];
    }
  }
}

/**
 * A function over every (row, 4-channel group): `body(element, channel)` gets byte offsets of the
 * element within a row-major [M, C] tensor and of its channel group within a [C] vector.
 */
function overRows(name: string, params: string[], body: (f: FunctionBuilder, p: (name: string) => Code, element: Code, channel: Code) => Code) {
  const f = new FunctionBuilder(name, params.length);
  const p = (param: string) => {
    const index = params.indexOf(param);
    if (index < 0) throw new Error(`${name}: no parameter ${param}`);
    return op.get(index);
  };
  const [r, c, rowStart, rowBytes] = [f.local(I32), f.local(I32), f.local(I32), f.local(I32)];
  const code = [
    ...op.set(rowBytes, op.mul(p('C'), op.i32(4))),
    ...f.forRange(r, op.i32(0), p('M'), [
      ...op.set(rowStart, op.mul(op.get(r), op.get(rowBytes))),
      ...f.forRange(c, op.i32(0), op.get(rowBytes), body(f, p, op.add(op.get(rowStart), op.get(c)), op.get(c)), op.i32(16)),
    ]),
  ];
  return { builder: f, body: code };
}

const at = (base: Code, offset: Code) => op.v128Load(op.add(base, offset));
/** vector[channel] += value */
const accumulate = (base: Code, channel: Code, value: Code) => op.v128Store(op.add(base, channel), op.f32x4Add(op.v128Load(op.add(base, channel)), value));

function functions() {
  const list = [
    // sum[c] += x[r, c]
    overRows('channelSum', ['x', 'sum', 'M', 'C'], (_f, p, e, c) => accumulate(p('sum'), c, at(p('x'), e))),
    // sum[c] += (x[r, c] - mean[c])^2
    overRows('channelSquaredDeviation', ['x', 'mean', 'sum', 'M', 'C'], (f, p, e, c) => {
      const d = f.local(V128);
      return [...op.set(d, op.f32x4Sub(at(p('x'), e), at(p('mean'), c))), ...accumulate(p('sum'), c, op.f32x4Mul(op.get(d), op.get(d)))];
    }),
  ];
  for (const activation of FUSED_ACTIVATIONS) {
    list.push(overRows(`forward_${activation}`, ['x', 'scale', 'shift', 'y', 'M', 'C'], (f, p, e, c) => {
      const z = op.f32x4Add(op.f32x4Mul(at(p('x'), e), at(p('scale'), c)), at(p('shift'), c));
      return op.v128Store(op.add(p('y'), e), activate(activation, z, f.local(V128)));
    }));
    const zOf = (p: (name: string) => Code, e: Code, c: Code) => op.f32x4Add(op.f32x4Mul(at(p('x'), e), at(p('scale'), c)), at(p('shift'), c));
    list.push(overRows(`backwardReduce_${activation}`, ['dy', 'x', 'scale', 'shift', 'mean', 'sumDz', 'sumDzXc', 'M', 'C'], (f, p, e, c) => {
      const [dz, zLocal, tLocal] = [f.local(V128), f.local(V128), f.local(V128)];
      return [
        ...op.set(dz, derivative(activation, at(p('dy'), e), zOf(p, e, c), zLocal, tLocal)),
        ...accumulate(p('sumDz'), c, op.get(dz)),
        ...accumulate(p('sumDzXc'), c, op.f32x4Mul(op.get(dz), op.f32x4Sub(at(p('x'), e), at(p('mean'), c)))),
      ];
    }));
    list.push(overRows(`backwardInput_${activation}`, ['dy', 'x', 'scale', 'shift', 'mean', 'k1', 'k2', 'dx', 'M', 'C'], (f, p, e, c) => {
      const [zLocal, tLocal] = [f.local(V128), f.local(V128)];
      const dz = derivative(activation, at(p('dy'), e), zOf(p, e, c), zLocal, tLocal);
      const centred = op.f32x4Mul(op.f32x4Sub(at(p('x'), e), at(p('mean'), c)), at(p('k2'), c));
      return op.v128Store(op.add(p('dx'), e), op.f32x4Mul(at(p('scale'), c), op.f32x4Sub(op.f32x4Sub(dz, at(p('k1'), c)), centred)));
    }));
  }
  return list;
}

type Kernel = (...args: number[]) => void;
export interface BatchNormKernels {
  channelSum(x: number, sum: number, rows: number, channels: number): void;
  channelSquaredDeviation(x: number, mean: number, sum: number, rows: number, channels: number): void;
  forward(activation: FusedActivation, x: number, scale: number, shift: number, y: number, rows: number, channels: number): void;
  backwardReduce(activation: FusedActivation, dy: number, x: number, scale: number, shift: number, mean: number, sumDz: number, sumDzXc: number, rows: number, channels: number): void;
  backwardInput(activation: FusedActivation, dy: number, x: number, scale: number, shift: number, mean: number, k1: number, k2: number, dx: number, rows: number, channels: number): void;
}

let moduleBytes: Uint8Array<ArrayBuffer> | undefined;
const instances = new WeakMap<WebAssembly.Memory, BatchNormKernels>();

/** The kernels bound to `memory`; every byte offset is into it, every channel count a multiple of 4. */
export function batchNormKernels(memory: WebAssembly.Memory): BatchNormKernels {
  const existing = instances.get(memory);
  if (existing) return existing;
  moduleBytes ??= assemble(functions());
  const exports = new WebAssembly.Instance(new WebAssembly.Module(moduleBytes), { env: { memory } }).exports as Record<string, Kernel>;
  const kernels: BatchNormKernels = {
    channelSum: (...args) => exports.channelSum(...args),
    channelSquaredDeviation: (...args) => exports.channelSquaredDeviation(...args),
    forward: (activation, ...args) => exports[`forward_${activation}`](...args),
    backwardReduce: (activation, ...args) => exports[`backwardReduce_${activation}`](...args),
    backwardInput: (activation, ...args) => exports[`backwardInput_${activation}`](...args),
  };
  instances.set(memory, kernels);
  return kernels;
}
