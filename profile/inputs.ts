// Model inputs for the protocol: concrete shapes from a model's declared inputs (symbolic dimensions set
// by name), and seeded values. Plain data and plain functions, so that a runtime that runs elsewhere (a
// browser page) generates the same inputs from the same plan.
import { OfaError } from '../lib/errors.ts';
import { createRng } from '../lib/rng.ts';
import type { InputElementType, InputPlan, InputSpec, ValueInfo } from './runtimes/types.ts';

export type TensorData = Float32Array | Float64Array | Int32Array | BigInt64Array | Int8Array | Uint8Array;

export const FILLABLE_TYPES: readonly InputElementType[] = ['float32', 'float64', 'int32', 'int64', 'int8', 'uint8', 'bool'];

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

/** The input plan of a session's declared inputs: shapes resolved, every type one the generator fills. */
export function planInputs(inputs: readonly ValueInfo[], dims: Record<string, number>, seed = 1): InputPlan {
  const tensors: InputSpec[] = resolveInputShapes(inputs, dims).map(({ info, dims: shape }) => {
    if (!FILLABLE_TYPES.includes(info.type as InputElementType)) {
      throw new OfaError('E_INPUT_TYPE', `input ${JSON.stringify(info.name)} has type ${info.type}; the profiler can generate: ${FILLABLE_TYPES.join(', ')}`);
    }
    return { name: info.name, type: info.type as InputElementType, dims: shape };
  });
  return { tensors, seed };
}

/** The plan's values, input by input (floats in [-1, 1), integers 0: latency does not depend on them). */
export function inputData(plan: InputPlan): { spec: InputSpec; data: TensorData }[] {
  const rng = createRng(plan.seed);
  return plan.tensors.map((spec) => {
    const size = spec.dims.reduce((a, b) => a * b, 1);
    let data: TensorData;
    switch (spec.type) {
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
    return { spec, data };
  });
}
