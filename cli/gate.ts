// `ofa gate`: the CI latency-regression gate (issue 15). Thin: parses flags, calls deploy/'s runGate,
// prints the decision, writes the outputs asked for, and exits 0 (pass or improvement), 1 (regression),
// 3 (inconclusive) or 2 (bad input).
import { resolve } from 'node:path';
import { OfaError } from '../lib/errors.ts';
import { DEFAULT_DEVICES_DIR } from '../profile/predict.ts';
import { helpText, log, out, parseArgs, type CommandSpec, type ParsedFlags } from './args.ts';

export const GATE_SPEC: CommandSpec = {
  name: 'gate',
  summary: 'CI latency-regression gate: is the candidate model slower than the baseline on this device?',
  usage:
    'ofa gate --device D --baseline A.onnx|BASELINE.json --candidate B.onnx [--threshold 5%] [--max-time 60s] [--json] [--out FILE] [--markdown FILE] [--junit FILE] [--benchmark-json FILE]',
  flags: {
    device: { type: 'string', description: 'device name (<devices-dir>/<name>.json) or path to a device JSON file', default: 'cpu-1t', placeholder: 'D' },
    'devices-dir': { type: 'string', description: 'folder of the device files', default: DEFAULT_DEVICES_DIR, placeholder: 'DIR' },
    baseline: { type: 'string', description: 'the baseline: an ONNX model (A/B mode), or a baseline file: an earlier gate result (--out) or a deploy.json', placeholder: 'FILE' },
    candidate: { type: 'string', description: 'the candidate ONNX model', placeholder: 'FILE' },
    threshold: { type: 'string', description: 'largest slowdown that passes: a percentage (5%) or a fraction (0.05), in (0, 100%)', default: '5%', placeholder: 'T' },
    'max-time': { type: 'string', description: 'time limit of the measurement (90, 90s, 2m); when it is reached before the test is clear, the result is inconclusive', default: '60s', placeholder: 'TIME' },
    alpha: { type: 'number', description: 'false-alarm budget: the chance that a model compared with itself is flagged, over all looks', default: 0.01, placeholder: 'A' },
    rounds: { type: 'int', description: 'rounds before the first look (then more, by half each time, until clear)', default: 20, placeholder: 'N' },
    'runs-per-visit': { type: 'int', description: 'timed runs of a model per visit (default 5; a baseline file sets its own)', placeholder: 'N' },
    statistic: { type: 'string', description: "a visit's figure: its fastest run or its median (default min; a baseline file sets its own)", choices: ['min', 'median'], placeholder: 'S' },
    warmup: { type: 'int', description: 'warm-up runs of each session', default: 10, placeholder: 'N' },
    reference: { type: 'boolean', description: 'A/B mode: also measure the speed reference, so that --out can serve as a later baseline file (--no-reference: faster rounds)', default: true },
    seed: { type: 'int', description: 'seed of the visit order within rounds', default: 1, placeholder: 'S' },
    dim: { type: 'list', description: 'size of a symbolic input dimension (repeatable; batch defaults to the device batch size)', placeholder: 'NAME=SIZE' },
    entry: { type: 'string', description: 'the deploy.json entry to compare with, when it has several for the device', placeholder: 'ID' },
    out: { type: 'string', alias: 'o', description: 'write the gate result (JSON, ofav2/gate-result) to FILE', placeholder: 'FILE' },
    markdown: { type: 'string', description: 'write a Markdown summary (for $GITHUB_STEP_SUMMARY) to FILE', placeholder: 'FILE' },
    junit: { type: 'string', description: 'write JUnit XML to FILE', placeholder: 'FILE' },
    'benchmark-json': { type: 'string', description: "write github-action-benchmark's customSmallerIsBetter JSON to FILE", placeholder: 'FILE' },
    json: { type: 'boolean', description: 'print the gate result as JSON' },
    quiet: { type: 'boolean', description: 'no progress on stderr' },
  },
  examples: [
    'ofa gate --device cpu-1t --baseline main.onnx --candidate pr.onnx',
    'ofa gate --device cpu-1t --baseline main.onnx --candidate pr.onnx --threshold 3% --max-time 2m --out gate.json --markdown gate.md --junit gate.xml',
    'ofa gate --device cpu-1t --baseline gate.json --candidate pr.onnx          # against a recorded baseline',
  ],
};

/** "5%" -> 0.05, "0.05" -> 0.05; the range is the stage's to check (E_GATE_THRESHOLD). */
export function parseThreshold(text: string): number {
  const match = /^\s*([+-]?(?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?)\s*(%?)\s*$/i.exec(text);
  if (!match) {
    throw new OfaError('E_GATE_THRESHOLD', `--threshold ${JSON.stringify(text)} is not a percentage or a fraction; allowed: a value in (0, 100%), e.g. 5% or 0.05`);
  }
  return match[2] === '%' ? Number(match[1]) / 100 : Number(match[1]);
}

/** "60", "60s", "1.5m", "500ms" -> seconds. */
export function parseDuration(text: string): number {
  const match = /^\s*(\d+\.?\d*|\.\d+)\s*(ms|s|m|min)?\s*$/i.exec(text);
  if (!match) throw new OfaError('E_ARGS', `ofa gate: --max-time ${JSON.stringify(text)} is not valid; allowed: a time such as 90, 90s, 2m or 500ms`);
  const value = Number(match[1]);
  const unit = (match[2] ?? 's').toLowerCase();
  return unit === 'ms' ? value / 1000 : unit === 's' ? value : value * 60;
}

function parseDims(values: unknown): Record<string, number> {
  const dims: Record<string, number> = {};
  for (const item of (values as string[] | undefined) ?? []) {
    const match = /^([^=]+)=(\d+)$/.exec(item);
    if (!match || Number(match[2]) < 1) throw new OfaError('E_ARGS', `ofa gate: --dim ${JSON.stringify(item)} is not valid; allowed: NAME=SIZE with SIZE a positive integer (e.g. batch=1)`);
    dims[match[1]] = Number(match[2]);
  }
  return dims;
}

function required(flags: ParsedFlags, name: string): string {
  const value = flags[name];
  if (typeof value !== 'string' || value === '') throw new OfaError('E_ARGS', `ofa gate: --${name} FILE is required`, { hint: 'run `ofa gate --help`' });
  return value;
}

const optionalPath = (value: unknown) => (typeof value === 'string' ? resolve(value) : undefined);

export async function run(argv: string[]): Promise<number> {
  const parsed = parseArgs(GATE_SPEC, argv);
  if (parsed.help) {
    out(helpText(GATE_SPEC));
    return 0;
  }
  const { flags } = parsed;
  const baseline = required(flags, 'baseline');
  const candidate = required(flags, 'candidate');
  const threshold = parseThreshold(flags.threshold as string);
  const maxTimeS = parseDuration(flags['max-time'] as string);
  const outputs = { out: optionalPath(flags.out), benchmarkJson: optionalPath(flags['benchmark-json']), markdown: optionalPath(flags.markdown), junit: optionalPath(flags.junit) };
  const { runGate, checkGateOutputs, writeGateOutputs } = await import('../deploy/index.ts');
  const { loadDevice } = await import('../profile/index.ts');
  checkGateOutputs(outputs);
  const device = loadDevice(flags.device as string, { devicesDir: flags['devices-dir'] as string });
  const quiet = flags.quiet === true;
  const result = await runGate({
    device,
    baseline,
    candidate,
    threshold,
    maxTimeS,
    alpha: flags.alpha as number,
    initialRounds: flags.rounds as number,
    runsPerVisit: flags['runs-per-visit'] as number | undefined,
    statistic: flags.statistic as 'min' | 'median' | undefined,
    warmupRuns: flags.warmup as number,
    reference: flags.reference !== false,
    seed: flags.seed as number,
    dims: parseDims(flags.dim),
    entry: flags.entry as string | undefined,
    onLook: quiet
      ? undefined
      : (look, elapsedS) =>
          log(`look ${look.look} after ${look.rounds} rounds (${elapsedS.toFixed(1)} s): ratio ${look.ratio.toFixed(4)}, interval ${look.low.toFixed(4)}-${look.high.toFixed(4)}, p ${look.pValue.toPrecision(3)}: ${look.outcome}`),
  });
  const written = writeGateOutputs(result, outputs);
  if (flags.json) out(JSON.stringify(result, null, 2));
  else {
    out(`${result.decision.toUpperCase()}: ${result.summary}`);
    out(`candidate ${result.candidate.file}: ${result.candidate.medianMs.toFixed(4)} ms; ${result.mode === 'ab' ? `baseline ${result.baseline.file}` : `baseline file ${result.baseline.file}`} on ${result.device.name} (${result.runtime.version}); ${result.elapsedS.toFixed(1)} s`);
    for (const warning of result.warnings) out(`note: ${warning}`);
    for (const path of written) out(`written to ${path}`);
  }
  return result.exitCode;
}
