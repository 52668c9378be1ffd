// `ofa profile lut | calibrate | validate | predict` end to end on `micro`, with a device file in a temp
// folder (--save puts its tables beside it), few runs to stay fast. Nothing is written into the checkout.
// Serial: each test captures process.stdout/stderr while the CLI runs.
import test from 'ava';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { main } from '../../cli/main.ts';
import { checkDevice, loadDevice } from '../../profile/index.ts';
import { sampleUniform } from '../../space/index.ts';
import { cpuDevice, tempDir, writeTemp } from './fixtures.ts';

const require = createRequire(import.meta.url);

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

test.serial('lut -> calibrate -> validate -> predict, tables beside the device file', async (t) => {
  const dir = tempDir();
  const deviceFile = writeTemp(dir, 'tiny-box.json', JSON.stringify(cpuDevice('tiny-box')));
  const space = ['--preset', 'micro', '--variant', 'ee-d'];
  const fast = ['--min-time', '0', '--warmup', '1'];

  // lut and calibrate write nothing but their file: without --out or --save they refuse to start.
  const nowhere = await ofa(['profile', 'lut', '--device', deviceFile, ...space, '--runs', '3', ...fast, '--quiet']);
  t.is(nowhere.code, 2);
  t.regex(nowhere.stderr, /ofa profile lut: no output given; allowed: --out FILE, or --save to write .*tiny-box\/lut-micro-ee-d\.json/);
  const both = await ofa(['profile', 'lut', '--device', deviceFile, ...space, '--out', join(dir, 'x.json'), '--save']);
  t.is(both.code, 2);
  t.regex(both.stderr, /--out and --save both given/);
  t.deepEqual(readdirSync(dir), ['tiny-box.json']);

  const lut = await ofa(['profile', 'lut', '--device', deviceFile, ...space, '--runs', '3', ...fast, '--save', '--quiet', '--json']);
  t.is(lut.code, 0, lut.stderr);
  const built = JSON.parse(lut.stdout);
  t.is(built.file, join(dir, 'tiny-box', 'lut-micro-ee-d.json'));
  // micro/ee-d with the paper's dense-skip wiring (ofav2.md s1: a layer reads y_{d-1} + y_1..y_{d-3}):
  // 221 distinct blocks (space/blocks.ts enumerateBlocks; 300 with the earlier wiring).
  t.is(built.entries, 221);
  t.is(built.measured, 221);
  const again = JSON.parse((await ofa(['profile', 'lut', '--device', deviceFile, ...space, '--runs', '3', ...fast, '--save', '--quiet', '--json'])).stdout);
  t.is(again.measured, 0);
  t.is(again.skipped, 221);

  // Validation before calibration: a clear error saying what to run.
  const early = await ofa(['profile', 'validate', '--device', deviceFile, ...space, '--subnets', '3']);
  t.is(early.code, 2);
  t.regex(early.stderr, /no calibration.*\n.*ofa profile calibrate --device .* --save/);

  const refused = await ofa(['profile', 'calibrate', '--device', deviceFile, ...space, '--subnets', '6']);
  t.is(refused.code, 2);
  t.regex(refused.stderr, /ofa profile calibrate: no output given; allowed: --out FILE, or --save/);
  const calibrate = await ofa(['profile', 'calibrate', '--device', deviceFile, ...space, '--subnets', '6', '--runs', '5', ...fast, '--save', '--quiet', '--json']);
  t.is(calibrate.code, 0, calibrate.stderr);
  const calibration = JSON.parse(calibrate.stdout).calibration;
  t.is(calibration.points.length, 6);
  t.deepEqual(JSON.parse(readFileSync(join(dir, 'tiny-box', 'calibration-micro-ee-d.json'), 'utf8')), calibration);
  t.deepEqual([calibration.format, calibration.formatVersion], ['ofav2/calibration', 2]);

  const sameSeed = await ofa(['profile', 'validate', '--device', deviceFile, ...space, '--subnets', '3', '--seed', String(calibration.seed)]);
  t.is(sameSeed.code, 2);
  t.regex(sameSeed.stderr, /calibration's seed/);

  // A validation prints its report; it writes a file only where asked.
  const validate = await ofa(['profile', 'validate', '--device', deviceFile, ...space, '--subnets', '4', '--runs', '5', ...fast, '--quiet', '--json']);
  t.is(validate.code, 0, validate.stderr);
  t.false(existsSync(join(dir, 'tiny-box', 'validation-micro-ee-d.json')));
  const report = JSON.parse(validate.stdout);
  t.deepEqual([report.format, report.formatVersion], ['ofav2/validation', 2]);
  t.is(report.quality.subnets, 4);
  // The test-retest ceiling is measured by default: the same 4 subnets again, judged against the first.
  t.is(report.retest.agreement.subnets, 4);
  for (const subnet of report.subnets) t.true(subnet.retestMs > 0);
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
  const saved = await ofa(['profile', 'validate', '--device', deviceFile, ...space, '--subnets', '2', '--runs', '5', ...fast, '--save', '--quiet', '--json']);
  t.is(saved.code, 0, saved.stderr);
  t.deepEqual(JSON.parse(readFileSync(join(dir, 'tiny-box', 'validation-micro-ee-d.json'), 'utf8')), JSON.parse(saved.stdout));
  const outFile = join(dir, 'held-out.json');
  const written = await ofa(['profile', 'validate', '--device', deviceFile, ...space, '--subnets', '2', '--runs', '5', ...fast, '--out', outFile, '--quiet']);
  t.is(written.code, 0, written.stderr);
  t.regex(written.stdout, /written to .*held-out\.json/);
  t.is(JSON.parse(readFileSync(outFile, 'utf8')).quality.subnets, 2);

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

test.serial('profile devices lists every device with its availability; bad flags are refused', async (t) => {
  const list = await ofa(['profile', 'devices', '--json']);
  t.is(list.code, 0);
  const rows = JSON.parse(list.stdout) as { name: string; available: boolean; problem?: string }[];
  const byName = Object.fromEntries(rows.map((r) => [r.name, r]));
  t.true(byName['cpu-1t'].available);
  t.true(byName['wasm-node'].available);
  // cuda and webgpu start where their libraries and a GPU are (the list says so); where not, it says why.
  const cudaFolder = join(dirname(require.resolve('onnxruntime-node/package.json')), 'bin', 'napi-v6', process.platform, process.arch);
  if (!existsSync(join(cudaFolder, 'libonnxruntime_providers_cuda.so'))) {
    t.false(byName.cuda.available);
    t.regex(byName.cuda.problem!, /libonnxruntime_providers_cuda\.so/);
  } else {
    const starts = await checkDevice(loadDevice('cuda')).then(() => true, () => false);
    t.is(byName.cuda.available, starts);
    if (!starts) t.regex(byName.cuda.problem!, /"cuda"/);
  }
  const webgpuStarts = await checkDevice(loadDevice('webgpu')).then(() => true, () => false);
  t.is(byName.webgpu.available, webgpuStarts);
  if (!webgpuStarts) t.regex(byName.webgpu.problem!, /"webgpu".*adapter/i);
  // Another devices folder: only its devices.
  const dir = tempDir();
  writeTemp(dir, 'only-one.json', JSON.stringify(cpuDevice('only-one')));
  const elsewhere = await ofa(['profile', 'devices', '--devices-dir', dir, '--json']);
  t.deepEqual((JSON.parse(elsewhere.stdout) as { name: string; available: boolean }[]).map((r) => [r.name, r.available]), [['only-one', true]]);
  const missing = await ofa(['profile', 'devices', '--devices-dir', join(dir, 'none')]);
  t.is(missing.code, 2);
  t.regex(missing.stderr, /devices folder ".*none" does not exist\nhint: .*--devices-dir DIR/);

  const drift = await ofa(['profile', 'validate', '--device', 'cpu-1t', '--preset', 'micro', '--max-drift', '0']);
  t.is(drift.code, 2);
  t.regex(drift.stderr, /--max-drift 0 is not valid; allowed: a fraction > 0/);
  const bad = await ofa(['profile', 'lut', '--device', 'cpu-1t', '--preset', 'micro', '--runs', '0', '--out', join(dir, 'lut.json')]);
  t.is(bad.code, 2);
  t.regex(bad.stderr, /--runs 0 is not valid; allowed: an integer >= 1/);
  // One spelling per meaning: --runs is timed runs, --subnets a number of subnets; --samples is gone.
  for (const [command, now] of [['model', 'runs'], ['lut', 'runs'], ['calibrate', 'subnets'], ['validate', 'subnets']]) {
    const old = await ofa(['profile', command, '--samples', '3']);
    t.is(old.code, 2, command);
    t.regex(old.stderr, new RegExp(`unknown flag "--samples".*it is now --${now}`), command);
  }
  const unknown = await ofa(['profile', 'lut', '--device', 'nope', '--save']);
  t.is(unknown.code, 2);
  t.regex(unknown.stderr, /device "nope".*known devices: .*cpu-1t/);
  t.deepEqual(readdirSync(dir).sort(), ['only-one.json']);
});

test.serial('--help texts name --runs for timed runs, --subnets for subnets, and --out / --save where results are written', async (t) => {
  const help = async (command: string) => (await ofa(['profile', command, '--help'])).stdout;
  for (const command of ['model', 'lut', 'calibrate', 'validate']) t.regex(await help(command), /--runs N +minimum (number of )?timed runs/, command);
  for (const command of ['calibrate', 'validate']) t.regex(await help(command), /--subnets N +number of (random|held-out random) subnets/, command);
  for (const command of ['lut', 'calibrate', 'validate']) {
    const text = await help(command);
    t.regex(text, /--out FILE +write the/, command);
    t.regex(text, /--save +write it to the device folder, <devices-dir>\/<D>\//, command);
  }
  for (const command of ['devices', 'model', 'lut', 'calibrate', 'validate', 'predict']) t.regex(await help(command), /--devices-dir DIR .*default: devices/, command);
});
