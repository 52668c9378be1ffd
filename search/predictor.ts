// The accuracy predictor (issue 13 item 2; ofav2.md s4): the MLP of search/mlp.ts on the predictor
// encoding of space/encoding.ts, fitted on an accuracy data set (search/dataset.ts) and judged on a
// held-out split beside two baselines fitted on the same training split: ranking by MACs, and a ridge
// regression on the same encoding. The file holds the weights (little-endian float32, base64), the
// supernet and data set it came from, and its held-out figures.
import { readFileSync } from 'node:fs';
import { resolve, sep } from 'node:path';
import { OfaError, describeValue } from '../lib/errors.ts';
import { createRng } from '../lib/rng.ts';
import { encodeConfig, encodingLayout, type SubnetConfig } from '../space/index.ts';
import { checkTag, searchTag } from './artifacts.ts';
import type { AccuracyDataset, DatasetRow, SupernetRecord } from './dataset.ts';
import { fitLine, fitRidgeCv, predictRidge, quality, rowsOf, type PredictionQuality } from './metrics.ts';
import { MlpRuntime, createMlp, mlpParameterCount, trainMlp, type Mlp } from './mlp.ts';

/** ofav2.md s4's numbers, and the fit's own defaults. */
export const PREDICTOR_DEFAULTS = {
  hidden: [400, 400, 400] as readonly number[],
  learningRate: 1e-3,
  weightDecay: 1e-4,
  epochs: 200,
  batchSize: 64,
  /** Share of the subnets held out to judge the predictor. */
  holdout: 0.2,
  seed: 1,
};

/** Fewest subnets a fit accepts: enough for a training split and a held-out split of 3. */
export const MIN_FIT_SUBNETS = 8;

export interface FitOptions {
  hidden?: readonly number[];
  learningRate?: number;
  weightDecay?: number;
  epochs?: number;
  batchSize?: number;
  holdout?: number;
  seed?: number;
  onEpoch?: (epoch: number, loss: number) => void;
}

export interface HeldOutReport {
  subnets: number;
  mlp: PredictionQuality;
  /** Ridge regression on the same encoding, its penalty chosen by 5-fold cross-validation on the training split. */
  ridge: PredictionQuality & { lambda: number };
  /** Ranking by MACs (rank correlations of MACs itself; RMSE of a line in log MACs fitted on the training split). */
  macs: PredictionQuality;
}

export interface PredictorFile {
  format: 'ofav2/accuracy-predictor';
  formatVersion: 1;
  preset: string;
  variant: string;
  encodingLength: number;
  supernet: SupernetRecord;
  dataset: { file: string; subnets: number; split: string; images: number; recalibrationImages: number; seed: number };
  training: {
    hidden: number[];
    epochs: number;
    batchSize: number;
    learningRate: number;
    weightDecay: number;
    seed: number;
    trainSubnets: number;
    parameters: number;
    finalLoss: number;
    seconds: number;
    simd: boolean;
  };
  heldOut: HeldOutReport;
  /** The fixed output bias: the mean top-1 of the training split. */
  baseOutput: number;
  layers: { inputs: number; outputs: number; weights: string; bias?: string }[];
}

export interface AccuracyPredictor {
  preset: string;
  variant: string;
  /** The supernet whose measured accuracies it learned (absent for predictors built in code). */
  supernet?: SupernetRecord;
  /** Predicted top-1 (a fraction) of each config, in order. */
  predict(configs: readonly SubnetConfig[]): Float32Array;
}

function positive(name: string, value: number, integer: boolean): void {
  if (!Number.isFinite(value) || value <= 0 || (integer && !Number.isInteger(value))) {
    throw new OfaError('E_SEARCH_OPTIONS', `${name} ${value} is not valid; allowed: ${integer ? 'an integer >= 1' : 'a number > 0'}`);
  }
}

/** Row-major encodings of configs (space/encoding.ts). */
export function encodeConfigs(configs: readonly SubnetConfig[], length: number): Float32Array {
  const x = new Float32Array(configs.length * length);
  configs.forEach((config, i) => x.set(encodeConfig(config), i * length));
  return x;
}

/** A seeded split of distinct subnets (the first row of an id kept) into training and held-out rows. */
export function splitRows(rows: readonly DatasetRow[], holdout: number, seed: number): { train: DatasetRow[]; heldOut: DatasetRow[] } {
  const seen = new Set<string>();
  const distinct = rows.filter((row) => !seen.has(row.id) && (seen.add(row.id), true));
  const shuffled = createRng(seed).shuffle([...distinct]);
  const held = Math.max(3, Math.round(holdout * shuffled.length));
  return { heldOut: shuffled.slice(0, held), train: shuffled.slice(held) };
}

const toBase64 = (values: Float32Array) => Buffer.from(values.buffer, values.byteOffset, values.byteLength).toString('base64');

function fromBase64(text: string, length: number, what: string, file: string): Float32Array {
  const bytes = Buffer.from(text, 'base64');
  if (bytes.length !== length * 4) {
    throw new OfaError('E_ACCURACY_PREDICTOR', `accuracy predictor ${file}: ${what} holds ${bytes.length / 4} values; expected ${length}`, { hint: 'fit it again with `ofa search fit`' });
  }
  const values = new Float32Array(length);
  new Uint8Array(values.buffer).set(bytes);
  return values;
}

/** Fits the predictor on a data set's training split and judges it and the baselines on the held-out split. */
export function fitAccuracyPredictor(dataset: AccuracyDataset, options: FitOptions = {}): PredictorFile {
  const settings = { ...PREDICTOR_DEFAULTS, ...options };
  positive('--epochs', settings.epochs, true);
  positive('--batch-size', settings.batchSize, true);
  positive('--learning-rate', settings.learningRate, false);
  if (!(settings.weightDecay >= 0)) throw new OfaError('E_SEARCH_OPTIONS', `--weight-decay ${settings.weightDecay} is not valid; allowed: a number >= 0`);
  if (!(settings.holdout > 0 && settings.holdout < 1)) throw new OfaError('E_SEARCH_OPTIONS', `--holdout ${settings.holdout} is not valid; allowed: a fraction between 0 and 1`);
  for (const units of settings.hidden) positive('hidden layer width', units, true);
  const { header } = dataset;
  const distinct = new Set(dataset.rows.map((row) => row.id)).size;
  if (distinct < MIN_FIT_SUBNETS) {
    throw new OfaError('E_ACCURACY_DATA_SMALL', `accuracy data set ${dataset.file} holds ${distinct} distinct subnets; a fit needs at least ${MIN_FIT_SUBNETS} (a training split and 3 held out)`, {
      hint: 'measure more: `ofa search dataset ... --subnets N` with a larger N resumes the file',
    });
  }
  const { train, heldOut } = splitRows(dataset.rows, settings.holdout, settings.seed);
  const length = encodingLayout(header.preset, header.variant).length;
  const xTrain = encodeConfigs(train.map((r) => r.config), length);
  const yTrain = Float32Array.from(train, (r) => r.top1);
  const xHeld = encodeConfigs(heldOut.map((r) => r.config), length);
  const yHeld = heldOut.map((r) => r.top1);
  const started = performance.now();
  const rng = createRng(settings.seed);
  const base = yTrain.reduce((a, b) => a + b, 0) / yTrain.length;
  const mlp = createMlp(length, settings.hidden, base, rng);
  const finalLoss = trainMlp(mlp, xTrain, yTrain, { ...settings, rng, onEpoch: options.onEpoch });
  const seconds = (performance.now() - started) / 1000;
  const runtime = new MlpRuntime(mlp, 256);
  const mlpHeld = runtime.predict(xHeld, heldOut.length);
  const ridge = fitRidgeCv(xTrain, yTrain, length);
  const ridgeHeld = predictRidge(ridge, xHeld, length, heldOut.length);
  const logMacs = (rows: DatasetRow[]) => rows.map((r) => Math.log(r.macs));
  const line = fitLine(logMacs(train), yTrain);
  const macsHeld = logMacs(heldOut).map((t) => line.intercept + line.slope * t);
  const macsQuality = quality(heldOut.map((r) => r.macs), yHeld);
  return {
    ...searchTag('predictor'),
    preset: header.preset,
    variant: header.variant,
    encodingLength: length,
    supernet: header.supernet,
    dataset: { file: dataset.file, subnets: distinct, split: header.split, images: header.images, recalibrationImages: header.recalibrationImages, seed: header.seed },
    training: {
      hidden: [...settings.hidden],
      epochs: settings.epochs,
      batchSize: settings.batchSize,
      learningRate: settings.learningRate,
      weightDecay: settings.weightDecay,
      seed: settings.seed,
      trainSubnets: train.length,
      parameters: mlpParameterCount(mlp),
      finalLoss,
      seconds,
      simd: runtime.simd,
    },
    heldOut: {
      subnets: heldOut.length,
      mlp: quality(mlpHeld, yHeld),
      ridge: { ...quality(ridgeHeld, yHeld), lambda: ridge.lambda },
      macs: { ...macsQuality, rmse: quality(macsHeld, yHeld).rmse },
    },
    baseOutput: base,
    layers: mlp.layers.map((layer) => ({ inputs: layer.inputs, outputs: layer.outputs, weights: toBase64(layer.weights), ...(layer.bias ? { bias: toBase64(layer.bias) } : {}) })),
  };
}

/** Reads and checks a predictor file: its tag, its space, its layers' shapes. */
export function readAccuracyPredictor(file: string): PredictorFile {
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new OfaError('E_ACCURACY_PREDICTOR', `accuracy predictor ${file} cannot be read: ${(error as Error).message}`, { hint: 'pass the file `ofa search fit --out` wrote' });
  }
  checkTag(value, 'predictor', `accuracy predictor ${file}`, 'fit it again with `ofa search fit`');
  const predictor = value as PredictorFile;
  const bad = (fault: string) => new OfaError('E_ACCURACY_PREDICTOR', `accuracy predictor ${file}: ${fault}`, { hint: 'fit it again with `ofa search fit`' });
  let length: number;
  try {
    length = encodingLayout(predictor.preset, predictor.variant).length;
  } catch (error) {
    throw bad((error as Error).message);
  }
  if (predictor.encodingLength !== length) throw bad(`encodingLength ${describeValue(predictor.encodingLength)} does not fit ${predictor.preset}/${predictor.variant} (its encoding has ${length} values)`);
  if (!Array.isArray(predictor.layers) || predictor.layers.length < 1) throw bad('no "layers"');
  let width = length;
  predictor.layers.forEach((layer, l) => {
    const last = l === predictor.layers.length - 1;
    if (layer.inputs !== width || !Number.isInteger(layer.outputs) || layer.outputs < 1 || (last && layer.outputs !== 1)) {
      throw bad(`layers[${l}] is ${describeValue(layer.inputs)} -> ${describeValue(layer.outputs)}; expected ${width} inputs${last ? ' and 1 output' : ''}`);
    }
    if (typeof layer.weights !== 'string' || (!last && typeof layer.bias !== 'string')) throw bad(`layers[${l}] has no base64 "weights"${last ? '' : ' or "bias"'}`);
    width = layer.outputs;
  });
  if (typeof predictor.baseOutput !== 'number' || !Number.isFinite(predictor.baseOutput)) throw bad(`baseOutput is ${describeValue(predictor.baseOutput)}; expected a number`);
  return predictor;
}

export function mlpOf(predictor: PredictorFile, file = 'accuracy predictor'): Mlp {
  return {
    baseOutput: predictor.baseOutput,
    layers: predictor.layers.map((layer, l) => ({
      inputs: layer.inputs,
      outputs: layer.outputs,
      weights: fromBase64(layer.weights, layer.inputs * layer.outputs, `layers[${l}].weights`, file),
      ...(layer.bias ? { bias: fromBase64(layer.bias, layer.outputs, `layers[${l}].bias`, file) } : {}),
    })),
  };
}

/** The predictor of a file's (or fit's) contents, predicting in batches of `batchSize`. */
export function accuracyPredictorOf(predictor: PredictorFile, options: { batchSize?: number; simd?: boolean; file?: string } = {}): AccuracyPredictor & { simd: boolean } {
  const runtime = new MlpRuntime(mlpOf(predictor, options.file), options.batchSize ?? 256, { simd: options.simd });
  const { preset, variant, encodingLength } = predictor;
  return {
    preset,
    variant,
    supernet: predictor.supernet,
    simd: runtime.simd,
    predict(configs) {
      for (const config of configs) {
        if (config.preset !== preset || config.variant !== variant) {
          throw new OfaError('E_ACCURACY_PREDICTOR_SPACE', `subnet config is ${config.preset}/${config.variant}; the accuracy predictor was fitted for ${preset}/${variant}`);
        }
      }
      return runtime.predict(encodeConfigs(configs, encodingLength), configs.length);
    },
  };
}

export function loadAccuracyPredictor(file: string, options: { batchSize?: number; simd?: boolean } = {}): AccuracyPredictor & { simd: boolean } {
  return accuracyPredictorOf(readAccuracyPredictor(file), { ...options, file });
}

/**
 * Refuses a predictor whose accuracies were measured on another supernet than `checkpoint` names. The
 * search loads no training engine, so it does not open the checkpoint: the predictor records the
 * checkpoint folder its data set was measured on (as given, and the checkpoint that stood for), and
 * `checkpoint` must be one of them or a folder holding it (a run or EPS folder).
 */
/**
 * Refuses a predictor measured on another supernet than --checkpoint. With `checksum` (the weights'
 * sha256 from the checkpoint's manifest: train/facts.ts readSupernetFacts) the weights are compared, so
 * a checkpoint retrained in place is caught; without it, the paths.
 */
export function checkPredictorCheckpoint(predictor: Pick<PredictorFile, 'supernet' | 'preset' | 'variant'>, file: string, checkpoint: string, checksum?: string): void {
  const given = resolve(checkpoint);
  const record = predictor.supernet;
  const recorded = [resolve(record.checkpoint), resolve(record.dir)];
  if (checksum !== undefined ? checksum === record.checksum : recorded.includes(given) || recorded.some((dir) => dir.startsWith(given + sep))) return;
  throw new OfaError(
    'E_ACCURACY_PREDICTOR_SPACE',
    `accuracy predictor ${file} was fitted on accuracies measured on the ${predictor.preset}/${predictor.variant} supernet ${record.dir} (${record.checksum}), not on --checkpoint ${checkpoint}${checksum ? ` (${checksum})` : ''}`,
    { hint: `measure and fit one for this checkpoint: ofa search dataset --checkpoint ${checkpoint} ..., then ofa search fit` },
  );
}
