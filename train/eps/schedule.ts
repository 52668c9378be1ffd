// Extended progressive shrinking from one command (ofav2.md s3): every phase of the variant in order,
// each initialised from the previous phase's best checkpoint, with the teacher the schedule asks for:
// `pet` (the previous phase's best, PET), `baseline` (the full phase's best throughout) or `none`.
// A state file (eps-state.json, written atomically) records each phase's status, epochs, best
// checkpoint and its validation, and its teacher; running the same command again resumes where the
// schedule stopped (a phase's own checkpoints carry step, batch and LR).
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { writeJsonAtomic } from '../../lib/atomic.ts';
import { OfaError } from '../../lib/errors.ts';
import { formatDuration } from '../../lib/progress.ts';
import { EPS_STATE_FILE, EPS_STATE_FORMAT, EPS_STATE_VERSION, EPS_TEACHERS, readEpsState, type EpsPhaseState, type EpsState, type EpsTeacher } from './state.ts';
import { bestRecord, latestCheckpoint } from '../checkpoint/index.ts';
import type { BackendPreference } from '../backend/index.ts';
import type { DatasetSplits } from '../data/index.ts';
import { phasesFor, scaledEpochs, type Phase } from '../loop/phases.ts';
import { stepSubnets, train, type TrainResult } from '../loop/trainer.ts';
import { ParallelTrainer } from '../parallel/index.ts';
import { sampleMax, subnetCost } from '../../space/index.ts';

// The state file's schema, type and reader (light: train/facts.ts reads it too).
export { EPS_STATE_FILE, EPS_STATE_FORMAT, EPS_STATE_VERSION, EPS_TEACHERS, type EpsTeacher, type EpsState, type EpsPhaseState } from './state.ts';

export interface EpsOptions {
  preset: string;
  variant: string;
  teacher: EpsTeacher;
  /** Share of the paper's epochs (0, 1]; each phase at least 1 epoch. */
  scale: number;
  outDir: string;
  seed?: number;
  batchSize?: number;
  maxTrainImages?: number;
  validationSize?: number;
  validationSubnets?: number;
  evalImages?: number;
  recalibrationImages?: number;
  checkpointEverySteps?: number;
  workers?: number;
  shards?: number;
  backend?: BackendPreference;
  dataDir?: string;
  cacheDir?: string;
  data?: DatasetSplits;
  /** Tests: stop (as if killed) once this many steps of the whole schedule have run. */
  stopAfterStep?: number;
  log?: (line: string) => void;
  quiet?: boolean;
}

/**
 * The cost of one step of a phase for the ETA: the MACs of the subnets it samples (50 sampled steps at
 * the largest resolution) over the maximal subnet's, plus a third of the maximal subnet for the
 * teacher's forward. Training time follows MACs only roughly; the ETA corrects itself as steps run.
 */
function stepWeight(preset: string, variant: string, phase: Phase, teacher: boolean): number {
  const resolution = phase.dimensions.resolutions[phase.dimensions.resolutions.length - 1];
  const max = subnetCost(sampleMax({ preset, variant })).macs;
  let total = 0;
  for (let step = 0; step < 50; step++) for (const config of stepSubnets({ preset, variant, seed: 0 }, phase, step, resolution)) total += subnetCost(config).macs;
  return total / 50 / max + (teacher ? 1 / 3 : 0);
}

export function planEps(options: Pick<EpsOptions, 'preset' | 'variant' | 'teacher' | 'scale'>): { phase: Phase; epochs: number; warmupEpochs: number; dir: string }[] {
  if (!(EPS_TEACHERS as readonly string[]).includes(options.teacher)) {
    throw new OfaError('E_ARGS', `--teacher ${JSON.stringify(options.teacher)} is not allowed; allowed: ${EPS_TEACHERS.join(', ')}`);
  }
  return phasesFor(options.preset, options.variant).map((phase, i) => ({ phase, ...scaledEpochs(phase, options.scale), dir: `${String(i + 1).padStart(2, '0')}-${phase.name}` }));
}

export interface EpsResult {
  outDir: string;
  state: EpsState;
  /** False when stopAfterStep stopped it early. */
  complete: boolean;
  seconds: number;
}

export async function trainEps(options: EpsOptions): Promise<EpsResult> {
  const started = performance.now();
  const log = options.quiet ? () => {} : (options.log ?? ((line: string) => process.stderr.write(`${line}\n`)));
  const plan = planEps(options);
  const outDir = resolve(options.outDir);
  const statePath = join(outDir, EPS_STATE_FILE);
  const seed = options.seed ?? 0;
  const batchSize = options.batchSize ?? 64;
  const fresh: EpsState = {
    format: EPS_STATE_FORMAT,
    formatVersion: EPS_STATE_VERSION,
    preset: options.preset,
    variant: options.variant,
    teacher: options.teacher,
    scale: options.scale,
    seed,
    batchSize,
    maxTrainImages: options.maxTrainImages ?? null,
    phases: plan.map(({ phase, epochs, warmupEpochs, dir }) => ({ name: phase.name, dir, status: 'pending', epochs, warmupEpochs, init: null, teacher: null, best: null, seconds: 0, validationSeconds: 0, imagesPerSecond: null })),
  };
  let state = fresh;
  if (existsSync(statePath)) {
    state = readEpsState(statePath);
    for (const key of ['preset', 'variant', 'teacher', 'scale', 'seed', 'batchSize', 'maxTrainImages'] as const) {
      if (state[key] !== fresh[key]) {
        throw new OfaError('E_EPS_MISMATCH', `${statePath}: the schedule in ${JSON.stringify(options.outDir)} was started with ${key} ${JSON.stringify(state[key])}, not ${JSON.stringify(fresh[key])}`, {
          hint: `rerun with the same ${key} to resume it, or choose another --out folder`,
        });
      }
    }
    log(`resuming the EPS schedule in ${options.outDir}: ${state.phases.filter((p) => p.status === 'done').length}/${state.phases.length} phases done`);
  } else if (existsSync(outDir) && latestCheckpoint(join(outDir, plan[0].dir)) !== undefined) {
    throw new OfaError('E_EPS_STATE', `${JSON.stringify(options.outDir)} holds phase checkpoints but no ${EPS_STATE_FILE}`, { hint: 'choose another --out folder' });
  }
  mkdirSync(outDir, { recursive: true });
  const save = () => writeJsonAtomic(statePath, state);
  save();

  // Schedule-wide progress: steps weighted by their cost, for the ETA.
  const epochsOf = (p: EpsPhaseState): number => p.epochs + p.warmupEpochs;
  const weights = plan.map(({ phase }, i) => stepWeight(options.preset, options.variant, phase, options.teacher !== 'none' && i > 0) * epochsOf(state.phases[i]));
  const totalWeight = weights.reduce((a, b) => a + b, 0);
  const doneWeight = () => state.phases.reduce((total, p, i) => total + (p.status === 'done' ? weights[i] : 0), 0);
  let stepsRun = 0;
  const runStarted = performance.now();
  let weightRunAtStart: number | undefined;

  // One set of worker threads for the whole schedule: each phase loads its own start weights into it.
  const trainer = await ParallelTrainer.create({ preset: options.preset, variant: options.variant, seed, workers: options.workers, shards: options.shards, backend: options.backend });
  try {
    for (const [index, { phase }] of plan.entries()) {
      const entry = state.phases[index];
      if (entry.status === 'done') continue;
      const previous = index > 0 ? state.phases[index - 1] : undefined;
      const init = previous ? join(outDir, previous.dir) : undefined;
      let teacherDir: string | undefined;
      if (index > 0 && options.teacher === 'pet') teacherDir = init;
      if (index > 0 && options.teacher === 'baseline') teacherDir = join(outDir, state.phases[0].dir);
      const phaseDir = join(outDir, entry.dir);
      entry.status = 'running';
      entry.init = previous ? (previous.best?.checkpoint ?? previous.dir) : null;
      save();
      const base = doneWeight();
      const label = `[${index + 1}/${plan.length}] `;
      log(`${label}phase ${phase.name}: ${entry.epochs} epoch(s)${entry.warmupEpochs > 0 ? ` + ${entry.warmupEpochs.toFixed(3)} warm-up` : ''}, init ${entry.init ?? 'random'}, teacher ${teacherDir ? `${options.teacher} (${teacherDir})` : 'none'}`);
      const result: TrainResult = await train({
        preset: options.preset,
        variant: options.variant,
        phase: phase.name,
        epochs: entry.epochs,
        warmupEpochs: entry.warmupEpochs,
        outDir: phaseDir,
        resume: latestCheckpoint(phaseDir) !== undefined,
        init,
        teacher: teacherDir,
        teacherMode: options.teacher === 'baseline' ? 'baseline' : 'pet',
        seed,
        batchSize,
        maxTrainImages: options.maxTrainImages,
        validationSize: options.validationSize,
        validationSubnets: options.validationSubnets,
        evalImages: options.evalImages,
        recalibrationImages: options.recalibrationImages,
        checkpointEverySteps: options.checkpointEverySteps,
        trainer,
        shards: options.shards,
        backend: options.backend,
        dataDir: options.dataDir,
        cacheDir: options.cacheDir,
        data: options.data,
        label,
        log,
        quiet: options.quiet,
        onStep: (done, total) => {
          stepsRun++;
          const fraction = Math.min(1, (base + (weights[index] * done) / total) / totalWeight);
          if (weightRunAtStart === undefined) weightRunAtStart = fraction;
          const elapsed = (performance.now() - runStarted) / 1000;
          const share = fraction - weightRunAtStart;
          if (done === total || done % 50 === 0) {
            const eta = share > 0 ? (elapsed / share) * (1 - fraction) : NaN;
            log(`${label}schedule ${(100 * fraction).toFixed(1)}% done${Number.isFinite(eta) ? `, ETA ${formatDuration(eta)}` : ''}`);
          }
          if (options.stopAfterStep !== undefined && stepsRun >= options.stopAfterStep) throw new StopSignal();
        },
      }).catch((error: unknown) => {
        if (error instanceof StopSignal) return undefined as unknown as TrainResult;
        throw error;
      });
      if (result === undefined) {
        save();
        return { outDir, state, complete: false, seconds: (performance.now() - started) / 1000 };
      }
      entry.seconds += result.seconds;
      entry.validationSeconds += result.validationSeconds;
      entry.imagesPerSecond = result.imagesPerSecond;
      entry.teacher = result.teacher ?? null;
      if (result.stepsDone < result.totalSteps) {
        save();
        return { outDir, state, complete: false, seconds: (performance.now() - started) / 1000 };
      }
      const best = bestRecord(phaseDir);
      entry.best = best ? { checkpoint: join(entry.dir, best.checkpoint), score: best.score, epoch: best.epoch, step: best.step } : null;
      entry.status = 'done';
      save();
      log(`${label}phase ${phase.name} done in ${formatDuration(entry.seconds)}${best ? `: best ${best.checkpoint} (validation ${(100 * best.score).toFixed(2)}%, epoch ${best.epoch})` : ''}; validation took ${formatDuration(entry.validationSeconds)}`);
    }
  } finally {
    await trainer.close();
  }
  return { outDir, state, complete: true, seconds: (performance.now() - started) / 1000 };
}

/** Thrown from onStep to stop a schedule as if killed (tests). */
class StopSignal extends Error {}
