// A predictor validation as a file (ofa profile validate --save; pipeline.md: "its quality is reported as
// the share of held-out subnets within +-5% and +-10% of measured, and rank correlation"): its schema,
// the type inferred from it, and its reader. Light like the predictor: a report reads validations
// without loading a runtime. Measuring one is profile/calibrate.ts.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { readJsonFile } from '../lib/json.ts';
import { count, oneOf, parseWith, text, z } from '../lib/schema.ts';
import { PRESET_NAMES, VARIANT_NAMES } from '../space/index.ts';
import { ARTIFACT_FORMATS, checkArtifact, readableVersions } from './artifacts.ts';
import { deviceDataDir, type DeviceProfile, type DevicesOptions } from './device.ts';
import { HOST_FACTS_SCHEMA } from './host.ts';
import { PROTOCOL_SCHEMA, REFERENCE_SCHEMA, checkMadeFor, latencyMs } from './table.ts';

const share = () => z.number().min(0).max(1);

/** The figures of predictions against measurements (predictor.ts predictorQuality). */
export const PREDICTOR_QUALITY_SCHEMA = z.strictObject({
  subnets: count(),
  /** Share of subnets whose prediction is within +-5% / +-10% of the measured latency. */
  within5: share(),
  within10: share(),
  /** Mean absolute percentage error, as a fraction. */
  mape: z.number().nonnegative(),
  spearman: z.number().min(-1).max(1),
});
export type PredictorQuality = z.infer<typeof PREDICTOR_QUALITY_SCHEMA>;

export const VALIDATION_SCHEMA = z.strictObject({
  format: z.literal(ARTIFACT_FORMATS.validation.format),
  /** Version 1 files (no retest) are read as they are. */
  formatVersion: z.literal(readableVersions('validation')),
  device: text(),
  preset: oneOf(PRESET_NAMES),
  variant: oneOf(VARIANT_NAMES),
  seed: count(),
  /** The calibration's seed (absent when the calibration was made by hand). */
  calibrationSeed: count().optional(),
  /** The figure of the timed runs predicted and measured (the calibration's). */
  statistic: z.enum(['min', 'median']),
  protocol: PROTOCOL_SCHEMA,
  host: HOST_FACTS_SCHEMA,
  quality: PREDICTOR_QUALITY_SCHEMA,
  /** The same figures for the uncalibrated table sum. */
  rawSum: PREDICTOR_QUALITY_SCHEMA,
  /**
   * The speed reference measured in every validation chunk: `factors` is its latency now over its
   * latency when the calibration was measured (the shared machine's drift; 1 = same speed), and `quality` the
   * figures of prediction x factor. Reported beside, never instead of, the plain figures.
   */
  drift: z.strictObject({ reference: REFERENCE_SCHEMA.optional(), factors: z.array(z.number().positive()), passes: z.array(z.int().min(1)), quality: PREDICTOR_QUALITY_SCHEMA }),
  /**
   * The test-retest ceiling (version 2, calibrate.ts): the same subnets measured again right after,
   * `secondsApart` after the validation began. `agreement` is the second measurement judged as a
   * prediction of the first (the share within +-10% of each other is the best a predictor can show under
   * this protocol); `predictor` the predictions judged against the second measurement.
   */
  retest: z
    .strictObject({
      secondsApart: z.number().nonnegative(),
      agreement: PREDICTOR_QUALITY_SCHEMA,
      predictor: PREDICTOR_QUALITY_SCHEMA,
      factors: z.array(z.number().positive()),
      passes: z.array(z.int().min(1)),
    })
    .optional(),
  /** Fresh sessions per subnet, the fastest kept (calibrate.ts; absent: 1). */
  sessions: z.int().min(1).optional(),
  measuredRangeMs: z.tuple([latencyMs(), latencyMs()]),
  seconds: z.number().nonnegative(),
  /** measuredMs is the statistic's figure; medianMs the median of the same runs. */
  subnets: z.array(
    z.strictObject({ configId: text(), measuredMs: latencyMs(), medianMs: latencyMs(), retestMs: latencyMs().optional(), predictedMs: z.number(), tableSumMs: latencyMs(), blocks: z.int().min(1) }),
  ),
  /** Where it was written (files of older versions). */
  file: z.string().optional(),
});
export type ValidationResult = z.infer<typeof VALIDATION_SCHEMA>;

const VALIDATION_HINT = 'run `ofa profile validate --save` again';

/** Reads a validation file: the shared JSON reader, its format tag, then VALIDATION_SCHEMA. */
export function readValidation(file: string): ValidationResult {
  const input = `validation ${file}`;
  const value = readJsonFile(file, input, { code: 'E_CALIBRATION', hint: VALIDATION_HINT });
  checkArtifact(value, 'validation', input, VALIDATION_HINT);
  return parseWith(VALIDATION_SCHEMA, value, input, { code: 'E_CALIBRATION', hint: VALIDATION_HINT });
}

/** <device data dir>/validation-<preset>-<variant>.json: where `--save` writes a validation. */
export function validationPath(device: DeviceProfile, preset: string, variant: string, options: DevicesOptions = {}): string {
  return join(deviceDataDir(device, options), `validation-${preset}-${variant}.json`);
}

/** The device's validation for a space, or undefined when it has none; one made for another device or space is refused. */
export function loadValidation(device: DeviceProfile, preset: string, variant: string, options: DevicesOptions = {}): ValidationResult | undefined {
  const file = validationPath(device, preset, variant, options);
  if (!existsSync(file)) return undefined;
  const validation = readValidation(file);
  checkMadeFor(`validation ${file}`, validation, { device: device.name, preset, variant }, VALIDATION_HINT);
  return validation;
}
