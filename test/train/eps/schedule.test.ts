// `ofa train eps` end to end on the micro preset and generated data: every phase of a variant in order,
// each from the previous phase's best checkpoint; a kill in the middle of a phase resumes to the same
// weights; PET's teacher is the recalibrated maximal subnet of the previous phase's best checkpoint.
import test from 'ava';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isOfaError } from '../../../lib/errors.ts';
import { VARIANT_NAMES } from '../../../space/index.ts';
import { loadCheckpoint, bestCheckpoint } from '../../../train/checkpoint/index.ts';
import { openSupernet, trainEps, type EpsOptions } from '../../../train/index.ts';
import { phasesFor } from '../../../train/loop/phases.ts';
import { prepareTeacher } from '../../../train/loop/teacher.ts';
import { makeData } from '../fixtures/quadrants.ts';

const tempDirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'ofa-eps-'));
  tempDirs.push(dir);
  return dir;
}
test.after.always(() => {
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});

// 96 training images in batches of 32: 3 steps per epoch; scale 0.001 gives every phase 1 epoch.
const data = makeData({ train: 96, validation: 32, test: 32 });
const BASE: Omit<EpsOptions, 'variant' | 'teacher' | 'outDir'> = {
  preset: 'micro',
  scale: 0.001,
  seed: 3,
  batchSize: 32,
  workers: 2,
  shards: 2,
  backend: 'wasm',
  quiet: true,
  recalibrationImages: 32,
  validationSubnets: 2,
  data,
};

function weightsOf(dir: string): Map<string, Float32Array> {
  return new Map([...loadCheckpoint(dir).tensors].filter(([name]) => name.startsWith('param.')).map(([name, t]) => [name, t.data]));
}

for (const variant of VARIANT_NAMES) {
  test.serial(`${variant}: the whole schedule runs and hands each phase's best checkpoint to the next`, async (t) => {
    const out = tempDir();
    const result = await trainEps({ ...BASE, variant, teacher: 'pet', outDir: out });
    t.true(result.complete);
    const state = JSON.parse(readFileSync(join(out, 'eps-state.json'), 'utf8'));
    t.is(state.format, 'ofav2/eps-state');
    t.deepEqual(state.phases.map((p: { name: string }) => p.name), phasesFor('micro', variant).map((p) => p.name));
    for (const [i, phase] of state.phases.entries()) {
      t.is(phase.status, 'done');
      t.is(phase.epochs, 1);
      t.truthy(phase.best, `${phase.name} has a best checkpoint`);
      t.is(join(out, phase.best.checkpoint), bestCheckpoint(join(out, phase.dir)) ?? 'missing');
      if (i === 0) {
        t.is(phase.init, null);
        t.is(phase.teacher, null);
      } else {
        const previous = state.phases[i - 1];
        t.is(phase.init, previous.best.checkpoint, 'initialised from the previous best');
        t.is(phase.teacher.checkpoint, join(out, previous.best.checkpoint), 'PET: the previous best is the teacher');
        t.is(phase.teacher.dropoutRate, 0.1);
      }
      const manifest = loadCheckpoint(join(out, phase.best.checkpoint)).manifest;
      t.is(manifest.phase, phase.name);
    }
  });
}

test.serial('baseline: the full phase best is the teacher of every later phase, with dropout 0', async (t) => {
  const out = tempDir();
  await trainEps({ ...BASE, variant: 'ee-d', teacher: 'baseline', outDir: out });
  const state = JSON.parse(readFileSync(join(out, 'eps-state.json'), 'utf8'));
  const full = join(out, state.phases[0].best.checkpoint);
  for (const phase of state.phases.slice(1)) {
    t.is(phase.teacher.checkpoint, full);
    t.is(phase.teacher.dropoutRate, 0);
  }
});

test.serial('a kill in the middle of a phase, then the same command, gives the uninterrupted weights (1e-5)', async (t) => {
  const whole = tempDir();
  const options = { ...BASE, variant: 'ee-d', teacher: 'pet' as const, checkpointEverySteps: 1 };
  await trainEps({ ...options, outDir: whole });
  const killed = tempDir();
  // Phase 2 (kernel) has 3 steps + warm-up; stop inside it, after its first steps (the full phase is 3 steps).
  const first = await trainEps({ ...options, outDir: killed, stopAfterStep: 5 });
  t.false(first.complete);
  const partial = JSON.parse(readFileSync(join(killed, 'eps-state.json'), 'utf8'));
  t.is(partial.phases[0].status, 'done');
  t.is(partial.phases[1].status, 'running');
  const rest = await trainEps({ ...options, outDir: killed });
  t.true(rest.complete);
  const a = JSON.parse(readFileSync(join(whole, 'eps-state.json'), 'utf8'));
  const b = JSON.parse(readFileSync(join(killed, 'eps-state.json'), 'utf8'));
  const wa = weightsOf(join(whole, a.phases.at(-1).best.checkpoint));
  const wb = weightsOf(join(killed, b.phases.at(-1).best.checkpoint));
  let worst = 0;
  for (const [name, values] of wa) {
    const other = wb.get(name)!;
    for (let i = 0; i < values.length; i++) worst = Math.max(worst, Math.abs(values[i] - other[i]));
  }
  t.log(`largest weight difference ${worst}`);
  t.true(worst <= 1e-5);
});

test.serial("PET's teacher is the recalibrated maximal subnet of the previous phase's best: its logits equal ofa eval's", async (t) => {
  const out = tempDir();
  await trainEps({ ...BASE, variant: 'ofa', teacher: 'pet', outDir: out });
  const state = JSON.parse(readFileSync(join(out, 'eps-state.json'), 'utf8'));
  const previousBest = join(out, state.phases[0].best.checkpoint);
  t.is(state.phases[1].teacher.checkpoint, previousBest);
  const teacher = prepareTeacher(join(out, state.phases[0].dir), { preset: 'micro', variant: 'ofa', mode: 'pet', calibration: data.train, spec: data.spec, recalibrationImages: 32, seed: 3 });
  t.is(teacher.checkpoint, previousBest);
  // The teacher's weights in eval mode against openSupernet's (ofa eval's) recalibrated evaluation.
  const supernet = await openSupernet(previousBest, { backend: 'wasm' });
  const [viaEval] = await supernet.evaluateMany([teacher.config], { calibration: data.train, set: data.test, spec: data.spec }, { recalibrationImages: 32, seed: 3, returnLogits: true });
  const { ParallelTrainer } = await import('../../../train/parallel/index.ts');
  const trainer = await ParallelTrainer.create({ preset: 'micro', variant: 'ofa', seed: 3, workers: 1, shards: 1, backend: 'wasm' });
  trainer.load({ parameters: teacher.parameters, buffers: teacher.buffers });
  const { evaluateSubnets } = await import('../../../train/loop/evaluate.ts');
  const [viaTeacher] = await evaluateSubnets((jobs) => trainer.evaluate(jobs), [teacher.config], data.train, data.test, data.spec, { recalibrationImages: 0, returnLogits: true });
  await trainer.close();
  await supernet.close();
  let worst = 0;
  for (let i = 0; i < viaEval.logits!.length; i++) worst = Math.max(worst, Math.abs(viaEval.logits![i] - viaTeacher.logits![i]));
  t.log(`largest logit difference ${worst}`);
  t.true(viaEval.logits!.length === 32 * 4);
  t.true(worst <= 1e-4);
});

test.serial('bad input: scale outside (0, 1], a mismatched resume, a corrupt phase checkpoint', async (t) => {
  for (const scale of [0, -1, 1.5, Number.NaN]) {
    const error = await t.throwsAsync(trainEps({ ...BASE, variant: 'ofa', teacher: 'pet', scale, outDir: tempDir() }));
    t.true(isOfaError(error) && error.code === 'E_SCALE', String(scale));
  }
  const out = tempDir();
  await trainEps({ ...BASE, variant: 'ofa', teacher: 'pet', outDir: out, stopAfterStep: 2 });
  for (const change of [{ teacher: 'baseline' as const }, { scale: 0.002 }, { variant: 'ee-d' }]) {
    const error = await t.throwsAsync(trainEps({ ...BASE, variant: 'ofa', teacher: 'pet', outDir: out, ...change }));
    t.true(isOfaError(error) && error.code === 'E_EPS_MISMATCH' && error.kind === 'bad-input', JSON.stringify(change));
  }
  const done = tempDir();
  await trainEps({ ...BASE, variant: 'ofa', teacher: 'pet', outDir: done, stopAfterStep: 4 });
  const state = JSON.parse(readFileSync(join(done, 'eps-state.json'), 'utf8'));
  const weights = join(done, state.phases[0].best.checkpoint, 'weights.safetensors');
  const bytes = readFileSync(weights);
  bytes[bytes.length - 1] ^= 0xff;
  writeFileSync(weights, bytes);
  const error = await t.throwsAsync(trainEps({ ...BASE, variant: 'ofa', teacher: 'pet', outDir: done }));
  t.true(isOfaError(error) && error.code === 'E_CHECKPOINT_CHECKSUM' && error.kind === 'bad-input', String(error));
});

test.serial('a packed supernet holds the best weights without optimiser state and opens like its source', async (t) => {
  const { packSupernet } = await import('../../../train/index.ts');
  const out = tempDir();
  await trainEps({ ...BASE, variant: 'ofa', teacher: 'none', outDir: out });
  const packed = join(tempDir(), 'supernet');
  const manifest = packSupernet(out, packed);
  const state = JSON.parse(readFileSync(join(out, 'eps-state.json'), 'utf8'));
  const source = loadCheckpoint(join(out, state.phases.at(-1).best.checkpoint));
  const copy = loadCheckpoint(join(packed, 'checkpoint'));
  t.is(manifest.phase, 'expand-2');
  t.false([...copy.tensors.keys()].some((name) => name.startsWith('momentum.')));
  t.true([...source.tensors.keys()].some((name) => name.startsWith('momentum.')));
  for (const [name, tensor] of copy.tensors) t.deepEqual(tensor.data, source.tensors.get(name)!.data, name);
  const a = await openSupernet(packed, { backend: 'wasm' });
  const b = await openSupernet(out, { backend: 'wasm' });
  t.is(b.facts.dir, source.dir);
  const { sampleMin } = await import('../../../space/index.ts');
  const config = a.check(sampleMin({ preset: 'micro', variant: 'ofa' }));
  const data3 = { calibration: data.train, set: data.test, spec: data.spec };
  t.deepEqual(a.evaluate(config, data3, { recalibrationImages: 32 }), b.evaluate(config, data3, { recalibrationImages: 32 }));
  await a.close();
  await b.close();
  t.throws(() => packSupernet(out, packed), { message: /already exists/ });
});
