// The wasm training kernels of train/backend against tfjs's cpu backend (the reference
// implementation) on the same random inputs: every stride, padding, kernel size and spatial
// parity the supernet uses (issue 3: relative error at most 1e-4), then a whole gradient. Serial:
// the tests switch the global backend.
import test from 'ava';
import * as tf from '@tensorflow/tfjs-core';
import { createRng } from '../../lib/rng.ts';
import { WASM_TRAINING_KERNELS, initBackend } from '../../train/backend/index.ts';

type Pad = 'same' | 'valid' | tf.backend_util.ExplicitPadding;

const rng = createRng(20261125);
function randomArray(size: number): Float32Array {
  const out = new Float32Array(size);
  for (let i = 0; i < size; i++) out[i] = rng.next() * 2 - 1;
  return out;
}

/** Runs one kernel on `backend` with fresh tensors holding `inputs`; returns its values. */
async function runOn(backend: 'cpu' | 'wasm', kernelName: string, inputs: Record<string, { shape: number[]; values: Float32Array }>, attrs: object): Promise<{ shape: number[]; values: Float32Array }> {
  await tf.setBackend(backend);
  const tensors: tf.NamedTensorMap = {};
  for (const [name, { shape, values }] of Object.entries(inputs)) tensors[name] = tf.tensor(values, shape);
  const out = tf.engine().runKernel(kernelName, tensors, attrs as tf.NamedAttrMap) as tf.Tensor;
  const result = { shape: out.shape, values: (await out.data()) as Float32Array };
  tf.dispose([out, ...Object.values(tensors)]);
  return result;
}

function relativeError(actual: Float32Array, expected: Float32Array): number {
  let diff = 0;
  let scale = 1e-12;
  for (let i = 0; i < expected.length; i++) {
    diff = Math.max(diff, Math.abs(actual[i] - expected[i]));
    scale = Math.max(scale, Math.abs(expected[i]));
  }
  return diff / scale;
}

const setup = initBackend({ prefer: 'wasm', log: false });

/** Output size of a forward conv, so that dy gets the right shape. */
function outSize(inSize: number, kernel: number, stride: number, pad: Pad, axis: 1 | 2): number {
  if (pad === 'same') return Math.ceil(inSize / stride);
  if (pad === 'valid') return Math.ceil((inSize - kernel + 1) / stride);
  const [before, after] = pad[axis];
  return Math.floor((inSize + before + after - kernel) / stride) + 1;
}

function explicitPad(kernel: number): tf.backend_util.ExplicitPadding {
  // Asymmetric on purpose: the bottom/right pad differs from the top/left pad.
  const before = Math.floor(kernel / 2);
  return [[0, 0], [before, kernel - 1 - before + 1], [before + 1, kernel - 1 - before], [0, 0]];
}

interface Case { kernel: number; stride: number; pad: Pad; size: number }
function cases(kernels: number[]): Case[] {
  const out: Case[] = [];
  for (const kernel of kernels) {
    for (const stride of [1, 2]) {
      for (const size of [7, 8, 14]) {
        for (const pad of ['same', 'valid', explicitPad(kernel)] as Pad[]) {
          if (pad === 'valid' && size < kernel) continue;
          out.push({ kernel, stride, pad, size });
        }
      }
    }
  }
  return out;
}
const label = (c: Case) => `k${c.kernel} s${c.stride} ${typeof c.pad === 'string' ? c.pad : 'explicit'} ${c.size}x${c.size}`;

test.serial('every project kernel is registered for wasm and the three named in pipeline.md are among them', async (t) => {
  await setup;
  const names = WASM_TRAINING_KERNELS.map((k) => k.kernelName);
  for (const name of [tf.Conv2DBackpropFilter, tf.Conv2DBackpropInput, tf.DepthwiseConv2dNativeBackpropFilter, tf.DepthwiseConv2dNativeBackpropInput, tf.MaxPoolGrad, tf.Sum, tf.Mean, tf.Identity]) {
    t.true(names.includes(name), name);
  }
  for (const name of names) t.true(tf.getKernel(name, 'wasm') === WASM_TRAINING_KERNELS.find((k) => k.kernelName === name), name);
});

for (const kernelName of [tf.Conv2DBackpropFilter, tf.Conv2DBackpropInput]) {
  test.serial(`${kernelName} on wasm equals cpu (k 1/3/5/7, stride 1/2, same/valid/explicit, odd/even sizes)`, async (t) => {
    await setup;
    const batch = 3, inChannels = 4, outChannels = 5;
    let worst = 0;
    for (const c of cases([1, 3, 5, 7])) {
      const oh = outSize(c.size, c.kernel, c.stride, c.pad, 1);
      const ow = outSize(c.size, c.kernel, c.stride, c.pad, 2);
      const xShape = [batch, c.size, c.size, inChannels];
      const filterShape = [c.kernel, c.kernel, inChannels, outChannels];
      const dy = { shape: [batch, oh, ow, outChannels], values: randomArray(batch * oh * ow * outChannels) };
      const common = { strides: [c.stride, c.stride], pad: c.pad, dataFormat: 'NHWC', dimRoundingMode: undefined };
      const [inputs, attrs] = kernelName === tf.Conv2DBackpropFilter
        ? [{ x: { shape: xShape, values: randomArray(batch * c.size * c.size * inChannels) }, dy }, { ...common, filterShape }]
        : [{ dy, filter: { shape: filterShape, values: randomArray(c.kernel * c.kernel * inChannels * outChannels) } }, { ...common, inputShape: xShape }];
      const expected = await runOn('cpu', kernelName, inputs, attrs);
      const actual = await runOn('wasm', kernelName, inputs, attrs);
      t.deepEqual(actual.shape, expected.shape, label(c));
      const error = relativeError(actual.values, expected.values);
      worst = Math.max(worst, error);
      t.true(error <= 1e-4, `${label(c)}: relative error ${error}`);
    }
    t.log(`worst relative error ${worst.toExponential(2)}`);
  });
}

for (const kernelName of [tf.DepthwiseConv2dNativeBackpropFilter, tf.DepthwiseConv2dNativeBackpropInput]) {
  test.serial(`${kernelName} on wasm equals cpu (k 3/5/7 and 1, stride 1/2, same/valid/explicit, odd/even sizes)`, async (t) => {
    await setup;
    const batch = 3, channels = 6;
    let worst = 0;
    for (const c of cases([1, 3, 5, 7])) {
      const oh = outSize(c.size, c.kernel, c.stride, c.pad, 1);
      const ow = outSize(c.size, c.kernel, c.stride, c.pad, 2);
      const xShape = [batch, c.size, c.size, channels];
      const filterShape = [c.kernel, c.kernel, channels, 1];
      const dy = { shape: [batch, oh, ow, channels], values: randomArray(batch * oh * ow * channels) };
      const common = { strides: [c.stride, c.stride], dilations: [1, 1], pad: c.pad, dimRoundingMode: undefined };
      const [inputs, attrs] = kernelName === tf.DepthwiseConv2dNativeBackpropFilter
        ? [{ x: { shape: xShape, values: randomArray(batch * c.size * c.size * channels) }, dy }, { ...common, filterShape }]
        : [{ dy, filter: { shape: filterShape, values: randomArray(c.kernel * c.kernel * channels) } }, { ...common, inputShape: xShape }];
      const expected = await runOn('cpu', kernelName, inputs, attrs);
      const actual = await runOn('wasm', kernelName, inputs, attrs);
      t.deepEqual(actual.shape, expected.shape, label(c));
      const error = relativeError(actual.values, expected.values);
      worst = Math.max(worst, error);
      t.true(error <= 1e-4, `${label(c)}: relative error ${error}`);
    }
    t.log(`worst relative error ${worst.toExponential(2)}`);
  });
}

test.serial('MaxPoolGrad on wasm equals cpu (kernel = stride 2 and 3, same/valid, odd/even sizes; ties go to the first maximum)', async (t) => {
  await setup;
  const batch = 2, channels = 5;
  for (const window of [2, 3]) {
    for (const size of [7, 8, 13, 14]) {
      for (const pad of ['same', 'valid'] as const) {
        const oh = outSize(size, window, window, pad, 1);
        const x = randomArray(batch * size * size * channels);
        // Ties: a quarter of the values equal a shared constant, so windows hold several maxima.
        for (let i = 0; i < x.length; i += 4) x[i] = 0.99;
        const xShape = [batch, size, size, channels];
        await tf.setBackend('cpu');
        const pooled = tf.maxPool(tf.tensor4d(x, xShape as [number, number, number, number]), window, window, pad);
        const output = { shape: pooled.shape, values: (await pooled.data()) as Float32Array };
        pooled.dispose();
        const inputs = { dy: { shape: [batch, oh, oh, channels], values: randomArray(batch * oh * oh * channels) }, input: { shape: xShape, values: x }, output };
        const attrs = { filterSize: [window, window], strides: [window, window], pad, dimRoundingMode: undefined };
        const expected = await runOn('cpu', tf.MaxPoolGrad, inputs, attrs);
        const actual = await runOn('wasm', tf.MaxPoolGrad, inputs, attrs);
        const error = relativeError(actual.values, expected.values);
        t.true(error <= 1e-4, `k${window} ${pad} ${size}x${size}: relative error ${error}`);
      }
    }
  }
});

test.serial('Sum and Mean on wasm equal cpu (BN axes 0,1,2, pooling axes 1,2, other axes through the backend kernels, keepDims)', async (t) => {
  await setup;
  const shape = [4, 7, 6, 5];
  const x = { x: { shape, values: randomArray(4 * 7 * 6 * 5) } };
  for (const kernelName of [tf.Sum, tf.Mean]) {
    for (const axis of [[0, 1, 2], [1, 2], [0], [2, 1], [3], [0, 1, 2, 3], [0, 2], -2]) {
      for (const keepDims of [false, true]) {
        const attrs = { axis, keepDims };
        const expected = await runOn('cpu', kernelName, x, attrs);
        const actual = await runOn('wasm', kernelName, x, attrs);
        t.deepEqual(actual.shape, expected.shape, `${kernelName} ${JSON.stringify(axis)} keepDims ${keepDims}`);
        const error = relativeError(actual.values, expected.values);
        t.true(error <= 1e-4, `${kernelName} ${JSON.stringify(axis)} keepDims ${keepDims}: relative error ${error}`);
      }
    }
  }
});

test.serial('Identity on wasm shares the data: the clone keeps its values after the source is disposed', async (t) => {
  await setup;
  await tf.setBackend('wasm');
  const values = randomArray(60);
  const source = tf.tensor(values, [3, 4, 5]);
  const clone = tf.clone(source);
  source.dispose();
  t.deepEqual(Array.from(await clone.data()), Array.from(values));
  const before = tf.memory().numBytes;
  clone.dispose();
  t.true(tf.memory().numBytes < before, 'the shared data is freed with its last tensor');
});

test.serial('the gradient of a small conv net (every op kind the supernet uses) on wasm equals cpu', async (t) => {
  await setup;
  const shapes: Record<string, number[]> = {
    stem: [3, 3, 2, 8], expand: [1, 1, 8, 24], depthwise7: [7, 7, 24, 1], depthwise5: [5, 5, 24, 1],
    project: [1, 1, 24, 16], shortcut: [1, 1, 8, 16], gamma: [16], beta: [16], classifier: [16, 10],
  };
  const values = Object.fromEntries(Object.entries(shapes).map(([k, s]) => [k, randomArray(s.reduce((a, b) => a * b, 1))]));
  const images = randomArray(4 * 14 * 14 * 2);
  const labels = [1, 3, 5, 7];
  const hswish = (x: tf.Tensor): tf.Tensor4D => tf.mul(x, tf.div(tf.relu6(tf.add(x, 3)), 6));
  async function gradients(backend: 'cpu' | 'wasm'): Promise<Record<string, Float32Array>> {
    await tf.setBackend(backend);
    const params = Object.fromEntries(Object.entries(shapes).map(([k, s]) => [k, tf.tensor(values[k], s)]));
    const x = tf.tensor4d(images, [4, 14, 14, 2]);
    const names = Object.keys(shapes);
    const loss = (...p: tf.Tensor[]) => {
      const w = Object.fromEntries(names.map((n, i) => [n, p[i]])) as Record<string, tf.Tensor4D>;
      let y = hswish(tf.conv2d(x, w.stem, 2, 'same')); // 7x7: odd size after stride 2
      const skip = tf.conv2d(tf.maxPool(y, 2, 2, 'same'), w.shortcut, 1, 'same');
      let z = tf.relu6(tf.conv2d(y, w.expand, 1, 'same'));
      z = tf.add(tf.depthwiseConv2d(z, w.depthwise7, 2, 'same'), tf.depthwiseConv2d(z, tf.mul(w.depthwise5, 0.5) as tf.Tensor4D, 2, 'same'));
      z = tf.conv2d(hswish(z) as tf.Tensor4D, w.project, 1, 'same');
      const mean = tf.mean(z, [0, 1, 2]);
      const variance = tf.mean(tf.square(tf.sub(z, mean)), [0, 1, 2]);
      z = tf.add(tf.mul(tf.div(tf.sub(z, mean), tf.sqrt(tf.add(variance, 1e-5))), w.gamma), w.beta);
      y = tf.add(z, skip);
      y = tf.concat([tf.slice(y, [0, 0, 0, 0], [-1, -1, -1, 8]), tf.slice(y, [0, 0, 0, 8], [-1, -1, -1, 8])], 3);
      const logits = tf.matMul(tf.mean(y, [1, 2]), w.classifier);
      return tf.losses.softmaxCrossEntropy(tf.oneHot(labels, 10), logits);
    };
    const grads = tf.grads(loss)(names.map((n) => params[n]));
    const out: Record<string, Float32Array> = {};
    for (const [i, n] of names.entries()) out[n] = (await grads[i].data()) as Float32Array;
    tf.dispose([...grads, x, ...Object.values(params)]);
    return out;
  }
  const expected = await gradients('cpu');
  const actual = await gradients('wasm');
  for (const name of Object.keys(shapes)) {
    const error = relativeError(actual[name], expected[name]);
    t.true(error <= 1e-4, `${name}: relative error ${error}`);
  }
});
