// `ofa profile lut | calibrate | validate | predict` end to end on `micro`, with a device file in a temp
// folder (its tables land beside it), few samples to stay fast.
import test from 'ava';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { main } from '../../cli/main.ts';
import { sampleUniform } from '../../space/index.ts';
import { cpuDevice, tempDir, writeTemp } from './fixtures.ts';

async function ofa(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const stdout: string[] = [];
  const stderr: string[] = [];
  const write = { out: process.stdout.write.bind(process.stdout), err: process.stderr.write.bind(process.stderr) };
  process.stdout.write = ((chunk: string) => (stdout.push(String(chunk)), true)) as typeof process.stdout.write;
  process.stderr.write = ((chunk: string) => (stderr.push(String(chunk)), true)) as typeof process.stderr.write;
  try {
    const code = await main(args);
    return { code, stdout: stdout.join(''), stderr: stderr.join('') };
  } finally {
    process.stdout.write = write.out;
    process.stderr.write = write.err;
  }
}

test('lut -> calibrate -> validate -> predict, tables beside the device file', async (t) => {
  const dir = tempDir();
  const deviceFile = writeTemp(dir, 'tiny-box.json', JSON.stringify(cpuDevice('tiny-box')));
  const space = ['--preset', 'micro', '--variant', 'ee-d'];
  const fast = ['--min-time', '0', '--warmup', '1'];

  const lut = await ofa(['profile', 'lut', '--device', deviceFile, ...space, '--samples', '3', ...fast, '--quiet', '--json']);
  t.is(lut.code, 0, lut.stderr);
  const built = JSON.parse(lut.stdout);
  t.is(built.file, join(dir, 'tiny-box', 'lut-micro-ee-d.json'));
  t.is(built.entries, 300);
  t.is(built.measured, 300);
  const again = JSON.parse((await ofa(['profile', 'lut', '--device', deviceFile, ...space, '--samples', '3', ...fast, '--quiet', '--json'])).stdout);
  t.is(again.measured, 0);
  t.is(again.skipped, 300);

  // Validation before calibration: a clear error saying what to run.
  const early = await ofa(['profile', 'validate', '--device', deviceFile, ...space, '--samples', '3']);
  t.is(early.code, 2);
  t.regex(early.stderr, /no calibration.*\n.*ofa profile calibrate --device/);

  const calibrate = await ofa(['profile', 'calibrate', '--device', deviceFile, ...space, '--samples', '6', '--runs', '5', ...fast, '--quiet', '--json']);
  t.is(calibrate.code, 0, calibrate.stderr);
  const calibration = JSON.parse(calibrate.stdout).calibration;
  t.is(calibration.points.length, 6);
  t.true(existsSync(join(dir, 'tiny-box', 'calibration-micro-ee-d.json')));

  const sameSeed = await ofa(['profile', 'validate', '--device', deviceFile, ...space, '--samples', '3', '--seed', String(calibration.seed)]);
  t.is(sameSeed.code, 2);
  t.regex(sameSeed.stderr, /calibration's seed/);

  const validate = await ofa(['profile', 'validate', '--device', deviceFile, ...space, '--samples', '4', '--runs', '5', ...fast, '--quiet', '--json']);
  t.is(validate.code, 0, validate.stderr);
  const report = JSON.parse(validate.stdout);
  t.is(report.quality.subnets, 4);
  for (const key of ['within5', 'within10', 'mape', 'spearman']) t.is(typeof report.quality[key], 'number', key);
  t.true(report.quality.within10 >= report.quality.within5);
  // The speed reference re-measured beside the held-out subnets gives the machine's speed against the
  // calibration's (one chunk: one factor); the calibration records the table's reference and its own.
  const table = JSON.parse(readFileSync(join(dir, 'tiny-box', 'lut-micro-ee-d.json'), 'utf8'));
  t.is(report.drift.factors.length, 1);
  // One chunk, measured once, or again (up to 2 more times) when the machine was off the calibration's speed.
  t.is(report.drift.passes.length, 1);
  t.true(report.drift.passes[0] >= 1 && report.drift.passes[0] <= 3);
  t.true(report.drift.factors[0] <= 1.1 || report.drift.passes[0] === 3);
  // The default statistic is the fastest run: the factor is the reference's fastest run now over the
  // calibration's (the speed its predictions are at).
  t.is(calibration.statistic, 'min');
  t.is(report.statistic, 'min');
  t.true(Math.abs(report.drift.factors[0] - report.drift.reference.minMs / calibration.reference.minMs) < 1e-12);
  for (const subnet of report.subnets) t.true(subnet.measuredMs <= subnet.medianMs);
  t.is(report.drift.quality.subnets, 4);
  t.deepEqual(calibration.tableReference, table.reference);
  t.true(calibration.points.every((p: { referenceMs: number }) => p.referenceMs === calibration.reference.minMs));
  // Held out: none of the validation subnets was in the calibration set.
  const calibrated = new Set(calibration.points.map((p: { configId: string }) => p.configId));
  for (const subnet of report.subnets) t.false(calibrated.has(subnet.configId));
  t.is(JSON.parse(readFileSync(join(dir, 'tiny-box', 'validation-micro-ee-d.json'), 'utf8')).quality.subnets, 4);

  const config = writeTemp(dir, 'subnet.json', JSON.stringify(sampleUniform({ preset: 'micro', variant: 'ee-d' }, { kernel: 5, expand: 4, depth: 3 })));
  const predict = await ofa(['profile', 'predict', config, '--device', deviceFile, '--json']);
  t.is(predict.code, 0, predict.stderr);
  const prediction = JSON.parse(predict.stdout);
  t.true(prediction.calibrated);
  t.is(prediction.statistic, 'min');
  t.is(prediction.blocks, 1 + 5 * 3 + 5 + 1); // stem, 15 layers, 5 dense stage sums, head
  const c = calibration.coefficients;
  const expected = c.scale * prediction.tableSumMs + c.perBlockMs * prediction.blocks + (c.perMegaMacMs ?? 0) * prediction.megaMacs + (c.perMegaParamMs ?? 0) * prediction.megaParams + c.offsetMs;
  t.true(Math.abs(prediction.latencyMs - expected) < 1e-9);
  t.true(prediction.megaMacs > 0 && prediction.megaParams > 0);
});

test('profile devices lists every device with its availability; bad flags are refused', async (t) => {
  const list = await ofa(['profile', 'devices', '--json']);
  t.is(list.code, 0);
  const rows = JSON.parse(list.stdout) as { name: string; available: boolean; problem?: string }[];
  const byName = Object.fromEntries(rows.map((r) => [r.name, r]));
  t.true(byName['cpu-1t'].available);
  t.true(byName['wasm-node'].available);
  t.false(byName.cuda.available);
  t.regex(byName.cuda.problem!, /libonnxruntime_providers_cuda\.so/);
  t.false(byName.webgpu.available);
  const drift = await ofa(['profile', 'validate', '--device', 'cpu-1t', '--preset', 'micro', '--max-drift', '0']);
  t.is(drift.code, 2);
  t.regex(drift.stderr, /--max-drift 0 is not valid; allowed: a fraction > 0/);
  const bad = await ofa(['profile', 'lut', '--device', 'cpu-1t', '--preset', 'micro', '--samples', '0']);
  t.is(bad.code, 2);
  t.regex(bad.stderr, /--samples 0 is not valid; allowed: an integer >= 1/);
  const unknown = await ofa(['profile', 'lut', '--device', 'nope']);
  t.is(unknown.code, 2);
  t.regex(unknown.stderr, /device "nope".*known devices: .*cpu-1t/);
});
