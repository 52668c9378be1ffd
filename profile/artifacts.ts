// Format tags of the JSON files the profiler writes (pipeline.md: every JSON artifact carries a format tag
// and version). Each file starts with `"format": "ofav2/<kind>", "formatVersion": N`; a reader checks
// both before it trusts any other field, so an old or foreign file is a clear error, not a crash later.
import { OfaError, describeValue } from '../lib/errors.ts';

export const ARTIFACT_FORMATS = {
  /** A latency lookup table (ofa profile lut). */
  lut: { format: 'ofav2/lut', formatVersion: 1 },
  /** A predictor calibration (ofa profile calibrate). Version 2 adds the block terms (terms.ts). */
  calibration: { format: 'ofav2/calibration', formatVersion: 2 },
  /** A predictor validation on held-out subnets (ofa profile validate). Version 2 adds the retest (the ceiling). */
  validation: { format: 'ofav2/validation', formatVersion: 2 },
  /** The record of an `ofa profile device` run: its settings, and each finished part with its seconds (onboard.ts). */
  profiling: { format: 'ofav2/profiling', formatVersion: 1 },
  /** One model measured with the protocol (ofa profile model). */
  measurement: { format: 'ofav2/measurement', formatVersion: 1 },
} as const;

export type ArtifactKind = keyof typeof ARTIFACT_FORMATS;

/**
 * Older versions a reader still accepts, because their fields mean the same in the current version (a
 * version-1 calibration is a version-2 one without block terms; a version-1 validation one without a
 * retest). What is not listed is refused with the rebuild hint.
 */
export const OLDER_READABLE_VERSIONS: { readonly [K in ArtifactKind]?: readonly number[] } = { calibration: [1], validation: [1] };

/** Every version of `kind` a reader accepts, the current one first. */
export function readableVersions(kind: ArtifactKind): number[] {
  return [ARTIFACT_FORMATS[kind].formatVersion, ...(OLDER_READABLE_VERSIONS[kind] ?? [])];
}

export type ArtifactTag<K extends ArtifactKind> = (typeof ARTIFACT_FORMATS)[K];

/** The tag fields of `kind`, to spread first into the object written. */
export function artifactTag<K extends ArtifactKind>(kind: K): ArtifactTag<K> {
  return { ...ARTIFACT_FORMATS[kind] };
}

/**
 * Throws E_ARTIFACT_FORMAT unless `value` is an object tagged as `kind` at a version a reader accepts (readableVersions). `input` names the
 * file; `hint` says how to get a good one.
 */
export function checkArtifact(value: unknown, kind: ArtifactKind, input: string, hint: string): void {
  const { format, formatVersion } = ARTIFACT_FORMATS[kind];
  const record = typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  if (record?.format === format && readableVersions(kind).includes(record.formatVersion as number)) return;
  const found =
    record === undefined
      ? `is not a JSON object`
      : record.format === format
        ? `has formatVersion ${describeValue(record.formatVersion)}`
        : `has format ${describeValue(record.format)}`;
  const older = OLDER_READABLE_VERSIONS[kind];
  throw new OfaError('E_ARTIFACT_FORMAT', `${input} ${found}; expected "format": "${format}", "formatVersion": ${formatVersion}${older ? ` (or ${older.join(', ')})` : ''}`, { hint });
}
