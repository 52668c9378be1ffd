// Messages between ParallelTrainer (main thread) and its workers (worker_main.ts).
import type { SubnetConfig } from '../../space/index.ts';
import type { BackendPreference } from '../backend/index.ts';

export interface WorkerInit {
  preset: string;
  variant: string;
  seed: number;
  backend: BackendPreference;
  workerIndex: number;
}

export interface LayoutMessage {
  type: 'layout';
  parameters: [string, number[]][];
  buffers: [string, number[]][];
  backend: { name: string; detail: string };
}

export interface AttachMessage {
  type: 'attach';
  parameters: Float32Array;
  buffers: Float32Array;
  /** shards x parameter floats: each shard's weighted gradient. */
  gradients: Float32Array;
  /** shards x buffer floats: the BN running statistics after each shard's forward. */
  shardBuffers: Float32Array;
  /** shards x parameter count: 1 where the shard produced a gradient for the parameter. */
  touched: Uint8Array;
  /** Write the worker's freshly initialised parameters and buffers (worker 0 only). */
  writeInitial: boolean;
}

export interface StepLossOptions {
  labelSmoothing?: number;
  kdWeight?: number;
  exitWeights?: readonly number[];
  dropout?: boolean;
  /** Shard k uses dropoutSeed + k, so a step does not depend on which worker runs a shard. */
  dropoutSeed?: number;
  dropoutRate?: number;
}

/** The teacher a worker holds (ofav2.md s3): weights, the config it runs, its mode. */
export interface TeacherMessage {
  type: 'teacher';
  parameters: Map<string, Float32Array>;
  buffers: Map<string, Float32Array>;
  config: SubnetConfig;
  /** ENS-KD: the beta-weighted sum of all exits (EE variants). */
  ensemble: boolean;
  /** The paper's code runs the teacher in training mode (BN on the batch's statistics) with this dropout. */
  dropoutRate: number;
}

/** Evaluate one subnet on images the main thread prepared (already at the config's resolution). */
export interface EvaluateMessage {
  type: 'evaluate';
  id: number;
  config: SubnetConfig;
  /** Recalibration batches (ofav2.md s3), each [n, r, r, c]; empty = keep the loaded statistics. */
  calibration: { images: Float32Array; count: number }[];
  images: Float32Array;
  labels: Int32Array;
  resolution: number;
  channels: number;
  /** Score the beta-weighted ensemble of all exits (EE full phase) instead of the config's exit. */
  ensemble: boolean;
  /** Also return the logits (tests compare them with other paths). */
  returnLogits: boolean;
}

export interface EvaluateDone {
  type: 'evaluated';
  id: number;
  correct: number;
  lossSum: number;
  count: number;
  logits?: Float32Array;
}

export interface StepMessage {
  type: 'step';
  id: number;
  configs: SubnetConfig[];
  images: Float32Array;
  imageShape: [number, number, number, number];
  labels: Int32Array;
  /** [N, classes] or empty. */
  teacherLogits: Float32Array;
  /** Run the worker's teacher (TeacherMessage) on each shard; its dropout seed is teacherSeed + shard. */
  teacher?: { seed: number };
  /** Row ranges [start, end) of every shard; this worker runs `shards`. */
  shardRows: [number, number][];
  shards: number[];
  loss: StepLossOptions;
  /** Collect per-kernel times (tf.profile) for this step. */
  profile: boolean;
}

export interface ShardResult {
  shard: number;
  losses: number[];
}

export interface StepDone {
  type: 'done';
  id: number;
  results: ShardResult[];
  /** Milliseconds: loading parameters, forward+backward (computeGradients), writing gradients. */
  timings: { load: number; compute: number; write: number };
  kernels?: Record<string, number>;
  /** With profile: ms of the forward passes alone (measured separately). */
  forward?: number;
}

export interface WorkerFailure {
  type: 'error';
  id?: number;
  message: string;
  code?: string;
}

export type FromWorker = LayoutMessage | StepDone | EvaluateDone | WorkerFailure | { type: 'attached' } | { type: 'teacher-ready' };
export type ToWorker = AttachMessage | StepMessage | TeacherMessage | EvaluateMessage | { type: 'close' };
