// The CI formats of a gate result (deploy/gate/formats.ts): github-action-benchmark customSmallerIsBetter
// entries, the Markdown summary, JUnit XML (regression = failure, inconclusive = skipped, text escaped).
import test from 'ava';
import { benchmarkJson, junitXml, markdownSummary } from '../../../deploy/gate/formats.ts';
import type { GateResult } from '../../../deploy/gate/result.ts';

function result(decision: GateResult['decision'], extra: Partial<GateResult> = {}): GateResult {
  const model = { file: 'models/<pr>&"new".onnx', sha256: 'a'.repeat(64), bytes: 1000, nodeCount: 10, inputs: [{ name: 'input', type: 'float32', dims: [1, 1, 28, 28] }], sessionCreateMs: 5, firstRunMs: 1, roundsMs: [1.1, 1.2], medianMs: 1.15, minMs: 1.1 };
  return {
    format: 'ofav2/gate-result',
    formatVersion: 1,
    mode: 'ab',
    decision,
    exitCode: { pass: 0, improvement: 0, regression: 1, inconclusive: 3 }[decision],
    summary: `summary of a ${decision} <with> "markup"`,
    ratio: 1.08,
    ci: { low: 1.06, high: 1.1, confidence: 0.99 },
    pValue: 1.2e-6,
    test: 'wilcoxon-signed-rank',
    threshold: 0.05,
    alpha: 0.01,
    rounds: 30,
    looks: [],
    timedOut: decision === 'inconclusive',
    elapsedS: 12.5,
    maxTimeS: 60,
    protocol: { statistic: 'min', runsPerVisit: 5, warmupRuns: 10, initialRounds: 20, growth: 1.5, seed: 1 },
    device: { name: 'cpu-1t', runtime: 'onnxruntime-node', executionProvider: 'cpu', executionProviderOptions: {}, session: { intraOpNumThreads: 1, interOpNumThreads: 1, executionMode: 'sequential', graphOptimizationLevel: 'all', allowSpinning: false }, batchSize: 1 },
    runtime: { name: 'onnxruntime-node', version: 'onnxruntime-node 1.30.0', settings: {} },
    host: { cpuModel: 'CPU', logicalCores: 2, platform: 'linux', arch: 'x64', osRelease: '6', hostname: 'h', totalMemoryMiB: 1, nodeVersion: 'v20', loadAverage1m: 1, date: '2026-01-01T00:00:00.000Z' },
    baseline: { ...model, file: 'main.onnx' },
    candidate: model,
    reference: null,
    record: null,
    warnings: [],
    ...extra,
  };
}

test('customSmallerIsBetter: the latency in ms and the ratio, each {name, unit, value, range, extra}', (t) => {
  const entries = benchmarkJson(result('regression'));
  t.deepEqual(entries.map((e) => [e.name, e.unit, e.value]), [
    ['<pr>&"new".onnx on cpu-1t: latency', 'ms', 1.15],
    ['<pr>&"new".onnx on cpu-1t: ratio to baseline', 'x', 1.08],
  ]);
  for (const entry of entries) t.deepEqual(Object.keys(entry).sort(), ['extra', 'name', 'range', 'unit', 'value']);
  t.regex(entries[1].range!, /^99% CI 1\.0600-1\.1000$/);
  t.regex(entries[0].extra!, /^regression: /);
});

test('Markdown: heading with the decision, a table with ratio, interval, p-value, rounds; pipes escaped', (t) => {
  const text = markdownSummary(result('regression', { summary: 'a | b', warnings: ['runtime changed'] }));
  t.regex(text, /^### Latency gate: REGRESSION \(<pr>&"new"\.onnx on cpu-1t\)\n/);
  t.regex(text, /\| decision \| \*\*REGRESSION\*\* \(exit 1\) \|/);
  t.regex(text, /\| ratio candidate \/ baseline \| 1\.0800 \(\+8\.00%\) \|/);
  t.regex(text, /\| p-value \| 1\.20e-6 \(wilcoxon-signed-rank\) \|/);
  t.regex(text, /> note: runtime changed/);
});

test('JUnit: a regression is a failure, an inconclusive result is skipped, a pass neither; text is escaped', (t) => {
  const failed = junitXml(result('regression'));
  t.regex(failed, /<testsuites name="ofa gate" tests="1" failures="1" errors="0" skipped="0"/);
  t.regex(failed, /<failure message="summary of a regression &lt;with&gt; &quot;markup&quot;" type="latency-regression">/);
  t.regex(failed, /name="&lt;pr&gt;&amp;&quot;new&quot;\.onnx on cpu-1t"/);
  t.notRegex(failed.replace(/<\?xml[^>]*\?>/, ''), /<pr>|&"new/, 'nothing unescaped');
  const skipped = junitXml(result('inconclusive'));
  t.regex(skipped, /skipped="1"/);
  t.regex(skipped, /<skipped message="inconclusive: /);
  const passed = junitXml(result('pass'));
  t.notRegex(passed, /<failure|<skipped/);
});
