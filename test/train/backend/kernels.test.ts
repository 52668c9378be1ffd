// The wasm training kernels of train/backend against tfjs's cpu backend (the reference
// implementation) on the same random inputs (issue 3: relative error at most 1e-4): first generic
// strides, paddings, kernel sizes and spatial parities; then every convolution, depthwise and pooling
// geometry the supernet really runs (space/geometry.ts over every preset, resolution, kernel and
// layer, plus filters larger than their input) and realistic BN/pooling reductions; then a whole
// gradient. Serial: the tests switch the global backend.
import test, { type ExecutionContext } from 'ava';
import * as tf from '@tensorflow/tfjs-core';
import { createRng } from '../../../lib/rng.ts';
import { relativeError } from '../fixtures/relative-error.ts';
import { PRESET_NAMES, getPreset, sampleUniform, subnetGeometry } from '../../../space/index.ts';
import { WASM_TRAINING_KERNELS, initBackend } from '../../../train/backend/index.ts';

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

type Inputs = Record<string, { shape: number[]; values: Float32Array }>;
const CONV_KERNELS = [tf.Conv2DBackpropFilter, tf.Conv2DBackpropInput] as const;
// The forward too: the project replaces XNNPACK's depthwise convolution (train/backend/simd).
const DEPTHWISE_KERNELS = [tf.DepthwiseConv2dNativeBackpropFilter, tf.DepthwiseConv2dNativeBackpropInput, tf.DepthwiseConv2dNative] as const;

/**
 * Random inputs and attributes of one gradient kernel (or the depthwise forward) of a square conv (depthwise: channel
 * multiplier 1, so outChannels is ignored): x and dy for the filter gradient, dy and the filter for
 * the input gradient.
 */
function convGradientCall(kernelName: string, c: Case, batch: number, inChannels: number, outChannels: number): [Inputs, object] {
  const depthwise = (DEPTHWISE_KERNELS as readonly string[]).includes(kernelName);
  const dyChannels = depthwise ? inChannels : outChannels;
  const oh = outSize(c.size, c.kernel, c.stride, c.pad, 1);
  const ow = outSize(c.size, c.kernel, c.stride, c.pad, 2);
  const xShape = [batch, c.size, c.size, inChannels];
  const filterShape = [c.kernel, c.kernel, inChannels, depthwise ? 1 : outChannels];
  const dy = { shape: [batch, oh, ow, dyChannels], values: randomArray(batch * oh * ow * dyChannels) };
  const common = depthwise
    ? { strides: [c.stride, c.stride], dilations: [1, 1], pad: c.pad, dimRoundingMode: undefined }
    : { strides: [c.stride, c.stride], pad: c.pad, dataFormat: 'NHWC', dimRoundingMode: undefined };
  const filterGradient = kernelName === tf.Conv2DBackpropFilter || kernelName === tf.DepthwiseConv2dNativeBackpropFilter;
  const randomOf = (shape: number[]) => ({ shape, values: randomArray(shape.reduce((a, b) => a * b, 1)) });
  if (kernelName === tf.DepthwiseConv2dNative) return [{ x: randomOf(xShape), filter: randomOf(filterShape) }, common];
  return filterGradient
    ? [{ x: { shape: xShape, values: randomArray(xShape.reduce((a, b) => a * b, 1)) }, dy }, { ...common, filterShape }]
    : [{ dy, filter: { shape: filterShape, values: randomArray(filterShape.reduce((a, b) => a * b, 1)) } }, { ...common, inputShape: xShape }];
}

/** Runs a kernel on cpu and on wasm; the shapes must agree, returns the relative error. */
async function compare(t: ExecutionContext, kernelName: string, inputs: Inputs, attrs: object, what: string): Promise<number> {
  const expected = await runOn('cpu', kernelName, inputs, attrs);
  const actual = await runOn('wasm', kernelName, inputs, attrs);
  t.deepEqual(actual.shape, expected.shape, `${kernelName} ${what}: shape`);
  const error = relativeError(actual.values, expected.values);
  t.true(error <= 1e-4, `${kernelName} ${what}: relative error ${error}`);
  return error;
}

test.serial('every project kernel is registered for wasm and the three named in pipeline.md are among them', async (t) => {
  await setup;
  const names = WASM_TRAINING_KERNELS.map((k) => k.kernelName);
  for (const name of [tf.Conv2DBackpropFilter, tf.Conv2DBackpropInput, tf.DepthwiseConv2dNativeBackpropFilter, tf.DepthwiseConv2dNativeBackpropInput, tf.MaxPoolGrad, tf.Sum, tf.Mean, tf.Identity]) {
    t.true(names.includes(name), name);
  }
  for (const name of names) t.true(tf.getKernel(name, 'wasm') === WASM_TRAINING_KERNELS.find((k) => k.kernelName === name), name);
});

for (const kernelName of CONV_KERNELS) {
  test.serial(`${kernelName} on wasm equals cpu (k 1/3/5/7, stride 1/2, same/valid/explicit, odd/even sizes)`, async (t) => {
    await setup;
    let worst = 0;
    for (const c of cases([1, 3, 5, 7])) {
      const [inputs, attrs] = convGradientCall(kernelName, c, 3, 4, 5);
      worst = Math.max(worst, await compare(t, kernelName, inputs, attrs, label(c)));
    }
    t.log(`worst relative error ${worst.toExponential(2)}`);
  });
}

for (const kernelName of DEPTHWISE_KERNELS) {
  test.serial(`${kernelName} on wasm equals cpu (k 3/5/7 and 1, stride 1/2, same/valid/explicit, odd/even sizes)`, async (t) => {
    await setup;
    let worst = 0;
    for (const c of cases([1, 3, 5, 7])) {
      const [inputs, attrs] = convGradientCall(kernelName, c, 3, 6, 6);
      worst = Math.max(worst, await compare(t, kernelName, inputs, attrs, label(c)));
    }
    t.log(`worst relative error ${worst.toExponential(2)}`);
  });
}

/** Inputs of MaxPoolGrad: x with ties (windows holding several maxima), its pooled output (cpu), dy. */
async function maxPoolGradCall(window: number, size: number, pad: 'same' | 'valid', batch: number, channels: number): Promise<[Inputs, object]> {
  const oh = outSize(size, window, window, pad, 1);
  const x = randomArray(batch * size * size * channels);
  // Ties: a quarter of the values equal a shared constant, so windows hold several maxima.
  for (let i = 0; i < x.length; i += 4) x[i] = 0.99;
  const xShape = [batch, size, size, channels];
  await tf.setBackend('cpu');
  const input = tf.tensor4d(x, xShape as [number, number, number, number]);
  const pooled = tf.maxPool(input, window, window, pad);
  const output = { shape: pooled.shape, values: (await pooled.data()) as Float32Array };
  tf.dispose([input, pooled]);
  const inputs = { dy: { shape: [batch, oh, oh, channels], values: randomArray(batch * oh * oh * channels) }, input: { shape: xShape, values: x }, output };
  return [inputs, { filterSize: [window, window], strides: [window, window], pad, dimRoundingMode: undefined }];
}

test.serial('MaxPoolGrad on wasm equals cpu (kernel = stride 2 and 3, same/valid, odd/even sizes; ties go to the first maximum)', async (t) => {
  await setup;
  for (const window of [2, 3]) {
    for (const size of [7, 8, 13, 14]) {
      for (const pad of ['same', 'valid'] as const) {
        const [inputs, attrs] = await maxPoolGradCall(window, size, pad, 2, 5);
        await compare(t, tf.MaxPoolGrad, inputs, attrs, `k${window} ${pad} ${size}x${size}`);
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

// ---- The geometry the supernet really runs (space/geometry.ts), every preset and resolution ----

interface GeometryCase extends Case {
  inChannels: number;
  /** Where the supernet runs this geometry first (preset, resolution, node), for failure messages. */
  where: string;
}

interface SupernetGeometries {
  /** The stem's 3x3 conv (1 or 3 input channels). */
  stem: GeometryCase[];
  /** Every 1x1 conv: expand, project, SE on 1x1 maps, the static 1x1 branch (stride 1/2), transform, heads. */
  pointwise: GeometryCase[];
  /** Every depthwise conv: the stem block's 3x3 and each layer's k x k at its stride and input size. */
  depthwise: GeometryCase[];
  /** The transform branch's max-pool (kernel = stride). */
  maxPool: GeometryCase[];
}

const BATCH = 2;
const CHANNELS = 8;
/** 8 + 4 + 1: every depthwise geometry runs the SIMD kernels' 8-wide, 4-wide and scalar channel blocks. */
const DEPTHWISE_CHANNELS = 13;
// Stride 1 on 1..4 and stride 2 on 1..6 (kernels 3/5/7: filters as large as or larger than their
// input; 1x1: stride 2 on a 1x1 map, which no preset runs today), whatever presets exist: a smaller
// preset or resolution would run them.
const SMALL_MAPS: GeometryCase[] = [1, 3, 5, 7].flatMap((kernel) => [
  ...[1, 2, 3, 4].map((size) => ({ kernel, stride: 1, size })),
  ...[1, 2, 3, 4, 5, 6].map((size) => ({ kernel, stride: 2, size })),
]).map((c) => ({ ...c, pad: 'same' as Pad, inChannels: CHANNELS, where: 'small map' }));

/**
 * The distinct (kernel, stride, input size, input channels) of every conv and pool of the supernet
 * ('same' padding everywhere, layers.ts), read from subnetGeometry over every preset, resolution,
 * kernel size and exit of the variant with every block kind (ee-d-p, branch mask 7, depth 4); the
 * pointwise, depthwise and max-pool (2x2, stride 2) lists also hold SMALL_MAPS.
 */
function supernetGeometries(): SupernetGeometries {
  const lists = { stem: new Map<string, GeometryCase>(), pointwise: new Map<string, GeometryCase>(), depthwise: new Map<string, GeometryCase>(), maxPool: new Map<string, GeometryCase>() };
  const add = (list: Map<string, GeometryCase>, kernel: number, stride: number, size: number, where: string, inChannels = CHANNELS) => {
    const key = `${kernel}/${stride}/${size}/${inChannels}`;
    if (!list.has(key)) list.set(key, { kernel, stride, size, pad: 'same', inChannels, where });
  };
  for (const presetName of PRESET_NAMES) {
    const preset = getPreset(presetName);
    const largest = <T>(values: readonly T[]) => values[values.length - 1];
    for (const resolution of preset.resolutions) {
      for (const kernel of preset.kernelSizes) {
        for (let exit = 1; exit <= preset.stages.length; exit++) {
          const config = sampleUniform({ preset: presetName, variant: 'ee-d-p' }, { kernel, expand: largest(preset.expandRatios), depth: largest(preset.depths), resolution, exit, branches: 7 });
          const g = subnetGeometry(config);
          const at = `${presetName} r${resolution}`;
          add(lists.stem, g.stem.kernel, g.stem.stride, g.stem.inputSize, `${at} stem.conv`, g.stem.inChannels);
          add(lists.depthwise, g.stem.blockKernel, 1, g.stem.outputSize, `${at} stem.block.depthwise`);
          add(lists.pointwise, 1, 1, g.stem.outputSize, `${at} stem.block.project`);
          for (const stage of g.stages) {
            for (const layer of stage.layers) {
              const node = `${at} stage${layer.stage}.layer${layer.layer}`;
              add(lists.pointwise, 1, 1, layer.inputSize, `${node}.mbconv.expand`);
              add(lists.depthwise, layer.kernel, layer.stride, layer.inputSize, `${node}.mbconv.depthwise k${layer.kernel}`);
              if (layer.squeezeExcite) add(lists.pointwise, 1, 1, 1, `${node}.mbconv.se`);
              add(lists.pointwise, 1, 1, layer.outputSize, `${node}.mbconv.project / transform.conv`);
              add(lists.pointwise, 1, layer.stride, layer.inputSize, `${node}.conv1x1`);
              if (layer.stride > 1) add(lists.maxPool, layer.stride, layer.stride, layer.inputSize, `${node}.transform.maxPool`);
            }
          }
          add(lists.pointwise, 1, 1, g.head.inputSize, `${at} exit${g.head.exit}.expand`);
          add(lists.pointwise, 1, 1, 1, `${at} exit${g.head.exit}.featureMix`);
        }
      }
    }
  }
  for (const c of SMALL_MAPS) {
    add(c.kernel === 1 ? lists.pointwise : lists.depthwise, c.kernel, c.stride, c.size, c.where);
    if (c.kernel === 1 && c.stride === 2) add(lists.maxPool, 2, 2, c.size, c.where);
  }
  return { stem: [...lists.stem.values()], pointwise: [...lists.pointwise.values()], depthwise: [...lists.depthwise.values()], maxPool: [...lists.maxPool.values()] };
}

const geometries = supernetGeometries();
const geometryLabel = (c: GeometryCase) => `k${c.kernel} s${c.stride} same ${c.size}x${c.size}x${c.inChannels} (${c.where})`;

test.serial('the supernet geometry list covers every preset, 1x1 maps, stride 2 on odd sizes and filters larger than the input', (t) => {
  const { stem, pointwise, depthwise, maxPool } = geometries;
  t.log(`${stem.length} stem, ${pointwise.length} pointwise, ${depthwise.length} depthwise, ${maxPool.length} max-pool geometries`);
  for (const presetName of PRESET_NAMES) t.true(depthwise.some((c) => c.where.startsWith(`${presetName} `)), presetName);
  t.deepEqual([...new Set(stem.map((c) => c.inChannels))].sort(), [1, 3], 'stems with 1 and 3 input channels');
  t.true(stem.every((c) => c.kernel === 3 && c.stride === 2));
  const fromSupernet = (c: GeometryCase) => c.where !== 'small map';
  t.true(pointwise.some((c) => fromSupernet(c) && c.size === 1 && c.stride === 1), '1x1 convs on 1x1 maps (SE, feature mix)');
  t.true(pointwise.some((c) => fromSupernet(c) && c.stride === 2 && c.size % 2 === 1), '1x1 stride 2 on an odd size');
  t.true(pointwise.some((c) => c.size === 1 && c.stride === 2), '1x1 stride 2 on a 1x1 map');
  for (const kernel of [3, 5, 7]) {
    for (const size of [1, 2, 3, 4]) t.true(depthwise.some((c) => c.kernel === kernel && c.stride === 1 && c.size === size), `k${kernel} on ${size}x${size}`);
    for (const size of [5, 6]) t.true(depthwise.some((c) => c.kernel === kernel && c.stride === 2 && c.size === size), `k${kernel} stride 2 on ${size}x${size}`);
    t.true(depthwise.some((c) => c.kernel === kernel && c.stride === 2 && c.size === 32), `k${kernel} stride 2 on 32x32 (tiny-imagenet r64 stage1.layer1)`);
  }
  t.true(maxPool.some((c) => fromSupernet(c) && c.size === 2) && maxPool.some((c) => fromSupernet(c) && c.size % 2 === 1), 'max-pool to a 1x1 map and on odd maps');
  t.true(maxPool.some((c) => c.size === 1), 'max-pool on a 1x1 map');
});

for (const kernelName of CONV_KERNELS) {
  test.serial(`${kernelName} on wasm equals cpu at every 1x1 conv and stem geometry of the supernet (every preset and resolution)`, async (t) => {
    await setup;
    let worst = 0;
    for (const c of geometries.pointwise) {
      const [inputs, attrs] = convGradientCall(kernelName, c, BATCH, c.inChannels, CHANNELS - 2);
      worst = Math.max(worst, await compare(t, kernelName, inputs, attrs, geometryLabel(c)));
    }
    for (const c of geometries.stem) {
      const [inputs, attrs] = convGradientCall(kernelName, c, BATCH, c.inChannels, CHANNELS);
      worst = Math.max(worst, await compare(t, kernelName, inputs, attrs, geometryLabel(c)));
    }
    t.log(`${geometries.pointwise.length + geometries.stem.length} geometries, worst relative error ${worst.toExponential(2)}`);
  });
}

for (const kernelName of DEPTHWISE_KERNELS) {
  test.serial(`${kernelName} on wasm equals cpu at every depthwise geometry of the supernet (every preset, resolution, kernel, stride; filters larger than the input; 13 channels)`, async (t) => {
    await setup;
    let worst = 0;
    for (const c of geometries.depthwise) {
      const [inputs, attrs] = convGradientCall(kernelName, c, BATCH, DEPTHWISE_CHANNELS, DEPTHWISE_CHANNELS);
      worst = Math.max(worst, await compare(t, kernelName, inputs, attrs, geometryLabel(c)));
    }
    t.log(`${geometries.depthwise.length} geometries, worst relative error ${worst.toExponential(2)}`);
  });
}

test.serial('MaxPoolGrad on wasm equals cpu at every max-pool geometry of the supernet (kernel = stride, same, small and odd maps)', async (t) => {
  await setup;
  let worst = 0;
  for (const c of geometries.maxPool) {
    const [inputs, attrs] = await maxPoolGradCall(c.kernel, c.size, 'same', BATCH, c.inChannels);
    worst = Math.max(worst, await compare(t, tf.MaxPoolGrad, inputs, attrs, geometryLabel(c)));
  }
  t.log(`${geometries.maxPool.length} geometries, worst relative error ${worst.toExponential(2)}`);
});

test.serial('Sum and Mean on wasm equal cpu at realistic reduction sizes (BN statistics of a batch, pooling, bias gradients)', async (t) => {
  await setup;
  const reductions: { shape: number[]; axis: number[]; keepDims: boolean; what: string }[] = [
    { shape: [32, 14, 14, 24], axis: [0, 1, 2], keepDims: false, what: 'BN statistics, fashion batch 32' },
    { shape: [32, 14, 14, 24], axis: [0, 1, 2], keepDims: true, what: 'BN statistics, keepDims' },
    { shape: [32, 14, 14, 24], axis: [1, 2], keepDims: true, what: 'SE / head average pooling' },
    { shape: [32, 14, 14, 24], axis: [1, 2], keepDims: false, what: 'average pooling without keepDims' },
    { shape: [64, 32, 32, 16], axis: [0, 1, 2], keepDims: false, what: 'BN statistics of tiny-imagenet\'s stem at batch 64' },
    { shape: [64, 2, 2, 960], axis: [0, 1, 2], keepDims: false, what: 'BN statistics of tiny-imagenet\'s head at batch 64' },
    { shape: [32, 1, 1, 96], axis: [0, 1, 2], keepDims: true, what: 'over a 1x1 map' },
    { shape: [32, 24], axis: [0], keepDims: false, what: 'rank 2, axis 0 (bias gradient)' },
    { shape: [32, 24], axis: [0], keepDims: true, what: 'rank 2, axis 0, keepDims' },
  ];
  let worst = 0;
  for (const kernelName of [tf.Sum, tf.Mean]) {
    for (const r of reductions) {
      const x = { x: { shape: r.shape, values: randomArray(r.shape.reduce((a, b) => a * b, 1)) } };
      const what = `[${r.shape.join(',')}] axes ${JSON.stringify(r.axis)} keepDims ${r.keepDims} (${r.what})`;
      worst = Math.max(worst, await compare(t, kernelName, x, { axis: r.axis, keepDims: r.keepDims }, what));
    }
  }
  t.log(`worst relative error ${worst.toExponential(2)}`);
});

test.serial('Slice on wasm (the project kernel) equals cpu: ranks 1-4, whole and partial axes, the supernet\'s channel prefixes and kernel crops, int32', async (t) => {
  await setup;
  const cases: { shape: number[]; begin: number[]; size: number[]; dtype?: 'int32' }[] = [
    { shape: [96], begin: [0], size: [48] },
    { shape: [96], begin: [10], size: [-1] },
    { shape: [1, 1, 24, 96], begin: [0, 0, 0, 0], size: [1, 1, 16, 72] }, // expand weight slice
    { shape: [7, 7, 96, 1], begin: [1, 1, 0, 0], size: [5, 5, 96, 1] }, // 7x7 -> 5x5 centre crop
    { shape: [7, 7, 96, 1], begin: [0, 0, 0, 0], size: [7, 7, 48, 1] }, // channel prefix of a depthwise weight
    { shape: [3, 5, 6, 7], begin: [1, 2, 3, 4], size: [2, 2, 2, 2] },
    { shape: [4, 6], begin: [1, 0], size: [2, 6] },
    { shape: [4, 6], begin: [0, 0], size: [0, 6] },
    { shape: [5, 8], begin: [1, 2], size: [3, 4], dtype: 'int32' },
  ];
  for (const c of cases) {
    const count = c.shape.reduce((a, b) => a * b, 1);
    const values = c.dtype === 'int32' ? Int32Array.from({ length: count }, (_, i) => i * 7 - 50) : randomArray(count);
    const results: { shape: number[]; values: number[] }[] = [];
    for (const backend of ['cpu', 'wasm'] as const) {
      await tf.setBackend(backend);
      const x = tf.tensor(values, c.shape, c.dtype ?? 'float32');
      const out = tf.slice(x, c.begin, c.size);
      results.push({ shape: out.shape, values: Array.from(await out.data()) });
      tf.dispose([x, out]);
    }
    t.deepEqual(results[1], results[0], `slice of [${c.shape}] at [${c.begin}] size [${c.size}]`);
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
