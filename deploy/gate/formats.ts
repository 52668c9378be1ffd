// The gate result in the formats CI systems read (issue 15 item 3): github-action-benchmark's
// `customSmallerIsBetter` JSON (a list of {name, unit, value, range?, extra?}), a Markdown summary for a
// job summary ($GITHUB_STEP_SUMMARY), and JUnit XML (one test case per comparison).
import { basename } from 'node:path';
import { assertParentExists, writeFileAtomic, writeJsonAtomic } from '../../lib/atomic.ts';
import type { GateResult, ModelResult } from './result.ts';

export interface BenchmarkEntry {
  name: string;
  unit: string;
  value: number;
  range?: string;
  extra?: string;
}

const pct = (ratio: number) => `${ratio >= 1 ? '+' : ''}${((ratio - 1) * 100).toFixed(2)}%`;
const fixed = (value: number, digits = 4) => (Number.isFinite(value) ? value.toFixed(digits) : String(value));
const pValueText = (p: number) => (p < 1e-4 ? p.toExponential(2) : p.toFixed(4));
const isModel = (baseline: GateResult['baseline']): baseline is ModelResult => !('source' in baseline);

/** The name CI shows for a comparison: the candidate's file name on the device. */
export function comparisonName(result: GateResult): string {
  return `${basename(result.candidate.file)} on ${result.device.name}`;
}

function ciText(result: GateResult): string {
  return `${(result.ci.confidence * 100).toPrecision(4).replace(/\.?0+$/, '')}% CI ${fixed(result.ci.low)}-${fixed(result.ci.high)}`;
}

/** github-action-benchmark customSmallerIsBetter: the candidate's latency (ms) and its ratio to the baseline. */
export function benchmarkJson(result: GateResult): BenchmarkEntry[] {
  const name = comparisonName(result);
  const extra = `${result.decision}: ${result.summary}`;
  return [
    {
      name: `${name}: latency`,
      unit: 'ms',
      value: Number(result.candidate.medianMs.toFixed(5)),
      range: `fastest ${fixed(result.candidate.minMs)} ms; ${result.rounds} rounds (${result.protocol.statistic} of ${result.protocol.runsPerVisit} runs each)`,
      extra,
    },
    {
      name: `${name}: ratio to baseline`,
      unit: 'x',
      value: Number(result.ratio.toFixed(5)),
      range: ciText(result),
      extra: `p = ${pValueText(result.pValue)} (${result.test}); threshold ${(result.threshold * 100).toFixed(1)}%`,
    },
  ];
}

const DECISION_TITLES: Record<GateResult['decision'], string> = {
  pass: 'pass',
  improvement: 'improvement',
  regression: 'REGRESSION',
  inconclusive: 'inconclusive',
};

/** A Markdown summary (a heading, the decision, and a table of the figures). */
export function markdownSummary(result: GateResult): string {
  const baseline = result.baseline;
  const baselineText = isModel(baseline) ? `\`${basename(baseline.file)}\` (${fixed(baseline.medianMs)} ms)` : `recorded in \`${basename(baseline.file)}\`${baseline.entry ? ` (${baseline.entry})` : ''} on ${baseline.recordedAt.slice(0, 10)}, ${baseline.rounds} rounds`;
  const rows: [string, string][] = [
    ['decision', `**${DECISION_TITLES[result.decision]}** (exit ${result.exitCode})`],
    ['ratio candidate / baseline', `${fixed(result.ratio)} (${pct(result.ratio)})`],
    ['confidence interval', ciText(result)],
    ['p-value', `${pValueText(result.pValue)} (${result.test})`],
    ['threshold', `${(result.threshold * 100).toFixed(1)}% (false-alarm budget ${result.alpha})`],
    ['candidate', `\`${basename(result.candidate.file)}\` (${fixed(result.candidate.medianMs)} ms)`],
    ['baseline', baselineText],
    ['rounds', `${result.rounds} in ${result.elapsedS.toFixed(1)} s (${result.looks.length} looks${result.timedOut ? `, time limit ${result.maxTimeS} s reached` : ''})`],
    ['mode', result.mode === 'ab' ? 'A/B, interleaved in one process' : 'baseline file, through the speed reference'],
    ['device', `${result.device.name}: ${result.runtime.version}, EP ${result.device.executionProvider}, ${result.device.session.intraOpNumThreads} intra-op threads`],
    ['host', `${result.host.cpuModel}, ${result.host.logicalCores} cores, load ${result.host.loadAverage1m}`],
  ];
  const lines = [
    `### Latency gate: ${DECISION_TITLES[result.decision]} (${comparisonName(result)})`,
    '',
    result.summary,
    '',
    '| | |',
    '| --- | --- |',
    ...rows.map(([key, value]) => `| ${key} | ${value.replace(/\|/g, '\\|')} |`),
  ];
  if (result.warnings.length > 0) lines.push('', ...result.warnings.map((w) => `> note: ${w}`));
  return `${lines.join('\n')}\n`;
}

const xml = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');

/**
 * JUnit XML: one suite, one case. A regression is a <failure>; an inconclusive result is <skipped> (the
 * exit code, 3, says it apart from a pass; a CI that must fail on it checks the exit code).
 */
export function junitXml(result: GateResult): string {
  const name = comparisonName(result);
  const figures = `ratio ${fixed(result.ratio)} (${ciText(result)}), p = ${pValueText(result.pValue)}, ${result.rounds} rounds`;
  const failures = result.decision === 'regression' ? 1 : 0;
  const skipped = result.decision === 'inconclusive' ? 1 : 0;
  let body = '';
  if (result.decision === 'regression') body = `\n      <failure message="${xml(result.summary)}" type="latency-regression">${xml(figures)}</failure>`;
  if (result.decision === 'inconclusive') body = `\n      <skipped message="${xml(`inconclusive: ${result.summary}`)}"/>`;
  const out = `\n      <system-out>${xml(`${result.decision}: ${figures}`)}</system-out>`;
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="ofa gate" tests="1" failures="${failures}" errors="0" skipped="${skipped}" time="${result.elapsedS.toFixed(3)}">`,
    `  <testsuite name="ofa gate ${xml(result.device.name)}" tests="1" failures="${failures}" errors="0" skipped="${skipped}" time="${result.elapsedS.toFixed(3)}" timestamp="${xml(result.host.date)}" hostname="${xml(result.host.hostname)}">`,
    `    <testcase classname="latency.${xml(result.device.name)}" name="${xml(name)}" time="${result.elapsedS.toFixed(3)}">${body}${out}`,
    '    </testcase>',
    '  </testsuite>',
    '</testsuites>',
    '',
  ].join('\n');
}

/** Where the outputs go (each optional). */
export interface GateOutputs {
  /** The gate result (ofav2/gate-result). */
  out?: string;
  /** github-action-benchmark customSmallerIsBetter JSON. */
  benchmarkJson?: string;
  markdown?: string;
  junit?: string;
}

const OUTPUT_FLAGS: Record<keyof GateOutputs, string> = { out: '--out', benchmarkJson: '--benchmark-json', markdown: '--markdown', junit: '--junit' };

/** Refuses an output whose folder does not exist, before anything is measured. */
export function checkGateOutputs(outputs: GateOutputs): void {
  for (const [key, path] of Object.entries(outputs) as [keyof GateOutputs, string | undefined][]) if (path !== undefined) assertParentExists(path, OUTPUT_FLAGS[key]);
}

/** Writes each requested output atomically. */
export function writeGateOutputs(result: GateResult, outputs: GateOutputs): string[] {
  const written: string[] = [];
  if (outputs.out) writeJsonAtomic(outputs.out, result);
  if (outputs.benchmarkJson) writeJsonAtomic(outputs.benchmarkJson, benchmarkJson(result));
  if (outputs.markdown) writeFileAtomic(outputs.markdown, markdownSummary(result));
  if (outputs.junit) writeFileAtomic(outputs.junit, junitXml(result));
  for (const path of [outputs.out, outputs.benchmarkJson, outputs.markdown, outputs.junit]) if (path) written.push(path);
  return written;
}
