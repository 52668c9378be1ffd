// The accuracy predictor's network (ofav2.md s4): a multi-layer perceptron of ReLU layers whose scalar
// output plus a fixed bias (the mean accuracy of the training pairs) is the predicted top-1, trained with
// Adam on the mean squared error. It is small (3 x 400 units, about 370k weights) and a search predicts
// 10^4-10^5 subnets with it, so it runs on Float32Arrays with the products in a SIMD WebAssembly kernel
// (search/simd.ts; plain loops where WebAssembly SIMD is missing): no training engine is loaded.
import type { Rng } from '../lib/rng.ts';
import { instantiateKernels, type Kernels } from './simd.ts';

export interface DenseLayer {
  inputs: number;
  outputs: number;
  /** Row-major [outputs x inputs] (PyTorch's Linear layout): weights[j * inputs + i] connects input i to output j. */
  weights: Float32Array;
  /** Absent for the output layer (its bias is the fixed mean accuracy). */
  bias?: Float32Array;
}

export interface Mlp {
  /** Hidden ReLU layers, then one linear layer with a single output and no bias. */
  layers: DenseLayer[];
  /** The fixed output bias: the mean accuracy of the training pairs (not trained). */
  baseOutput: number;
}

/** PyTorch's default Linear initialisation: weights and biases uniform in +-1/sqrt(inputs). */
function initLayer(inputs: number, outputs: number, rng: Rng, bias: boolean): DenseLayer {
  const bound = 1 / Math.sqrt(inputs);
  const weights = new Float32Array(inputs * outputs);
  for (let i = 0; i < weights.length; i++) weights[i] = (2 * rng.next() - 1) * bound;
  const layer: DenseLayer = { inputs, outputs, weights };
  if (bias) {
    layer.bias = new Float32Array(outputs);
    for (let j = 0; j < outputs; j++) layer.bias[j] = (2 * rng.next() - 1) * bound;
  }
  return layer;
}

export function createMlp(inputs: number, hidden: readonly number[], baseOutput: number, rng: Rng): Mlp {
  const layers: DenseLayer[] = [];
  let width = inputs;
  for (const units of hidden) {
    layers.push(initLayer(width, units, rng, true));
    width = units;
  }
  layers.push(initLayer(width, 1, rng, false));
  return { layers, baseOutput };
}

/** Number of weights and biases. */
export function mlpParameterCount(mlp: Mlp): number {
  return mlp.layers.reduce((sum, layer) => sum + layer.weights.length + (layer.bias?.length ?? 0), 0);
}

const roundUp4 = (n: number) => Math.ceil(n / 4) * 4;

/** Plain-loop versions of the kernels (same arguments, float offsets into one Float32Array). */
function jsKernels(f: Float32Array): Kernels {
  return {
    dense(x, w, bias, out, batch, inputs, outputs, relu) {
      [x, w, bias, out] = [x >> 2, w >> 2, bias >> 2, out >> 2];
      for (let b = 0; b < batch; b++) {
        for (let j = 0; j < outputs; j++) {
          let sum = f[bias + j];
          const row = w + j * inputs;
          const xRow = x + b * inputs;
          for (let i = 0; i < inputs; i++) sum += f[xRow + i] * f[row + i];
          f[out + b * outputs + j] = relu && sum < 0 ? 0 : sum;
        }
      }
    },
    matmul(a, bm, c, m, q, p) {
      [a, bm, c] = [a >> 2, bm >> 2, c >> 2];
      for (let r = 0; r < m; r++) {
        const cRow = c + r * p;
        for (let col = 0; col < p; col++) f[cRow + col] = 0;
        for (let k = 0; k < q; k++) {
          const value = f[a + r * q + k];
          if (value === 0) continue;
          const bRow = bm + k * p;
          for (let col = 0; col < p; col++) f[cRow + col] += value * f[bRow + col];
        }
      }
    },
  };
}

/** One array in the runtime's memory: its byte address (for the kernels) and a view. */
interface Slot {
  address: number;
  view: Float32Array;
}

interface PaddedLayer {
  inputs: number;
  outputs: number;
  weights: Slot;
  bias: Slot;
  activations: Slot;
  /** Training only: d loss / d activations (pre-ReLU masked), weight and bias gradients. */
  gradients?: Slot;
  weightGradients?: Slot;
  biasGradients?: Slot;
}

/**
 * The network laid out for the kernels in one memory: every layer's inputs and outputs padded to a
 * multiple of 4 with zero weights, batches padded to a multiple of 4 rows. Zero padding stays zero in
 * training (its inputs or output gradients are zero, and so is its weight decay).
 */
export class MlpRuntime {
  readonly batchSize: number;
  readonly simd: boolean;
  private readonly layers: PaddedLayer[];
  private readonly input: Slot;
  private readonly transposed?: Slot;
  private readonly kernels: Kernels;
  private readonly logicalInputs: number;

  constructor(
    private readonly mlp: Mlp,
    batchSize: number,
    options: { training?: boolean; simd?: boolean } = {},
  ) {
    this.batchSize = roundUp4(batchSize);
    this.logicalInputs = mlp.layers[0].inputs;
    const plan: { name: string; floats: number }[] = [];
    const shapes = mlp.layers.map((layer) => ({ inputs: roundUp4(layer.inputs), outputs: roundUp4(layer.outputs) }));
    const B = this.batchSize;
    const want = (name: string, floats: number) => plan.push({ name, floats: roundUp4(floats) });
    want('input', B * shapes[0].inputs);
    shapes.forEach((shape, l) => {
      want(`w${l}`, shape.outputs * shape.inputs);
      want(`b${l}`, shape.outputs);
      want(`a${l}`, B * shape.outputs);
      if (options.training) {
        want(`g${l}`, B * shape.outputs);
        want(`gw${l}`, shape.outputs * shape.inputs);
        want(`gb${l}`, shape.outputs);
      }
    });
    if (options.training) want('transposed', B * Math.max(...shapes.map((s) => s.outputs)));
    const bytes = plan.reduce((sum, slot) => sum + 4 * slot.floats, 0);
    const memory = new WebAssembly.Memory({ initial: Math.max(1, Math.ceil(bytes / 65536)) });
    const simd = options.simd === false ? undefined : instantiateKernels(memory);
    const all = new Float32Array(memory.buffer);
    this.kernels = simd ?? jsKernels(all);
    this.simd = simd !== undefined;
    const slots = new Map<string, Slot>();
    let offset = 0;
    for (const { name, floats } of plan) {
      slots.set(name, { address: offset * 4, view: all.subarray(offset, offset + floats) });
      offset += floats;
    }
    const slot = (name: string) => slots.get(name) as Slot;
    this.input = slot('input');
    this.transposed = options.training ? slot('transposed') : undefined;
    this.layers = shapes.map((shape, l) => ({
      ...shape,
      weights: slot(`w${l}`),
      bias: slot(`b${l}`),
      activations: slot(`a${l}`),
      gradients: options.training ? slot(`g${l}`) : undefined,
      weightGradients: options.training ? slot(`gw${l}`) : undefined,
      biasGradients: options.training ? slot(`gb${l}`) : undefined,
    }));
    this.load();
  }

  /** Copies the network's weights into the padded layout. */
  load(): void {
    this.mlp.layers.forEach((layer, l) => {
      const padded = this.layers[l];
      padded.weights.view.fill(0);
      padded.bias.view.fill(0);
      for (let j = 0; j < layer.outputs; j++) padded.weights.view.set(layer.weights.subarray(j * layer.inputs, (j + 1) * layer.inputs), j * padded.inputs);
      if (layer.bias) padded.bias.view.set(layer.bias);
    });
  }

  /** Copies the padded weights back into the network (after training). */
  store(): void {
    this.mlp.layers.forEach((layer, l) => {
      const padded = this.layers[l];
      for (let j = 0; j < layer.outputs; j++) layer.weights.set(padded.weights.view.subarray(j * padded.inputs, j * padded.inputs + layer.inputs), j * layer.inputs);
      if (layer.bias) layer.bias.set(padded.bias.view.subarray(0, layer.outputs));
    });
  }

  /** Copies rows `rows` (indices into the row-major encodings `x`) into the input buffer; returns the padded batch. */
  private fill(x: Float32Array, rows: ArrayLike<number>, count: number): number {
    const width = this.layers[0].inputs;
    const view = this.input.view;
    const padded = roundUp4(count);
    view.fill(0, 0, padded * width);
    for (let b = 0; b < count; b++) {
      const row = rows[b];
      view.set(x.subarray(row * this.logicalInputs, (row + 1) * this.logicalInputs), b * width);
    }
    return padded;
  }

  private forward(batch: number): void {
    let input = this.input;
    const last = this.layers.length - 1;
    this.layers.forEach((layer, l) => {
      this.kernels.dense(input.address, layer.weights.address, layer.bias.address, layer.activations.address, batch, layer.inputs, layer.outputs, l < last ? 1 : 0);
      input = layer.activations;
    });
  }

  /** Predictions (output + the fixed bias) for `count` row-major encodings. */
  predict(x: Float32Array, count: number): Float32Array {
    const out = new Float32Array(count);
    const outputs = this.layers[this.layers.length - 1];
    const rows = new Int32Array(this.batchSize);
    for (let start = 0; start < count; start += this.batchSize) {
      const batch = Math.min(this.batchSize, count - start);
      for (let b = 0; b < batch; b++) rows[b] = start + b;
      this.forward(this.fill(x, rows, batch));
      for (let b = 0; b < batch; b++) out[start + b] = outputs.activations.view[b * outputs.outputs] + this.mlp.baseOutput;
    }
    return out;
  }

  /**
   * One training step's gradients on rows `rows` of `x` with targets `y`: fills every layer's weight and
   * bias gradients of the mean squared error; returns the batch's summed squared error.
   */
  gradients(x: Float32Array, y: Float32Array, rows: ArrayLike<number>, count: number): number {
    const batch = this.fill(x, rows, count);
    this.forward(batch);
    const last = this.layers.length - 1;
    const output = this.layers[last];
    const outGrad = output.gradients!.view;
    outGrad.fill(0, 0, batch * output.outputs);
    let squared = 0;
    for (let b = 0; b < count; b++) {
      const error = output.activations.view[b * output.outputs] + this.mlp.baseOutput - y[rows[b]];
      squared += error * error;
      outGrad[b * output.outputs] = (2 * error) / count;
    }
    const transposed = this.transposed!;
    for (let l = last; l >= 0; l--) {
      const layer = this.layers[l];
      const grad = layer.gradients!;
      const input = l === 0 ? this.input : this.layers[l - 1].activations;
      // weight gradients = grad^T input; bias gradients = column sums of grad.
      const g = grad.view;
      const t = transposed.view;
      const biasGrad = layer.biasGradients!.view;
      biasGrad.fill(0);
      for (let b = 0; b < batch; b++) {
        for (let j = 0; j < layer.outputs; j++) {
          const value = g[b * layer.outputs + j];
          t[j * batch + b] = value;
          biasGrad[j] += value;
        }
      }
      this.kernels.matmul(transposed.address, input.address, layer.weightGradients!.address, layer.outputs, batch, layer.inputs);
      if (l > 0) {
        // input gradients = grad W, through the previous layer's ReLU.
        const previous = this.layers[l - 1];
        this.kernels.matmul(grad.address, layer.weights.address, previous.gradients!.address, batch, layer.outputs, layer.inputs);
        const pg = previous.gradients!.view;
        const pa = previous.activations.view;
        for (let i = 0; i < batch * previous.outputs; i++) if (pa[i] <= 0) pg[i] = 0;
      }
    }
    // The output layer has no trained bias.
    output.biasGradients!.view.fill(0);
    return squared;
  }

  /** The trained arrays with their gradients, for the optimiser (the output layer's bias excluded). */
  parameters(): { values: Float32Array; gradients: Float32Array }[] {
    const last = this.layers.length - 1;
    return this.layers.flatMap((layer, l) => [
      { values: layer.weights.view, gradients: layer.weightGradients!.view },
      ...(l < last ? [{ values: layer.bias.view, gradients: layer.biasGradients!.view }] : []),
    ]);
  }
}

/** A predictor over a fixed network: predictions for row-major encodings, in batches of `batchSize`. */
export function mlpPredictor(mlp: Mlp, batchSize = 256, options: { simd?: boolean } = {}): (encodings: Float32Array, count: number) => Float32Array {
  const runtime = new MlpRuntime(mlp, batchSize, options);
  return (encodings, count) => runtime.predict(encodings, count);
}

export interface AdamOptions {
  learningRate: number;
  /** L2 penalty added to the gradient (PyTorch Adam's weight_decay). */
  weightDecay: number;
  beta1?: number;
  beta2?: number;
  epsilon?: number;
}

export interface TrainMlpOptions extends AdamOptions {
  epochs: number;
  batchSize: number;
  rng: Rng;
  simd?: boolean;
  /** Called after every epoch with the epoch's mean training loss (MSE). */
  onEpoch?: (epoch: number, loss: number) => void;
}

/**
 * Trains `mlp` in place on row-major encodings `x` ([count x inputs]) and targets `y`: mean squared
 * error, Adam with L2 weight decay, shuffled mini-batches (the last one smaller). Returns the final
 * epoch's mean training loss.
 */
export function trainMlp(mlp: Mlp, x: Float32Array, y: Float32Array, options: TrainMlpOptions): number {
  const count = y.length;
  const beta1 = options.beta1 ?? 0.9;
  const beta2 = options.beta2 ?? 0.999;
  const epsilon = options.epsilon ?? 1e-8;
  const batchSize = Math.min(options.batchSize, count);
  const runtime = new MlpRuntime(mlp, batchSize, { training: true, simd: options.simd });
  const parameters = runtime.parameters().map((p) => ({ ...p, m: new Float32Array(p.values.length), v: new Float32Array(p.values.length) }));
  const order = Array.from({ length: count }, (_, i) => i);
  const rows = new Int32Array(batchSize);
  let step = 0;
  let epochLoss = 0;
  for (let epoch = 0; epoch < options.epochs; epoch++) {
    options.rng.shuffle(order);
    let squared = 0;
    for (let start = 0; start < count; start += batchSize) {
      const batch = Math.min(batchSize, count - start);
      for (let b = 0; b < batch; b++) rows[b] = order[start + b];
      squared += runtime.gradients(x, y, rows, batch);
      step++;
      const correction1 = 1 - beta1 ** step;
      const correction2 = 1 - beta2 ** step;
      const rate = options.learningRate / correction1;
      for (const { values, gradients, m, v } of parameters) {
        for (let i = 0; i < values.length; i++) {
          const g = gradients[i] + options.weightDecay * values[i];
          m[i] = beta1 * m[i] + (1 - beta1) * g;
          v[i] = beta2 * v[i] + (1 - beta2) * g * g;
          values[i] -= (rate * m[i]) / (Math.sqrt(v[i] / correction2) + epsilon);
        }
      }
    }
    epochLoss = squared / count;
    options.onEpoch?.(epoch, epochLoss);
  }
  runtime.store();
  return epochLoss;
}
