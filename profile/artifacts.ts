// Format tags of the JSON files the profiler writes (pipeline.md: every JSON artifact carries a format tag
// and version). Each file starts with `"format": "ofav2/<kind>", "formatVersion": N`; a reader checks
// both before it trusts any other field, so an old or foreign file is a clear error, not a crash later.
import { OfaError, describeValue } from '../lib/errors.ts';

export const ARTIFACT_FORMATS = {
  /** A latency lookup table (ofa profile lut). */
  lut: { format: 'ofav2/lut', formatVersion: 1 },
  /** A predictor calibration (ofa profile calibrate). */
  calibration: { format: 'ofav2/calibration', formatVersion: 1 },
  /** A predictor validation on held-out subnets (ofa profile validate). */
  validation: { format: 'ofav2/validation', formatVersion: 1 },
  /** One model measured with the protocol (ofa profile model). */
  measurement: { format: 'ofav2/measurement', formatVersion: 1 },
} as const;

export type ArtifactKind = keyof typeof ARTIFACT_FORMATS;
export type ArtifactTag<K extends ArtifactKind> = (typeof ARTIFACT_FORMATS)[K];

/** The tag fields of `kind`, to spread first into the object written. */
export function artifactTag<K extends ArtifactKind>(kind: K): ArtifactTag<K> {
  return { ...ARTIFACT_FORMATS[kind] };
}

/**
 * Throws E_ARTIFACT_FORMAT unless `value` is an object tagged as `kind` at its version. `input` names the
 * file; `hint` says how to get a good one.
 */
export function checkArtifact(value: unknown, kind: ArtifactKind, input: string, hint: string): void {
  const { format, formatVersion } = ARTIFACT_FORMATS[kind];
  const record = typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  if (record?.format === format && record.formatVersion === formatVersion) return;
  const found =
    record === undefined
      ? `is not a JSON object`
      : record.format === format
        ? `has formatVersion ${describeValue(record.formatVersion)}`
        : `has format ${describeValue(record.format)}`;
  throw new OfaError('E_ARTIFACT_FORMAT', `${input} ${found}; expected "format": "${format}", "formatVersion": ${formatVersion}`, { hint });
}
