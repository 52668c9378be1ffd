// One training worker (train/parallel): its own tfjs backend and Supernet replica. Per step it loads
// the shared parameters, runs the shards it is given one after another (each from the same BN
// running statistics), and writes each shard's weighted gradient and BN statistics into shared memory.
import { parentPort, workerData } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend, readInto } from '../backend/index.ts';
import { EXIT_WEIGHTS, Supernet, computeGradients, subnetLoss } from '../supernet/index.ts';
import { type Layout, layoutOf } from './layout.ts';
import type { AttachMessage, EvaluateDone, EvaluateMessage, FromWorker, StepDone, StepMessage, TeacherMessage, ToWorker, WorkerInit } from './protocol.ts';

const port = parentPort;
if (port === null) throw new Error('train/parallel/worker_main.ts must run in a worker thread');
const init = workerData as WorkerInit;

function send(message: FromWorker): void {
  port!.postMessage(message);
}

function load(variables: Map<string, tf.Variable>, layout: Layout, data: Float32Array): void {
  for (const slot of layout.slots) {
    const value = tf.tensor(data.subarray(slot.offset, slot.offset + slot.size), slot.shape);
    variables.get(slot.name)!.assign(value);
    value.dispose();
  }
}

function store(variables: Map<string, tf.Variable>, layout: Layout, data: Float32Array, base: number): void {
  for (const slot of layout.slots) readInto(variables.get(slot.name)!, data, base + slot.offset);
}

async function main(): Promise<void> {
  const backend = await initBackend({ prefer: init.backend, log: false });
  const net = new Supernet({ preset: init.preset, variant: init.variant, seed: init.seed });
  const parameterLayout = layoutOf([...net.parameters].map(([name, v]) => [name, v.shape]));
  const bufferLayout = layoutOf([...net.buffers].map(([name, v]) => [name, v.shape]));
  send({ type: 'layout', parameters: parameterLayout.slots.map((s) => [s.name, s.shape]), buffers: bufferLayout.slots.map((s) => [s.name, s.shape]), backend });

  let shared: AttachMessage | undefined;
  let teacher: { net: Supernet; message: TeacherMessage } | undefined;

  function setTeacher(message: TeacherMessage): void {
    teacher?.net.dispose();
    const teacherNet = new Supernet({ preset: init.preset, variant: init.variant, seed: init.seed });
    for (const [name, values] of [...message.parameters, ...message.buffers]) {
      const variable = teacherNet.parameters.get(name) ?? teacherNet.buffers.get(name);
      if (!variable) throw new Error(`teacher: no variable named ${name}`);
      const value = tf.tensor(values, variable.shape);
      variable.assign(value);
      value.dispose();
    }
    teacher = { net: teacherNet, message };
  }

  /**
   * ofav2.md s3: the teacher's logits for one shard, without gradients. As the paper's code runs it: in
   * training mode (BN on the shard's own statistics) with its dropout; ENS-KD sums the exits weighted
   * by beta. The teacher's running statistics move, but training mode never reads them.
   */
  function teacherLogits_(images: tf.Tensor4D, seed: number): tf.Tensor2D {
    const { net: teacherNet, message } = teacher!;
    const config = { ...message.config, resolution: images.shape[1] };
    const options = { training: true, dropout: message.dropoutRate > 0, dropoutRate: message.dropoutRate, dropoutSeed: seed };
    return tf.tidy(() =>
      message.ensemble
        ? (tf.addN(teacherNet.forwardAllExits(config, images, options).map((z, i) => tf.mul(z, EXIT_WEIGHTS[i]))) as tf.Tensor2D)
        : teacherNet.forward(config, images, options),
    );
  }

  function evaluate(message: EvaluateMessage): EvaluateDone {
    const memory = shared!;
    load(net.parameters, parameterLayout, memory.parameters);
    load(net.buffers, bufferLayout, memory.buffers);
    const { resolution: r, channels: c } = message;
    const pixels = r * r * c;
    if (message.calibration.length > 0) {
      const batches = message.calibration.map((b) => tf.tensor4d(b.images, [b.count, r, r, c]));
      try {
        net.recalibrateBatchNorm(message.config, batches, { allExits: message.ensemble });
      } finally {
        tf.dispose(batches);
      }
    }
    const count = message.labels.length;
    const classes = net.preset.numClasses;
    const logitsOut = message.returnLogits ? new Float32Array(count * classes) : undefined;
    let correct = 0;
    let lossSum = 0;
    const batch = 250;
    for (let start = 0; start < count; start += batch) {
      const rows = Math.min(batch, count - start);
      const [hits, loss] = tf.tidy(() => {
        const images = tf.tensor4d(message.images.subarray(start * pixels, (start + rows) * pixels), [rows, r, r, c]);
        const labels = tf.tensor1d(message.labels.subarray(start, start + rows), 'int32');
        const logits = message.ensemble
          ? (tf.addN(net.forwardAllExits(message.config, images, { training: false, fusedEval: true }).map((z, i) => tf.mul(z, EXIT_WEIGHTS[i]))) as tf.Tensor2D)
          : net.forward(message.config, images, { training: false, fusedEval: true });
        if (logitsOut) logitsOut.set(logits.dataSync() as Float32Array, start * classes);
        const hitCount = tf.sum(tf.cast(tf.equal(tf.argMax(logits, 1), labels), 'float32'));
        const ce = tf.sum(tf.neg(tf.sum(tf.mul(tf.oneHot(labels, classes), tf.logSoftmax(logits)), 1)));
        return [hitCount.dataSync()[0], ce.dataSync()[0]];
      });
      correct += hits;
      lossSum += loss;
    }
    return { type: 'evaluated', id: message.id, correct, lossSum, count, ...(logitsOut ? { logits: logitsOut } : {}) };
  }

  async function step(message: StepMessage): Promise<StepDone> {
    const memory = shared!;
    const timings = { load: 0, compute: 0, write: 0 };
    let started = performance.now();
    load(net.parameters, parameterLayout, memory.parameters);
    timings.load += performance.now() - started;
    const [batch, height, width, channels] = message.imageShape;
    const classes = net.preset.numClasses;
    const results: StepDone['results'] = [];
    const kernels: Record<string, number> = {};
    let forward = 0;
    for (const shard of message.shards) {
      const [start, end] = message.shardRows[shard];
      const rows = end - start;
      const weight = rows / batch;
      started = performance.now();
      load(net.buffers, bufferLayout, memory.buffers);
      const pixels = height * width * channels;
      const images = tf.tensor4d(message.images.subarray(start * pixels, end * pixels), [rows, height, width, channels]);
      const teacherLogits = message.teacher
        ? teacherLogits_(images, message.teacher.seed + shard)
        : message.teacherLogits.length > 0
          ? tf.tensor2d(message.teacherLogits.subarray(start * classes, end * classes), [rows, classes])
          : undefined;
      timings.load += performance.now() - started;
      started = performance.now();
      const run = () => computeGradients(net, message.configs, images, message.labels.subarray(start, end), {
        ...message.loss,
        dropoutSeed: message.loss.dropoutSeed === undefined ? undefined : message.loss.dropoutSeed + shard,
        teacherLogits,
      });
      let result: ReturnType<typeof computeGradients>;
      if (message.profile) {
        // The forward alone (same shard, same BN state afterwards restored by the next load), so
        // that the profile can split the step into forward and backward.
        const forwardStarted = performance.now();
        for (const config of message.configs) {
          const lossValue = subnetLoss(net, config, images, message.labels.subarray(start, end), { ...message.loss, dropoutSeed: message.loss.dropoutSeed, teacherLogits });
          await lossValue.data();
          lossValue.dispose();
        }
        forward += performance.now() - forwardStarted;
        load(net.buffers, bufferLayout, memory.buffers);
        started = performance.now();
        let captured: ReturnType<typeof computeGradients> | undefined;
        const info = await tf.profile(() => {
          captured = run();
          return [...captured.grads.values()];
        });
        result = captured!;
        for (const kernel of info.kernels) {
          const ms = typeof kernel.kernelTimeMs === 'number' ? kernel.kernelTimeMs : 0;
          kernels[kernel.name] = (kernels[kernel.name] ?? 0) + ms;
        }
      } else {
        result = run();
      }
      // Scale and write inside compute: wasm runs synchronously, so this is when the work is finished.
      const base = shard * parameterLayout.size;
      for (const [index, slot] of parameterLayout.slots.entries()) {
        const grad = result.grads.get(slot.name);
        if (grad === undefined) memory.gradients.fill(0, base + slot.offset, base + slot.offset + slot.size);
        else {
          const scaled = tf.mul(grad, weight);
          readInto(scaled, memory.gradients, base + slot.offset);
          tf.dispose([scaled, grad]);
        }
        memory.touched[shard * parameterLayout.slots.length + index] = grad === undefined ? 0 : 1;
      }
      tf.dispose([images, ...(teacherLogits ? [teacherLogits] : [])]);
      timings.compute += performance.now() - started;
      started = performance.now();
      store(net.buffers, bufferLayout, memory.shardBuffers, shard * bufferLayout.size);
      timings.write += performance.now() - started;
      results.push({ shard, losses: result.losses });
    }
    return { type: 'done', id: message.id, results, timings, ...(message.profile ? { kernels, forward } : {}) };
  }

  port!.on('message', (message: ToWorker) => {
    if (message.type === 'close') {
      net.dispose();
      teacher?.net.dispose();
      port!.close();
      return;
    }
    if (message.type === 'teacher') {
      try {
        setTeacher(message);
        send({ type: 'teacher-ready' });
      } catch (error) {
        send({ type: 'error', message: (error as Error).message });
      }
      return;
    }
    if (message.type === 'evaluate') {
      try {
        send(evaluate(message));
      } catch (error) {
        const e = error as { message?: string; code?: string };
        send({ type: 'error', id: message.id, message: e?.message ?? String(error), code: e?.code });
      }
      return;
    }
    if (message.type === 'attach') {
      shared = message;
      void (async () => {
        if (message.writeInitial) {
          store(net.parameters, parameterLayout, message.parameters, 0);
          store(net.buffers, bufferLayout, message.buffers, 0);
        }
        send({ type: 'attached' });
      })();
      return;
    }
    step(message).then(send, (error: unknown) => {
      const e = error as { message?: string; code?: string };
      send({ type: 'error', id: message.id, message: e?.message ?? String(error), code: e?.code });
    });
  });
}

main().catch((error: unknown) => {
  const e = error as { message?: string; code?: string };
  send({ type: 'error', message: e?.message ?? String(error), code: e?.code });
});
