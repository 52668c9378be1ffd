// One training worker (train/parallel): its own tfjs backend and Supernet replica. Per step it loads
// the shared parameters, runs the shards it is given one after another (each from the same BN
// running statistics), and writes each shard's weighted gradient and BN statistics into shared memory.
import { parentPort, workerData } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend, readInto } from '../backend/index.ts';
import { Supernet, computeGradients, subnetLoss } from '../supernet/index.ts';
import { type Layout, layoutOf } from './layout.ts';
import type { AttachMessage, FromWorker, StepDone, StepMessage, ToWorker, WorkerInit } from './protocol.ts';

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
      const teacherLogits = message.teacherLogits.length > 0
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
      port!.close();
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
