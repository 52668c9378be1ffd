// The state file of an `ofa train eps` folder (eps-state.json): which phases of the schedule are done,
// their folders, best checkpoints and figures. Its schema and type come from one definition, and it has
// one reader, used by the schedule (to resume) and by train/facts.ts (a folder's last finished phase);
// light: lib/ and zod only.
import { readJsonFile } from '../../lib/json.ts';
import { count, parseWith, text, z } from '../../lib/schema.ts';

export const EPS_STATE_FILE = 'eps-state.json';
export const EPS_STATE_FORMAT = 'ofav2/eps-state';
export const EPS_STATE_VERSION = 1;
export const EPS_TEACHERS = ['pet', 'baseline', 'none'] as const;
export type EpsTeacher = (typeof EPS_TEACHERS)[number];

/** A phase folder inside the schedule folder: a plain name (it is joined to the folder). */
const PHASE_DIR = /^(?!\.\.?$)[\w.-]+$/;

export const EPS_PHASE_STATE_SCHEMA = z.strictObject({
  name: text(),
  /** Folder of the phase inside the schedule folder. */
  dir: z.string().regex(PHASE_DIR),
  status: z.enum(['pending', 'running', 'done']),
  epochs: count(),
  /** Fractional epochs of warm-up (ofav2.md s3). */
  warmupEpochs: z.number().nonnegative(),
  /** The checkpoint the phase started from (the previous phase's best), null for the first. */
  init: z.string().nullable(),
  teacher: z.strictObject({ checkpoint: text(), phase: text(), dropoutRate: z.number().min(0).max(1) }).nullable(),
  best: z.strictObject({ checkpoint: text(), score: z.number(), epoch: count(), step: count() }).nullable(),
  seconds: z.number().nonnegative(),
  validationSeconds: z.number().nonnegative(),
  imagesPerSecond: z.number().nonnegative().nullable(),
});
export type EpsPhaseState = z.infer<typeof EPS_PHASE_STATE_SCHEMA>;

export const EPS_STATE_SCHEMA = z.strictObject({
  format: z.literal(EPS_STATE_FORMAT),
  formatVersion: z.literal(EPS_STATE_VERSION),
  preset: text(),
  variant: text(),
  teacher: z.enum(EPS_TEACHERS),
  scale: z.number().positive().max(1),
  seed: count(),
  batchSize: z.int().min(1),
  maxTrainImages: z.int().min(1).nullable(),
  phases: z.array(EPS_PHASE_STATE_SCHEMA).min(1),
});
export type EpsState = z.infer<typeof EPS_STATE_SCHEMA>;

/** Reads an eps-state.json: the shared JSON reader, then the schema; every refusal is E_EPS_STATE naming the file. */
export function readEpsState(path: string): EpsState {
  const hint = 'restore it, or start the schedule in a new --out folder';
  return parseWith(EPS_STATE_SCHEMA, readJsonFile(path, path, { code: 'E_EPS_STATE', hint }), path, { code: 'E_EPS_STATE', hint });
}
