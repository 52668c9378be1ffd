// Evaluation of subnets (ofav2.md s3): BN statistics recomputed on ~2000 training images in batches of
// 200, then top-1 and loss on a held-out set. Runs on the main thread's Supernet.
import * as tf from '@tensorflow/tfjs-core';
import { configId, type SubnetConfig } from '../../space/index.ts';
import { BatchIterator, subsetImages, type DatasetSpec, type ImageSet } from '../data/index.ts';
import type { Supernet } from '../supernet/index.ts';

export interface EvalOptions {
  /** Images used to recompute BN statistics (default 2000; 0 keeps the running statistics). */
  recalibrationImages?: number;
  recalibrationBatch?: number;
  /** Images of the evaluation set used (default all). */
  maxImages?: number;
  batchSize?: number;
  seed?: number;
}

export interface EvalResult {
  id: string;
  config: SubnetConfig;
  top1: number;
  loss: number;
  images: number;
}

/** Copies plain arrays into tfjs variables of the same names (all names must exist). */
export function assignVariables(variables: Map<string, tf.Variable>, values: Map<string, Float32Array>): void {
  for (const [name, data] of values) {
    const variable = variables.get(name);
    if (!variable) throw new Error(`no variable named ${name}`);
    const tensor = tf.tensor(data, variable.shape, 'float32');
    variable.assign(tensor);
    tensor.dispose();
  }
}

function* imageBatches(set: ImageSet, spec: DatasetSpec, resolution: number, batchSize: number, limit: number, augment: boolean, seed: number) {
  const iterator = new BatchIterator(set, spec, { batchSize, resolutions: [resolution], shuffle: augment, augment, dropLast: false, seed });
  let seen = 0;
  for (const batch of iterator.epochBatches(0)) {
    if (seen >= limit) break;
    const take = Math.min(batch.size, limit - seen);
    seen += take;
    yield { batch, take };
  }
}

/**
 * ofav2.md s3 BN recalibration: the running statistics of the BNs `config` uses are set to the exact
 * batch statistics averaged over `recalibrationImages` training images (default 2000, batches of 200;
 * 0 = keep them). `allExits`: the heads of every exit too (the EE teacher).
 */
export function recalibrate(net: Supernet, config: SubnetConfig, calibration: ImageSet, spec: DatasetSpec, options: Pick<EvalOptions, 'recalibrationImages' | 'recalibrationBatch' | 'seed'> & { allExits?: boolean } = {}): void {
  const recalibrationImages = Math.min(options.recalibrationImages ?? 2000, calibration.count);
  if (recalibrationImages <= 0) return;
  const tensors: tf.Tensor4D[] = [];
  for (const { batch, take } of imageBatches(calibration, spec, config.resolution, options.recalibrationBatch ?? 200, recalibrationImages, true, options.seed ?? 0)) {
    tensors.push(tf.tensor4d(batch.images.subarray(0, take * config.resolution * config.resolution * batch.channels), [take, config.resolution, config.resolution, batch.channels]));
  }
  try {
    net.recalibrateBatchNorm(config, tensors, { allExits: options.allExits });
  } finally {
    tf.dispose(tensors);
  }
}

/**
 * Recalibrates BN for `config` on `calibration` images, then measures top-1 and cross-entropy on `set`.
 * Changes the supernet's BN running statistics (the caller restores them if it needs to).
 */
export function evaluateSubnet(net: Supernet, config: SubnetConfig, calibration: ImageSet, set: ImageSet, spec: DatasetSpec, options: EvalOptions = {}): EvalResult {
  recalibrate(net, config, calibration, spec, options);
  let correct = 0;
  let lossSum = 0;
  let count = 0;
  const limit = Math.min(options.maxImages ?? set.count, set.count);
  // A partial evaluation uses a seeded random subset: sets may be stored in class order.
  const evalSet = limit < set.count ? subsetImages(set, limit, options.seed ?? 0) : set;
  for (const { batch, take } of imageBatches(evalSet, spec, config.resolution, options.batchSize ?? 200, limit, false, 0)) {
    const [hits, loss] = tf.tidy(() => {
      const images = tf.tensor4d(batch.images.subarray(0, take * config.resolution * config.resolution * batch.channels), [take, config.resolution, config.resolution, batch.channels]);
      const labels = tf.tensor1d(batch.labels.subarray(0, take), 'int32');
      const logits = net.forward(config, images, { training: false });
      const predicted = tf.argMax(logits, 1);
      const hitCount = tf.sum(tf.cast(tf.equal(predicted, labels), 'float32'));
      const ce = tf.sum(tf.neg(tf.sum(tf.mul(tf.oneHot(labels, logits.shape[1]), tf.logSoftmax(logits)), 1)));
      return [hitCount.dataSync()[0], ce.dataSync()[0]];
    });
    correct += hits;
    lossSum += loss;
    count += take;
  }
  return { id: configId(config), config, top1: count > 0 ? correct / count : 0, loss: count > 0 ? lossSum / count : 0, images: count };
}

/** A set's first `limit` images (a seeded subset when fewer than all) at `resolution`, NHWC, as plain arrays. */
export function imagesAt(set: ImageSet, spec: DatasetSpec, resolution: number, options: { limit?: number; seed?: number } = {}): { images: Float32Array; labels: Int32Array } {
  const limit = Math.min(options.limit ?? set.count, set.count);
  const evalSet = limit < set.count ? subsetImages(set, limit, options.seed ?? 0) : set;
  const pixels = resolution * resolution * spec.channels;
  const images = new Float32Array(limit * pixels);
  const labels = new Int32Array(limit);
  let offset = 0;
  for (const { batch, take } of imageBatches(evalSet, spec, resolution, 500, limit, false, 0)) {
    images.set(batch.images.subarray(0, take * pixels), offset * pixels);
    labels.set(batch.labels.subarray(0, take), offset);
    offset += take;
  }
  return { images, labels };
}

/** The recalibration batches of evaluateSubnet (ofav2.md s3: ~2000 training images, batches of 200). */
export function calibrationBatches(set: ImageSet, spec: DatasetSpec, resolution: number, options: { count?: number; batchSize?: number; seed?: number } = {}): { images: Float32Array; count: number }[] {
  const count = Math.min(options.count ?? 2000, set.count);
  const pixels = resolution * resolution * spec.channels;
  const batches: { images: Float32Array; count: number }[] = [];
  if (count <= 0) return batches;
  for (const { batch, take } of imageBatches(set, spec, resolution, options.batchSize ?? 200, count, true, options.seed ?? 0)) {
    batches.push({ images: batch.images.slice(0, take * pixels), count: take });
  }
  return batches;
}

/** Runs evaluation jobs (e.g. ParallelTrainer.evaluate: both cores). */
export type JobRunner = (jobs: { config: SubnetConfig; calibration: { images: Float32Array; count: number }[]; images: Float32Array; labels: Int32Array; ensemble?: boolean; returnLogits?: boolean }[]) => Promise<{ correct: number; lossSum: number; count: number; logits?: Float32Array }[]>;

export interface ManyOptions extends EvalOptions {
  /** Score the beta-weighted ensemble of all exits (EE full phase; configs with exit 5). */
  ensemble?: boolean;
  returnLogits?: boolean;
}

/**
 * evaluateSubnet for many configs on a job runner (the training workers): the same recalibration
 * batches and evaluation images as evaluateSubnet, built once per resolution.
 */
export async function evaluateSubnets(run: JobRunner, configs: readonly SubnetConfig[], calibration: ImageSet, set: ImageSet, spec: DatasetSpec, options: ManyOptions = {}): Promise<(EvalResult & { logits?: Float32Array })[]> {
  const byResolution = new Map<number, { calibration: { images: Float32Array; count: number }[]; images: Float32Array; labels: Int32Array }>();
  for (const config of configs) {
    if (byResolution.has(config.resolution)) continue;
    const { images, labels } = imagesAt(set, spec, config.resolution, { limit: options.maxImages, seed: options.seed });
    const batches = calibrationBatches(calibration, spec, config.resolution, { count: options.recalibrationImages, batchSize: options.recalibrationBatch, seed: options.seed });
    byResolution.set(config.resolution, { calibration: batches, images, labels });
  }
  const results = await run(configs.map((config) => ({ config, ...byResolution.get(config.resolution)!, ensemble: options.ensemble, returnLogits: options.returnLogits })));
  return results.map((r, i) => ({
    id: configId(configs[i]),
    config: configs[i],
    top1: r.count > 0 ? r.correct / r.count : 0,
    loss: r.count > 0 ? r.lossSum / r.count : 0,
    images: r.count,
    ...(r.logits ? { logits: r.logits } : {}),
  }));
}
