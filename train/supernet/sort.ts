// ofav2.md s2 channel sorting: before an expand phase, the middle channels of every MBConv are ordered
// by importance (L1 norm of the projection weights reading them) so that the first `mid` channels a
// smaller expand ratio keeps are the most important ones. Every tensor that writes or reads a middle
// channel is permuted the same way: expand-conv outputs and their BN (parameters and running
// statistics), the depthwise weight (the 7x7 one; the transforms are shared by all channels) and its
// BN, the SE reduce inputs and expand outputs, and the projection inputs. The SE reduced channels are
// sorted too, by the L1 norm of the SE-expand weights reading them (as OFA does).
//
// Which subnets keep their function: permuting the channels inside a prefix that a subnet uses leaves
// it unchanged, so the largest expand ratio (all channels) always keeps its function. Subnets with a
// smaller ratio see other channels afterwards: that is the point of sorting. `keepExpandRatios` names
// ratios whose channel sets must stay put (OFA's expand_ratio_stage): the sort then happens within the
// blocks between their widths, so those ratios' subnets keep their function too. OFA's schedule:
// expand phase 1 sorts with the default (only the largest ratio trained so far), expand phase 2 sorts
// with keepExpandRatios = the ratios of phase 1.
import * as tf from '@tensorflow/tfjs-core';
import { OfaError } from '../../lib/errors.ts';
import { midChannels, seChannels, type LayerGeometry } from '../../space/index.ts';
import type { ElasticMBConv } from './layers.ts';
import type { BatchNormParams } from './ops.ts';

export interface SortOptions {
  /** Expand ratios whose subnets must keep their function exactly (default: only the largest). */
  keepExpandRatios?: readonly number[];
}

/** L1 norm over every axis but `axis`. */
function importanceAlong(w: tf.Variable, axis: number): Float32Array {
  return tf.tidy(() => {
    const others = w.shape.map((_, i) => i).filter((i) => i !== axis);
    return tf.sum(tf.abs(w), others).dataSync() as Float32Array;
  });
}

/**
 * The permutation (new position -> old channel) that sorts by importance, descending, inside blocks
 * [0, w1), [w1, w2), ... of the widths to keep (ties keep the old order, so the sort is deterministic).
 */
export function blockSortPermutation(importance: Float32Array, keepWidths: readonly number[]): number[] {
  const widths = [...new Set([...keepWidths, importance.length])].sort((a, b) => a - b);
  const blockOf = (c: number) => widths.findIndex((w) => c < w);
  return Array.from(importance, (_, c) => c).sort((a, b) => blockOf(a) - blockOf(b) || importance[b] - importance[a] || a - b);
}

function permute(v: tf.Variable, permutation: number[], axis: number): void {
  const next = tf.tidy(() => tf.gather(v, tf.tensor1d(permutation, 'int32'), axis));
  v.assign(next);
  next.dispose();
}

function permuteBatchNorm(bn: BatchNormParams, permutation: number[]): void {
  for (const v of [bn.gamma, bn.beta, bn.runningMean, bn.runningVariance]) permute(v, permutation, 0);
}

/** Sorts one MBConv's middle (and SE reduced) channels; `max` is the layer position's largest geometry. */
export function sortLayerChannels(mbconv: ElasticMBConv, max: LayerGeometry, options: SortOptions): void {
  const keep = options.keepExpandRatios ?? [];
  for (const ratio of keep) {
    if (!Number.isFinite(ratio) || ratio <= 0) {
      throw new OfaError('E_SORT_OPTIONS', `keepExpandRatios: ${ratio} is not an expand ratio; allowed: positive numbers such as 3, 4, 6`);
    }
  }
  const keepMids = keep.map((ratio) => Math.min(midChannels(max.inChannels, ratio), max.mid));
  const order = blockSortPermutation(importanceAlong(mbconv.projectWeight, 2), keepMids);
  permute(mbconv.expandWeight, order, 3);
  permuteBatchNorm(mbconv.expandBn, order);
  permute(mbconv.depthwiseWeight, order, 2);
  permuteBatchNorm(mbconv.depthwiseBn, order);
  if (mbconv.se) {
    permute(mbconv.se.reduceWeight, order, 2);
    permute(mbconv.se.expandWeight, order, 3);
    permute(mbconv.se.expandBias, order, 0);
    const keepSe = keepMids.map((mid) => seChannels(mid));
    const seOrder = blockSortPermutation(importanceAlong(mbconv.se.expandWeight, 2), keepSe);
    permute(mbconv.se.reduceWeight, seOrder, 3);
    permute(mbconv.se.reduceBias, seOrder, 0);
    permute(mbconv.se.expandWeight, seOrder, 2);
  }
  permute(mbconv.projectWeight, order, 2);
}
