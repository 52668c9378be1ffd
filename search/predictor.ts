// The accuracy predictor (issue 13 item 2; ofav2.md s4): the MLP of search/mlp.ts on the predictor
// encoding of space/encoding.ts, fitted on an accuracy data set (search/dataset.ts) and judged on a
// held-out split beside two baselines fitted on the same training split: ranking by MACs, and a ridge
// regression on the same encoding. The file holds the weights (little-endian float32, base64), the
// supernet and data set it came from, and its held-out figures.
import { resolve, sep } from 'node:path';
import { OfaError, describeValue } from '../lib/errors.ts';
import { readJsonFile } from '../lib/json.ts';
import { createRng } from '../lib/rng.ts';
import { count, formatTag, oneOf, parseWith, text, z } from '../lib/schema.ts';
import { PRESET_NAMES, VARIANT_NAMES, encodeConfig, encodingLayout, type SubnetConfig } from '../space/index.ts';
import { SEARCH_FORMATS, checkTag, searchTag } from './artifacts.ts';
import { SUPERNET_RECORD_SCHEMA, type AccuracyDataset, type DatasetRow, type SupernetRecord } from './dataset.ts';
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

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
const isObject = (value: unknown) => typeof value === 'object' && value !== null && !Array.isArray(value);

/** A fitted accuracy predictor file (ofa search fit): its schema, and the type inferred from it. */
export const PREDICTOR_FILE_SCHEMA = z
  .strictObject({
    ...formatTag(SEARCH_FORMATS.predictor),
    preset: oneOf(PRESET_NAMES),
    variant: oneOf(VARIANT_NAMES),
    encodingLength: z.int().min(1),
    supernet: SUPERNET_RECORD_SCHEMA,
    dataset: z.strictObject({ file: z.string(), subnets: count(), split: text(), images: z.int().min(1), recalibrationImages: count(), seed: count() }),
    training: z.strictObject({
      hidden: z.array(z.int().min(1)),
      epochs: z.int().min(1),
      batchSize: z.int().min(1),
      learningRate: z.number().positive(),
      weightDecay: z.number().nonnegative(),
      seed: count(),
      trainSubnets: count(),
      parameters: count(),
      finalLoss: z.number().nonnegative(),
      seconds: z.number().nonnegative(),
      simd: z.boolean(),
    }),
    /** The held-out figures of the fit (a report: read by people, not by the search). */
    heldOut: z.custom<HeldOutReport>(isObject, { message: 'must be an object (the held-out report)' }),
    /** The fixed output bias: the mean top-1 of the training split. */
    baseOutput: z.number().min(0).max(1),
    layers: z
      .array(z.strictObject({ inputs: z.int().min(1), outputs: z.int().min(1).max(65536), weights: z.string().regex(BASE64), bias: z.string().regex(BASE64).optional() }))
      .min(1),
  })
  .superRefine((predictor, ctx) => {
    // The layers chain from the encoding to one output (an MLP whose shapes do not fit cannot run).
    let width = predictor.encodingLength;
    predictor.layers.forEach((layer, l) => {
      const last = l === predictor.layers.length - 1;
      if (layer.inputs !== width || (last && layer.outputs !== 1)) {
        ctx.addIssue({ code: 'custom', path: ['layers', l], input: `${layer.inputs} -> ${layer.outputs}`, message: `must take ${width} inputs${last ? ' and give 1 output' : ''}` });
      }
      if (!last && layer.bias === undefined) ctx.addIssue({ code: 'custom', path: ['layers', l, 'bias'], message: 'missing field "bias" (required on every layer but the last)' });
      width = layer.outputs;
    });
  });
export type PredictorFile = z.infer<typeof PREDICTOR_FILE_SCHEMA>;

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

/** A weight's largest magnitude: fitted MLP weights are well under 10; NaN, Infinity or beyond is damage. */
const MAX_WEIGHT = 1e4;

function fromBase64(text: string, length: number, what: string, file: string): Float32Array {
  const bytes = Buffer.from(text, 'base64');
  if (bytes.length !== length * 4) {
    throw new OfaError('E_ACCURACY_PREDICTOR', `accuracy predictor ${file}: $.${what} holds ${bytes.length / 4} values; expected ${length}`, { hint: 'fit it again with `ofa search fit`' });
  }
  const values = new Float32Array(length);
  new Uint8Array(values.buffer).set(bytes);
  const bad = values.findIndex((v) => !(Math.abs(v) <= MAX_WEIGHT));
  if (bad >= 0) {
    throw new OfaError('E_ACCURACY_PREDICTOR', `accuracy predictor ${file}: $.${what} value ${bad} is ${values[bad]}; allowed: finite numbers within +-${MAX_WEIGHT}`, { hint: 'fit it again with `ofa search fit`' });
  }
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

/** Reads and checks a predictor file: the shared JSON reader, its tag, PREDICTOR_FILE_SCHEMA, its space's encoding. */
export function readAccuracyPredictor(file: string): PredictorFile {
  const input = `accuracy predictor ${file}`;
  const hint = 'fit it again with `ofa search fit`';
  const value = readJsonFile(file, input, { code: 'E_ACCURACY_PREDICTOR', hint });
  checkTag(value, 'predictor', input, hint);
  const predictor = parseWith(PREDICTOR_FILE_SCHEMA, value, input, { code: 'E_ACCURACY_PREDICTOR', hint });
  const length = encodingLayout(predictor.preset, predictor.variant).length;
  if (predictor.encodingLength !== length) {
    throw new OfaError('E_ACCURACY_PREDICTOR', `accuracy predictor ${file}: encodingLength ${describeValue(predictor.encodingLength)} does not fit ${predictor.preset}/${predictor.variant} (its encoding has ${length} values)`, { hint });
  }
  // The weights decode now, not at the first prediction: a damaged one is an error naming it.
  mlpOf(predictor, file);
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
      const predicted = runtime.predict(encodeConfigs(configs, encodingLength), configs.length);
      // Refused before a search ranks by it: an accuracy that is not a finite number.
      const bad = predicted.findIndex((value) => !Number.isFinite(value));
      if (bad >= 0) {
        throw new OfaError('E_ACCURACY_PREDICTOR', `${options.file ? `accuracy predictor ${options.file}` : 'the accuracy predictor'} predicts ${predicted[bad]} for subnet ${JSON.stringify(configs[bad])}; allowed: a finite accuracy`, { hint: 'fit it again with `ofa search fit`' });
      }
      return predicted;
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
