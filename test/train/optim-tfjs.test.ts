// applySgd on tfjs variables equals the pure sgdStep, skips absent gradients, and refuses NaN/Inf
// gradients without changing anything.
import test from 'ava';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { OfaError } from '../../lib/errors.ts';
import { applySgd, sgdStep } from '../../train/optim/index.ts';

test.before(async () => {
  await tf.setBackend('cpu');
});

test('applySgd matches sgdStep on the same numbers, over three steps', (t) => {
  const initial = { 'conv.weight': [0.5, -1, 2, 0.25], 'bn.gamma': [1, 1], 'unused.weight': [7] };
  const shapes: Record<string, number[]> = { 'conv.weight': [2, 2], 'bn.gamma': [2], 'unused.weight': [1] };
  const variables = new Map(Object.entries(initial).map(([name, v]) => [name, tf.variable(tf.tensor(v, shapes[name]), true, `t1.${name}`)]));
  const plain = new Map(Object.entries(initial).map(([name, v]) => [name, Float32Array.from(v)]));
  const momentumA = new Map<string, Float32Array>();
  const momentumB = new Map<string, Float32Array>();
  const options = { learningRate: 0.05, weightDecay: 0.01 };
  for (let step = 0; step < 3; step++) {
    const g = { 'conv.weight': [0.1 * step, -0.2, 0.3, 1], 'bn.gamma': [0.5, -0.5 * step] };
    const grads = new Map(Object.entries(g).map(([name, v]) => [name, tf.tensor(v, shapes[name])]));
    t.is(applySgd(variables, grads, momentumA, options), 2);
    sgdStep(plain, new Map(Object.entries(g).map(([name, v]) => [name, Float32Array.from(v)])), momentumB, options);
    for (const grad of grads.values()) grad.dispose();
  }
  for (const [name, variable] of variables) t.deepEqual(variable.dataSync(), plain.get(name)!, name);
  t.deepEqual(variables.get('unused.weight')!.dataSync(), Float32Array.from([7]));
  t.deepEqual([...momentumA.keys()].sort(), ['bn.gamma', 'conv.weight']);
  for (const v of variables.values()) v.dispose();
});

test('a NaN or Inf gradient is refused and no variable changes', (t) => {
  const a = tf.variable(tf.tensor([1, 2]), true, 't2.a');
  const b = tf.variable(tf.tensor([3]), true, 't2.b');
  const parameters = new Map([['a.weight', a], ['b.weight', b]]);
  const grads = new Map([['a.weight', tf.tensor([0.1, 0.1])], ['b.weight', tf.tensor([Number.NaN])]]);
  const momentum = new Map<string, Float32Array>();
  const error = t.throws(() => applySgd(parameters, grads, momentum, { learningRate: 0.1 }), { instanceOf: OfaError });
  t.is(error!.code, 'E_NON_FINITE');
  t.regex(error!.message, /gradient of b\.weight holds NaN or Inf; no parameter was updated/);
  t.deepEqual(a.dataSync(), Float32Array.from([1, 2]));
  t.is(momentum.size, 0);
  t.throws(() => applySgd(parameters, new Map([['a.weight', tf.tensor([1, 2, 3])]]), momentum, { learningRate: 0.1 }), { message: /shape \[3\], its parameter \[2\]/ });
  for (const x of [a, b, ...grads.values()]) x.dispose();
});
