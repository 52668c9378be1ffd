// `ofa export`: subnet configs -> ONNX files, and `ofa export inspect` (pipeline.md "ONNX model").
// Thin: parses flags, calls export/.
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { assertParentExists } from '../lib/atomic.ts';
import { OfaError } from '../lib/errors.ts';
import { configId, type SubnetConfig } from '../space/index.ts';
import {
  checkpointWeights,
  decodeModelFile,
  exportSubnet,
  randomInitWeights,
  readModelBytes,
  readSubnetConfigFile,
  readSubnetListFile,
  summarizeModel,
  writeModel,
  type WeightSource,
} from '../export/index.ts';
import { helpText, log, out, parseArgs, type CommandSpec } from './args.ts';

const EXPORT_SPEC: CommandSpec = {
  name: 'export',
  summary: 'export subnets to ONNX (opset 17, BN folded); `ofa export inspect FILE` to read one back',
  usage: 'ofa export (--checkpoint DIR | --random-init --seed S) (--subnet CFG.json -o FILE.onnx | --subnet-list LIST.json -o DIR)',
  flags: {
    checkpoint: { type: 'string', description: 'supernet checkpoint folder (manifest.json + weights.safetensors)', placeholder: 'DIR' },
    'random-init': { type: 'boolean', description: 'random weights instead of a checkpoint (for latency work)' },
    // No declared default: a --seed given with --checkpoint must be told apart from an absent one.
    seed: { type: 'int', description: 'seed of --random-init (default 0; only with --random-init)', placeholder: 'S' },
    subnet: { type: 'string', description: 'one subnet config (JSON file)', placeholder: 'CFG.json' },
    'subnet-list': { type: 'string', description: 'a JSON array of subnet configs; writes DIR/<config id>.onnx each', placeholder: 'LIST.json', formerly: ['subnets'] },
    out: { type: 'string', alias: 'o', description: 'output file (--subnet) or existing folder (--subnet-list)', placeholder: 'PATH', formerly: ['output'] },
    json: { type: 'boolean', description: 'print a JSON summary' },
  },
  examples: [
    'ofa export --random-init --seed 1 --subnet cfg.json -o model.onnx',
    'ofa export --checkpoint runs/fashion-ee-d --subnet-list front.json -o models/',
    'ofa export inspect model.onnx --json',
  ],
};

const INSPECT_SPEC: CommandSpec = {
  name: 'export inspect',
  summary: 'print an ONNX model\'s metadata, op histogram, MACs and params (counted on the graph)',
  usage: 'ofa export inspect FILE.onnx [--json]',
  positionals: ['FILE.onnx'],
  flags: { json: { type: 'boolean', description: 'print JSON' } },
};

type WeightFlags = { checkpoint: string } | { randomInitSeed: number };

/** Checks the weight flags before any input is read: exactly one source; --seed only with --random-init. */
function weightFlags(flags: Record<string, unknown>): WeightFlags {
  const checkpoint = flags.checkpoint as string | undefined;
  const randomInit = flags['random-init'] === true;
  const seed = flags.seed as number | undefined;
  if ((checkpoint === undefined) === !randomInit) {
    throw new OfaError('E_ARGS', 'ofa export: give exactly one of --checkpoint DIR and --random-init', { hint: 'run `ofa export --help`' });
  }
  if (checkpoint !== undefined) {
    // A checkpoint fixes the weights; silently ignoring the seed would suggest it changed them.
    if (seed !== undefined) {
      throw new OfaError(
        'E_FLAG_CONFLICT',
        `ofa export: --seed ${seed} conflicts with --checkpoint ${JSON.stringify(checkpoint)}; allowed: --seed only with --random-init (a checkpoint's weights are fixed)`,
        { hint: 'drop --seed, or use --random-init --seed S instead of --checkpoint' },
      );
    }
    return { checkpoint };
  }
  return { randomInitSeed: seed ?? 0 };
}

async function weightSource(weights: WeightFlags): Promise<WeightSource> {
  return 'checkpoint' in weights ? checkpointWeights(weights.checkpoint) : randomInitWeights(weights.randomInitSeed);
}

async function runExport(argv: string[]): Promise<number> {
  const { flags, positionals, help } = parseArgs(EXPORT_SPEC, argv);
  if (help) {
    out(helpText(EXPORT_SPEC));
    return 0;
  }
  if (positionals.length > 0) throw new OfaError('E_ARGS', `ofa export: unexpected argument ${JSON.stringify(positionals[0])}`, { hint: 'run `ofa export --help`' });
  const output = flags.out as string | undefined;
  const single = flags.subnet as string | undefined;
  const list = flags['subnet-list'] as string | undefined;
  if ((single === undefined) === (list === undefined)) throw new OfaError('E_ARGS', 'ofa export: give exactly one of --subnet CFG.json and --subnet-list LIST.json', { hint: 'run `ofa export --help`' });
  if (!output) throw new OfaError('E_ARGS', 'ofa export: missing -o/--out', { hint: 'run `ofa export --help`' });
  const weights = weightFlags(flags);
  // Read and validate every input before loading weights or writing anything.
  const configs: SubnetConfig[] = single ? [readSubnetConfigFile(single)] : readSubnetListFile(list as string);
  let targets: string[];
  if (single) {
    assertParentExists(output, 'ONNX output path');
    targets = [output];
  }
  else {
    if (!existsSync(output) || !statSync(output).isDirectory()) {
      throw new OfaError('E_OUTPUT_DIR', `ofa export --subnet-list: output folder ${JSON.stringify(output)} does not exist`, { hint: 'create the folder first' });
    }
    targets = configs.map((config) => join(output, `${configId(config)}.onnx`));
  }
  const source = await weightSource(weights);
  const results: { file: string; configId: string; bytes: number; seconds: number }[] = [];
  try {
    // A config that does not fit the checkpoint's supernet is refused before any file is written.
    for (const config of configs) source.check(config);
    for (const [i, config] of configs.entries()) {
      const start = process.hrtime.bigint();
      const model = exportSubnet(source.subnet(config), { source: source.checksum });
      const bytes = writeModel(targets[i], model);
      results.push({ file: targets[i], configId: configId(config), bytes, seconds: Number(process.hrtime.bigint() - start) / 1e9 });
      if (!flags.json) log(`wrote ${targets[i]} (${configId(config)}, ${(bytes / 1024).toFixed(1)} KiB)`);
    }
  } finally {
    source.dispose();
  }
  if (flags.json) out(JSON.stringify({ source: source.checksum, models: results }, null, 2));
  return 0;
}

function formatCount(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)} G`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)} M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)} k`;
  return String(n);
}

async function runInspect(argv: string[]): Promise<number> {
  const { flags, positionals, help } = parseArgs(INSPECT_SPEC, argv);
  if (help) {
    out(helpText(INSPECT_SPEC));
    return 0;
  }
  if (positionals.length !== 1) throw new OfaError('E_ARGS', `ofa export inspect: expected one ONNX file, got ${positionals.length}`, { hint: 'run `ofa export inspect --help`' });
  const file = positionals[0];
  const summary = summarizeModel(decodeModelFile(readModelBytes(file), file));
  if (flags.json) {
    out(JSON.stringify({ file, ...summary }, null, 2));
    return 0;
  }
  const shape = (dims: (number | string)[]) => `[${dims.join(', ')}]`;
  const lines = [
    `${file}: ONNX IR ${summary.irVersion}, opset ${summary.opset}, producer ${summary.producer || '-'}`,
    `inputs:  ${summary.inputs.map((i) => `${i.name} ${shape(i.shape)}`).join(', ')}`,
    `outputs: ${summary.outputs.map((o) => `${o.name} ${shape(o.shape)}`).join(', ')}`,
    `MACs (graph, per sample): ${summary.macs} (${formatCount(summary.macs)})`,
    `params (graph):           ${summary.params} (${formatCount(summary.params)})`,
    '',
    `ops (${summary.nodes} nodes):`,
    ...Object.entries(summary.ops).map(([op, count]) => `  ${op.padEnd(20)} ${count}`),
    '',
    'metadata:',
    ...Object.entries(summary.metadata).map(([key, value]) => `  ${key.padEnd(18)} ${value}`),
  ];
  const claimed = summary.metadata.macs;
  if (claimed !== undefined && Number(claimed) !== summary.macs) lines.push('', `warning: metadata macs ${claimed} != graph count ${summary.macs}`);
  out(lines.join('\n'));
  return 0;
}

export async function run(argv: string[]): Promise<number> {
  if (argv[0] === 'inspect') return runInspect(argv.slice(1));
  return runExport(argv);
}
