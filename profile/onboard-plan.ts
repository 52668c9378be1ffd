// The plan of an `ofa profile device` run (onboard.ts): its default settings and the expected seconds of
// each part. Light (no runtime, no exporter): the CLI declares its flags' defaults from here.
import type { Protocol } from './table.ts';

export interface ProfileDeviceSettings {
  /** Per block of the table. */
  blockProtocol: Protocol;
  /** Per whole subnet of the calibration and validation. */
  subnetProtocol: Protocol;
  /** Calibration subnets, and their seed. */
  subnets: number;
  seed: number;
  /** Held-out validation subnets (seed: seed + 1000), measured twice for the ceiling. */
  heldOut: number;
  /** Fresh sessions per subnet, the fastest kept (calibrate.ts). */
  sessions: number;
}

/**
 * Designed for fashion ee-d (466 blocks) within 5 minutes on these 2-core machines: see estimatePlan for
 * where the time goes.
 */
export const PROFILE_DEVICE_DEFAULTS: ProfileDeviceSettings = {
  blockProtocol: { warmupRuns: 5, minSamples: 16, minTimeMs: 60 },
  subnetProtocol: { warmupRuns: 5, minSamples: 16, minTimeMs: 250 },
  subnets: 60,
  seed: 1,
  heldOut: 30,
  sessions: 2,
};

/** Seconds per item beyond its sampling window, for the plan (measured here; a plan, not a promise). */
export const PLAN_COSTS = {
  /**
   * A block's export, session creation, first and warm-up runs: the committed fashion ee-d cpu-1t table
   * took 516 s for its 626 blocks (the wiring before 30ca597) at 750 ms each, about 0.07 s per block beyond the window.
   */
  blockOverheadS: 0.07,
  /** Exporting one whole fashion subnet (a BN-calibrating tfjs forward: 1.2 s per subnet on a loaded host; cached in the OS temp folder). */
  subnetExportS: 1,
  /** A subnet's session creation, first and warm-up runs, per session. */
  subnetOverheadS: 0.05,
};

export interface PlanPart {
  part: 'table' | 'calibration' | 'validation';
  /** Blocks or subnets to measure. */
  items: number;
  estimatedS: number;
}

/** The expected seconds of each part (exports counted as uncached: a rerun or a second device is faster). */
export function estimatePlan(blocksToMeasure: number, settings: ProfileDeviceSettings): PlanPart[] {
  const subnetS = (count: number, measurements: number) =>
    count * PLAN_COSTS.subnetExportS + count * measurements * (settings.subnetProtocol.minTimeMs / 1000 + PLAN_COSTS.subnetOverheadS);
  return [
    { part: 'table', items: blocksToMeasure, estimatedS: blocksToMeasure * (settings.blockProtocol.minTimeMs / 1000 + PLAN_COSTS.blockOverheadS) },
    { part: 'calibration', items: settings.subnets, estimatedS: subnetS(settings.subnets, settings.sessions) },
    // Measured twice (the retest), each time in `sessions` sessions.
    { part: 'validation', items: settings.heldOut, estimatedS: subnetS(settings.heldOut, 2 * settings.sessions) },
  ];
}
