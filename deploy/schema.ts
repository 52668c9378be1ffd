// What a rerun of `ofa deploy` reuses from an earlier one (issue 18): a bundle's manifest.json (the
// bundle is skipped when its inputs hash and model checksum match) and an earlier deploy.json's gate
// records. Both are the tool's own outputs, so a damaged one is not an error: it is not reused, and the
// bundle or record is made again. But a file that passes the hash checks and holds garbage figures must
// not be reused either, or the garbage lands in the new deploy.json: this schema checks every figure a
// reused manifest reports. (The manifest's full type is BundleManifest in bundle.ts.)
import { count, schemaFaults, text, z } from '../lib/schema.ts';
import { findFaults } from '../space/index.ts';
import { GATE_BASELINE_RECORD_SCHEMA } from './gate/schema.ts';

const ms = () => z.number().positive().max(3_600_000);
const fraction = () => z.number().min(0).max(1);
const HEX64 = /^[0-9a-f]{64}$/;

const BUNDLE_REUSE_SCHEMA = z.looseObject({
  format: z.literal('ofav2/deploy-bundle'),
  formatVersion: z.literal(1),
  device: text(),
  budgetMs: ms(),
  id: text(),
  config: z.unknown().refine((config) => findFaults(config).length === 0, { message: 'must be a valid subnet config' }),
  predicted: z.looseObject({ latencyMs: ms(), top1: fraction() }),
  measured: z.looseObject({ medianMs: ms(), p90Ms: ms(), fastestMs: ms(), samples: z.int().min(1) }),
  trueTop1: fraction(),
  testImages: z.int().min(1),
  macs: z.number().positive(),
  params: z.number().positive(),
  model: z.looseObject({ file: z.literal('model.onnx'), sha256: z.string().regex(HEX64), bytes: z.int().min(1) }),
  verify: z.looseObject({ images: count(), maxAbsDiff: z.number().nonnegative(), tolerance: z.number().positive() }),
  supernetChecksum: text(),
  tries: z.array(z.unknown()),
  inputsHash: z.string().regex(HEX64),
});

/** The first fault of an earlier bundle manifest that would make reusing it report garbage (undefined: reusable). */
export function bundleManifestFault(value: unknown): string | undefined {
  const [fault] = schemaFaults(BUNDLE_REUSE_SCHEMA, value);
  return fault ? `${fault.path}: ${fault.message}` : undefined;
}

/** Whether an earlier deploy.json's gate record can be reused as it is (the gate's own schema). */
export function reusableGateRecord(value: unknown): boolean {
  return GATE_BASELINE_RECORD_SCHEMA.safeParse(value).success;
}

const candidateFields = { id: text(), predictedLatencyMs: ms(), predictedTop1: fraction() };
const figures = z.looseObject({ medianMs: ms(), p90Ms: ms(), fastestMs: ms() });

/** What `ofa report` reads of a deploy.json (deploy.ts DeployResult): every figure it plots or prints. */
export const DEPLOY_RESULT_SCHEMA = z.looseObject({
  format: z.literal('ofav2/deploy'),
  formatVersion: z.literal(1),
  supernet: z.looseObject({ checksum: text(), preset: text(), variant: text() }),
  toolVersion: text(),
  devices: z.array(
    z.looseObject({
      name: text(),
      front: z.array(z.looseObject(candidateFields)),
      smallest: z.looseObject({ id: text(), latencyMs: ms() }),
      tableHostDiffers: z.array(z.string()),
      speed: z.looseObject({ factor: z.number().positive().max(1e6), hereMs: ms(), calibrationMs: ms(), applied: z.boolean() }).optional(),
      median: z.looseObject({ statistic: z.enum(['min', 'median']), referenceMedianMs: ms(), referenceFastestMs: ms(), factor: z.number().min(1).max(1e3) }).optional(),
    }),
  ),
  skippedDevices: z.array(z.looseObject({ name: text(), reason: z.string() })),
  deployments: z.array(
    z.looseObject({
      id: text(),
      device: text(),
      budgetMs: ms(),
      status: z.enum(['deployed', 'skipped', 'over-budget']),
      dir: z.string(),
      configId: text().optional(),
      model: z.string().optional(),
      sha256: z.string().regex(HEX64).optional(),
      predicted: z.looseObject({ latencyMs: ms(), top1: fraction() }).optional(),
      measured: figures.optional(),
      trueTop1: fraction().optional(),
      macs: z.number().positive().optional(),
      params: z.number().positive().optional(),
      tries: z.array(z.looseObject({ ...candidateFields, measured: figures, withinBudget: z.boolean() })),
    }),
  ),
  complete: z.boolean(),
});
