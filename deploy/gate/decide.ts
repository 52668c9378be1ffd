// The gate's decision (issue 15): a sequential test on log latency ratios, with false alarms bounded.
//
// After `initialRounds` rounds, and then whenever the number of rounds has grown by `growth`, the gate
// looks: it computes the ratio's confidence bounds (stats.ts), each one-sided at this look's share of
// the false-alarm budget, alpha_k = alpha / (k (k + 1)) for look k = 1, 2, ... (the shares add up to
// alpha however many looks there are, so measuring more when unclear does not inflate false alarms). With
// threshold t:
//   regression   the bounds are above 1 (a slowdown is shown) and reach 1 + t (one of the threshold's
//                size is not ruled out);
//   pass         the upper bound is below 1 + t (a slowdown of the threshold's size is ruled out);
//   improvement  a pass whose bounds are below 1 and reach 1 - t (the mirror image of a regression);
//   unclear      the bounds hold 1 and reach 1 + t: measure more rounds; when time is up, inconclusive.
// A same-model comparison is flagged only when its lower bound leaves 1, which happens with probability at
// most alpha over all looks. A true slowdown of t is passed only when its upper bound falls below 1 + t
// before its lower bound rises above 1: about as rare. Between the two, slowdowns of about t / 2 are the
// ones the gate is least sure of (an SPRT's indifference zone), and what it is slowest to decide.
import { pairedShift, twoSampleShift, type ShiftEstimate } from './stats.ts';

export const DECISIONS = ['pass', 'regression', 'improvement', 'inconclusive'] as const;
export type Decision = (typeof DECISIONS)[number];

/** The CLI's exit code of each decision (bad input is 2). */
export const DECISION_EXIT_CODES: Record<Decision, number> = { pass: 0, improvement: 0, regression: 1, inconclusive: 3 };

export interface SequentialSettings {
  /** Largest slowdown that still passes, as a fraction (0.05 = 5%), in (0, 1). */
  threshold: number;
  /** False-alarm budget over all looks (default 0.01). */
  alpha: number;
  /** Rounds before the first look (default 20). */
  initialRounds: number;
  /** Factor by which the rounds grow between looks (default 1.5). */
  growth: number;
}

export const DEFAULT_SEQUENTIAL: Omit<SequentialSettings, 'threshold'> = { alpha: 0.01, initialRounds: 20, growth: 1.5 };

/** The fewest rounds a look is made on (a final look at the time limit with fewer is inconclusive). */
export const MIN_LOOK_ROUNDS = 6;

/** Alpha of look k (1-based): alpha / (k (k + 1)), whose sum over all k is alpha. */
export function lookAlpha(look: number, alpha: number): number {
  return alpha / (look * (look + 1));
}

export type Outcome = Exclude<Decision, 'inconclusive'> | 'unclear';

/** The decision rule on bounds of the log ratio (see the top of this file). */
export function classify(low: number, high: number, threshold: number): Outcome {
  const up = Math.log1p(threshold);
  const down = Math.log1p(-threshold);
  if (low > 0 && high >= up) return 'regression';
  if (high < up) return high < 0 && low <= down ? 'improvement' : 'pass';
  return 'unclear';
}

/** One look: the ratio (exp of the shift) with its bounds, and what they say. */
export interface Look {
  look: number;
  rounds: number;
  /** One-sided alpha of each bound at this look; the interval's confidence is 1 - 2 alpha. */
  alpha: number;
  ratio: number;
  low: number;
  high: number;
  pValue: number;
  outcome: Outcome;
}

export function lookOf(look: number, rounds: number, alpha: number, shift: ShiftEstimate, threshold: number): Look {
  return {
    look,
    rounds,
    alpha,
    ratio: Math.exp(shift.estimate),
    low: Math.exp(shift.low),
    high: Math.exp(shift.high),
    pValue: shift.pValue,
    outcome: classify(shift.low, shift.high, threshold),
  };
}

/**
 * The sequential test, fed one value per round: a paired log ratio (A/B), or, with `baseline` (the
 * baseline file's per-round log ratios to the reference), the candidate's log ratio to the reference.
 */
export class SequentialTest {
  readonly settings: SequentialSettings;
  readonly values: number[] = [];
  readonly looks: Look[] = [];
  private readonly baseline?: readonly number[];
  private nextLookAt: number;

  constructor(settings: SequentialSettings, baseline?: readonly number[]) {
    this.settings = settings;
    this.baseline = baseline;
    this.nextLookAt = Math.max(MIN_LOOK_ROUNDS, settings.initialRounds);
  }

  get rounds(): number {
    return this.values.length;
  }

  add(value: number): void {
    this.values.push(value);
  }

  /** Whether a look is due. */
  due(): boolean {
    return this.values.length >= this.nextLookAt;
  }

  /** Looks now (due or not: the last look at the time limit). */
  look(): Look {
    const k = this.looks.length + 1;
    const alpha = lookAlpha(k, this.settings.alpha);
    const shift = this.baseline ? twoSampleShift(this.baseline, this.values, alpha) : pairedShift(this.values, alpha);
    const look = lookOf(k, this.values.length, alpha, shift, this.settings.threshold);
    this.looks.push(look);
    this.nextLookAt = Math.max(this.values.length + 1, Math.ceil(this.values.length * this.settings.growth));
    return look;
  }

  get last(): Look | undefined {
    return this.looks[this.looks.length - 1];
  }
}

/** The final decision from the last look (none, or unclear: inconclusive). */
export function decisionOf(last: Look | undefined): Decision {
  return !last || last.outcome === 'unclear' ? 'inconclusive' : last.outcome;
}

/**
 * Runs the sequential test on values drawn one round at a time until it is clear or `maxRounds` rounds
 * are in (the time limit's stand-in); a final look is taken at the limit. For generated samples (tests,
 * the bench's simulations); the gate's measurement loop does the same with a clock (gate.ts).
 */
export function runSequential(settings: SequentialSettings, nextValue: () => number, maxRounds: number, baseline?: readonly number[]): { decision: Decision; test: SequentialTest } {
  const test = new SequentialTest(settings, baseline);
  while (test.rounds < maxRounds) {
    test.add(nextValue());
    if (test.due() && test.look().outcome !== 'unclear') return { decision: decisionOf(test.last), test };
  }
  if (test.rounds >= MIN_LOOK_ROUNDS && test.last?.rounds !== test.rounds) test.look();
  return { decision: decisionOf(test.last), test };
}
