// Data-parallel training step over worker threads (issue 3: use both cores; pipeline.md: tfjs-wasm
// runs one thread under Node). The batch is cut into a FIXED number of shards (`shards`, default 2),
// independent of the number of workers: shard k holds rows [floor(kN/S), floor((k+1)N/S)). Each
// shard runs a full forward/backward with its own BN batch statistics (ghost batch norm), and its
// loss is weighted by its share of the batch (n_k / N). With 1 worker the shards run one after
// another, with 2 workers one each: every shard computes exactly the same numbers either way, and
// the main thread sums the shard gradients in shard order, so 1 and 2 workers give the same update.
// BN running statistics: every shard starts from the same running statistics R and produces
// R_k = 0.9 R + 0.1 b_k; the new statistics are the average over shards, 0.9 R + 0.1 mean_k(b_k).
// Parameters, gradients and BN statistics live in SharedArrayBuffers: workers read and write them in
// place; only configs and small control messages travel by postMessage. The update is not this
// class's: train/loop/step.ts (trainStep) applies train/optim's SGD to the shared parameters.
import os from 'node:os';
import { Worker } from 'node:worker_threads';
import { OfaError, describeValue, isErrorCode } from '../../lib/errors.ts';
import type { SubnetConfig } from '../../space/index.ts';
import type { BackendPreference } from '../backend/index.ts';
import { type Layout, layoutOf, sharedFloats, viewsOf } from './layout.ts';
import type { AttachMessage, EvaluateDone, EvaluateMessage, FromWorker, LayoutMessage, StepDone, StepLossOptions, StepMessage, TeacherMessage, WorkerInit } from './protocol.ts';

export interface ParallelTrainerOptions {
  preset: string;
  variant: string;
  seed: number;
  /** Worker threads; default os.availableParallelism(). More workers than shards is capped. */
  workers?: number;
  /** BN shards per batch; default 2. The result does not depend on `workers`, it does on `shards`. */
  shards?: number;
  /** Backend of every worker (train/backend); default 'auto' (tfjs-node, else wasm). */
  backend?: BackendPreference;
}

export interface StepInput {
  /** NHWC float32 images, [N, H, W, C] at the configs' resolution. */
  images: Float32Array;
  imageShape: [number, number, number, number];
  labels: Int32Array | readonly number[];
  /** ENS-KD / KD teacher logits [N, classes], row-major. */
  teacherLogits?: Float32Array;
  /** Instead: the workers run their teacher (setTeacher) on each shard, dropout seed `seed + shard`. */
  teacher?: { seed: number };
}

/** One subnet to evaluate (evaluate()): images already at the config's resolution, NHWC. */
export interface EvaluationJob {
  config: SubnetConfig;
  /** Recalibration batches (ofav2.md s3); empty keeps the loaded BN statistics. */
  calibration: { images: Float32Array; count: number }[];
  images: Float32Array;
  labels: Int32Array;
  /** EE full phase: the beta-weighted ensemble of all exits. */
  ensemble?: boolean;
  returnLogits?: boolean;
}

export interface EvaluationResult {
  correct: number;
  lossSum: number;
  count: number;
  logits?: Float32Array;
}

export interface GradientOptions extends StepLossOptions {
  /** Per-kernel times of this step (tf.profile in each worker), summed over workers. */
  profile?: boolean;
}

export interface StepTimings {
  /** Wall time of the whole call, ms. */
  total: number;
  /** Slowest worker: loading parameters, forward+backward, writing gradients (ms). */
  load: number;
  compute: number;
  write: number;
  /** Main thread: summing shard gradients and BN statistics (ms). */
  reduce: number;
  /** Main thread: the optimiser update (ms; 0 for computeGradients). */
  update: number;
}

export interface GradientStep {
  /** Batch loss: sum over shards of (n_k / N) * (sum of the configs' losses on shard k). */
  loss: number;
  /** Per config, weighted over shards like `loss`. */
  losses: number[];
  /** Summed gradients of the parameters some config touched (views, valid until the next call). */
  gradients: Map<string, Float32Array>;
  timings: StepTimings;
  /** With options.profile: milliseconds per tfjs kernel, summed over workers. */
  kernels?: Record<string, number>;
  /** With options.profile: ms of the forward passes alone (a separate run), summed over workers. */
  forward?: number;
}

interface WorkerHandle {
  worker: Worker;
  pending?: { resolve: (message: FromWorker) => void; reject: (error: Error) => void };
  failure?: Error;
}

function positiveInteger(value: unknown, name: string): number {
  if (!(typeof value === 'number' && Number.isInteger(value) && value >= 1)) {
    throw new OfaError('E_PARALLEL_OPTION', `${name} ${describeValue(value)} is not allowed; allowed: an integer >= 1`);
  }
  return value;
}

export class ParallelTrainer {
  readonly workerCount: number;
  readonly shards: number;
  readonly backend: { name: string; detail: string };
  readonly parameterLayout: Layout;
  readonly bufferLayout: Layout;
  /** Views of the shared parameters by name: read them, or update them in place between steps. */
  readonly parameters: Map<string, Float32Array>;
  /** Views of the shared BN running statistics by name. */
  readonly buffers: Map<string, Float32Array>;

  private readonly handles: WorkerHandle[];
  private readonly memory: AttachMessage;
  private readonly summed: Float32Array;
  /** Whether every summed gradient of the last computeGradients() was finite. */
  private gradientsFinite = true;
  private nextId = 1;
  private closed = false;

  private constructor(handles: WorkerHandle[], shards: number, layout: LayoutMessage, memory: AttachMessage) {
    this.handles = handles;
    this.workerCount = handles.length;
    this.shards = shards;
    this.backend = layout.backend;
    this.parameterLayout = layoutOf(layout.parameters);
    this.bufferLayout = layoutOf(layout.buffers);
    this.memory = memory;
    this.parameters = viewsOf(this.parameterLayout, memory.parameters);
    this.buffers = viewsOf(this.bufferLayout, memory.buffers);
    this.summed = new Float32Array(this.parameterLayout.size);
  }

  static async create(options: ParallelTrainerOptions): Promise<ParallelTrainer> {
    const shards = positiveInteger(options.shards ?? 2, 'shards');
    const requested = positiveInteger(options.workers ?? os.availableParallelism(), 'workers');
    const count = Math.min(requested, shards);
    const handles: WorkerHandle[] = [];
    const entry = new URL('./worker.js', import.meta.url);
    for (let index = 0; index < count; index++) {
      const init: WorkerInit = { preset: options.preset, variant: options.variant, seed: options.seed, backend: options.backend ?? 'auto', workerIndex: index };
      const handle: WorkerHandle = { worker: new Worker(entry, { workerData: init }) };
      handle.worker.on('message', (message: FromWorker) => {
        const pending = handle.pending;
        handle.pending = undefined;
        if (message.type === 'error') {
          const error = new OfaError(isErrorCode(message.code) ? message.code : 'E_PARALLEL_WORKER', `training worker ${index}: ${message.message}`);
          handle.failure = error;
          pending?.reject(error);
        } else pending?.resolve(message);
      });
      handle.worker.on('error', (error: Error) => {
        const failure = new OfaError('E_PARALLEL_WORKER', `training worker ${index} crashed: ${error.message}`, { kind: 'failure', cause: error });
        handle.failure = failure;
        handle.pending?.reject(failure);
        handle.pending = undefined;
      });
      handle.worker.on('exit', (code) => {
        if (handle.pending) {
          handle.pending.reject(new OfaError('E_PARALLEL_WORKER', `training worker ${index} exited with code ${code}`, { kind: 'failure' }));
          handle.pending = undefined;
        }
      });
      handles.push(handle);
    }
    try {
      const layouts = (await Promise.all(handles.map((h) => ParallelTrainer.receive(h)))) as LayoutMessage[];
      const layout = layouts[0];
      const parameterLayout = layoutOf(layout.parameters);
      const bufferLayout = layoutOf(layout.buffers);
      const memory: Omit<AttachMessage, 'writeInitial'> = {
        type: 'attach',
        parameters: sharedFloats(parameterLayout.size),
        buffers: sharedFloats(bufferLayout.size),
        gradients: sharedFloats(shards * parameterLayout.size),
        shardBuffers: sharedFloats(shards * bufferLayout.size),
        touched: new Uint8Array(new SharedArrayBuffer(Math.max(1, shards * parameterLayout.slots.length))),
      };
      // Worker 0 writes the initial weights first; the others only attach.
      for (const [index, handle] of handles.entries()) {
        handle.worker.postMessage({ ...memory, writeInitial: index === 0 });
        await ParallelTrainer.receive(handle);
      }
      return new ParallelTrainer(handles, shards, layout, { ...memory, writeInitial: false });
    } catch (error) {
      await Promise.all(handles.map((h) => h.worker.terminate()));
      throw error;
    }
  }

  private static receive(handle: WorkerHandle): Promise<FromWorker> {
    if (handle.failure) return Promise.reject(handle.failure);
    return new Promise((resolve, reject) => {
      handle.pending = { resolve, reject };
    });
  }

  /** Which rows of a batch of `batch` images each shard holds. */
  shardRows(batch: number): [number, number][] {
    return Array.from({ length: this.shards }, (_, k) => [Math.floor((k * batch) / this.shards), Math.floor(((k + 1) * batch) / this.shards)]);
  }

  /**
   * Forward + backward of `configs` on the batch, data-parallel over the shards. BN running
   * statistics are updated (shard average); parameters are not.
   */
  async computeGradients(configs: readonly SubnetConfig[], input: StepInput, options: GradientOptions = {}): Promise<GradientStep> {
    if (this.closed) throw new OfaError('E_PARALLEL_CLOSED', 'this ParallelTrainer is closed', { kind: 'failure' });
    const started = performance.now();
    const [batch, height, width, channels] = input.imageShape;
    if (batch < this.shards) {
      throw new OfaError('E_PARALLEL_BATCH', `batch of ${batch} images is smaller than shards ${this.shards}; allowed: at least one image per shard`);
    }
    if (input.images.length !== batch * height * width * channels || input.labels.length !== batch) {
      throw new OfaError('E_PARALLEL_BATCH', `images hold ${input.images.length} floats and ${input.labels.length} labels; expected ${batch * height * width * channels} floats (shape [${input.imageShape.join(', ')}]) and ${batch} labels`);
    }
    const images = sharedFloats(input.images.length);
    images.set(input.images);
    const labels = new Int32Array(new SharedArrayBuffer(Math.max(1, batch) * 4));
    labels.set(input.labels);
    const teacherLogits = sharedFloats(input.teacherLogits?.length ?? 0);
    if (input.teacherLogits) teacherLogits.set(input.teacherLogits);
    const shardRows = this.shardRows(batch);
    const id = this.nextId++;
    const { profile, ...loss } = options;
    const replies = (await Promise.all(
      this.handles.map((handle, w) => {
        const shards = Array.from({ length: this.shards }, (_, k) => k).filter((k) => k % this.workerCount === w);
        const message: StepMessage = { type: 'step', id, configs: [...configs], images, imageShape: input.imageShape, labels, teacherLogits, teacher: input.teacher, shardRows, shards, loss, profile: profile ?? false };
        const reply = ParallelTrainer.receive(handle);
        handle.worker.postMessage(message);
        return reply;
      }),
    )) as StepDone[];

    const reduceStarted = performance.now();
    const byShard = new Map<number, number[]>();
    for (const reply of replies) for (const r of reply.results) byShard.set(r.shard, r.losses);
    const losses = new Array<number>(configs.length).fill(0);
    for (let k = 0; k < this.shards; k++) {
      const weight = (shardRows[k][1] - shardRows[k][0]) / batch;
      byShard.get(k)!.forEach((value, c) => (losses[c] += weight * value));
    }
    // Shard order, whatever the worker count: the same float sums with 1 or 2 workers.
    // One pass per extra shard; the last one also checks finiteness (v - v is NaN only for NaN/Inf), so
    // that step()'s NaN/Inf guard need not read every gradient again: this is the main thread's
    // serial share of every step, which the second worker cannot shorten.
    const size = this.parameterLayout.size;
    const { gradients, shardBuffers, buffers, touched } = this.memory;
    const summed = this.summed;
    summed.set(gradients.subarray(0, size));
    for (let k = 1; k < this.shards - 1; k++) {
      const part = gradients.subarray(k * size, (k + 1) * size);
      for (let i = 0; i < size; i++) summed[i] += part[i];
    }
    let check = 0;
    if (this.shards > 1) {
      const last = gradients.subarray((this.shards - 1) * size, this.shards * size);
      for (let i = 0; i < size; i++) {
        const value = Math.fround(summed[i] + last[i]);
        summed[i] = value;
        check += value - value;
      }
    } else {
      for (let i = 0; i < size; i++) check += summed[i] - summed[i];
    }
    this.gradientsFinite = check === 0;
    const bufferSize = this.bufferLayout.size;
    for (let i = 0; i < bufferSize; i++) {
      let total = 0;
      for (let k = 0; k < this.shards; k++) total += shardBuffers[k * bufferSize + i];
      buffers[i] = total / this.shards;
    }
    const views = new Map<string, Float32Array>();
    const count = this.parameterLayout.slots.length;
    for (const [index, slot] of this.parameterLayout.slots.entries()) {
      let used = false;
      for (let k = 0; k < this.shards && !used; k++) used = touched[k * count + index] === 1;
      if (used) views.set(slot.name, this.summed.subarray(slot.offset, slot.offset + slot.size));
    }
    const slowest = (key: 'load' | 'compute' | 'write') => Math.max(...replies.map((r) => r.timings[key]));
    let kernels: Record<string, number> | undefined;
    let forward: number | undefined;
    if (profile) {
      kernels = {};
      forward = replies.reduce((total, reply) => total + (reply.forward ?? 0), 0);
      for (const reply of replies) for (const [name, ms] of Object.entries(reply.kernels ?? {})) kernels[name] = (kernels[name] ?? 0) + ms;
    }
    const now = performance.now();
    return {
      loss: losses.reduce((a, b) => a + b, 0),
      losses,
      gradients: views,
      timings: { total: now - started, load: slowest('load'), compute: slowest('compute'), write: slowest('write'), reduce: now - reduceStarted, update: 0 },
      ...(kernels ? { kernels, forward } : {}),
    };
  }

  /**
   * Gives every worker the teacher of the coming steps (ofav2.md s3): its weights, the config it runs
   * (the maximal subnet), whether it is an exit ensemble (ENS-KD) and its dropout.
   */
  async setTeacher(teacher: Omit<TeacherMessage, 'type'>): Promise<void> {
    if (this.closed) throw new OfaError('E_PARALLEL_CLOSED', 'this ParallelTrainer is closed', { kind: 'failure' });
    await Promise.all(
      this.handles.map((handle) => {
        const reply = ParallelTrainer.receive(handle);
        handle.worker.postMessage({ type: 'teacher', ...teacher } satisfies TeacherMessage);
        return reply;
      }),
    );
  }

  /**
   * Evaluates subnets on the workers, with the current shared parameters and BN statistics (each job
   * recalibrates its own copy first): jobs run one per worker at a time, so two workers evaluate two
   * subnets at once. Results come back in job order.
   */
  async evaluate(jobs: readonly EvaluationJob[]): Promise<EvaluationResult[]> {
    if (this.closed) throw new OfaError('E_PARALLEL_CLOSED', 'this ParallelTrainer is closed', { kind: 'failure' });
    const results = new Array<EvaluationResult>(jobs.length);
    let next = 0;
    const runOn = async (handle: WorkerHandle): Promise<void> => {
      while (next < jobs.length) {
        const index = next++;
        const job = jobs[index];
        const resolution = job.config.resolution;
        const pixels = job.labels.length > 0 ? job.images.length / job.labels.length : 0;
        const message: EvaluateMessage = {
          type: 'evaluate',
          id: this.nextId++,
          config: job.config,
          calibration: job.calibration,
          images: job.images,
          labels: job.labels,
          resolution,
          channels: pixels > 0 ? Math.round(pixels / (resolution * resolution)) : 1,
          ensemble: job.ensemble ?? false,
          returnLogits: job.returnLogits ?? false,
        };
        const reply = ParallelTrainer.receive(handle);
        handle.worker.postMessage(message);
        const done = (await reply) as EvaluateDone;
        results[index] = { correct: done.correct, lossSum: done.lossSum, count: done.count, ...(done.logits ? { logits: done.logits } : {}) };
      }
    };
    await Promise.all(this.handles.map(runOn));
    return results;
  }

  /**
   * Whether every summed gradient of the last computeGradients() was finite (checked in the summing
   * pass, so the optimiser's NaN/Inf guard need not read every gradient again).
   */
  get lastGradientsFinite(): boolean {
    return this.gradientsFinite;
  }

  /** Copies of the parameters by name. */
  getParameters(): Map<string, Float32Array> {
    return new Map([...this.parameters].map(([name, view]) => [name, view.slice()]));
  }

  /** Copies of the BN running statistics by name. */
  getBuffers(): Map<string, Float32Array> {
    return new Map([...this.buffers].map(([name, view]) => [name, view.slice()]));
  }

  /** Overwrites parameters and/or BN statistics (e.g. from a checkpoint); names must exist. */
  load(values: { parameters?: Map<string, Float32Array>; buffers?: Map<string, Float32Array> }): void {
    for (const [kind, source, target] of [['parameter', values.parameters, this.parameters], ['buffer', values.buffers, this.buffers]] as const) {
      for (const [name, data] of source ?? []) {
        const view = target.get(name);
        if (view === undefined || view.length !== data.length) {
          throw new OfaError('E_PARALLEL_LOAD', `${kind} ${JSON.stringify(name)} with ${data.length} values does not match the supernet (${view === undefined ? 'no such name' : `${view.length} values`})`);
        }
        view.set(data);
      }
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all(
      this.handles.map(
        (handle) =>
          new Promise<void>((resolve) => {
            handle.worker.once('exit', () => resolve());
            handle.worker.postMessage({ type: 'close' });
            setTimeout(() => void handle.worker.terminate(), 5000).unref();
          }),
      ),
    );
  }
}
