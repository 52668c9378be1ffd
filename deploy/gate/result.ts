// What the gate writes (pipeline.md "Gate result"): the decision with the ratio, its confidence interval
// and p-value, the rounds and looks, the device and host facts; and the record that makes a result usable
// as a later run's baseline file (the candidate's latency against the speed reference, round by round).
import type { DeviceKnobs, HostFacts, RuntimeInfo } from '../../profile/index.ts';
import type { Decision, Look } from './decide.ts';

export const GATE_RESULT_FORMAT = { format: 'ofav2/gate-result', formatVersion: 1 } as const;

/** The per-visit figure a round records for each model: the fastest of its runs (default) or their median. */
export { VISIT_STATISTICS } from './schema.ts';
import { VISIT_STATISTICS } from './schema.ts';
export type VisitStatistic = (typeof VISIT_STATISTICS)[number];

export type GateMode = 'ab' | 'baseline-file';

// The baseline record and its parts: types inferred from their schemas (schema.ts), which its reader checks.
import type { GateBaselineRecord, INPUT_RECORD_SCHEMA, GATE_REFERENCE_SCHEMA } from './schema.ts';
import type { z } from '../../lib/schema.ts';
export type { GateBaselineRecord } from './schema.ts';
export type InputRecord = z.infer<typeof INPUT_RECORD_SCHEMA>;
export type ReferenceRecord = z.infer<typeof GATE_REFERENCE_SCHEMA>;

export interface ModelResult {
  file: string;
  sha256: string;
  bytes: number;
  nodeCount: number;
  /** The subnet config id from the model's metadata, when an `ofa export` wrote it. */
  configId?: string;
  inputs: InputRecord[];
  sessionCreateMs: number;
  firstRunMs: number;
  /** The visit statistic of each round, ms. */
  roundsMs: number[];
  medianMs: number;
  minMs: number;
}

/** The baseline in baseline-file mode: where it came from and what it recorded. */
export interface BaselineFileResult {
  file: string;
  /** The format of the file it was read from. */
  source: 'ofav2/gate-result' | 'ofav2/deploy';
  /** The deploy.json entry (its id), when the file holds several. */
  entry?: string;
  recordedAt: string;
  model: GateBaselineRecord['model'];
  rounds: number;
  /** The baseline model's latency in units of the reference's, as recorded. */
  ratio: number;
  medianMs: number;
  host: HostFacts;
  runtime: RuntimeInfo;
}

export interface GateResult {
  format: typeof GATE_RESULT_FORMAT.format;
  formatVersion: typeof GATE_RESULT_FORMAT.formatVersion;
  mode: GateMode;
  decision: Decision;
  /** The `ofa gate` exit code of the decision: 0 pass or improvement, 1 regression, 3 inconclusive. */
  exitCode: number;
  /** One sentence: what was decided and why. */
  summary: string;
  /** candidate / baseline latency (A/B: per-round ratio; baseline file: ratio of the reference-relative latencies). */
  ratio: number;
  /** The last look's bounds: each one-sided at the look's alpha, so `confidence` = 1 - 2 alpha. */
  ci: { low: number; high: number; confidence: number };
  /** Two-sided p-value of "no change" (see `test`). */
  pValue: number;
  test: 'wilcoxon-signed-rank' | 'mann-whitney';
  threshold: number;
  alpha: number;
  rounds: number;
  looks: Look[];
  timedOut: boolean;
  elapsedS: number;
  maxTimeS: number;
  protocol: { statistic: VisitStatistic; runsPerVisit: number; warmupRuns: number; initialRounds: number; growth: number; seed: number };
  device: DeviceKnobs;
  runtime: RuntimeInfo;
  host: HostFacts;
  baseline: ModelResult | BaselineFileResult;
  candidate: ModelResult;
  reference: (ReferenceRecord & { roundsMs: number[]; medianMs: number }) | null;
  /** The candidate as a baseline for a later run (null when the reference was not measured). */
  record: GateBaselineRecord | null;
  warnings: string[];
}
