// SGD (Nesterov, weight decay except BN and biases) and the LR schedule against hand computations.
import test from 'ava';
import { OfaError } from '../../../lib/errors.ts';
import { accumulateGradients, firstNonFinite, isDecayExcluded, learningRate, sgdStateSummary, sgdStep } from '../../../train/optim/index.ts';

function close(t: { true(v: boolean, m?: string): void }, actual: ArrayLike<number>, expected: number[], tolerance = 1e-6): void {
  t.true(actual.length === expected.length, `length ${actual.length} vs ${expected.length}`);
  for (let i = 0; i < expected.length; i++) t.true(Math.abs(actual[i] - expected[i]) <= tolerance, `[${i}] ${actual[i]} vs ${expected[i]}`);
}

test('two Nesterov steps with weight decay match the hand computation (PyTorch semantics)', (t) => {
  const parameters = new Map([['layer.weight', Float32Array.from([1, -2])], ['layer.bias', Float32Array.from([1])], ['unused.weight', Float32Array.from([3])]]);
  const gradients = new Map([['layer.weight', Float32Array.from([0.5, 0.25])], ['layer.bias', Float32Array.from([0.5])]]);
  const momentum = new Map<string, Float32Array>();
  const options = { learningRate: 0.1, momentum: 0.9, weightDecay: 0.01, nesterov: true };
  t.is(sgdStep(parameters, gradients, momentum, options), 2);
  // d = g + 0.01 w = [0.51, 0.23]; buf = d; step = d + 0.9 buf = [0.969, 0.437]; w -= 0.1 step.
  close(t, momentum.get('layer.weight')!, [0.51, 0.23]);
  close(t, parameters.get('layer.weight')!, [0.9031, -2.0437]);
  // Bias: no decay. d = 0.5; buf = 0.5; step = 0.5 + 0.45 = 0.95.
  close(t, parameters.get('layer.bias')!, [0.905]);
  // No gradient: untouched, no momentum buffer.
  close(t, parameters.get('unused.weight')!, [3]);
  t.false(momentum.has('unused.weight'));
  sgdStep(parameters, gradients, momentum, options);
  // d = [0.5 + 0.009031, 0.25 - 0.020437] = [0.509031, 0.229563]
  // buf = 0.9 [0.51, 0.23] + d = [0.968031, 0.436563]
  // step = d + 0.9 buf = [1.3802589, 0.6224697]; w = [0.9031 - 0.13802589, -2.0437 - 0.06224697]
  close(t, momentum.get('layer.weight')!, [0.968031, 0.436563]);
  close(t, parameters.get('layer.weight')!, [0.76507411, -2.10594697]);
  // Bias: buf = 0.45 + 0.5 = 0.95; step = 0.5 + 0.855 = 1.355; w = 0.905 - 0.1355.
  close(t, parameters.get('layer.bias')!, [0.7695]);
  t.deepEqual(sgdStateSummary(momentum), { momentumBuffers: 2, momentumValues: 3 });
});

test('plain momentum, the defaults (0.9, 3e-5, Nesterov) and the no-decay names', (t) => {
  const plain = new Map([['w', Float32Array.from([1])]]);
  sgdStep(plain, new Map([['w', Float32Array.from([0.5])]]), new Map(), { learningRate: 0.1, weightDecay: 0.01, nesterov: false });
  close(t, plain.get('w')!, [1 - 0.1 * 0.51]);
  const defaults = new Map([['conv.weight', Float32Array.from([2])], ['bn.gamma', Float32Array.from([2])], ['bn.beta', Float32Array.from([2])]]);
  const g = () => Float32Array.from([1]);
  sgdStep(defaults, new Map([['conv.weight', g()], ['bn.gamma', g()], ['bn.beta', g()]]), new Map(), { learningRate: 1 });
  // conv: d = 1 + 3e-5 * 2 = 1.00006; step = 1.9 d = 1.900114; BN: step = 1.9.
  close(t, defaults.get('conv.weight')!, [2 - 1.900114]);
  close(t, defaults.get('bn.gamma')!, [0.1]);
  close(t, defaults.get('bn.beta')!, [0.1]);
  t.deepEqual(['a.gamma', 'a.beta', 'a.bias', 'a.weight', 'a.kernelTransform5', 'a.biasTerm'].map(isDecayExcluded), [true, true, true, false, false, false]);
});

test('gradient accumulation sums scaled gradients; mismatches and bad settings are refused', (t) => {
  const sum = new Map<string, Float32Array>();
  accumulateGradients(sum, new Map([['a', Float32Array.from([1, 2])]]), 0.5);
  accumulateGradients(sum, new Map([['a', Float32Array.from([3, 4])], ['b', Float32Array.from([1])]]), 0.5);
  close(t, sum.get('a')!, [2, 3]);
  close(t, sum.get('b')!, [0.5]);
  t.throws(() => accumulateGradients(sum, new Map([['a', Float32Array.from([1])]])), { instanceOf: OfaError });
  const params = new Map([['a', Float32Array.from([1, 2])]]);
  t.throws(() => sgdStep(params, new Map([['z', Float32Array.from([1])]]), new Map(), { learningRate: 0.1 }), { message: /gradient "z" has no parameter/ });
  t.throws(() => sgdStep(params, new Map([['a', Float32Array.from([1])]]), new Map(), { learningRate: 0.1 }), { message: /1 values, its parameter 2/ });
  t.throws(() => sgdStep(params, new Map(), new Map(), { learningRate: Number.NaN }), { message: /learning rate NaN/ });
  t.is(firstNonFinite(new Map([['ok', Float32Array.from([1])], ['bad', Float32Array.from([0, Number.POSITIVE_INFINITY])]])), 'bad');
  t.is(firstNonFinite(sum), undefined);
});

test('cosine schedule with linear warm-up: hand-computed values', (t) => {
  const schedule = { baseLr: 0.1, warmupEpochs: 1, epochs: 3, stepsPerEpoch: 4 };
  const lr = (step: number) => learningRate(schedule, step);
  // Warm-up: (step + 1) / 4 * 0.1.
  close(t, [0, 1, 2, 3].map(lr), [0.025, 0.05, 0.075, 0.1], 1e-12);
  // Cosine over the 8 steps after warm-up: 0.05 * (1 + cos(pi * t / 8)).
  close(t, [4, 6, 8, 10, 11].map(lr), [0.1, 0.05 * (1 + Math.SQRT1_2), 0.05, 0.05 * (1 - Math.SQRT1_2), 0.05 * (1 - Math.cos(Math.PI / 8))], 1e-12);
  close(t, [lr(12), lr(100)], [0, 0], 1e-12);
  close(t, [learningRate({ baseLr: 0.2, warmupEpochs: 0, epochs: 2, stepsPerEpoch: 2 }, 0), learningRate({ baseLr: 0.2, warmupEpochs: 0, epochs: 2, stepsPerEpoch: 2 }, 2)], [0.2, 0.1], 1e-12);
  close(t, [learningRate({ ...schedule, warmupStartLr: 0.02 }, 0)], [0.02 + 0.08 / 4], 1e-12);
  t.throws(() => learningRate({ ...schedule, warmupEpochs: 4 }, 0), { message: /warmupEpochs 4 \(allowed: 0\.\.epochs\)/ });
  t.throws(() => learningRate(schedule, -1), { message: /step -1/ });
});
