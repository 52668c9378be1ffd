// The accuracy predictor (issue 13 item 2): the MLP learns a known function of the encoding, its SIMD
// kernel and plain loops agree, the file round-trips, the metrics and baselines compute what they say,
// and bad inputs (a predictor of another space or supernet, a data set with a bad line) name the file
// and the fault.
import test from 'ava';
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isOfaError } from '../../lib/errors.ts';
import { createRng } from '../../lib/rng.ts';
import { configId, encodeConfig, encodingLayout, subnetCost, type SpaceRef } from '../../space/index.ts';
import { searchTag } from '../../search/artifacts.ts';
import { fitLine, fitRidge, kendallTau, predictRidge, rmse, spearman } from '../../search/metrics.ts';
import { createMlp, mlpPredictor, trainMlp } from '../../search/mlp.ts';
import {
  accuracyPredictorOf,
  checkPredictorCheckpoint,
  datasetConfigs,
  fitAccuracyPredictor,
  loadAccuracyPredictor,
  readAccuracyDataset,
  readAccuracyPredictor,
  searchDevices,
  type AccuracyDataset,
} from '../../search/index.ts';
import { makePredictor } from '../../profile/predict.ts';
import { MICRO, removeTempDirs, syntheticTable, tempDir } from './fixtures.ts';

test.after.always(removeTempDirs);

/** A known, non-linear function of the encoding: what the predictor must learn. */
function knownTop1(encoding: Float32Array, macs: number, weights: Float32Array): number {
  let linear = 0;
  for (let i = 0; i < encoding.length; i++) linear += weights[i] * encoding[i];
  return 0.55 + 0.25 / (1 + Math.exp(-linear)) + 0.02 * Math.log(macs / 1e5) + 0.03 * encoding[0] * encoding[encoding.length - 1];
}

/** A data set file of `count` subnets of `space` whose top-1 is the known function. */
function syntheticDataset(space: SpaceRef, count: number, dir: string, seed = 1): string {
  const length = encodingLayout(space.preset, space.variant).length;
  const rng = createRng(99);
  const weights = Float32Array.from({ length }, () => 0.6 * rng.normal());
  const header = {
    ...searchTag('dataset'),
    ...space,
    supernet: { checkpoint: 'runs/micro', dir: join(dir, 'runs/micro/checkpoint'), checksum: 'sha256:abc', phase: 'full', epoch: 1, step: 1 },
    split: 'validation',
    images: 64,
    recalibrationImages: 64,
    seed,
    createdAt: '2026-01-01T00:00:00.000Z',
  };
  const lines = [JSON.stringify(header)];
  for (const config of datasetConfigs(space, count, seed)) {
    const cost = subnetCost(config);
    const top1 = knownTop1(encodeConfig(config), cost.macs, weights);
    lines.push(JSON.stringify({ id: configId(config), config, top1, loss: 1 - top1, macs: cost.macs, params: cost.params, images: 64 }));
  }
  const file = join(dir, `data-${space.preset}-${space.variant}.jsonl`);
  writeFileSync(file, `${lines.join('\n')}\n`);
  return file;
}

let fitted: { file: string; predictorFile: string; dataset: AccuracyDataset; predictor: ReturnType<typeof fitAccuracyPredictor> } | undefined;
function fitOnce() {
  if (fitted) return fitted;
  const dir = tempDir();
  const file = syntheticDataset(MICRO, 300, dir);
  const dataset = readAccuracyDataset(file);
  const predictor = fitAccuracyPredictor(dataset, { epochs: 80, seed: 3 });
  const predictorFile = join(dir, 'predictor.json');
  writeFileSync(predictorFile, JSON.stringify(predictor));
  fitted = { file, predictorFile, dataset, predictor };
  return fitted;
}

test('the MLP learns a known function of the encoding: held-out Spearman above 0.9, better than MACs', (t) => {
  const { predictor } = fitOnce();
  const { heldOut, training } = predictor;
  t.log(`fit: ${training.trainSubnets} subnets, ${training.epochs} epochs in ${training.seconds.toFixed(1)} s (simd ${training.simd}); held out ${heldOut.subnets}`);
  t.log(`MLP rmse ${heldOut.mlp.rmse!.toFixed(4)} spearman ${heldOut.mlp.spearman.toFixed(3)} kendall ${heldOut.mlp.kendallTau.toFixed(3)}`);
  t.log(`ridge (lambda ${heldOut.ridge.lambda}) rmse ${heldOut.ridge.rmse!.toFixed(4)} spearman ${heldOut.ridge.spearman.toFixed(3)}; MACs rmse ${heldOut.macs.rmse!.toFixed(4)} spearman ${heldOut.macs.spearman.toFixed(3)}`);
  t.is(predictor.format, 'ofav2/accuracy-predictor');
  t.is(predictor.formatVersion, 1);
  t.is(heldOut.subnets, 60);
  t.is(training.trainSubnets, 240);
  t.deepEqual(training.hidden, [400, 400, 400]);
  t.is(training.parameters, 127 * 400 + 400 + 2 * (400 * 400 + 400) + 400);
  t.true(heldOut.mlp.spearman > 0.9);
  t.true(heldOut.mlp.kendallTau > 0.7);
  t.true(heldOut.mlp.spearman > heldOut.macs.spearman);
  t.true(heldOut.mlp.rmse! < heldOut.macs.rmse!);
  // The fixed output bias is the mean top-1 of the training split.
  t.true(predictor.baseOutput > 0.5 && predictor.baseOutput < 0.9);
});

test('the predictor file round-trips; predictions in batches equal one at a time', (t) => {
  const { predictorFile, predictor, dataset } = fitOnce();
  const loaded = loadAccuracyPredictor(predictorFile);
  const inMemory = accuracyPredictorOf(predictor);
  const configs = dataset.rows.slice(0, 37).map((row) => row.config);
  const batch = loaded.predict(configs);
  t.deepEqual([...batch], [...inMemory.predict(configs)]);
  for (const [i, config] of configs.entries()) t.true(Math.abs(loaded.predict([config])[0] - batch[i]) < 1e-6);
  t.is(loaded.preset, 'micro');
  t.is(loaded.supernet?.checksum, 'sha256:abc');
});

test('the SIMD kernel and the plain loops compute the same network, forward and training', (t) => {
  const length = 127;
  const rng = createRng(4);
  const count = 70; // not a multiple of 4: padded rows
  const x = Float32Array.from({ length: count * length }, () => (rng.next() < 0.3 ? 1 : 0));
  const y = Float32Array.from({ length: count }, () => 0.5 + 0.3 * rng.next());
  const results = [true, false].map((simd) => {
    const mlp = createMlp(length, [40, 36], 0.6, createRng(5));
    const before = mlpPredictor(mlp, 32, { simd })(x, count);
    const losses: number[] = [];
    trainMlp(mlp, x, y, { epochs: 3, batchSize: 16, learningRate: 1e-3, weightDecay: 1e-4, rng: createRng(6), simd, onEpoch: (_, loss) => losses.push(loss) });
    return { before, after: mlpPredictor(mlp, 32, { simd })(x, count), losses };
  });
  const worst = (a: Float32Array, b: Float32Array) => Math.max(...a.map((v, i) => Math.abs(v - b[i])));
  t.true(worst(results[0].before, results[1].before) < 1e-5);
  t.true(worst(results[0].after, results[1].after) < 1e-4);
  for (let i = 0; i < 3; i++) t.true(Math.abs(results[0].losses[i] - results[1].losses[i]) < 1e-5 * Math.max(1, results[1].losses[i]));
  t.true(results[0].losses[2] < results[0].losses[0], 'training lowers the loss');
});

test('metrics: Kendall tau-b, Spearman with ties, RMSE, ridge and the MACs line', (t) => {
  t.is(kendallTau([1, 2, 3, 4], [1, 2, 3, 4]), 1);
  t.is(kendallTau([1, 2, 3, 4], [4, 3, 2, 1]), -1);
  // 5 concordant, 1 discordant pairs: (5 - 1) / 6.
  t.true(Math.abs(kendallTau([1, 2, 3, 4], [1, 3, 2, 4]) - 4 / 6) < 1e-12);
  // tau-b with ties: scipy.stats.kendalltau([1,1,2,3], [1,2,2,3]) = 0.8.
  t.true(Math.abs(kendallTau([1, 1, 2, 3], [1, 2, 2, 3]) - 0.8) < 1e-12);
  t.true(Math.abs(spearman([1, 2, 2, 3], [1, 2, 3, 4]) - 0.9486832980505138) < 1e-12);
  t.is(rmse([1, 2], [1, 4]), Math.sqrt(2));
  const rng = createRng(8);
  const width = 5;
  const x = Float32Array.from({ length: 200 * width }, () => rng.normal());
  const y = Array.from({ length: 200 }, (_, r) => 0.5 + [0.1, -0.2, 0.3, 0, 0.05].reduce((sum, w, c) => sum + w * x[r * width + c], 0));
  const ridge = fitRidge(x, y, width, 1e-6);
  t.true(Math.abs(ridge.intercept - 0.5) < 1e-4);
  t.true(Math.abs(ridge.coefficients[2] - 0.3) < 1e-4);
  t.true(rmse(predictRidge(ridge, x, width, 200), y) < 1e-4);
  const line = fitLine([1, 2, 3], [2, 4, 6]);
  t.deepEqual([line.intercept, line.slope], [0, 2]);
});

test('bad inputs: a predictor of another space or supernet, a foreign or damaged file, too few subnets', (t) => {
  const { predictorFile, predictor } = fitOnce();
  // A search of another space than the predictor's.
  const fashion = { preset: 'micro', variant: 'ofa' };
  const latency = makePredictor(syntheticTable(fashion, 1));
  const other = t.throws(() => searchDevices(fashion, loadAccuracyPredictor(predictorFile), [{ name: 'd', latency, budgetsMs: [1] }]));
  t.true(isOfaError(other) && other.code === 'E_ACCURACY_PREDICTOR_SPACE');
  t.regex(other!.message, /fitted for micro\/ee-d subnets; the search is for micro\/ofa/);
  // A checkpoint other than the one the data set was measured on.
  const dir = tempDir();
  const wrong = t.throws(() => checkPredictorCheckpoint(predictor, predictorFile, join(dir, 'elsewhere')));
  t.true(isOfaError(wrong) && wrong.code === 'E_ACCURACY_PREDICTOR_SPACE');
  t.true(wrong!.message.includes(predictorFile) && wrong!.message.includes('elsewhere') && wrong!.message.includes('sha256:abc'));
  // The recorded checkpoint, and a run folder holding it, are fine.
  t.notThrows(() => checkPredictorCheckpoint(predictor, predictorFile, predictor.supernet.dir));
  t.notThrows(() => checkPredictorCheckpoint(predictor, predictorFile, join(predictor.supernet.dir, '..')));
  // With the checkpoint's checksum (what `ofa search --checkpoint` reads from the manifest), the weights decide.
  t.notThrows(() => checkPredictorCheckpoint(predictor, predictorFile, join(dir, 'elsewhere'), predictor.supernet.checksum));
  t.throws(() => checkPredictorCheckpoint(predictor, predictorFile, predictor.supernet.dir, 'sha256:0000'), { message: /not on --checkpoint .*sha256:0000/ });
  // Another file format, and a predictor whose encoding does not fit its space.
  const foreign = join(dir, 'foreign.json');
  writeFileSync(foreign, JSON.stringify({ format: 'ofav2/lut', formatVersion: 1 }));
  t.throws(() => readAccuracyPredictor(foreign), { code: 'E_ARTIFACT_FORMAT', message: new RegExp(`${foreign} has format "ofav2/lut"`) } as never);
  const damaged = join(dir, 'damaged.json');
  writeFileSync(damaged, JSON.stringify({ ...predictor, variant: 'ofa' }));
  t.throws(() => readAccuracyPredictor(damaged), { code: 'E_ACCURACY_PREDICTOR', message: /damaged\.json: encodingLength 127 does not fit micro\/ofa/ } as never);
  writeFileSync(damaged, '{"format": ');
  t.throws(() => readAccuracyPredictor(damaged), { code: 'E_ACCURACY_PREDICTOR', message: /damaged\.json is not valid JSON.*truncated/ } as never);
  // Too few subnets to fit and judge.
  const small = syntheticDataset(MICRO, 7, tempDir());
  t.throws(() => fitAccuracyPredictor(readAccuracyDataset(small)), { code: 'E_ACCURACY_DATA_SMALL', message: /holds 7 distinct subnets; a fit needs at least 8/ } as never);
});

test('a data set with a bad line names the file, the line and the fault; a cut last line is left out', (t) => {
  const { file } = fitOnce();
  const dir = tempDir();
  const lines = readFileSync(file, 'utf8').split('\n');
  const write = (name: string, text: string) => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  };
  const notJson = write('not-json.jsonl', [...lines.slice(0, 4), '{"id": "x", ', ...lines.slice(4)].join('\n'));
  t.throws(() => readAccuracyDataset(notJson), { code: 'E_ACCURACY_DATA', message: new RegExp(`${notJson} line 5 is not valid JSON`) } as never);
  const row = JSON.parse(lines[2]);
  const badTop1 = write('bad-top1.jsonl', [...lines.slice(0, 2), JSON.stringify({ ...row, top1: 57 }), ...lines.slice(3)].join('\n'));
  t.throws(() => readAccuracyDataset(badTop1), { message: /bad-top1\.jsonl line 3 is invalid:\n {2}\$\.top1: must be <= 1 \(value 57\)/ } as never);
  const badId = write('bad-id.jsonl', [...lines.slice(0, 2), JSON.stringify({ ...row, id: 'feedfeedfeedfeed' }), ...lines.slice(3)].join('\n'));
  t.throws(() => readAccuracyDataset(badId), { message: /bad-id\.jsonl line 3 is invalid:\n {2}\$\.id: must be the config's id "[0-9a-f]{16}" \(value "feedfeedfeedfeed"\)/ } as never);
  const badConfig = write('bad-config.jsonl', [...lines.slice(0, 2), JSON.stringify({ ...row, config: { ...row.config, resolution: 9 } }), ...lines.slice(3)].join('\n'));
  t.throws(() => readAccuracyDataset(badConfig), { message: /bad-config\.jsonl line 3 is invalid:\n {2}\$\.config\.resolution: resolution 9 is not allowed/ } as never);
  const noHeader = write('no-header.jsonl', lines.slice(1).join('\n'));
  t.throws(() => readAccuracyDataset(noHeader), { code: 'E_ACCURACY_DATA', message: /no-header\.jsonl line 1 \(the header\) has format undefined/ } as never);
  // A kill mid-line: the complete lines are read, the cut one is reported.
  const cut = write('cut.jsonl', lines.join('\n'));
  appendFileSync(cut, lines[3].slice(0, 40));
  const read = readAccuracyDataset(cut);
  t.true(read.truncatedTail);
  t.is(read.rows.length, 300);
  t.throws(() => readAccuracyDataset(join(dir, 'missing.jsonl')), { code: 'E_ACCURACY_DATA', message: /missing\.jsonl does not exist/ } as never);
});

test('the data set sequence spreads over every exit and resolution and extends with the same seed', (t) => {
  const configs = datasetConfigs(MICRO, 50, 4);
  const count = (values: number[]) => [...values.reduce((m, v) => m.set(v, (m.get(v) ?? 0) + 1), new Map<number, number>())].sort((a, b) => a[0] - b[0]);
  t.deepEqual(count(configs.map((c) => c.exit as number)), [1, 2, 3, 4, 5].map((exit) => [exit, 10]));
  t.deepEqual(count(configs.map((c) => c.resolution)), [[8, 25], [12, 25]]);
  t.is(new Set(configs.map(configId)).size, 50);
  // Every depth and kernel appears.
  t.deepEqual([...new Set(configs.flatMap((c) => c.stages.map((s) => s.depth)))].sort(), [2, 3, 4]);
  t.deepEqual([...new Set(configs.flatMap((c) => c.stages.flatMap((s) => s.layers.map((l) => l.kernel))))].sort(), [3, 5, 7]);
  t.deepEqual(datasetConfigs(MICRO, 20, 4), configs.slice(0, 20));
});
