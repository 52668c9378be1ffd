// `ofa gate` (issue 15): is the candidate model slower than the baseline on this device?
//
// A/B mode: both models (and, unless told not to, the speed reference) get a session in this process and
// are measured in rounds; in each round every model is visited once, in a random order (seeded), for a
// few timed runs, and the visit's fastest run (or median) is its figure. A burst of load from another
// tenant then hits the models of a round alike, and the per-round ratio candidate / baseline cancels it.
// The sequential test (decide.ts) looks after 20 rounds and then as the rounds grow by half, until it is
// clear or the time limit is reached (inconclusive).
//
// Baseline-file mode: the old model is gone; a file recorded its latency against the speed reference,
// round by round (result.ts GateBaselineRecord). The candidate is measured interleaved with the same
// reference, and its reference-relative log ratios are compared with the recorded ones (two samples,
// Mann-Whitney). The reference removes the machine's speed of the moment, not what differs between two
// processes or hosts: the README gives bench/gate.bench.ts's figures of how much weaker this is.
import { createHash } from 'node:crypto';
import { openSync, readSync, closeSync } from 'node:fs';
import { OfaError, isOfaError } from '../../lib/errors.ts';
import { createRng } from '../../lib/rng.ts';
import {
  checkDevice,
  deviceKnobs,
  openRounds,
  readOnnxFile,
  referenceConfig,
  referenceModel,
  REFERENCE_SEED,
  type DeviceProfile,
  type InterleavedRounds,
  type OnnxSummary,
  type RoundsModel,
} from '../../profile/index.ts';
import { DEFAULT_PRESET, DEFAULT_VARIANT, PRESET_NAMES, VARIANT_NAMES, configId } from '../../space/index.ts';
import { MIN_BASELINE_ROUNDS, checkBaselineDevice, readBaselineFile, type BaselineFile } from './baseline.ts';
import { DECISION_EXIT_CODES, DEFAULT_SEQUENTIAL, MIN_LOOK_ROUNDS, SequentialTest, decisionOf, type Look, type SequentialSettings } from './decide.ts';
import { median } from './stats.ts';
import {
  GATE_RESULT_FORMAT,
  VISIT_STATISTICS,
  type BaselineFileResult,
  type GateBaselineRecord,
  type GateResult,
  type InputRecord,
  type ModelResult,
  type ReferenceRecord,
  type VisitStatistic,
} from './result.ts';

export interface GateOptions {
  device: DeviceProfile;
  /** The baseline: an ONNX model (A/B mode) or a baseline file (a gate result or a deploy.json). */
  baseline: string;
  /** The candidate ONNX model. */
  candidate: string;
  /** Largest slowdown that passes, as a fraction in (0, 1) (default 0.05). */
  threshold?: number;
  /** Time limit of the measurement in seconds, sessions included (default 60). */
  maxTimeS?: number;
  /** False-alarm budget over all looks (default 0.01). */
  alpha?: number;
  /** Rounds before the first look (default 20). */
  initialRounds?: number;
  /** Growth of the rounds between looks (default 1.5). */
  growth?: number;
  /** Timed runs per visit (default 5; a baseline file's own in baseline-file mode). */
  runsPerVisit?: number;
  /** Warm-up runs of each session (default 10). */
  warmupRuns?: number;
  /** The visit's figure (default min; a baseline file's own in baseline-file mode). */
  statistic?: VisitStatistic;
  /** A/B mode: also measure the speed reference, so that the result can serve as a later baseline file (default true). */
  reference?: boolean;
  /** Seed of the visit order (default 1). */
  seed?: number;
  /** Sizes of symbolic input dimensions (`batch` defaults to the device's batch size). */
  dims?: Record<string, number>;
  /** The deploy.json entry to compare with, when the file has several for the device. */
  entry?: string;
  /** Called after every look (progress). */
  onLook?: (look: Look, elapsedS: number) => void;
}

export const DEFAULT_GATE = { threshold: 0.05, maxTimeS: 60, runsPerVisit: 5, warmupRuns: 10, statistic: 'min' as VisitStatistic, seed: 1 } as const;

interface Settings {
  sequential: SequentialSettings;
  maxTimeS: number;
  warmupRuns: number;
  seed: number;
}

/** Checks every number of the options (bad input, before anything is read or measured). */
function resolveSettings(options: GateOptions): Settings {
  const threshold = options.threshold ?? DEFAULT_GATE.threshold;
  if (!(typeof threshold === 'number' && threshold > 0 && threshold < 1)) {
    throw new OfaError('E_GATE_THRESHOLD', `threshold ${describeFraction(threshold)} is outside (0, 100%)`, { hint: 'give the largest slowdown that passes, e.g. --threshold 5% (or 0.05)' });
  }
  const option = (name: string, value: number, ok: boolean, allowed: string) => {
    if (!ok) throw new OfaError('E_GATE_OPTION', `gate ${name} ${String(value)} is not valid; allowed: ${allowed}`);
    return value;
  };
  const alpha = options.alpha ?? DEFAULT_SEQUENTIAL.alpha;
  const initialRounds = options.initialRounds ?? DEFAULT_SEQUENTIAL.initialRounds;
  const growth = options.growth ?? DEFAULT_SEQUENTIAL.growth;
  const maxTimeS = options.maxTimeS ?? DEFAULT_GATE.maxTimeS;
  const warmupRuns = options.warmupRuns ?? DEFAULT_GATE.warmupRuns;
  const seed = options.seed ?? DEFAULT_GATE.seed;
  option('alpha', alpha, alpha > 0 && alpha < 0.5, 'a false-alarm budget in (0, 0.5), e.g. 0.01');
  option('rounds', initialRounds, Number.isInteger(initialRounds) && initialRounds >= MIN_LOOK_ROUNDS, `an integer >= ${MIN_LOOK_ROUNDS} (rounds before the first look)`);
  option('growth', growth, growth > 1 && Number.isFinite(growth), 'a factor > 1');
  option('max-time', maxTimeS, maxTimeS > 0 && Number.isFinite(maxTimeS), 'a time > 0 s');
  option('warmup', warmupRuns, Number.isInteger(warmupRuns) && warmupRuns >= 0, 'an integer >= 0');
  option('seed', seed, Number.isInteger(seed), 'an integer');
  if (options.runsPerVisit !== undefined) option('runs-per-visit', options.runsPerVisit, Number.isInteger(options.runsPerVisit) && options.runsPerVisit >= 1, 'an integer >= 1');
  if (options.statistic !== undefined && !VISIT_STATISTICS.includes(options.statistic)) {
    throw new OfaError('E_GATE_OPTION', `gate statistic ${JSON.stringify(options.statistic)} is not valid; allowed: ${VISIT_STATISTICS.join(', ')}`);
  }
  return { sequential: { threshold, alpha, initialRounds, growth }, maxTimeS, warmupRuns, seed };
}

function describeFraction(value: unknown): string {
  return typeof value === 'number' ? `${Number((value * 100).toPrecision(6))}% (${value})` : JSON.stringify(value);
}

/** A file whose first non-blank byte opens a JSON object: a baseline file; anything else is read as ONNX. */
export function looksLikeJson(path: string): boolean {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return false;
  }
  try {
    const buffer = Buffer.alloc(64);
    const read = readSync(fd, buffer, 0, buffer.length, 0);
    return /^\s*\{/.test(buffer.subarray(0, read).toString('latin1'));
  } finally {
    closeSync(fd);
  }
}

/** A device whose runtime or execution provider cannot start here is the user's choice to change: bad input. */
async function checkDeviceStarts(device: DeviceProfile): Promise<void> {
  try {
    await checkDevice(device);
  } catch (error) {
    if (isOfaError(error) && error.kind === 'bad-input') throw error;
    const message = (error as Error).message ?? String(error);
    throw new OfaError('E_GATE_DEVICE', `device ${device.name} (${device.runtime}, EP ${device.executionProvider}) cannot start on this host: ${message}`, {
      hint: (error as { hint?: string }).hint ?? 'run `ofa profile devices` to see which devices can start here',
      cause: error,
    });
  }
}

interface Model {
  file: string;
  bytes: Uint8Array;
  summary: OnnxSummary;
}

function readModel(file: string): Model {
  const { bytes, summary } = readOnnxFile(file);
  return { file, bytes, summary };
}

/** The reference of the space the model was exported from (its metadata), else of the default space. */
function referenceSpace(model: Model): { preset: string; variant: string } {
  const { preset, variant } = model.summary.metadata;
  if (preset && variant && PRESET_NAMES.includes(preset) && (VARIANT_NAMES as readonly string[]).includes(variant)) return { preset, variant };
  return { preset: DEFAULT_PRESET, variant: DEFAULT_VARIANT };
}

function reference(space: { preset: string; variant: string }): { bytes: Uint8Array; record: ReferenceRecord } {
  const bytes = referenceModel(space.preset, space.variant);
  return {
    bytes,
    record: { ...space, configId: configId(referenceConfig(space.preset, space.variant)), seed: REFERENCE_SEED, sha256: createHash('sha256').update(bytes).digest('hex') },
  };
}

const inputsOf = (model: RoundsModel): InputRecord[] => model.plan.tensors.map((t) => ({ name: t.name, type: t.type, dims: [...t.dims] }));
const describeInputs = (inputs: readonly { name: string; type: string; dims?: readonly number[]; shape?: readonly (number | string)[] }[]) =>
  inputs.map((i) => `${i.name} ${i.type}[${(i.dims ?? i.shape ?? []).join('x')}]`).join(', ') || '(none)';

/** Refuses models that are not fed alike: their timings would not measure the same work. */
function checkSameInputs(baselineLabel: string, baseline: { declared?: RoundsModel['inputs']; fed: InputRecord[] }, candidate: { declared: RoundsModel['inputs']; fed: InputRecord[]; file: string }): void {
  const declared = (inputs: RoundsModel['inputs'] | undefined) => JSON.stringify(inputs?.map((i) => ({ name: i.name, type: i.type, shape: i.shape })));
  const sameDeclared = baseline.declared === undefined || declared(baseline.declared) === declared(candidate.declared);
  if (sameDeclared && JSON.stringify(baseline.fed) === JSON.stringify(candidate.fed)) return;
  const baselineText = baseline.declared ? describeInputs(baseline.declared) : describeInputs(baseline.fed);
  throw new OfaError('E_GATE_INPUTS', `the models' inputs differ: ${baselineLabel} has ${baselineText}; candidate ${JSON.stringify(candidate.file)} has ${describeInputs(candidate.declared)}`, {
    hint: 'compare models of the same input (the same resolution and input names); latencies of different inputs are not a regression test',
  });
}

const statisticOf = (statistic: VisitStatistic) => (samples: number[]) => (statistic === 'min' ? Math.min(...samples) : median(samples));

interface Measured {
  /** Per model, per round: the visit figure (ms). */
  roundsMs: number[][];
  timedOut: boolean;
  elapsedS: number;
}

/**
 * Rounds until the test is clear or the time is up. `valueOf` turns one round's figures into the test's
 * value. The clock started when the sessions were opened (`startedAt`).
 */
async function measureRounds(rounds: InterleavedRounds, test: SequentialTest, valueOf: (figures: number[]) => number, options: { statistic: VisitStatistic; seed: number; maxTimeS: number; startedAt: bigint; onLook?: GateOptions['onLook'] }): Promise<Measured> {
  const figure = statisticOf(options.statistic);
  const rng = createRng(options.seed);
  const count = rounds.models.length;
  const roundsMs: number[][] = Array.from({ length: count }, () => []);
  const elapsedS = () => Number(process.hrtime.bigint() - options.startedAt) / 1e9;
  let lastRoundS = 0;
  let timedOut = false;
  for (;;) {
    // Stop before a round that would end past the limit (the last round's duration as its estimate).
    if (elapsedS() + lastRoundS > options.maxTimeS) {
      timedOut = true;
      break;
    }
    const roundStart = elapsedS();
    const figures = new Array<number>(count);
    for (const index of rng.shuffle([...Array(count).keys()])) figures[index] = figure(await rounds.visit(index));
    figures.forEach((value, index) => roundsMs[index].push(value));
    test.add(valueOf(figures));
    lastRoundS = elapsedS() - roundStart;
    if (test.due()) {
      const look = test.look();
      options.onLook?.(look, elapsedS());
      if (look.outcome !== 'unclear') break;
    }
  }
  if (test.rounds >= MIN_LOOK_ROUNDS && test.last?.rounds !== test.rounds) {
    const look = test.look();
    options.onLook?.(look, elapsedS());
  }
  return { roundsMs, timedOut, elapsedS: elapsedS() };
}

function modelResult(model: Model, opened: RoundsModel, roundsMs: number[]): ModelResult {
  return {
    file: model.file,
    sha256: model.summary.sha256,
    bytes: model.summary.bytes,
    nodeCount: model.summary.nodeCount,
    ...(model.summary.metadata.config_id ? { configId: model.summary.metadata.config_id } : {}),
    inputs: inputsOf(opened),
    sessionCreateMs: opened.sessionCreateMs,
    firstRunMs: opened.firstRunMs,
    roundsMs,
    medianMs: median(roundsMs),
    minMs: roundsMs.length ? Math.min(...roundsMs) : NaN,
  };
}

function baselineRecord(rounds: InterleavedRounds, model: Model, opened: RoundsModel, modelMs: number[], referenceMs: number[], ref: ReferenceRecord, statistic: VisitStatistic): GateBaselineRecord {
  const logRatios = modelMs.map((ms, i) => Math.log(ms / referenceMs[i]));
  return {
    device: rounds.device,
    runtime: rounds.runtime,
    host: rounds.host,
    model: { file: model.file, sha256: model.summary.sha256, inputs: inputsOf(opened) },
    reference: ref,
    statistic,
    runsPerVisit: rounds.runsPerVisit,
    logRatios,
    ratio: Math.exp(median(logRatios)),
    medianMs: median(modelMs),
    referenceMedianMs: median(referenceMs),
  };
}

const f = (value: number, digits = 4) => (Number.isFinite(value) ? value.toFixed(digits) : String(value));
const p = (value: number) => (value < 1e-4 ? value.toExponential(2) : value.toFixed(4));

/** The sentence saying what was decided and why. */
export function summarize(decision: GateResult['decision'], last: Look | undefined, threshold: number, timedOut: boolean, maxTimeS: number): string {
  const t = `${Number((threshold * 100).toPrecision(4))}%`;
  if (!last) return `not enough rounds within ${maxTimeS} s to decide (fewer than ${MIN_LOOK_ROUNDS}); give it more time (--max-time)`;
  const figures = `ratio ${f(last.ratio)}, interval ${f(last.low)}-${f(last.high)}, p = ${p(last.pValue)}, ${last.rounds} rounds`;
  switch (decision) {
    case 'regression':
      return `the candidate is slower: the interval is above 1 and reaches the ${t} threshold (${figures})`;
    case 'improvement':
      return `the candidate is faster: the interval is below 1 and reaches ${t} faster (${figures})`;
    case 'pass':
      return `no slowdown of ${t} or more: the interval's upper end is below ${f(1 + threshold, 2)} (${figures})`;
    default:
      return `not clear ${timedOut ? `within the ${maxTimeS} s limit` : 'yet'}: the interval holds 1 and reaches the ${t} threshold (${figures}); more time (--max-time) or a quieter machine would settle it`;
  }
}

function finish(parts: Omit<GateResult, 'format' | 'formatVersion' | 'decision' | 'exitCode' | 'summary' | 'ratio' | 'ci' | 'pValue' | 'rounds'> & { test: GateResult['test'] }, tester: SequentialTest): GateResult {
  const last = tester.last;
  const decision = decisionOf(last);
  const { mode, ...rest } = parts;
  return {
    ...GATE_RESULT_FORMAT,
    mode,
    decision,
    exitCode: DECISION_EXIT_CODES[decision],
    summary: summarize(decision, last, parts.threshold, parts.timedOut, parts.maxTimeS),
    ratio: last?.ratio ?? NaN,
    ci: { low: last?.low ?? 0, high: last?.high ?? Infinity, confidence: last ? 1 - 2 * last.alpha : 0 },
    pValue: last?.pValue ?? 1,
    rounds: tester.rounds,
    ...rest,
  };
}

/** Runs the gate: reads and checks every input, then measures until the decision is clear or time is up. */
export async function runGate(options: GateOptions): Promise<GateResult> {
  const settings = resolveSettings(options);
  const candidate = readModel(options.candidate);
  if (looksLikeJson(options.baseline)) return runBaselineFile(options, settings, candidate);
  const baseline = readModel(options.baseline);
  await checkDeviceStarts(options.device);
  const withReference = options.reference !== false;
  const ref = withReference ? reference(referenceSpace(candidate)) : undefined;
  const statistic = options.statistic ?? DEFAULT_GATE.statistic;
  const startedAt = process.hrtime.bigint();
  const rounds = await openRounds([baseline.bytes, candidate.bytes, ...(ref ? [ref.bytes] : [])], options.device, {
    warmupRuns: settings.warmupRuns,
    runsPerVisit: options.runsPerVisit ?? DEFAULT_GATE.runsPerVisit,
    dims: options.dims,
  });
  try {
    const [openedBaseline, openedCandidate, openedReference] = rounds.models;
    checkSameInputs(`baseline ${JSON.stringify(baseline.file)}`, { declared: openedBaseline.inputs, fed: inputsOf(openedBaseline) }, { declared: openedCandidate.inputs, fed: inputsOf(openedCandidate), file: candidate.file });
    const tester = new SequentialTest(settings.sequential);
    const measured = await measureRounds(rounds, tester, ([a, b]) => Math.log(b / a), { statistic, seed: settings.seed, maxTimeS: settings.maxTimeS, startedAt, onLook: options.onLook });
    const [baselineMs, candidateMs, referenceMs] = measured.roundsMs;
    const warnings: string[] = [];
    if (baseline.summary.sha256 === candidate.summary.sha256) warnings.push('baseline and candidate have the same bytes (an A/A check: it should pass)');
    return finish(
      {
        mode: 'ab',
        test: 'wilcoxon-signed-rank',
        threshold: settings.sequential.threshold,
        alpha: settings.sequential.alpha,
        looks: tester.looks,
        timedOut: measured.timedOut,
        elapsedS: measured.elapsedS,
        maxTimeS: settings.maxTimeS,
        protocol: { statistic, runsPerVisit: rounds.runsPerVisit, warmupRuns: rounds.warmupRuns, initialRounds: settings.sequential.initialRounds, growth: settings.sequential.growth, seed: settings.seed },
        device: rounds.device,
        runtime: rounds.runtime,
        host: rounds.host,
        baseline: modelResult(baseline, openedBaseline, baselineMs),
        candidate: modelResult(candidate, openedCandidate, candidateMs),
        reference: ref && referenceMs ? { ...ref.record, roundsMs: referenceMs, medianMs: median(referenceMs) } : null,
        record: ref && referenceMs && openedReference ? baselineRecord(rounds, candidate, openedCandidate, candidateMs, referenceMs, ref.record, statistic) : null,
        warnings,
      },
      tester,
    );
  } finally {
    await rounds.close();
  }
}

async function runBaselineFile(options: GateOptions, settings: Settings, candidate: Model): Promise<GateResult> {
  if (options.reference === false) {
    throw new OfaError('E_FLAG_CONFLICT', '--no-reference with a baseline file: the comparison with a baseline file goes through the speed reference', { hint: 'drop --no-reference' });
  }
  const baseline: BaselineFile = readBaselineFile(options.baseline, { device: options.device.name, entry: options.entry });
  checkBaselineDevice(baseline, deviceKnobs(options.device));
  const record = baseline.record;
  // The record's protocol is the scale of its figures: a new run uses the same, and refuses another.
  const conflicts: string[] = [];
  if (options.statistic !== undefined && options.statistic !== record.statistic) conflicts.push(`--statistic ${options.statistic} (the file's: ${record.statistic})`);
  if (options.runsPerVisit !== undefined && options.runsPerVisit !== record.runsPerVisit) conflicts.push(`--runs-per-visit ${options.runsPerVisit} (the file's: ${record.runsPerVisit})`);
  if (conflicts.length > 0) {
    throw new OfaError('E_FLAG_CONFLICT', `baseline file ${JSON.stringify(baseline.file)} was measured with another protocol: ${conflicts.join(', ')}`, { hint: 'leave these flags out: a baseline file sets them' });
  }
  await checkDeviceStarts(options.device);
  const ref = reference({ preset: record.reference.preset, variant: record.reference.variant });
  const startedAt = process.hrtime.bigint();
  const rounds = await openRounds([candidate.bytes, ref.bytes], options.device, { warmupRuns: settings.warmupRuns, runsPerVisit: record.runsPerVisit, dims: options.dims });
  try {
    const [openedCandidate] = rounds.models;
    checkSameInputs(`the baseline in ${JSON.stringify(baseline.file)}`, { fed: record.model.inputs }, { declared: openedCandidate.inputs, fed: inputsOf(openedCandidate), file: candidate.file });
    const tester = new SequentialTest(settings.sequential, record.logRatios);
    const measured = await measureRounds(rounds, tester, ([c, r]) => Math.log(c / r), { statistic: record.statistic, seed: settings.seed, maxTimeS: settings.maxTimeS, startedAt, onLook: options.onLook });
    const [candidateMs, referenceMs] = measured.roundsMs;
    const warnings: string[] = [];
    if (record.host.cpuModel !== rounds.host.cpuModel || record.host.logicalCores !== rounds.host.logicalCores) {
      warnings.push(`the baseline was recorded on another host (${record.host.cpuModel}, ${record.host.logicalCores} cores; now ${rounds.host.cpuModel}, ${rounds.host.logicalCores} cores): the speed reference corrects for speed, not for a different CPU`);
    }
    if (record.runtime.version !== rounds.runtime.version) warnings.push(`the runtime changed: baseline ${record.runtime.version}, now ${rounds.runtime.version}`);
    if (record.reference.sha256 !== ref.record.sha256) warnings.push(`the speed reference's bytes changed since the baseline (same subnet ${ref.record.configId}, another exporter version)`);
    if (record.model.sha256 === candidate.summary.sha256) warnings.push('the candidate has the same bytes as the baseline model (it should pass)');
    const baselineResult: BaselineFileResult = {
      file: baseline.file,
      source: baseline.source,
      ...(baseline.entry ? { entry: baseline.entry } : {}),
      recordedAt: record.host.date,
      model: record.model,
      rounds: record.logRatios.length,
      ratio: record.ratio,
      medianMs: record.medianMs,
      host: record.host,
      runtime: record.runtime,
    };
    return finish(
      {
        mode: 'baseline-file',
        test: 'mann-whitney',
        threshold: settings.sequential.threshold,
        alpha: settings.sequential.alpha,
        looks: tester.looks,
        timedOut: measured.timedOut,
        elapsedS: measured.elapsedS,
        maxTimeS: settings.maxTimeS,
        protocol: { statistic: record.statistic, runsPerVisit: rounds.runsPerVisit, warmupRuns: rounds.warmupRuns, initialRounds: settings.sequential.initialRounds, growth: settings.sequential.growth, seed: settings.seed },
        device: rounds.device,
        runtime: rounds.runtime,
        host: rounds.host,
        baseline: baselineResult,
        candidate: modelResult(candidate, openedCandidate, candidateMs),
        reference: { ...ref.record, roundsMs: referenceMs, medianMs: median(referenceMs) },
        record: baselineRecord(rounds, candidate, openedCandidate, candidateMs, referenceMs, ref.record, record.statistic),
        warnings,
      },
      tester,
    );
  } finally {
    await rounds.close();
  }
}

export interface RecordOptions {
  /** Rounds to measure (default 60). */
  rounds?: number;
  runsPerVisit?: number;
  warmupRuns?: number;
  statistic?: VisitStatistic;
  seed?: number;
  dims?: Record<string, number>;
}

/**
 * A model's baseline record without a comparison: `rounds` rounds of the model file against the speed
 * reference of its space. For the deploy bundle (each deployed model's `gate` entry in deploy.json), so
 * that a CI job holding only deploy.json can gate the next export.
 */
export async function recordBaseline(file: string, device: DeviceProfile, options: RecordOptions = {}): Promise<GateBaselineRecord> {
  const count = options.rounds ?? 60;
  if (!Number.isInteger(count) || count < MIN_BASELINE_ROUNDS) throw new OfaError('E_GATE_OPTION', `gate record rounds ${count} is not valid; allowed: an integer >= ${MIN_BASELINE_ROUNDS}`);
  const model = readModel(file);
  await checkDeviceStarts(device);
  const ref = reference(referenceSpace(model));
  const statistic = options.statistic ?? DEFAULT_GATE.statistic;
  const rounds = await openRounds([model.bytes, ref.bytes], device, { warmupRuns: options.warmupRuns ?? DEFAULT_GATE.warmupRuns, runsPerVisit: options.runsPerVisit ?? DEFAULT_GATE.runsPerVisit, dims: options.dims });
  try {
    const figure = statisticOf(statistic);
    const rng = createRng(options.seed ?? DEFAULT_GATE.seed);
    const figures: number[][] = [[], []];
    for (let round = 0; round < count; round++) {
      for (const index of rng.shuffle([0, 1])) figures[index].push(figure(await rounds.visit(index)));
    }
    return baselineRecord(rounds, model, rounds.models[0], figures[0], figures[1], ref.record, statistic);
  } finally {
    await rounds.close();
  }
}
