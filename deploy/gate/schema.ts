// The schema of a gate baseline record (issue 18): what a gate result's `record` and a deploy.json
// entry's `gate` hold, the type inferred from it (result.ts re-exports it), and its checks: the device's
// knobs and host facts as the profiler records them, finite log ratios, latencies > 0.
import { z, count, text } from '../../lib/schema.ts';
import { DEVICE_KNOBS_SCHEMA, HOST_FACTS_SCHEMA } from '../../profile/predict.ts';

/** The fewest recorded rounds a baseline must have (the rank-sum bounds need a few). */
export const MIN_BASELINE_ROUNDS = 10;

export const VISIT_STATISTICS = ['min', 'median'] as const;

/** One model input as fed: name, element type, concrete shape. */
export const INPUT_RECORD_SCHEMA = z.strictObject({ name: text(), type: text(), dims: z.array(z.int().min(1)) });

/** The speed reference measured beside the models (profile/reference.ts): which subnet, which bytes. */
export const GATE_REFERENCE_SCHEMA = z.strictObject({ preset: text(), variant: text(), configId: text(), seed: count(), sha256: text() });

export const RUNTIME_INFO_SCHEMA = z.strictObject({
  name: text(),
  /** Package name and version, e.g. onnxruntime-node 1.30.0. */
  version: text(),
  /** The session options exactly as handed to the runtime, plus runtime-wide settings (env.wasm...). */
  settings: z.record(z.string(), z.unknown()),
});

/**
 * A model's latency on a device against the speed reference, round by round: what a baseline file holds
 * (a gate result's `record`, or an entry of a deploy.json). A later gate run measures its candidate
 * against the same reference and compares the two series of log ratios.
 */
export const GATE_BASELINE_RECORD_SCHEMA = z.strictObject({
  device: DEVICE_KNOBS_SCHEMA,
  runtime: RUNTIME_INFO_SCHEMA,
  host: HOST_FACTS_SCHEMA,
  model: z.strictObject({ file: z.string().optional(), sha256: text(), inputs: z.array(INPUT_RECORD_SCHEMA) }),
  reference: GATE_REFERENCE_SCHEMA,
  statistic: z.enum(VISIT_STATISTICS),
  runsPerVisit: z.int().min(1),
  /** Per round: log(model / reference), each the visit's statistic in ms. */
  logRatios: z.array(z.number().min(-50).max(50)).min(MIN_BASELINE_ROUNDS),
  /** exp(median of logRatios): the model's latency in units of the reference's. */
  ratio: z.number().positive(),
  medianMs: z.number().positive(),
  referenceMedianMs: z.number().positive(),
});
export type GateBaselineRecord = z.infer<typeof GATE_BASELINE_RECORD_SCHEMA>;
