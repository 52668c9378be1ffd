// Between tfjs variables (the supernet's parameters and BN buffers) and checkpoint tensors, for the
// trainer: snapshot them under the param./buffer./momentum. prefixes, and put them back with every
// name and shape checked, so that a checkpoint of another network shape is refused, not half-loaded.
import * as tf from '@tensorflow/tfjs-core';
import { OfaError } from '../../lib/errors.ts';
import { joinTensors, splitTensors } from './checkpoint.ts';
import type { TensorMap } from './safetensors.ts';

/** Copies the variables' values (dataSync, so call it between steps). */
export function tensorsOfVariables(variables: Map<string, tf.Variable>): TensorMap {
  const out: TensorMap = new Map();
  for (const [name, variable] of variables) out.set(name, { shape: [...variable.shape], data: Float32Array.from(variable.dataSync() as Float32Array) });
  return out;
}

/** The checkpoint tensors of a supernet's state and its optimiser's momentum buffers. */
export function trainingStateTensors(state: {
  parameters: Map<string, tf.Variable>;
  buffers: Map<string, tf.Variable>;
  momentum?: Map<string, Float32Array>;
}): TensorMap {
  const momentum: TensorMap = new Map();
  for (const [name, data] of state.momentum ?? []) {
    const parameter = state.parameters.get(name);
    if (!parameter) throw new OfaError('E_OPTIMIZER', `momentum buffer ${JSON.stringify(name)} has no parameter of that name`, { kind: 'failure' });
    momentum.set(name, { shape: [...parameter.shape], data });
  }
  return joinTensors({ parameters: tensorsOfVariables(state.parameters), buffers: tensorsOfVariables(state.buffers), momentum });
}

function assignExactly(kind: string, source: string, variables: Map<string, tf.Variable>, tensors: TensorMap): void {
  const missing = [...variables.keys()].filter((name) => !tensors.has(name));
  const extra = [...tensors.keys()].filter((name) => !variables.has(name));
  if (missing.length > 0 || extra.length > 0) {
    const list = (names: string[]) => `${names.slice(0, 3).join(', ')}${names.length > 3 ? ` and ${names.length - 3} more` : ''}`;
    throw new OfaError('E_CHECKPOINT_MISMATCH', `checkpoint ${source}: ${kind} do not match the network (${missing.length} missing${missing.length ? `: ${list(missing)}` : ''}; ${extra.length} unknown${extra.length ? `: ${list(extra)}` : ''})`, {
      hint: 'the checkpoint was written by another preset, variant or version of the supernet', kind: 'failure',
    });
  }
  for (const [name, variable] of variables) {
    const tensor = tensors.get(name)!;
    if (tensor.shape.join('x') !== variable.shape.join('x')) {
      throw new OfaError('E_CHECKPOINT_MISMATCH', `checkpoint ${source}: ${kind} ${name} has shape [${tensor.shape.join(', ')}]; the network expects [${variable.shape.join(', ')}]`, { kind: 'failure' });
    }
  }
  // Checked everything first: assign only when all of them fit.
  for (const [name, variable] of variables) {
    const tensor = tensors.get(name)!;
    const value = tf.tensor(tensor.data, tensor.shape, 'float32');
    variable.assign(value);
    value.dispose();
  }
}

/**
 * Puts a checkpoint's parameters and buffers back into the variables (all names and shapes must
 * match) and returns its momentum buffers (copies, keyed by parameter name).
 */
export function restoreTrainingState(
  tensors: TensorMap,
  state: { parameters: Map<string, tf.Variable>; buffers: Map<string, tf.Variable> },
  source = 'tensors',
): Map<string, Float32Array> {
  const groups = splitTensors(tensors);
  for (const [name, tensor] of groups.momentum) {
    const parameter = state.parameters.get(name);
    if (!parameter || parameter.shape.join('x') !== tensor.shape.join('x')) {
      throw new OfaError('E_CHECKPOINT_MISMATCH', `checkpoint ${source}: momentum buffer ${name} [${tensor.shape.join(', ')}] fits no parameter of the network`, { kind: 'failure' });
    }
  }
  assignExactly('parameters', source, state.parameters, groups.parameters);
  assignExactly('buffers', source, state.buffers, groups.buffers);
  return new Map([...groups.momentum].map(([name, tensor]) => [name, Float32Array.from(tensor.data)]));
}
