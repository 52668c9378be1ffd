// Format tags of the files the search stage writes (pipeline.md: every JSON artifact carries a format tag
// and version). A reader checks both before it trusts any other field.
import { OfaError, describeValue } from '../lib/errors.ts';

export const SEARCH_FORMATS = {
  /** The first line of an accuracy data set (JSON lines: this header, then one measured subnet per line). */
  dataset: { format: 'ofav2/accuracy-dataset', formatVersion: 1 },
  /** A fitted accuracy predictor (ofa search fit). */
  predictor: { format: 'ofav2/accuracy-predictor', formatVersion: 1 },
  /** A search result: per device its front, per budget its pick (ofa search). */
  result: { format: 'ofav2/search-result', formatVersion: 1 },
} as const;

export type SearchArtifact = keyof typeof SEARCH_FORMATS;

export function searchTag<K extends SearchArtifact>(kind: K): (typeof SEARCH_FORMATS)[K] {
  return { ...SEARCH_FORMATS[kind] };
}

/** The fault of `value` as a `kind` file (undefined when it is one): for the caller's error, which names the file. */
export function tagFault(value: unknown, kind: SearchArtifact): string | undefined {
  const { format, formatVersion } = SEARCH_FORMATS[kind];
  const record = typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  if (record?.format === format && record.formatVersion === formatVersion) return undefined;
  const found = record === undefined ? 'is not a JSON object' : record.format === format ? `has formatVersion ${describeValue(record.formatVersion)}` : `has format ${describeValue(record.format)}`;
  return `${found}; expected "format": "${format}", "formatVersion": ${formatVersion}`;
}

export function checkTag(value: unknown, kind: SearchArtifact, input: string, hint: string): void {
  const fault = tagFault(value, kind);
  if (fault) throw new OfaError('E_ARTIFACT_FORMAT', `${input} ${fault}`, { hint });
}
