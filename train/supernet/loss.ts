// The training loss and its gradients for one step (ofav2.md s3): the subnets sampled in one step each
// contribute a loss on the same batch, and their gradients are summed before the optimiser update.
import * as tf from '@tensorflow/tfjs-core';
import { OfaError } from '../../lib/errors.ts';
import { exitOf, type SubnetConfig } from '../../space/index.ts';
import { registerCoreGradients } from '../backend/gradients.ts';
import type { Supernet } from './supernet.ts';

// tfjs-core's CommonJS build registers no gradient functions (train/backend/gradients.ts): make sure
// they are there whichever backend the caller set up.
await registerCoreGradients();

/** ofav2.md s3: ENS-KD exit weights beta, and the full EE phase's alpha (= beta). */
export const EXIT_WEIGHTS: readonly number[] = [0.06, 0.13, 0.2, 0.27, 0.34];

export interface LossOptions {
  /** Label smoothing of the hard-label CE (ofav2.md s3: 0.1). Default 0.1. */
  labelSmoothing?: number;
  /** Teacher logits [N, classes] for the KD term CE(softmax(teacher), student), temperature 1. */
  teacherLogits?: tf.Tensor2D;
  /** Weight of the KD term (ofav2.md s3: 1.0). Default 1.0; used only with teacherLogits. */
  kdWeight?: number;
  /**
   * Full phase of EE variants: loss = sum_i exitWeights[i] * loss_i over exits 1..5 of the config
   * (forwardAllExits; the config must have exit 5). Pass EXIT_WEIGHTS. Without it, one exit (the config's).
   */
  exitWeights?: readonly number[];
  /** Dropout before the classifier (default true in a training step). */
  dropout?: boolean;
  dropoutSeed?: number;
  /** Dropout rate (default: the preset's). */
  dropoutRate?: number;
  /** Training-mode BN (batch statistics, running statistics updated). Default true. */
  training?: boolean;
}

export type Labels = tf.Tensor1D | Int32Array | readonly number[];

/** -mean_n sum_c target[n, c] * log softmax(logits)[n, c]. */
function softCrossEntropy(target: tf.Tensor2D, logits: tf.Tensor2D): tf.Scalar {
  return tf.neg(tf.mean(tf.sum(tf.mul(target, tf.logSoftmax(logits)), 1)));
}

function oneHotLabels(labels: Labels, classes: number): tf.Tensor2D {
  const ids = labels instanceof tf.Tensor ? tf.cast(labels, 'int32') : tf.tensor1d(Array.from(labels), 'int32');
  return tf.cast(tf.oneHot(ids as tf.Tensor1D, classes), 'float32') as tf.Tensor2D;
}

function checkBatch(net: Supernet, images: tf.Tensor4D, labels: Labels, options: LossOptions): void {
  const n = images.shape[0];
  const count = labels instanceof tf.Tensor ? labels.shape[0] : labels.length;
  if (count !== n) throw new OfaError('E_LOSS_INPUT', `labels: ${count} labels for a batch of ${n} images; expected one label per image`);
  const teacher = options.teacherLogits;
  if (teacher && (teacher.shape[0] !== n || teacher.shape[1] !== net.preset.numClasses)) {
    throw new OfaError('E_LOSS_INPUT', `teacherLogits: shape [${teacher.shape.join(', ')}]; expected [${n}, ${net.preset.numClasses}]`);
  }
  if (options.exitWeights && options.exitWeights.length !== 5) {
    throw new OfaError('E_LOSS_INPUT', `exitWeights: ${options.exitWeights.length} weights; expected 5 (one per exit, e.g. EXIT_WEIGHTS)`);
  }
}

/**
 * The scalar loss of one subnet on a batch (inside the caller's tidy/gradient scope):
 * CE_ls(labels, z) + kdWeight * CE(softmax(teacher), z), summed over exits with exitWeights when given.
 */
export function subnetLoss(net: Supernet, config: SubnetConfig, images: tf.Tensor4D, labels: Labels, options: LossOptions = {}): tf.Scalar {
  checkBatch(net, images, labels, options);
  const classes = net.preset.numClasses;
  const smoothing = options.labelSmoothing ?? 0.1;
  const forwardOptions = { training: options.training ?? true, dropout: options.dropout ?? true, dropoutSeed: options.dropoutSeed, dropoutRate: options.dropoutRate };
  return tf.tidy(() => {
    const target = tf.add(tf.mul(oneHotLabels(labels, classes), 1 - smoothing), smoothing / classes) as tf.Tensor2D;
    const teacher = options.teacherLogits ? tf.softmax(options.teacherLogits) : undefined;
    const kdWeight = options.kdWeight ?? 1.0;
    const lossOf = (logits: tf.Tensor2D): tf.Scalar => {
      let loss = softCrossEntropy(target, logits);
      if (teacher && kdWeight !== 0) loss = tf.add(loss, tf.mul(softCrossEntropy(teacher, logits), kdWeight));
      return loss;
    };
    if (options.exitWeights) {
      if (exitOf(config) !== 5) throw new OfaError('E_LOSS_INPUT', `exitWeights need a config with exit 5 (all stages); got exit ${exitOf(config)}`);
      const all = net.forwardAllExits(config, images, forwardOptions);
      const weights = options.exitWeights;
      return tf.addN(all.map((logits, i) => tf.mul(lossOf(logits), weights[i]))) as tf.Scalar;
    }
    return lossOf(net.forward(config, images, forwardOptions));
  });
}

export interface GradientResult {
  /** Sum of the configs' losses (the quantity whose gradient `grads` is). */
  loss: number;
  /** Each config's loss, in order. */
  losses: number[];
  /**
   * d(loss)/d(parameter), summed over the configs, keyed by the supernet's parameter names. Parameters
   * that no config touches (inactive exits, branches, layers; kernel transforms of 7x7-only configs)
   * are absent. Channels a config does not use (sliced away) get exact zeros. The caller disposes.
   */
  grads: Map<string, tf.Tensor>;
}

/**
 * ofav2.md s3: one step's gradients, accumulated over the subnets sampled for it. BN running statistics
 * are updated by the training-mode forwards. Every config must be at the batch's resolution.
 */
export function computeGradients(net: Supernet, configs: readonly SubnetConfig[], images: tf.Tensor4D, labels: Labels, options: LossOptions = {}): GradientResult {
  if (configs.length === 0) throw new OfaError('E_LOSS_INPUT', 'configs: empty; expected at least one subnet config per step');
  const variables = [...net.parameters.values()];
  const grads = new Map<string, tf.Tensor>();
  const losses: number[] = [];
  for (const config of configs) {
    const { value, grads: named } = tf.variableGrads(() => subnetLoss(net, config, images, labels, options), variables);
    losses.push(value.dataSync()[0]);
    value.dispose();
    for (const [engineName, grad] of Object.entries(named)) {
      if (grad === null) continue;
      const name = net.nameOfVariable(engineName);
      if (name === undefined) {
        grad.dispose();
        continue;
      }
      const previous = grads.get(name);
      if (previous) {
        grads.set(name, tf.add(previous, grad));
        previous.dispose();
        grad.dispose();
      } else grads.set(name, grad);
    }
  }
  return { loss: losses.reduce((a, b) => a + b, 0), losses, grads };
}
