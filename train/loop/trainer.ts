// The training loop (issue 4): one phase description (allowed values, subnets per step, LR schedule,
// teacher) drives sampling, the data-parallel step, SGD, evaluation and checkpoints. Resumable: a
// checkpoint holds parameters, BN statistics, momentum, the data iterator position and the step, and
// every random choice of a step is derived from (seed, step), so `--resume` continues exactly where
// the run stopped (the same next batch, subnets, dropout masks and learning rate).
import { mkdirSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import { OfaError } from '../../lib/errors.ts';
import { ProgressBar, formatDuration } from '../../lib/progress.ts';
import { createRng } from '../../lib/rng.ts';
import { configId, sampleMax, sampleMin, sampleRandom, type SubnetConfig } from '../../space/index.ts';
import { initBackend, type BackendPreference } from '../backend/index.ts';
import { latestCheckpoint, loadCheckpoint, supernetWeights } from '../checkpoint/index.ts';
import { readSupernetCheckpoint, supernetShapes } from '../open.ts';
import { BatchIterator, PRESET_DATASETS, deriveSeed, loadDataset, subsetImages, type DatasetSplits } from '../data/index.ts';
import { SgdOptimizer, learningRate, scheduleSteps, type LearningRateSchedule } from '../optim/index.ts';
import { trainStep } from './step.ts';
import { ParallelTrainer } from '../parallel/index.ts';
import { EXIT_WEIGHTS, Supernet } from '../supernet/index.ts';
import { CheckpointWriter } from './checkpoints.ts';
import { assignVariables, type EvalResult } from './evaluate.ts';
import { getPhase, type Phase } from './phases.ts';
import { RunLog } from './run-log.ts';
import { prepareTeacher, type Teacher, type TeacherMode } from './teacher.ts';
import { validate, validationPlan, type ValidationPlan } from './validation.ts';

export interface TrainOptions {
  preset: string;
  variant: string;
  /** Phase name (train/loop/phases.ts); its allowed values, subnets per step and LR are used. */
  phase: string;
  /** Epochs of this run (the cosine part); the warm-up comes on top (ofav2.md s3). */
  epochs: number;
  /** Warm-up epochs at the constant base LR before `epochs` (default: the phase's, scaled by epochs / phase.epochs). */
  warmupEpochs?: number;
  outDir: string;
  resume?: boolean;
  batchSize?: number;
  seed?: number;
  /** Use only this many training images (a seeded subset). */
  maxTrainImages?: number;
  /** Images held out of the training split for validation (default 5000). */
  validationSize?: number;
  /** Validation images used per evaluation (default: the whole validation split, ofav2.md s3). */
  evalImages?: number;
  /** Subnets validated per epoch, drawn from the phase's grid (default 8; train/loop/validation.ts). */
  validationSubnets?: number;
  /** Images for BN recalibration before each evaluation (default 2000, ofav2.md s3). */
  recalibrationImages?: number;
  /** Evaluate every N epochs (default 1; 0 = only at the end). */
  evalEvery?: number;
  /** Subnets to evaluate (default: the phase's validation grid). */
  evalSubnets?: SubnetConfig[];
  /** Also save a checkpoint every N steps (default: only at epoch ends, and every 200 steps). */
  checkpointEverySteps?: number;
  /** Keep this many step checkpoints (default 2). */
  keepCheckpoints?: number;
  /** Override the phase's base learning rate. */
  baseLr?: number;
  labelSmoothing?: number;
  /** Teacher: a checkpoint or phase folder (its best, else latest), as its recalibrated maximal subnet (ENS-KD over all exits for EE). */
  teacher?: string;
  /** How the teacher runs (ofav2.md s3): 'pet' (dropout 0.1, default) or 'baseline' (dropout 0); training-mode BN either way. */
  teacherMode?: TeacherMode;
  /** Start from this checkpoint's weights (the previous phase), with a fresh optimiser and schedule. */
  init?: string;
  workers?: number;
  shards?: number;
  backend?: BackendPreference;
  /** Data: the data set's folder (CIFAR-10, Tiny ImageNet), the cache folder. */
  dataDir?: string;
  cacheDir?: string;
  /**
   * Run on this parallel trainer (of the same preset, variant, seed and shards) instead of starting one;
   * it is not closed. Without init or resume its current weights are where training starts.
   */
  trainer?: ParallelTrainer;
  /** Inject the data (tests): replaces loading the preset's data set. */
  data?: DatasetSplits;
  /** Stop (as if killed, after the step's checkpoint logic) once this many steps have run in total. */
  stopAfterStep?: number;
  /** Prefix of the progress label (the EPS schedule puts the phase's position there). */
  label?: string;
  /** Called after every step with the steps done and the total (the EPS schedule's ETA). */
  onStep?: (done: number, total: number) => void;
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
  evaluations: { epoch: number; step: number; results: EvalResult[]; score: number; seconds: number }[];
  /** Seconds spent in per-epoch validation. */
  validationSeconds: number;
  teacher?: { checkpoint: string; phase: string; dropoutRate: number };
  lastCheckpoint?: string;
  stepsDone: number;
  totalSteps: number;
  seconds: number;
  imagesPerSecond: number;
}

/**
 * The learning-rate schedule of a run (ofav2.md s3, as the paper's code runs it): `warmupEpochs` at the
 * constant base LR (default: the phase's, scaled to the run's epochs), then the cosine over `epochs`.
 */
export function scheduleOf(phase: Phase, epochs: number, stepsPerEpoch: number, baseLr?: number, warmupEpochs?: number): LearningRateSchedule {
  return { baseLr: baseLr ?? phase.baseLr, warmupEpochs: warmupEpochs ?? (phase.warmupEpochs * epochs) / phase.epochs, epochs, stepsPerEpoch, warmup: 'constant-on-top' };
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

/** Refuses a run folder that does not fit the request (an existing run without --resume, and the reverse). */
function checkRunFolder(options: TrainOptions): string | undefined {
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
  return existing;
}

/** The settings a resumed run must share with the run that wrote the checkpoint. */
function runIdentity(options: TrainOptions, phase: Phase, batchSize: number, seed: number, warmupEpochs: number): Record<string, unknown> {
  return { phase: phase.name, epochs: options.epochs, warmupEpochs, batchSize, seed, maxTrainImages: options.maxTrainImages ?? null, teacherMode: options.teacher ? (options.teacherMode ?? 'pet') : null };
}

function checkResumeIdentity(outDir: string, saved: Record<string, unknown>, now: Record<string, unknown>): void {
  for (const [key, value] of Object.entries(now)) {
    if (saved[key] !== undefined && saved[key] !== value) {
      throw new OfaError('E_RESUME_MISMATCH', `--resume: the run in ${JSON.stringify(outDir)} was started with ${key} ${JSON.stringify(saved[key])}, not ${JSON.stringify(value)}`, {
        hint: `resume with the same ${key}, or start a new run in another --out folder`,
      });
    }
  }
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
  const existing = checkRunFolder(options);
  if (!options.data && PRESET_DATASETS[options.preset] === undefined) {
    throw new OfaError('E_PRESET_DATA', `preset ${JSON.stringify(options.preset)} has no data set to train on; allowed: ${Object.keys(PRESET_DATASETS).join(', ')}`, {
      hint: `the ${options.preset} preset is for tests, which generate their data`,
    });
  }
  const backend = await initBackend({ prefer: options.backend ?? 'auto', log: !options.quiet });
  // Inputs that name other folders are read before the run folder is created (nothing left behind on bad input).
  const initWeights = !existing && options.init ? readSupernetCheckpoint(options.init, { expectPreset: options.preset, expectVariant: options.variant }) : undefined;
  const data =
    options.data ??
    loadDataset(PRESET_DATASETS[options.preset], {
      dir: options.dataDir,
      cacheDir: options.cacheDir,
      validationSize: options.validationSize,
      log: options.quiet ? undefined : log,
    });
  const trainSet = subsetImages(data.train, options.maxTrainImages, seed);
  const heldOut = data.validation.count > 0 ? data.validation : data.test;
  let teacher: Teacher | undefined;
  if (options.teacher) {
    teacher = prepareTeacher(options.teacher, { preset: options.preset, variant: options.variant, mode: options.teacherMode ?? 'pet', calibration: trainSet, spec: data.spec, recalibrationImages: options.recalibrationImages, seed });
  }
  mkdirSync(options.outDir, { recursive: true });
  const runLog = new RunLog(options.outDir);

  const iterator = new BatchIterator(trainSet, data.spec, { batchSize, seed, resolutions: phase.dimensions.resolutions });
  const stepsPerEpoch = iterator.batchesPerEpoch;
  const schedule = scheduleOf(phase, options.epochs, stepsPerEpoch, options.baseLr, options.warmupEpochs);
  const totalSteps = scheduleSteps(schedule);
  const warmupSteps = totalSteps - options.epochs * stepsPerEpoch;
  const identity = runIdentity(options, phase, batchSize, seed, schedule.warmupEpochs);

  const optimizer = new SgdOptimizer();
  // A borrowed trainer (the EPS schedule's, one for all its phases) must be of this supernet; its
  // weights are replaced below (init or resume) and it is left open.
  const borrowed = options.trainer;
  if (borrowed && borrowed.shards !== (options.shards ?? 2)) throw new Error(`train: the given trainer has ${borrowed.shards} shards, not ${options.shards ?? 2}`);
  const trainer = borrowed ?? (await ParallelTrainer.create({ preset: options.preset, variant: options.variant, seed, workers: options.workers, shards: options.shards, backend: options.backend }));
  // The main thread's copy of the supernet: its variable shapes, and the channel sort of the expand phases.
  const net = new Supernet({ preset: options.preset, variant: options.variant, seed });
  const shapes = supernetShapes(net);
  const writer = new CheckpointWriter(options.outDir, new Map([...shapes.parameters, ...shapes.buffers]), options.keepCheckpoints ?? 2);
  const plan: ValidationPlan = options.evalSubnets
    ? { subnets: options.evalSubnets, ensemble: false }
    : validationPlan(options.preset, options.variant, phase, { maxSubnets: options.validationSubnets, seed });
  const result: TrainResult = { outDir: options.outDir, steps: [], evaluations: [], validationSeconds: 0, stepsDone: 0, totalSteps, seconds: 0, imagesPerSecond: 0 };
  try {
    if (teacher) {
      await trainer.setTeacher({ parameters: teacher.parameters, buffers: teacher.buffers, config: teacher.config, ensemble: teacher.ensemble, dropoutRate: teacher.dropoutRate });
      result.teacher = { checkpoint: teacher.checkpoint, phase: teacher.phase, dropoutRate: teacher.dropoutRate };
      log(`teacher: ${teacher.checkpoint} (phase ${teacher.phase}), maximal subnet${teacher.ensemble ? ' (ENS-KD over its 5 exits)' : ''}, BN recalibrated, training mode, dropout ${teacher.dropoutRate}`);
    }
    let step = 0;
    if (existing) {
      const checkpoint = loadCheckpoint(existing, { expectPreset: options.preset, expectVariant: options.variant });
      checkResumeIdentity(options.outDir, ((checkpoint.manifest.extra as { run?: Record<string, unknown> } | undefined)?.run) ?? {}, identity);
      const weights = supernetWeights(checkpoint, shapes);
      trainer.load({ parameters: weights.parameters, buffers: weights.buffers });
      for (const [name, values] of weights.momentum) optimizer.momentum.set(name, Float32Array.from(values));
      iterator.restore(checkpoint.manifest.dataState as never);
      step = checkpoint.manifest.step;
      result.lastCheckpoint = existing;
      // A kill between a save and its best mark: the saved validation still competes.
      const saved = (checkpoint.manifest.metrics as { validation?: { score?: number } }).validation?.score;
      if (typeof saved === 'number') writer.offerBest(existing, saved, { epoch: checkpoint.manifest.epoch, step });
      log(`resumed from ${existing} at step ${step}/${totalSteps} (epoch ${checkpoint.manifest.epoch})`);
      runLog.record({ event: 'resume', checkpoint: existing, step });
    } else {
      if (initWeights) {
        // ofav2.md s3: a phase starts from the network the phase before it produced (its best checkpoint).
        trainer.load({ parameters: initWeights.weights.parameters, buffers: initWeights.weights.buffers });
        log(`initialised from ${initWeights.checkpoint.dir} (phase ${initWeights.checkpoint.manifest.phase}, step ${initWeights.checkpoint.manifest.step})`);
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
      runLog.record({ event: 'start', preset: options.preset, variant: options.variant, phase: phase.name, epochs: options.epochs, warmupEpochs: schedule.warmupEpochs, dropout: phase.dropout, batchSize, seed, stepsPerEpoch, totalSteps, backend: backend.name, trainImages: trainSet.count, validationImages: data.validation.count, validationSubnets: plan.subnets.map(configId), teacher: result.teacher ?? null });
    }
    log(`training ${options.preset}/${options.variant} phase ${phase.name}: ${warmupSteps > 0 ? `${warmupSteps} warm-up steps + ` : ''}${options.epochs} epochs x ${stepsPerEpoch} steps of ${batchSize} images (${trainSet.count} training images), backend ${backend.name}, ${trainer.workerCount} worker(s), ${trainer.shards} BN shard(s), validating ${plan.subnets.length} subnet(s) per epoch`);

    const checkpointEvery = options.checkpointEverySteps ?? 200;
    const diverged = (what: string): never => {
      runLog.record({ event: 'non-finite', step, what });
      throw new OfaError('E_NON_FINITE', `training diverged: ${what}; stopped without saving`, {
        hint: result.lastCheckpoint ? `the last good checkpoint is ${result.lastCheckpoint}; resume from it with a lower --lr` : 'lower the learning rate (--lr)',
        kind: 'failure',
      });
    };
    // Epochs count from the end of the warm-up; the warm-up steps belong to epoch 0.
    const epochOf = (s: number) => Math.max(0, Math.floor((s - warmupSteps) / stepsPerEpoch));
    const save = (epoch: number, metrics: Record<string, unknown>): string => {
      const saved = writer.save(
        { parameters: trainer.getParameters(), buffers: trainer.getBuffers(), momentum: optimizer.momentum },
        {
          preset: options.preset,
          variant: options.variant,
          phase: phase.name,
          epoch,
          step,
          seed,
          dataState: iterator.state(),
          optimizer: {
            name: 'sgd',
            hyperparameters: { momentum: 0.9, nesterov: true, weightDecay: 3e-5, baseLr: schedule.baseLr, warmupEpochs: schedule.warmupEpochs, warmup: 'constant-on-top', epochs: schedule.epochs, stepsPerEpoch },
            state: { momentumBuffers: optimizer.momentum.size },
          },
          metrics,
          extra: { run: identity, phaseDescription: phase },
        },
      );
      if ('nonFinite' in saved) return diverged(`${saved.nonFinite} holds NaN or Inf at step ${step}`);
      result.lastCheckpoint = saved.dir;
      runLog.record({ event: 'checkpoint', dir: saved.dir, step, epoch });
      return saved.dir;
    };

    const progress = new ProgressBar({ label: `${options.label ?? ''}${phase.name}`, total: totalSteps - step, unit: 'steps', quiet: options.quiet });
    let epochLossSum = 0;
    let epochSteps = 0;
    let epochStarted = performance.now();
    let imagesSeen = 0;
    const runStarted = performance.now();
    while (step < totalSteps) {
      const batch = await iterator.next();
      const epoch = epochOf(step);
      const configs = stepSubnets({ preset: options.preset, variant: options.variant, seed }, phase, step, batch.resolution);
      const lr = learningRate(schedule, step);
      let outcome: Awaited<ReturnType<typeof trainStep>>;
      try {
        outcome = await trainStep(
          trainer,
          optimizer,
          configs,
          { images: batch.images, imageShape: [batch.size, batch.resolution, batch.resolution, batch.channels], labels: batch.labels, teacher: teacher ? { seed: deriveSeed(seed, 0x7ea, step) } : undefined },
          {
            lr,
            labelSmoothing: options.labelSmoothing ?? 0.1,
            exitWeights: phase.allExits ? EXIT_WEIGHTS : undefined,
            dropout: true,
            dropoutRate: phase.dropout,
            dropoutSeed: deriveSeed(seed, 0xd80, step),
          },
        );
      } catch (error) {
        // trainStep refuses a non-finite loss or gradient before touching the parameters.
        if (error instanceof OfaError && error.code === 'E_NON_FINITE') diverged(`at step ${step + 1} (epoch ${epoch + 1}) ${error.message}`);
        throw error;
      }
      step++;
      imagesSeen += batch.size;
      epochLossSum += outcome.loss;
      epochSteps++;
      const entry: StepRecord = { step, epoch: epoch + 1, loss: outcome.loss, lr, resolution: batch.resolution, subnets: configs.map(configId) };
      result.steps.push(entry);
      if (step % 10 === 0 || step === totalSteps) runLog.record({ event: 'step', ...entry, imagesPerSecond: imagesSeen / ((performance.now() - runStarted) / 1000) });
      progress.tick(1, { loss: outcome.loss, lr, 'img/s': imagesSeen / ((performance.now() - runStarted) / 1000) });
      options.onStep?.(step, totalSteps);

      const epochDone = step > warmupSteps && (step - warmupSteps) % stepsPerEpoch === 0;
      if (epochDone) {
        const epochNumber = (step - warmupSteps) / stepsPerEpoch;
        const seconds = (performance.now() - epochStarted) / 1000;
        const evalNow = (options.evalEvery ?? 1) > 0 ? epochNumber % (options.evalEvery ?? 1) === 0 || step === totalSteps : step === totalSteps;
        let validation: Awaited<ReturnType<typeof validate>> | undefined;
        if (evalNow) {
          validation = await validate((jobs) => trainer.evaluate(jobs), plan, { calibration: trainSet, set: heldOut, spec: data.spec }, { recalibrationImages: options.recalibrationImages, maxImages: options.evalImages, seed });
          result.validationSeconds += validation.seconds;
          result.evaluations.push({ epoch: epochNumber, step, results: validation.results, score: validation.score, seconds: validation.seconds });
          runLog.record({ event: 'eval', epoch: epochNumber, step, score: validation.score, seconds: validation.seconds, ensemble: plan.ensemble, results: validation.results.map(({ id, config, top1, loss, images }) => ({ id, resolution: config.resolution, exit: config.exit, top1, loss, images })) });
        }
        const results = validation?.results ?? [];
        const metrics = {
          trainLoss: epochLossSum / epochSteps,
          seconds,
          imagesPerSecond: (epochSteps * batchSize) / seconds,
          eval: results.map((r) => ({ id: r.id, top1: r.top1 })),
          ...(validation ? { validation: { score: validation.score, subnets: results.length, ensemble: plan.ensemble, seconds: validation.seconds } } : {}),
        };
        runLog.record({ event: 'epoch', epoch: epochNumber, step, ...metrics });
        const dir = save(epochNumber, metrics);
        const isBest = validation ? writer.offerBest(dir, validation.score, { epoch: epochNumber, step }) : false;
        if (isBest) runLog.record({ event: 'best', dir, epoch: epochNumber, step, score: validation!.score });
        log(
          `epoch ${epochNumber}/${options.epochs}: train loss ${(epochLossSum / epochSteps).toFixed(4)}, ${formatDuration(seconds)}, ${metrics.imagesPerSecond.toFixed(1)} img/s` +
            (validation ? `; validation ${(100 * validation.score).toFixed(2)}% mean top-1 of ${results.length} subnet(s)${plan.ensemble ? ' (exit ensemble)' : ''} in ${formatDuration(validation.seconds)}${isBest ? ' (best so far)' : ''}` : ''),
        );
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
    if (step >= totalSteps) runLog.record({ event: 'done', step, seconds: result.seconds, validationSeconds: result.validationSeconds });
    return result;
  } finally {
    if (!borrowed) await trainer.close();
    net.dispose();
  }
}

export { runLogPath } from './run-log.ts';
