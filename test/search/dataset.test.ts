// The accuracy data set on a random-init `micro` supernet and generated images (issue 13 item 1): one line
// per subnet measured on 2 workers after BN recalibration; a kill (simulated: the run stops, and the file
// ends in a half-written line) and the same command again give the uninterrupted file; a resume with
// other settings is refused.
import test from 'ava';
import { appendFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../train/backend/index.ts';
import { joinTensors, saveCheckpoint, type TensorMap } from '../../train/checkpoint/index.ts';
import { openSupernet, type OpenedSupernet } from '../../train/index.ts';
import { Supernet } from '../../train/supernet/index.ts';
import { configId } from '../../space/index.ts';
import { datasetConfigs, measureAccuracyDataset, readAccuracyDataset, type MeasureDatasetOptions } from '../../search/index.ts';
import { makeData } from '../train/fixtures/quadrants.ts';
import { MICRO, removeTempDirs, tempDir } from './fixtures.ts';

const data = makeData({ train: 64, validation: 32, test: 8 });
const evalData = { calibration: data.train, set: data.validation, spec: data.spec };
let supernet: OpenedSupernet;
let checkpoint: string;

test.before(async () => {
  await initBackend({ prefer: 'wasm' });
  checkpoint = join(tempDir(), 'micro-ee-d');
  const net = new Supernet({ preset: MICRO.preset, variant: MICRO.variant, seed: 3 });
  const toMap = (vars: Map<string, tf.Variable>): TensorMap => new Map([...vars].map(([name, v]) => [name, { shape: [...v.shape], data: v.dataSync() as Float32Array }]));
  saveCheckpoint(checkpoint, {
    manifest: { preset: MICRO.preset, variant: MICRO.variant, phase: 'full', epoch: 0, step: 0, seed: 3, dataState: null, optimizer: { name: 'none', hyperparameters: {}, state: {} }, metrics: {} },
    tensors: joinTensors({ parameters: toMap(net.parameters), buffers: toMap(net.buffers) }),
  });
  net.dispose();
  supernet = await openSupernet(checkpoint, { backend: 'wasm' });
});
test.after.always(async () => {
  await supernet?.close();
  removeTempDirs();
});

const options = (out: string, extra: Partial<MeasureDatasetOptions> = {}): MeasureDatasetOptions => ({
  subnets: 6,
  seed: 2,
  out,
  checkpoint,
  recalibrationImages: 16,
  maxImages: 16,
  workers: 2,
  chunkSize: 2,
  ...extra,
});

test.serial('a killed run, then the same command, gives the uninterrupted data set', async (t) => {
  const dir = tempDir();
  const whole = join(dir, 'whole.jsonl');
  const first = await measureAccuracyDataset(supernet, evalData, options(whole));
  t.is(first.measured, 6);
  t.log(`6 micro subnets in ${first.seconds.toFixed(1)} s (${first.secondsPerSubnet.toFixed(2)} s each)`);
  const complete = readAccuracyDataset(whole);
  t.is(complete.header.format, 'ofav2/accuracy-dataset');
  t.is(complete.header.supernet.checksum, supernet.facts.checksum);
  t.is(complete.header.split, 'validation');
  t.is(complete.header.images, 16);
  t.deepEqual(complete.rows.map((row) => row.id), datasetConfigs(MICRO, 6, 2).map(configId));
  for (const row of complete.rows) {
    t.true(row.top1 >= 0 && row.top1 <= 1 && Number.isFinite(row.loss) && row.macs > 0);
    t.is(row.images, 16);
  }

  // The kill: 2 chunks written, then a line cut in the middle.
  const killed = join(dir, 'killed.jsonl');
  const partial = await measureAccuracyDataset(supernet, evalData, options(killed, { stopAfter: 4 }));
  t.is(partial.measured, 4);
  appendFileSync(killed, readFileSync(whole, 'utf8').split('\n')[5].slice(0, 50));
  t.true(readAccuracyDataset(killed).truncatedTail);
  const resumed = await measureAccuracyDataset(supernet, evalData, options(killed));
  t.deepEqual([resumed.skipped, resumed.measured, resumed.total, resumed.repaired], [4, 2, 6, true]);
  const after = readAccuracyDataset(killed);
  t.false(after.truncatedTail);
  t.deepEqual(after.rows.map((row) => row.id), complete.rows.map((row) => row.id));
  for (const [i, row] of after.rows.entries()) {
    t.true(Math.abs(row.top1 - complete.rows[i].top1) < 1e-9, `${row.id}: same top-1 as the uninterrupted run`);
    t.true(Math.abs(row.loss - complete.rows[i].loss) < 1e-5);
  }
  // Nothing left to do: the file is complete.
  const again = await measureAccuracyDataset(supernet, evalData, options(killed));
  t.deepEqual([again.skipped, again.measured], [6, 0]);
  // More subnets extend it with the same sequence.
  const more = await measureAccuracyDataset(supernet, evalData, options(killed, { subnets: 8 }));
  t.deepEqual([more.skipped, more.measured], [6, 2]);
  t.deepEqual(readAccuracyDataset(killed).rows.map((row) => row.id), datasetConfigs(MICRO, 8, 2).map(configId));
});

test.serial('a resume with other settings is refused, naming the file and what differs; a bad line stops it', async (t) => {
  const dir = tempDir();
  const file = join(dir, 'data.jsonl');
  await measureAccuracyDataset(supernet, evalData, options(file, { subnets: 2 }));
  await t.throwsAsync(measureAccuracyDataset(supernet, evalData, options(file, { recalibrationImages: 32 })), {
    code: 'E_ACCURACY_DATA_MISMATCH',
    message: new RegExp(`${file} was measured with recalibrationImages 16 \\(now 32\\)`),
  } as never);
  await t.throwsAsync(measureAccuracyDataset(supernet, evalData, options(file, { seed: 9 })), { code: 'E_ACCURACY_DATA_MISMATCH', message: /seed 2 \(now 9\)/ } as never);
  appendFileSync(file, 'not json\n');
  await t.throwsAsync(measureAccuracyDataset(supernet, evalData, options(file)), { code: 'E_ACCURACY_DATA', message: new RegExp(`${file} line 4 is not valid JSON`) } as never);
});

test.serial('the onnxruntime scorer (export with BN recalibrated, onnxruntime-node) agrees with the tfjs evaluation subnet by subnet; files of one scorer do not resume with the other', async (t) => {
  const dir = tempDir();
  const ort = join(dir, 'ort.jsonl');
  const tfjs = join(dir, 'tfjs.jsonl');
  await measureAccuracyDataset(supernet, evalData, options(ort, { scorer: 'onnxruntime' }));
  await measureAccuracyDataset(supernet, evalData, options(tfjs, { scorer: 'tfjs' }));
  const a = readAccuracyDataset(ort);
  const b = readAccuracyDataset(tfjs);
  t.is(a.header.scorer, 'onnxruntime');
  t.is(b.header.scorer, 'tfjs');
  t.deepEqual(a.rows.map((row) => row.id), b.rows.map((row) => row.id));
  for (const [i, row] of a.rows.entries()) {
    const other = b.rows[i];
    t.true(Math.abs(row.top1 - other.top1) <= 1 / 16 + 1e-9, `${row.id}: top-1 ${row.top1} vs ${other.top1}`);
    t.true(Math.abs(row.loss - other.loss) <= 1e-3 * Math.max(1, Math.abs(other.loss)), `${row.id}: loss ${row.loss} vs ${other.loss}`);
    t.is(row.images, other.images);
  }
  t.true(a.rows.filter((row, i) => row.top1 === b.rows[i].top1).length >= a.rows.length - 1, 'top-1 equal but for at most one near-tie');
  await t.throwsAsync(measureAccuracyDataset(supernet, evalData, options(ort, { scorer: 'tfjs' })), { code: 'E_ACCURACY_DATA_MISMATCH', message: /scorer onnxruntime \(now tfjs\)/ } as never);
});
