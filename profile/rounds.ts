// Interleaved rounds, driven from outside: the sessions of several models stay open, and the caller asks
// for one visit at a time (a few timed single runs of one model). measureInterleaved (measure.ts) runs a
// fixed protocol to its end; a caller that decides as it goes (the CI gate, deploy/gate/: more rounds
// until a test is clear, in an order it randomises) needs the visits themselves. Same protocol pieces:
// one session per (model, device), session creation and first run timed apart, warm-up runs, each run
// timed by the runtime where the model runs.
import { deviceKnobs, type DeviceKnobs, type DeviceProfile } from './device.ts';
import { hostFacts, type HostFacts } from './host.ts';
import { planInputs } from './inputs.ts';
import { DEFAULT_PROTOCOL, dimsFor } from './measure.ts';
import { getRuntime, type InputPlan, type RuntimeInfo, type RuntimeSession, type ValueInfo } from './runtimes/index.ts';

export interface RoundsOptions {
  /** Untimed runs after each session's first run (default 10, as the protocol's). */
  warmupRuns?: number;
  /** Timed single runs per visit (default 5). */
  runsPerVisit?: number;
  /** Sizes of symbolic input dimensions by name; `batch` defaults to the device's batch size. */
  dims?: Record<string, number>;
  /** Seed of the generated input values (default 1). */
  seed?: number;
}

export interface RoundsModel {
  /** The session's declared inputs and outputs (symbolic dimensions by name). */
  inputs: ValueInfo[];
  outputs: ValueInfo[];
  /** What each visit feeds it: concrete shapes. */
  plan: InputPlan;
  sessionCreateMs: number;
  firstRunMs: number;
}

export interface InterleavedRounds {
  readonly device: DeviceKnobs;
  readonly runtime: RuntimeInfo;
  readonly host: HostFacts;
  readonly warmupRuns: number;
  readonly runsPerVisit: number;
  readonly models: readonly RoundsModel[];
  /** One visit of model `index`: `runsPerVisit` single runs, each timed alone (ms, in order). */
  visit(index: number): Promise<number[]>;
  /** Releases every session (idempotent). */
  close(): Promise<void>;
}

const sinceMs = (start: bigint) => Number(process.hrtime.bigint() - start) / 1e6;

/**
 * Opens one session per model on the device, times each one's creation and first run, warms it up, and
 * hands back visits. Sessions are opened in order; when one fails, those already open are released.
 */
export async function openRounds(models: readonly Uint8Array[], device: DeviceProfile, options: RoundsOptions = {}): Promise<InterleavedRounds> {
  const runtime = getRuntime(device.runtime);
  const warmupRuns = options.warmupRuns ?? DEFAULT_PROTOCOL.warmupRuns;
  const runsPerVisit = options.runsPerVisit ?? 5;
  const host = hostFacts();
  const info = await runtime.info(device);
  const sessions: RuntimeSession[] = [];
  const opened: RoundsModel[] = [];
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    for (const session of sessions) await session.dispose();
  };
  try {
    for (const model of models) {
      const createStart = process.hrtime.bigint();
      const session = await runtime.createSession(model, device);
      const sessionCreateMs = sinceMs(createStart);
      sessions.push(session);
      const plan = planInputs(session.inputs, dimsFor(device, options.dims, session), options.seed ?? 1);
      const warm = await runtime.time(session, plan, { firstRun: true, warmupRuns, minSamples: 0, minTimeMs: 0 });
      opened.push({ inputs: session.inputs, outputs: session.outputs, plan, sessionCreateMs, firstRunMs: warm.firstRunMs ?? 0 });
    }
  } catch (error) {
    await close();
    throw error;
  }
  return {
    device: deviceKnobs(device),
    runtime: info,
    host,
    warmupRuns,
    runsPerVisit,
    models: opened,
    async visit(index) {
      const timing = await runtime.time(sessions[index], opened[index].plan, { firstRun: false, warmupRuns: 0, minSamples: runsPerVisit, minTimeMs: 0 });
      return timing.samplesMs;
    },
    close,
  };
}
