// Scoring an ONNX model on labelled images with onnxruntime (the ONNX file itself, not the trainer's
// forward): the deploy's true top-1 (issue 14) and the accuracy data set's rows (issue 13), which measured
// here ran 3-4x faster per subnet than the tfjs evaluation (onnxruntime's MLAS kernels, BN folded).
import { availableParallelism } from 'node:os';
import type { DeviceProfile } from './device.ts';
import { openInference } from './infer.ts';

/** Labelled images at one resolution, NHWC float32 as the trainer feeds them (train/ imagesAt gives them). */
export interface LabelledImages {
  images: Float32Array;
  labels: ArrayLike<number>;
  resolution: number;
  channels: number;
}

export interface ScoreOptions {
  /** Images per session run (default 250). */
  batch?: number;
}

export interface ModelScore {
  top1: number;
  /** Mean cross-entropy of the logits against the labels. */
  loss: number;
  images: number;
}

/** NHWC float32 images (as the trainer feeds them) to ONNX's NCHW. */
export function nhwcToNchw(images: Float32Array, count: number, resolution: number, channels: number): Float32Array {
  const out = new Float32Array(images.length);
  const plane = resolution * resolution;
  for (let n = 0; n < count; n++) {
    const base = n * plane * channels;
    for (let p = 0; p < plane; p++) for (let c = 0; c < channels; c++) out[base + c * plane + p] = images[base + p * channels + c];
  }
  return out;
}

/** Correct predictions and summed cross-entropy of `rows` rows of logits. */
function tally(logits: Float32Array, rows: number, labels: ArrayLike<number>, offset: number): { correct: number; loss: number } {
  const classes = logits.length / rows;
  let correct = 0;
  let loss = 0;
  for (let r = 0; r < rows; r++) {
    const row = r * classes;
    let best = 0;
    let max = logits[row];
    for (let k = 1; k < classes; k++) if (logits[row + k] > max) [best, max] = [k, logits[row + k]];
    let sum = 0;
    for (let k = 0; k < classes; k++) sum += Math.exp(logits[row + k] - max);
    const label = labels[offset + r];
    if (best === label) correct++;
    loss += Math.log(sum) + max - logits[row + label];
  }
  return { correct, loss };
}

/** Top-1 and loss of an ONNX model run by onnxruntime on `device` over labelled images, in batches. */
export async function scoreModel(model: Uint8Array, device: DeviceProfile, data: LabelledImages, options: ScoreOptions = {}): Promise<ModelScore> {
  const { images, labels, resolution, channels } = data;
  const pixels = resolution * resolution * channels;
  const batch = options.batch ?? 250;
  const session = await openInference(model, device);
  let correct = 0;
  let loss = 0;
  try {
    for (let start = 0; start < labels.length; start += batch) {
      const take = Math.min(batch, labels.length - start);
      const slice = images.subarray(start * pixels, (start + take) * pixels);
      const outputs = await session.run([{ name: session.inputs[0].name, data: nhwcToNchw(slice, take, resolution, channels), dims: [take, channels, resolution, resolution] }]);
      const counted = tally(outputs[session.outputs[0].name].data, take, labels, start);
      correct += counted.correct;
      loss += counted.loss;
    }
  } finally {
    await session.dispose();
  }
  const count = labels.length;
  return { top1: count > 0 ? correct / count : 0, loss: count > 0 ? loss / count : 0, images: count };
}

/** onnxruntime-node on the CPU with every core: the device scoring runs on when no device is named. */
export function scoringDevice(threads = availableParallelism()): DeviceProfile {
  return {
    name: `scoring-cpu-${threads}t`,
    description: `onnxruntime-node, CPU EP, ${threads} intra-op threads (scoring, not a latency device)`,
    runtime: 'onnxruntime-node',
    executionProvider: 'cpu',
    executionProviderOptions: {},
    session: { intraOpNumThreads: threads, interOpNumThreads: 1, executionMode: 'sequential', graphOptimizationLevel: 'all', allowSpinning: false },
    batchSize: 1,
    latencyBudgetsMs: [],
  };
}
