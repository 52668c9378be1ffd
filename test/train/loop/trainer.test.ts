// The training loop end to end on generated data: real worker threads, real steps, real checkpoints.
import test from 'ava';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadCheckpoint, latestCheckpoint } from '../../../train/checkpoint/index.ts';
import { train, phasesFor, getPhase, stepSubnets } from '../../../train/loop/index.ts';

import { makeData } from '../fixtures/quadrants.ts';

const tempDirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'ofa-loop-'));
  tempDirs.push(dir);
  return dir;
}
test.after.always(() => {
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});

const BASE = {
  preset: 'micro',
  variant: 'ee-d',
  batchSize: 32,
  seed: 5,
  workers: 2,
  shards: 2,
  backend: 'wasm' as const,
  quiet: true,
  recalibrationImages: 64,
  evalImages: 64,
};

test('phases follow ofav2.md s3: order, unlocked values, subnets per step', (t) => {
  const names = phasesFor('fashion', 'ee-d-p').map((p) => p.name);
  t.deepEqual(names, ['full', 'kernel', 'level-1', 'level-2', 'height-1', 'height-2', 'height-3', 'height-4', 'depth-1', 'depth-2', 'expand-1', 'expand-2']);
  t.deepEqual(phasesFor('fashion', 'ofa').map((p) => p.name), ['full', 'kernel', 'depth-1', 'depth-2', 'expand-1', 'expand-2']);
  const depth1 = getPhase('fashion', 'ee-d', 'depth-1');
  t.deepEqual(depth1.dimensions.depths, [3, 4]);
  t.deepEqual(depth1.dimensions.exits, [1, 2, 3, 4, 5]);
  t.deepEqual(depth1.dimensions.kernelSizes, [3, 5, 7]);
  t.deepEqual(depth1.dimensions.expandRatios, [6]);
  t.is(depth1.subnetsPerStep, 2);
  t.true(getPhase('fashion', 'ee-d', 'full').allExits);
  t.throws(() => getPhase('fashion', 'ofa', 'height-1'), { message: /does not apply to variant ofa/ });
  // Subnets of a step are a pure function of (seed, step, resolution) and stay inside the phase.
  const a = stepSubnets({ preset: 'fashion', variant: 'ee-d', seed: 1 }, depth1, 7, 24);
  const b = stepSubnets({ preset: 'fashion', variant: 'ee-d', seed: 1 }, depth1, 7, 24);
  t.deepEqual(a, b);
  t.is(a.length, 2);
  for (const config of a) {
    t.is(config.resolution, 24);
    t.true(config.stages.every((s) => s.depth >= 3 && s.layers.every((l) => l.expand === 6)));
  }
});

test('a short run on an easy generated task drives the loss down and evaluates above chance', async (t) => {
  const out = tempDir();
  const result = await train({ ...BASE, phase: 'full', epochs: 4, outDir: out, data: makeData(), baseLr: 0.05 });
  t.is(result.stepsDone, 4 * 12);
  const first = result.steps.slice(0, 6).reduce((a, s) => a + s.loss, 0) / 6;
  const last = result.steps.slice(-6).reduce((a, s) => a + s.loss, 0) / 6;
  t.true(last < 0.6 * first, `loss went from ${first} to ${last}`);
  const final = result.evaluations.at(-1)!;
  t.true(final.results[0].top1 > 0.5, `top-1 ${final.results[0].top1}`);
  const lines = readFileSync(join(out, 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  t.is(lines[0].event, 'start');
  t.is(lines.filter((l) => l.event === 'epoch').length, 4);
  t.is(lines.at(-1).event, 'done');
  const manifest = loadCheckpoint(latestCheckpoint(out)!).manifest;
  t.is(manifest.step, 48);
  t.is(manifest.epoch, 4);
});

test('resume after a stop reproduces the uninterrupted run (same next losses)', async (t) => {
  const common = { ...BASE, phase: 'full', epochs: 2, data: makeData(), checkpointEverySteps: 5, evalEvery: 0 };
  const whole = await train({ ...common, outDir: tempDir() });
  const out = tempDir();
  // Stopped 2 steps after the last checkpoint (as a kill would): steps 16-17 are lost and redone.
  const first = await train({ ...common, outDir: out, stopAfterStep: 17 });
  t.is(first.stepsDone, 17);
  t.is(loadCheckpoint(latestCheckpoint(out)!).manifest.step, 15);
  const rest = await train({ ...common, outDir: out, resume: true });
  t.is(rest.steps[0].step, 16);
  t.is(rest.stepsDone, 24);
  for (const step of rest.steps) {
    const reference = whole.steps[step.step - 1];
    t.is(step.resolution, reference.resolution);
    t.is(step.lr, reference.lr);
    t.true(Math.abs(step.loss - reference.loss) <= 1e-5, `step ${step.step}: ${step.loss} vs ${reference.loss}`);
  }
});

test('a run folder with a checkpoint is not overwritten; resume with other settings is refused', async (t) => {
  const out = tempDir();
  const common = { ...BASE, phase: 'full', epochs: 1, data: makeData(), evalEvery: 0 };
  await train({ ...common, outDir: out, stopAfterStep: 5, checkpointEverySteps: 5 });
  await t.throwsAsync(train({ ...common, outDir: out }), { message: /already holds a checkpoint/ });
  await t.throwsAsync(train({ ...common, outDir: out, resume: true, batchSize: 16 }), { message: /batchSize/ });
});

test('NaN/Inf guard: a diverging run stops with a clear error and the last good checkpoint stays the latest', async (t) => {
  const out = tempDir();
  const common = { ...BASE, phase: 'full', epochs: 1, data: makeData(), evalEvery: 0, outDir: out, checkpointEverySteps: 5 };
  await train({ ...common, stopAfterStep: 5 });
  const good = latestCheckpoint(out)!;
  // Resumed with an absurd learning rate (what the hint suggests, the other way round): the weights blow up.
  const error = await t.throwsAsync(train({ ...common, resume: true, baseLr: 1e30 }), { message: /training diverged: .*(NaN|Inf).*stopped without saving/ });
  t.is((error as { code?: string }).code, 'E_NON_FINITE');
  t.true(((error as { hint?: string }).hint ?? '').includes(`the last good checkpoint is ${good}`), (error as { hint?: string }).hint);
  t.is(latestCheckpoint(out), good);
  const checkpoint = loadCheckpoint(good);
  t.is(checkpoint.manifest.step, 5);
  for (const [name, tensor] of checkpoint.tensors) t.true(tensor.data.every(Number.isFinite), name);
  const lines = readFileSync(join(out, 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  t.is(lines.at(-1).event, 'non-finite');
});

test('a teacher given as a run folder adds the KD term to the same step loss', async (t) => {
  const teacherRun = tempDir();
  await train({ ...BASE, phase: 'full', epochs: 1, data: makeData(), evalEvery: 0, outDir: teacherRun, stopAfterStep: 4, checkpointEverySteps: 4 });
  const common = { ...BASE, phase: 'kernel', epochs: 1, data: makeData(), evalEvery: 0, init: teacherRun, stopAfterStep: 1 };
  const without = await train({ ...common, outDir: tempDir() });
  const withTeacher = await train({ ...common, outDir: tempDir(), teacher: teacherRun });
  t.deepEqual(withTeacher.steps[0].subnets, without.steps[0].subnets);
  // CE(softmax(teacher), student) > 0 is added to the same student loss on the same batch.
  t.true(withTeacher.steps[0].loss > without.steps[0].loss + 1e-3, `${withTeacher.steps[0].loss} vs ${without.steps[0].loss}`);
  await t.throwsAsync(train({ ...common, outDir: tempDir(), teacher: tempDir() }), { message: /no manifest\.json|does not exist/ });
});

test('a corrupt checkpoint is refused on resume', async (t) => {
  const out = tempDir();
  await train({ ...BASE, phase: 'full', epochs: 1, data: makeData(), evalEvery: 0, outDir: out, stopAfterStep: 5, checkpointEverySteps: 5 });
  const dir = latestCheckpoint(out)!;
  const weights = join(dir, 'weights.safetensors');
  const bytes = readFileSync(weights);
  bytes[bytes.length - 3] ^= 0xff;
  writeFileSync(weights, bytes);
  await t.throwsAsync(train({ ...BASE, phase: 'full', epochs: 1, data: makeData(), evalEvery: 0, outDir: out, resume: true }), { message: /corrupt|sha256/ });
});
