// Lookup tables and the latency predictor on the `micro` preset: resumable incremental builds that cover
// random subnets, the predictor's sum against a hand-built table, the calibration fit, format tags.
import test from 'ava';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { createRng } from '../../lib/rng.ts';
import { blockKey, configId, sampleRandom, sampleUniform, type BlockSpec } from '../../space/index.ts';
import { buildTable, loadDevice } from '../../profile/index.ts';
import { readableVersions } from '../../profile/artifacts.ts';
import { ARTIFACT_FORMATS, applyCalibration, makePredictor, readCalibration, readTable, readValidation, tableSum, validateDevice, type LatencyTable } from '../../profile/predict.ts';
import { fitCalibration } from '../../profile/predictor.ts';
import { referenceConfig } from '../../profile/reference.ts';
import { median } from '../../profile/stats.ts';
import { FAST, cpuDevice, tempDir, writeTemp } from './fixtures.ts';
import { syntheticTable } from '../search/fixtures.ts';

test('a built table covers 1000 random subnets; a re-run resumes and skips measured entries', async (t) => {
  const dir = tempDir();
  const file = join(dir, 'lut-micro-ofa.json');
  const device = loadDevice('cpu-1t');
  const first = await buildTable({ device, preset: 'micro', variant: 'ofa', protocol: FAST, file, quiet: true, limit: 20, chunkSize: 8 });
  t.is(first.measured, 20);
  const partial = readTable(file);
  t.is(Object.keys(partial.entries).length, 20);
  t.false(partial.complete);
  t.is(partial.expectedEntries, 130);
  t.is(partial.runs[0].host.nodeVersion, process.version);
  t.regex(partial.runtime, /^onnxruntime-node /);
  const second = await buildTable({ device, preset: 'micro', variant: 'ofa', protocol: FAST, file, quiet: true });
  t.is(second.skipped, 20);
  t.is(second.measured, 110);
  const table = readTable(file);
  t.true(table.complete);
  t.is(table.runs.length, 2);
  // Each build session records how long it took (the table build time users are told about).
  for (const run of table.runs) t.true(typeof run.seconds === 'number' && run.seconds > 0 && run.seconds < second.seconds + first.seconds + 1);
  // Entries measured by the first run were kept, not re-measured.
  for (const [key, entry] of Object.entries(partial.entries)) t.deepEqual(table.entries[key], entry);
  for (const entry of Object.values(table.entries)) t.true(entry.medianMs > 0 && entry.samples >= FAST.minSamples);
  // Every chunk measured the speed reference; the table's reference speed is the median over chunks.
  t.is(table.reference?.configId, configId(referenceConfig('micro', 'ofa')));
  const chunkReferences = table.runs.flatMap((run) => run.referenceMs!);
  t.true(chunkReferences.every((ms) => ms > 0));
  t.is(chunkReferences.length, 3 + 7); // 20 entries in chunks of 8, then 110 in chunks of 16
  t.is(table.reference!.medianMs, median(chunkReferences));
  for (const entry of Object.values(table.entries)) t.true(chunkReferences.includes(entry.referenceMs!));
  const chunkMinima = table.runs.flatMap((run) => run.referenceMinMs!);
  t.is(table.reference!.minMs, median(chunkMinima));
  for (const entry of Object.values(table.entries)) {
    t.true(entry.minMs! > 0 && entry.minMs! <= entry.medianMs);
    t.true(chunkMinima.includes(entry.referenceMinMs!));
  }
  // The fastest-run predictor never exceeds the median one on the same table with no reference drift.
  const config = sampleRandom({ preset: 'micro', variant: 'ofa' }, createRng(9));
  t.true(tableSum(config, { entries: table.entries }, 'min').tableSumMs <= tableSum(config, { entries: table.entries }, 'median').tableSumMs);
  const third = await buildTable({ device, preset: 'micro', variant: 'ofa', protocol: FAST, file, quiet: true });
  t.is(third.measured, 0);
  const predictor = makePredictor(table);
  const rng = createRng(7);
  for (let i = 0; i < 1000; i++) t.true(predictor.predict(sampleRandom({ preset: 'micro', variant: 'ofa' }, rng)).latencyMs > 0);
  // Another device's settings cannot be mixed into this table.
  const other = validateDevice({ ...cpuDevice('cpu-1t'), session: { ...(cpuDevice().session as object), intraOpNumThreads: 2 } });
  await t.throwsAsync(buildTable({ device: other, preset: 'micro', variant: 'ofa', protocol: FAST, file, quiet: true }), { message: /cannot be resumed: the device settings changed/ });
  t.false(existsSync(join(dir, 'lut-micro-ee-d.json')));
});

function layer(inputSize: number, inChannels: number, outChannels: number, stride: number, mid: number, seMid: number, activation: 'relu' | 'hswish', residual: boolean): BlockSpec {
  return { kind: 'layer', inputSize, inChannels, outChannels, stride, kernel: 3, mid, seMid, activation, residual, branches: 1, inputTerms: 1 };
}

test("the predictor's sum matches a hand-built table", (t) => {
  // micro/ofa, resolution 8, depth 2, kernel 3, expand 3, worked out by hand from space/presets.ts:
  // stem 8x8 -> 4x4 (8 ch); widths 8, 8, 16, 16, 16; strides 1, 2, 1, 2, 1; SE in stages 2, 4, 5;
  // mid = make_divisible(3 * Cin); seMid = make_divisible(mid / 4).
  const blocks: [BlockSpec, number][] = [
    [{ kind: 'stem', inputSize: 8, inChannels: 1, outChannels: 8, kernel: 3, stride: 2, blockKernel: 3 }, 0.5],
    [layer(4, 8, 8, 1, 24, 0, 'relu', true), 0.01], // stage 1, both layers (same geometry: counted twice)
    [layer(4, 8, 8, 2, 24, 8, 'relu', false), 0.02],
    [layer(2, 8, 8, 1, 24, 8, 'relu', true), 0.04],
    [layer(2, 8, 16, 1, 24, 0, 'hswish', false), 0.08],
    [layer(2, 16, 16, 1, 48, 0, 'hswish', true), 0.16],
    [layer(2, 16, 16, 2, 48, 16, 'hswish', false), 0.32],
    [layer(1, 16, 16, 1, 48, 16, 'hswish', true), 0.64], // stage 4 layer 2 and both stage-5 layers
    [{ kind: 'head', inputSize: 1, inChannels: 16, expandChannels: 96, featureChannels: 128, numClasses: 4 }, 2],
  ];
  const entries: LatencyTable['entries'] = {};
  for (const [spec, ms] of blocks) entries[blockKey(spec)] = { medianMs: ms, p90Ms: ms, madMs: 0, samples: 1, sessionCreateMs: 0, firstRunMs: 0, run: 0, block: spec };
  const config = sampleUniform({ preset: 'micro', variant: 'ofa' }, { kernel: 3, expand: 3, depth: 2, resolution: 8 });
  const expected = 0.5 + 2 * 0.01 + 0.02 + 0.04 + 0.08 + 0.16 + 0.32 + 3 * 0.64 + 2;
  const sum = tableSum(config, { entries });
  t.is(sum.blocks, 12);
  t.true(Math.abs(sum.tableSumMs - expected) < 1e-12, `${sum.tableSumMs} vs ${expected}`);
  const table = { entries, preset: 'micro', variant: 'ofa', device: { name: 'hand' } } as unknown as LatencyTable;
  t.true(Math.abs(makePredictor(table).predict(config).latencyMs - expected) < 1e-12);
  const calibrated = makePredictor(table, { coefficients: { scale: 0.5, perBlockMs: -0.01, offsetMs: 0.2 } }).predict(config);
  t.true(Math.abs(calibrated.latencyMs - (0.5 * expected - 0.01 * 12 + 0.2)) < 1e-12);
  t.true(calibrated.calibrated);
  // One entry removed: the error names the missing key.
  const { [blockKey(blocks[0][0])]: _, ...withoutStem } = entries;
  t.throws(() => tableSum(config, { entries: withoutStem }), { message: /no entry for 1 block\(s\) of this subnet: stem:r8/ });
  t.throws(() => makePredictor(table).predict(sampleUniform({ preset: 'micro', variant: 'ee-d' }, { kernel: 3, expand: 3, depth: 2 })), { message: /micro\/ee-d.*micro\/ofa/ });

  // With a speed reference: the stem and stage 1 were measured while the machine ran at half speed (the
  // reference took 2 ms instead of the table's 1 ms), so they count half; the rest at full speed.
  const slowKeys = new Set(blocks.slice(0, 2).map(([spec]) => blockKey(spec)));
  const withReference = Object.fromEntries(
    Object.entries(entries).map(([key, entry]) => [key, slowKeys.has(key) ? { ...entry, medianMs: 2 * entry.medianMs, referenceMs: 2 } : { ...entry, referenceMs: 1 }]),
  );
  const scaled = tableSum(config, { entries: withReference, reference: { configId: 'ref', medianMs: 1 } });
  t.true(Math.abs(scaled.tableSumMs - expected) < 1e-12, `${scaled.tableSumMs} vs ${expected}`);
  // The same table at a reference speed of 1.5 ms: every entry at 1.5 / its chunk's reference.
  const slower = tableSum(config, { entries: withReference, reference: { configId: 'ref', medianMs: 1.5 } });
  t.true(Math.abs(slower.tableSumMs - 1.5 * expected) < 1e-12);
  // The `min` statistic reads the fastest runs and scales them by the reference's fastest runs: here
  // every entry's fastest run is 80% of its median, and the reference's is 0.9 ms in every chunk (the
  // slow chunks 1.8 ms), the table's 0.9 ms.
  const withMinima = Object.fromEntries(
    Object.entries(withReference).map(([key, entry]) => [key, { ...entry, minMs: 0.8 * entry.medianMs, referenceMinMs: 0.9 * entry.referenceMs! }]),
  );
  const fastest = tableSum(config, { entries: withMinima, reference: { configId: 'ref', medianMs: 1, minMs: 0.9 } }, 'min');
  t.true(Math.abs(fastest.tableSumMs - 0.8 * expected) < 1e-12, `${fastest.tableSumMs} vs ${0.8 * expected}`);
  // A table from before the minima were recorded cannot give them.
  t.throws(() => tableSum(config, { entries }, 'min'), { message: /no min figures/ });
});

test('the calibration fit recovers known coefficients and falls back when block counts do not vary', (t) => {
  const truth = { scale: 0.8, perBlockMs: -0.007, offsetMs: 0.03 };
  const rng = createRng(3);
  const points = Array.from({ length: 30 }, () => {
    const blocks = 10 + rng.int(15);
    const tableSumMs = 0.1 + rng.next();
    return { tableSumMs, blocks, measuredMs: truth.scale * tableSumMs + truth.perBlockMs * blocks + truth.offsetMs };
  });
  const fit = fitCalibration(points);
  t.true(Math.abs(fit.scale - truth.scale) < 1e-9);
  t.true(Math.abs(fit.perBlockMs - truth.perBlockMs) < 1e-9);
  t.true(Math.abs(fit.offsetMs - truth.offsetMs) < 1e-9);
  const sameBlocks = points.map((p) => ({ ...p, blocks: 12, measuredMs: 2 * p.tableSumMs + 0.1 }));
  const twoTerm = fitCalibration(sameBlocks);
  t.is(twoTerm.perBlockMs, 0);
  t.true(Math.abs(twoTerm.scale - 2) < 1e-9 && Math.abs(twoTerm.offsetMs - 0.1) < 1e-9);
  t.throws(() => fitCalibration(points.slice(0, 2)), { message: /at least 3/ });

  // With the whole subnet's MACs and parameters, the five-term model is recovered exactly...
  const truth5 = { scale: 0.7, perBlockMs: -0.006, perMegaMacMs: 0.004, perMegaParamMs: 0.05, offsetMs: 0.02 };
  const costed = points.map((p) => {
    const megaMacs = 1 + 20 * rng.next();
    const megaParams = 0.05 + rng.next();
    const measuredMs = truth5.scale * p.tableSumMs + truth5.perBlockMs * p.blocks + truth5.perMegaMacMs * megaMacs + truth5.perMegaParamMs * megaParams + truth5.offsetMs;
    return { ...p, megaMacs, megaParams, measuredMs };
  });
  const fit5 = fitCalibration(costed);
  for (const key of Object.keys(truth5) as (keyof typeof truth5)[]) t.true(Math.abs(fit5[key]! - truth5[key]) < 1e-9, `${key}: ${fit5[key]} vs ${truth5[key]}`);
  const sum = { tableSumMs: 0.5, blocks: 20, megaMacs: 10, megaParams: 0.5 };
  t.true(Math.abs(applyCalibration(sum, fit5) - (0.7 * 0.5 - 0.006 * 20 + 0.004 * 10 + 0.05 * 0.5 + 0.02)) < 1e-12);
  // ...but not from fewer than 20 points (four per coefficient): the three-term model then.
  const few = fitCalibration(costed.slice(0, 12));
  t.is(few.perMegaMacMs, undefined);
  t.is(few.perMegaParamMs, undefined);
});

test('table files are written whole: valid JSON with host facts after every chunk', async (t) => {
  const dir = tempDir();
  const file = join(dir, 'lut.json');
  await buildTable({ device: loadDevice('wasm-node'), preset: 'micro', variant: 'ofa', protocol: FAST, file, quiet: true, limit: 5, chunkSize: 5 });
  const table = JSON.parse(readFileSync(file, 'utf8')) as LatencyTable;
  t.is(Object.keys(table.entries).length, 5);
  t.deepEqual([table.format, table.formatVersion], ['ofav2/lut', 1]);
  t.deepEqual(Object.keys(table).slice(0, 2), ['format', 'formatVersion']);
  t.is(table.device.runtime, 'onnxruntime-web');
  t.truthy(table.runs[0].host.cpuModel);
  t.deepEqual(table.runs[0].protocol, { warmupRuns: FAST.warmupRuns, minSamples: FAST.minSamples, minTimeMs: FAST.minTimeMs });
});

test('readers check the format tag and version, with an error naming the file, what it has and what is expected', (t) => {
  const dir = tempDir();
  const table = { ...syntheticTable({ preset: 'micro', variant: 'ofa' }, 1), complete: false, entries: {} };
  t.is(readTable(writeTemp(dir, 'good.json', JSON.stringify(table))).preset, 'micro');
  const old = writeTemp(dir, 'old.json', JSON.stringify({ ...table, format: 'ofav2-latency-table/1', formatVersion: undefined }));
  const error = t.throws(() => readTable(old), { message: /latency table .*old\.json has format "ofav2-latency-table\/1"; expected "format": "ofav2\/lut", "formatVersion": 1/ });
  t.is((error as { code?: string }).code, 'E_ARTIFACT_FORMAT');
  t.regex((error as { hint?: string }).hint!, /ofa profile lut --fresh/);
  t.throws(() => readTable(writeTemp(dir, 'v2.json', JSON.stringify({ ...table, formatVersion: 2 }))), { message: /has formatVersion 2; expected "format": "ofav2\/lut", "formatVersion": 1/ });
  t.throws(() => readTable(writeTemp(dir, 'calibration.json', JSON.stringify({ ...ARTIFACT_FORMATS.calibration }))), { message: /has format "ofav2\/calibration"/ });
  t.throws(() => readTable(writeTemp(dir, 'list.json', '[]')), { message: /is not a JSON object/ });
  t.throws(() => readTable(writeTemp(dir, 'broken.json', '{"format": ')), { message: /broken\.json is not valid JSON.*truncated/ });
  t.throws(() => readCalibration(writeTemp(dir, 'old-calibration.json', JSON.stringify({ format: 'ofav2-latency-calibration/1', coefficients: {} }))), {
    message: /calibration .* has format "ofav2-latency-calibration\/1"; expected "format": "ofav2\/calibration", "formatVersion": 2 \(or 1\)/,
  });
});

test('the committed tables, calibrations and validations under devices/ carry their format tags', (t) => {
  let files = 0;
  for (const device of readdirSync('devices', { withFileTypes: true }).filter((entry) => entry.isDirectory())) {
    for (const name of readdirSync(join('devices', device.name)).filter((f) => f.endsWith('.json'))) {
      const file = join('devices', device.name, name);
      const kind = name.split('-')[0] as 'lut' | 'calibration' | 'validation' | 'profiling';
      const value = JSON.parse(readFileSync(file, 'utf8'));
      t.deepEqual(Object.keys(value).slice(0, 2), ['format', 'formatVersion'], file);
      // The current version, or an older one its reader still accepts (artifacts.ts OLDER_READABLE_VERSIONS).
      t.is(value.format, ARTIFACT_FORMATS[kind].format, file);
      t.true(readableVersions(kind).includes(value.formatVersion), `${file}: formatVersion ${value.formatVersion}`);
      if (kind === 'lut') t.true(Object.keys(readTable(file).entries).length > 0, file);
      if (kind === 'calibration') t.is(typeof readCalibration(file).coefficients.scale, 'number', file);
      // Every committed file passes its format's whole schema (issue 18), not only its tag.
      if (kind === 'validation') t.true(readValidation(file).quality.subnets > 0, file);
      files++;
    }
  }
  t.true(files >= 18, `${files} files`);
});
