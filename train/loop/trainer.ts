// The training loop (issue 4): one phase description (allowed values, subnets per step, LR schedule,
// teacher) drives sampling, the data-parallel step, SGD, evaluation and checkpoints. Resumable: a
// checkpoint holds parameters, BN statistics, momentum, the data iterator position and the step, and
// every random choice of a step is derived from (seed, step), so `--resume` continues exactly where
// the run stopped (the same next batch, subnets, dropout masks and learning rate).
import { appendFileSync, existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { OfaError } from '../../lib/errors.ts';
import { ProgressBar, formatDuration } from '../../lib/progress.ts';
import { createRng } from '../../lib/rng.ts';
import { configId, sampleMax, sampleMin, sampleRandom, type SubnetConfig } from '../../space/index.ts';
import { initBackend, type BackendPreference } from '../backend/index.ts';
import {
  BUFFER_PREFIX,
  MOMENTUM_PREFIX,
  PARAM_PREFIX,
  latestCheckpoint,
  loadCheckpoint,
  pruneCheckpoints,
  saveCheckpoint,
  type TensorMap,
} from '../checkpoint/index.ts';
import { BatchIterator, PRESET_DATASETS, deriveSeed, loadDataset, subsetImages, type DatasetSplits } from '../data/index.ts';
import { firstNonFinite, learningRate, type LearningRateSchedule } from '../optim/index.ts';
import { ParallelTrainer } from '../parallel/index.ts';
import { EXIT_WEIGHTS, Supernet } from '../supernet/index.ts';
import { assignVariables, evaluateSubnet, type EvalResult } from './evaluate.ts';
import { getPhase, type Phase } from './phases.ts';

export interface TrainOptions {
  preset: string;
  variant: string;
  /** Phase name (train/loop/phases.ts); its allowed values, subnets per step and LR are used. */
  phase: string;
  /** Epochs of this run; the phase's warm-up is scaled by epochs / phase.epochs (ratios kept). */
  epochs: number;
  outDir: string;
  resume?: boolean;
  batchSize?: number;
  seed?: number;
  /** Use only this many training images (a seeded subset). */
  maxTrainImages?: number;
  /** Images held out of the training split for validation (default 5000). */
  validationSize?: number;
  /** Validation images used per evaluation (default 2000). */
  evalImages?: number;
  /** Images for BN recalibration before each evaluation (default 2000, ofav2.md s3). */
  recalibrationImages?: number;
  /** Evaluate every N epochs (default 1; 0 = only at the end). */
  evalEvery?: number;
  /** Subnets to evaluate (default: the phase's max and min). */
  evalSubnets?: SubnetConfig[];
  /** Also save a checkpoint every N steps (default: only at epoch ends, and every 200 steps). */
  checkpointEverySteps?: number;
  /** Keep this many step checkpoints (default 2). */
  keepCheckpoints?: number;
  /** Override the phase's base learning rate. */
  baseLr?: number;
  labelSmoothing?: number;
  /** Teacher checkpoint (its maximal configuration; ENS-KD over all exits for EE variants). */
  teacher?: string;
  /** Start from this checkpoint's weights (the previous phase), with a fresh optimiser and schedule. */
  init?: string;
  workers?: number;
  shards?: number;
  backend?: BackendPreference;
  /** Data: the data set's folder (CIFAR-10, Tiny ImageNet), the cache folder. */
  dataDir?: string;
  cacheDir?: string;
  /** Inject the data (tests): replaces loading the preset's data set. */
  data?: DatasetSplits;
  /** Stop (as if killed, after the step's checkpoint logic) once this many steps have run in total. */
  stopAfterStep?: number;
  /** Progress and epoch lines (default: stderr). */
  log?: (line: string) => void;
  quiet?: boolean;
}

export interface StepRecord {
  step: number;
  epoch: number;
  loss: number;
  lr: number;
  resolution: number;
  subnets: string[];
}

export interface TrainResult {
  outDir: string;
  steps: StepRecord[];
  evaluations: { epoch: number; step: number; results: EvalResult[] }[];
  lastCheckpoint?: string;
  stepsDone: number;
  totalSteps: number;
  seconds: number;
  imagesPerSecond: number;
}

const RUN_LOG = 'log.jsonl';

function tensorsOf(values: Map<string, Float32Array>, shapes: Map<string, number[]>, prefix: string, into: TensorMap): void {
  for (const [name, data] of values) into.set(`${prefix}${name}`, { shape: shapes.get(name) ?? [data.length], data });
}

function group(tensors: TensorMap, prefix: string): Map<string, Float32Array> {
  const out = new Map<string, Float32Array>();
  for (const [name, tensor] of tensors) if (name.startsWith(prefix)) out.set(name.slice(prefix.length), tensor.data);
  return out;
}

/** The learning-rate schedule of a run: the phase's, with its warm-up scaled to the run's epochs. */
export function scheduleOf(phase: Phase, epochs: number, stepsPerEpoch: number, baseLr?: number): LearningRateSchedule {
  return { baseLr: baseLr ?? phase.baseLr, warmupEpochs: (phase.warmupEpochs * epochs) / phase.epochs, epochs, stepsPerEpoch };
}

/** The subnets of one step: a pure function of (seed, step) and the batch's resolution. */
export function stepSubnets(options: { preset: string; variant: string; seed: number }, phase: Phase, step: number, resolution: number): SubnetConfig[] {
  const dimensions = { ...phase.dimensions, resolutions: [resolution] };
  const space = { preset: options.preset, variant: options.variant, dimensions };
  // The full phase trains the largest network only (ofav2.md s3).
  if (phase.name === 'full') return [sampleMax(space)];
  const rng = createRng(deriveSeed(options.seed, 0x5ab, step));
  return Array.from({ length: phase.subnetsPerStep }, () => sampleRandom(space, rng));
}

export async function train(options: TrainOptions): Promise<TrainResult> {
  const started = performance.now();
  const log = options.quiet ? () => {} : (options.log ?? ((line: string) => process.stderr.write(`${line}\n`)));
  const seed = options.seed ?? 0;
  const batchSize = options.batchSize ?? 64;
  const phase = getPhase(options.preset, options.variant, options.phase);
  if (!Number.isInteger(options.epochs) || options.epochs < 1) {
    throw new OfaError('E_EPOCHS', `epochs ${options.epochs} is not allowed; allowed: an integer >= 1`);
  }
  const existing = latestCheckpoint(options.outDir);
  if (existing && !options.resume) {
    throw new OfaError('E_RUN_EXISTS', `run folder ${JSON.stringify(options.outDir)} already holds a checkpoint (${existing})`, {
      hint: 'pass --resume to continue it, or choose another --out folder',
    });
  }
  if (!existing && options.resume) {
    // A typo in --out must not silently restart a long run from scratch.
    throw new OfaError('E_RESUME_NONE', `--resume: run folder ${JSON.stringify(options.outDir)} holds no complete checkpoint to resume from`, {
      hint: 'check --out, or run without --resume to start a new run there',
    });
  }
  if (!options.data && PRESET_DATASETS[options.preset] === undefined) {
    throw new OfaError('E_PRESET_DATA', `preset ${JSON.stringify(options.preset)} has no data set to train on; allowed: ${Object.keys(PRESET_DATASETS).join(', ')}`, {
      hint: `the ${options.preset} preset is for tests, which generate their data`,
    });
  }
  mkdirSync(options.outDir, { recursive: true });
  const logPath = join(options.outDir, RUN_LOG);
  const record = (entry: Record<string, unknown>) => appendFileSync(logPath, `${JSON.stringify({ time: new Date().toISOString(), ...entry })}\n`);

  const backend = await initBackend({ prefer: options.backend ?? 'auto', log: !options.quiet });
  const data =
    options.data ??
    loadDataset(PRESET_DATASETS[options.preset], {
      dir: options.dataDir,
      cacheDir: options.cacheDir,
      validationSize: options.validationSize,
      log: options.quiet ? undefined : log,
    });
  const trainSet = subsetImages(data.train, options.maxTrainImages, seed);
  const iterator = new BatchIterator(trainSet, data.spec, { batchSize, seed, resolutions: phase.dimensions.resolutions });
  const stepsPerEpoch = iterator.batchesPerEpoch;
  const totalSteps = stepsPerEpoch * options.epochs;
  const schedule = scheduleOf(phase, options.epochs, stepsPerEpoch, options.baseLr);

  const trainer = await ParallelTrainer.create({ preset: options.preset, variant: options.variant, seed, workers: options.workers, shards: options.shards, backend: options.backend });
  // The main thread's copy of the supernet: evaluation and the teacher's forward.
  const net = new Supernet({ preset: options.preset, variant: options.variant, seed });
  const shapes = new Map([...net.parameters, ...net.buffers].map(([name, v]) => [name, [...v.shape]]));
  let teacher: Supernet | undefined;
  let teacherConfig: SubnetConfig | undefined;
  const result: TrainResult = { outDir: options.outDir, steps: [], evaluations: [], stepsDone: 0, totalSteps, seconds: 0, imagesPerSecond: 0 };
  try {
    if (options.teacher) {
      // A run folder stands for its latest checkpoint, as for --init.
      const checkpoint = loadCheckpoint(latestCheckpoint(options.teacher) ?? options.teacher, { expectPreset: options.preset, expectVariant: options.variant });
      log(`teacher: ${checkpoint.dir} (phase ${checkpoint.manifest.phase}, step ${checkpoint.manifest.step})`);
      teacher = new Supernet({ preset: options.preset, variant: options.variant, seed });
      assignVariables(teacher.parameters, group(checkpoint.tensors, PARAM_PREFIX));
      assignVariables(teacher.buffers, group(checkpoint.tensors, BUFFER_PREFIX));
      teacherConfig = sampleMax({ preset: options.preset, variant: options.variant });
    }

    let step = 0;
    if (existing) {
      const checkpoint = loadCheckpoint(existing, { expectPreset: options.preset, expectVariant: options.variant });
      const saved = checkpoint.manifest.extra as { run?: Record<string, unknown> } | undefined;
      const run = saved?.run ?? {};
      for (const [key, value] of Object.entries({ phase: phase.name, epochs: options.epochs, batchSize, seed, maxTrainImages: options.maxTrainImages ?? null })) {
        if (run[key] !== undefined && run[key] !== value) {
          throw new OfaError('E_RESUME_MISMATCH', `--resume: the run in ${JSON.stringify(options.outDir)} was started with ${key} ${JSON.stringify(run[key])}, not ${JSON.stringify(value)}`, {
            hint: `resume with the same ${key}, or start a new run in another --out folder`,
          });
        }
      }
      trainer.load({ parameters: group(checkpoint.tensors, PARAM_PREFIX), buffers: group(checkpoint.tensors, BUFFER_PREFIX) });
      const momentum = trainer.optimizerState;
      momentum.clear();
      for (const [name, data] of group(checkpoint.tensors, MOMENTUM_PREFIX)) momentum.set(name, Float32Array.from(data));
      iterator.restore(checkpoint.manifest.dataState as never);
      step = checkpoint.manifest.step;
      result.lastCheckpoint = existing;
      log(`resumed from ${existing} at step ${step}/${totalSteps} (epoch ${checkpoint.manifest.epoch})`);
      record({ event: 'resume', checkpoint: existing, step });
    } else {
      if (options.init) {
        // ofav2.md s3: a phase starts from the network the phase before it produced.
        const checkpoint = loadCheckpoint(latestCheckpoint(options.init) ?? options.init, { expectPreset: options.preset, expectVariant: options.variant });
        trainer.load({ parameters: group(checkpoint.tensors, PARAM_PREFIX), buffers: group(checkpoint.tensors, BUFFER_PREFIX) });
        log(`initialised from ${checkpoint.dir} (phase ${checkpoint.manifest.phase}, step ${checkpoint.manifest.step})`);
      }
      if (phase.name === 'expand-1' || phase.name === 'expand-2') {
        // ofav2.md s2: channels are sorted by importance at the start of each expand phase; the sort
        // keeps the expand ratios trained so far exact (train/supernet/sort.ts).
        assignVariables(net.parameters, trainer.getParameters());
        assignVariables(net.buffers, trainer.getBuffers());
        net.sortChannels(phase.name === 'expand-2' ? { keepExpandRatios: [4, 6] } : {});
        const read = (variables: Map<string, tf.Variable>) => new Map([...variables].map(([name, v]) => [name, v.dataSync() as Float32Array]));
        trainer.load({ parameters: read(net.parameters), buffers: read(net.buffers) });
        log('channels sorted by importance for the expand phase');
      }
      record({ event: 'start', preset: options.preset, variant: options.variant, phase: phase.name, epochs: options.epochs, batchSize, seed, stepsPerEpoch, totalSteps, backend: backend.name, trainImages: trainSet.count, validationImages: data.validation.count });
    }
    log(`training ${options.preset}/${options.variant} phase ${phase.name}: ${options.epochs} epochs x ${stepsPerEpoch} steps of ${batchSize} images (${trainSet.count} training images), backend ${backend.name}, ${trainer.workerCount} worker(s), ${trainer.shards} BN shard(s)`);

    const checkpointEvery = options.checkpointEverySteps ?? 200;
    const diverged = (what: string): never => {
      record({ event: 'non-finite', step, what });
      throw new OfaError('E_NON_FINITE', `training diverged: ${what}; stopped without saving`, {
        hint: result.lastCheckpoint ? `the last good checkpoint is ${result.lastCheckpoint}; resume from it with a lower --lr` : 'lower the learning rate (--lr)',
        kind: 'failure',
      });
    };
    const save = (epoch: number, metrics: Record<string, unknown>) => {
      const parameters = trainer.getParameters();
      const buffers = trainer.getBuffers();
      // The NaN/Inf guard's second half: a non-finite value is never written over the last good checkpoint.
      const bad = firstNonFinite(parameters) ?? firstNonFinite(buffers);
      if (bad !== undefined) diverged(`${bad} holds NaN or Inf at step ${step}`);
      const tensors: TensorMap = new Map();
      tensorsOf(parameters, shapes, PARAM_PREFIX, tensors);
      tensorsOf(buffers, shapes, BUFFER_PREFIX, tensors);
      tensorsOf(trainer.optimizerState, shapes, MOMENTUM_PREFIX, tensors);
      const dir = join(options.outDir, `step-${String(step).padStart(7, '0')}`);
      saveCheckpoint(dir, {
        manifest: {
          preset: options.preset,
          variant: options.variant,
          phase: phase.name,
          epoch,
          step,
          seed,
          dataState: iterator.state(),
          optimizer: {
            name: 'sgd',
            hyperparameters: { momentum: 0.9, nesterov: true, weightDecay: 3e-5, baseLr: schedule.baseLr, warmupEpochs: schedule.warmupEpochs, epochs: schedule.epochs, stepsPerEpoch },
            state: { momentumBuffers: trainer.optimizerState.size },
          },
          metrics,
          extra: { run: { phase: phase.name, epochs: options.epochs, batchSize, seed, maxTrainImages: options.maxTrainImages ?? null }, phaseDescription: phase },
        },
        tensors,
      });
      pruneCheckpoints(options.outDir, options.keepCheckpoints ?? 2);
      result.lastCheckpoint = dir;
      record({ event: 'checkpoint', dir, step, epoch });
    };

    const evaluate = (epoch: number): EvalResult[] => {
      assignVariables(net.parameters, trainer.getParameters());
      const buffers = trainer.getBuffers();
      const subnets = options.evalSubnets ?? evalDefaults(options.preset, options.variant, phase);
      const results: EvalResult[] = [];
      for (const config of subnets) {
        assignVariables(net.buffers, buffers);
        const evaluation = evaluateSubnet(net, config, trainSet, data.validation.count > 0 ? data.validation : data.test, data.spec, {
          recalibrationImages: options.recalibrationImages,
          maxImages: options.evalImages ?? 2000,
          seed,
        });
        results.push(evaluation);
      }
      result.evaluations.push({ epoch, step, results });
      record({ event: 'eval', epoch, step, results: results.map(({ id, config, top1, loss, images }) => ({ id, resolution: config.resolution, exit: config.exit, top1, loss, images })) });
      return results;
    };

    const progress = new ProgressBar({ label: `${phase.name}`, total: totalSteps - step, unit: 'steps', quiet: options.quiet });
    let epochLossSum = 0;
    let epochSteps = 0;
    let epochStarted = performance.now();
    let imagesSeen = 0;
    const runStarted = performance.now();
    while (step < totalSteps) {
      const batch = await iterator.next();
      const epoch = Math.floor(step / stepsPerEpoch);
      const configs = stepSubnets({ preset: options.preset, variant: options.variant, seed }, phase, step, batch.resolution);
      const lr = learningRate(schedule, step);
      let teacherLogits: Float32Array | undefined;
      if (teacher && teacherConfig) {
        const config = { ...teacherConfig, resolution: batch.resolution };
        teacherLogits = tf.tidy(() => {
          const images = tf.tensor4d(batch.images, [batch.size, batch.resolution, batch.resolution, batch.channels]);
          // ofav2.md s3 ENS-KD: the teacher's exits, weighted by beta, for EE variants.
          const logits = teacher!.variant.earlyExits
            ? tf.addN(teacher!.forwardAllExits(config, images, { training: false }).map((z, i) => tf.mul(z, EXIT_WEIGHTS[i])))
            : teacher!.forward(config, images, { training: false });
          return logits.dataSync() as Float32Array;
        });
      }
      let outcome: Awaited<ReturnType<ParallelTrainer['step']>>;
      try {
        outcome = await trainer.step(
          configs,
          { images: batch.images, imageShape: [batch.size, batch.resolution, batch.resolution, batch.channels], labels: batch.labels, teacherLogits },
          {
            lr,
            labelSmoothing: options.labelSmoothing ?? 0.1,
            exitWeights: phase.allExits ? EXIT_WEIGHTS : undefined,
            dropout: true,
            dropoutSeed: deriveSeed(seed, 0xd80, step),
          },
        );
      } catch (error) {
        // ParallelTrainer.step refuses a non-finite loss or gradient before touching the parameters.
        if (error instanceof OfaError && error.code === 'E_NON_FINITE') diverged(`at step ${step + 1} (epoch ${epoch + 1}) ${error.message}`);
        throw error;
      }
      step++;
      imagesSeen += batch.size;
      epochLossSum += outcome.loss;
      epochSteps++;
      const entry: StepRecord = { step, epoch: epoch + 1, loss: outcome.loss, lr, resolution: batch.resolution, subnets: configs.map(configId) };
      result.steps.push(entry);
      if (step % 10 === 0 || step === totalSteps) record({ event: 'step', ...entry, imagesPerSecond: imagesSeen / ((performance.now() - runStarted) / 1000) });
      progress.tick(1, { loss: outcome.loss, lr, 'img/s': imagesSeen / ((performance.now() - runStarted) / 1000) });

      const epochDone = step % stepsPerEpoch === 0;
      if (epochDone) {
        const epochNumber = step / stepsPerEpoch;
        const seconds = (performance.now() - epochStarted) / 1000;
        const evalNow = (options.evalEvery ?? 1) > 0 ? epochNumber % (options.evalEvery ?? 1) === 0 || step === totalSteps : step === totalSteps;
        const results = evalNow ? evaluate(epochNumber) : [];
        const metrics = { trainLoss: epochLossSum / epochSteps, seconds, imagesPerSecond: (epochSteps * batchSize) / seconds, eval: results.map((r) => ({ id: r.id, top1: r.top1 })) };
        record({ event: 'epoch', epoch: epochNumber, step, ...metrics });
        log(
          `epoch ${epochNumber}/${options.epochs}: train loss ${(epochLossSum / epochSteps).toFixed(4)}, ${formatDuration(seconds)}, ${metrics.imagesPerSecond.toFixed(1)} img/s` +
            results.map((r) => `, top-1 ${(100 * r.top1).toFixed(2)}% (${r.config.resolution}px${r.config.exit ? ` exit ${r.config.exit}` : ''})`).join(''),
        );
        save(epochNumber, metrics);
        epochLossSum = 0;
        epochSteps = 0;
        epochStarted = performance.now();
      } else if (step % checkpointEvery === 0) {
        save(epoch, { trainLoss: epochLossSum / epochSteps });
      }
      if (options.stopAfterStep !== undefined && step >= options.stopAfterStep) break;
    }
    result.stepsDone = step;
    result.seconds = (performance.now() - started) / 1000;
    result.imagesPerSecond = imagesSeen / ((performance.now() - runStarted) / 1000);
    if (step >= totalSteps) record({ event: 'done', step, seconds: result.seconds });
    return result;
  } finally {
    await trainer.close();
    net.dispose();
    teacher?.dispose();
  }
}

/** The subnets evaluated at each epoch: the phase's largest and smallest (ofav2.md s3 names more). */
export function evalDefaults(preset: string, variant: string, phase: Phase): SubnetConfig[] {
  const space = { preset, variant, dimensions: phase.dimensions };
  const max = sampleMax(space);
  const min = sampleMin(space);
  return configId(max) === configId(min) ? [max] : [max, min];
}

export function runLogPath(outDir: string): string | undefined {
  const path = join(outDir, RUN_LOG);
  return existsSync(path) ? path : undefined;
}
