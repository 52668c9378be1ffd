// `ofa profile device` (profile/onboard.ts) end to end on the real `micro` space: a real onnxruntime
// device, real block and subnet models, a few runs each. The table, the calibration (with block terms),
// the validation with its retest, and the run record land in a temp folder; a rerun resumes; other
// settings or foreign files are refused. No wall-clock asserts: the record's seconds are only checked to
// be there.
import test from 'ava';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { main } from '../../cli/main.ts';
import { estimatePlan, PROFILE_DEVICE_DEFAULTS, profileDevice, type ProfileDeviceSettings } from '../../profile/onboard.ts';
import { makePredictor, readCalibration, readTable, readValidation, validateDevice } from '../../profile/predict.ts';
import { randomSubnets } from '../../profile/calibrate.ts';
import { enumerateBlocks } from '../../space/index.ts';
import { cpuDevice, tempDir } from './fixtures.ts';

const SPACE = { preset: 'micro', variant: 'ee-d' } as const;
const QUICK = { warmupRuns: 1, minSamples: 3, minTimeMs: 0 };
/** 24 calibration subnets: enough for block terms (fit.ts MIN_SUBNETS_FOR_TERMS is 20). */
const SETTINGS: Partial<ProfileDeviceSettings> = { blockProtocol: QUICK, subnetProtocol: QUICK, subnets: 24, heldOut: 4, sessions: 2 };

test.serial('profiles a device in one run: table, calibration with block terms, validation with its retest; resumes and refuses other settings', async (t) => {
  const device = validateDevice(cpuDevice('onboard-cpu'));
  const dir = join(tempDir(), 'out');

  // Stopped after the table (as a crash between parts would leave it), then resumed.
  const first = await profileDevice({ device, ...SPACE, dir, settings: SETTINGS, quiet: true, stopAfter: 'table' });
  t.deepEqual(first.parts.map((p) => [p.part, p.skipped]), [['table', false]]);
  t.deepEqual(Object.keys(first.record.parts), ['table']);
  t.false(existsSync(first.files.calibration));

  const second = await profileDevice({ device, ...SPACE, dir, settings: SETTINGS, quiet: true });
  t.deepEqual(second.parts.map((p) => [p.part, p.skipped]), [['table', true], ['calibration', false], ['validation', false]]);
  const { files } = second;
  const table = readTable(files.table);
  t.true(table.complete);
  t.is(Object.keys(table.entries).length, enumerateBlocks(SPACE).size);
  t.deepEqual(table.runs[0].protocol, QUICK);

  const calibration = readCalibration(files.calibration);
  t.is(calibration.formatVersion, 2);
  t.is(calibration.subnets, 24);
  t.is(calibration.sessions, 2);
  // Two sessions per chunk (each maybe measured again for drift, up to 3 times).
  t.true(calibration.passes!.every((p) => p >= 2 && p <= 6));
  t.truthy(calibration.fit?.cv, 'the block-term cross-validation ran');
  t.is(calibration.fit!.cv!.rho, calibration.terms?.rho ?? 0);

  const validation = readValidation(files.validation);
  t.is(validation.formatVersion, 2);
  t.is(validation.quality.subnets, 4);
  t.is(validation.seed, 1001);
  t.truthy(validation.retest, 'the retest ran');
  t.is(validation.retest!.agreement.subnets, 4);
  t.true(validation.retest!.secondsApart > 0);
  for (const subnet of validation.subnets) t.true(subnet.retestMs! > 0);
  // The agreement is the retest judged as a prediction of the first measurement.
  const within10 = validation.subnets.filter((s) => Math.abs(s.retestMs! - s.measuredMs) / s.measuredMs <= 0.1).length / 4;
  t.is(validation.retest!.agreement.within10, within10);

  // The files are the predictor: the table and calibration predict what the validation recorded.
  const predictor = makePredictor(table, calibration);
  const heldOut = randomSubnets(SPACE.preset, SPACE.variant, 4, 1001, new Set(calibration.points!.map((p) => p.configId)));
  heldOut.forEach((config, i) => t.true(Math.abs(predictor.predict(config).latencyMs - validation.subnets[i].predictedMs) < 1e-9 * validation.subnets[i].predictedMs));

  // The record: settings, every part with its seconds.
  const record = JSON.parse(readFileSync(files.record, 'utf8'));
  t.deepEqual([record.format, record.formatVersion], ['ofav2/profiling', 1]);
  t.deepEqual(Object.keys(record.parts).sort(), ['calibration', 'table', 'validation']);
  for (const part of Object.values(record.parts) as { seconds: number }[]) t.true(part.seconds >= 0);

  // Done: a rerun measures nothing.
  const third = await profileDevice({ device, ...SPACE, dir, settings: SETTINGS, quiet: true });
  t.true(third.parts.every((p) => p.skipped));
  t.deepEqual(readCalibration(files.calibration), calibration);

  // The CLI prints the parts of the same folder (all done: nothing is measured).
  const deviceFile = join(dir, '..', 'onboard-cpu.json');
  writeFileSync(deviceFile, JSON.stringify(cpuDevice('onboard-cpu')));
  const args = ['profile', 'device', '--device', deviceFile, '--preset', 'micro', '--variant', 'ee-d', '--out', dir, '--subnets', '24', '--held-out', '4', '--runs', '3', '--block-time', '0', '--subnet-time', '0', '--warmup', '1', '--quiet'];
  const cli = await capture(() => main(args));
  t.is(cli.code, 0, cli.stderr);
  t.regex(cli.stdout, /table +already done\n +calibration +already done\n +validation +already done/);
  t.regex(cli.stdout, /test-retest ceiling \(the same subnets measured again \d+ s after the validation began\): within \+-5% of each other/);

  // Other settings: refused, naming what changed.
  const other = await t.throwsAsync(profileDevice({ device, ...SPACE, dir, settings: { ...SETTINGS, subnets: 30 }, quiet: true }));
  t.is((other as { code?: string }).code, 'E_PROFILE_RUN_MISMATCH');
  t.regex(other!.message, /was started with other settings \(subnets: 24 -> 30\)/);
  t.regex((other as { hint?: string }).hint!, /--fresh/);
  const otherCli = await capture(() => main([...args.slice(0, -1), '--subnets', '30', '--quiet']));
  t.is(otherCli.code, 2);
});

test.serial('a folder holding files no run made is refused; no output is refused before anything is measured', async (t) => {
  const device = validateDevice(cpuDevice('onboard-cpu'));
  const dir = tempDir();
  mkdirSync(join(dir, 'x'));
  writeFileSync(join(dir, 'x', 'lut-micro-ee-d.json'), '{}');
  const error = await t.throwsAsync(profileDevice({ device, ...SPACE, dir: join(dir, 'x'), settings: SETTINGS, quiet: true }));
  t.is((error as { code?: string }).code, 'E_PROFILE_RUN_MISMATCH');
  t.regex(error!.message, /lut-micro-ee-d\.json already exist\(s\) and no run of this command made them/);

  const deviceFile = join(dir, 'onboard-cpu.json');
  writeFileSync(deviceFile, JSON.stringify(cpuDevice('onboard-cpu')));
  const nowhere = await capture(() => main(['profile', 'device', '--device', deviceFile, '--preset', 'micro', '--variant', 'ee-d']));
  t.is(nowhere.code, 2);
  t.regex(nowhere.stderr, /ofa profile device: no output given; allowed: --out FILE, or --save to write .*onboard-cpu/);
  const help = await capture(() => main(['profile', 'device', '--help']));
  t.is(help.code, 0);
  for (const flag of ['--subnets N', '--held-out N', '--sessions N', '--block-time S', '--subnet-time S', '--fresh', '--out DIR', '--save']) t.true(help.stdout.includes(flag), flag);
});

test('the default plan fits fashion ee-d in 5 minutes with uncached exports', (t) => {
  const blocks = enumerateBlocks({ preset: 'fashion', variant: 'ee-d' }).size;
  const plan = estimatePlan(blocks, PROFILE_DEVICE_DEFAULTS);
  t.deepEqual(plan.map((p) => p.part), ['table', 'calibration', 'validation']);
  const total = plan.reduce((s, p) => s + p.estimatedS, 0);
  t.true(total <= 300, `planned ${total.toFixed(0)} s: ${plan.map((p) => `${p.part} ${p.estimatedS.toFixed(0)} s`).join(', ')}`);
  t.is(estimatePlan(0, PROFILE_DEVICE_DEFAULTS)[0].estimatedS, 0);
});

async function capture(run: () => Promise<number>): Promise<{ code: number; stdout: string; stderr: string }> {
  const stdout: string[] = [];
  const stderr: string[] = [];
  const write = { out: process.stdout.write.bind(process.stdout), err: process.stderr.write.bind(process.stderr) };
  process.stdout.write = ((chunk: string) => (stdout.push(String(chunk)), true)) as typeof process.stdout.write;
  process.stderr.write = ((chunk: string) => (stderr.push(String(chunk)), true)) as typeof process.stderr.write;
  try {
    const code = await run();
    return { code, stdout: stdout.join(''), stderr: stderr.join('') };
  } finally {
    process.stdout.write = write.out;
    process.stderr.write = write.err;
  }
}
