// `ofa space info | sample | validate | stats`: the search space from the command line.
import { OfaError } from '../lib/errors.ts';
import { readJsonInput } from '../lib/json.ts';
import { createRng } from '../lib/rng.ts';
import {
  DEFAULT_PRESET,
  DEFAULT_VARIANT,
  PRESET_NAMES,
  VARIANT_NAMES,
  findFaults,
  formatFault,
  getPreset,
  getVariant,
  resolveDimensions,
  sampleMax,
  sampleMin,
  sampleRandom,
  sampleUniform,
  subnetCost,
  subnetCount,
  canonicalize,
  configId,
  type Fault,
  type SubnetConfig,
} from '../space/index.ts';
import { out, parseGroup, type CommandSpec, type FlagSpec } from './args.ts';

const COMMON: Record<string, FlagSpec> = {
  preset: { type: 'string', description: 'preset', default: DEFAULT_PRESET, choices: PRESET_NAMES, placeholder: 'NAME' },
  variant: { type: 'string', description: 'supernet variant', default: DEFAULT_VARIANT, choices: VARIANT_NAMES, placeholder: 'NAME' },
  json: { type: 'boolean', description: 'print JSON' },
};

const SPECS: Record<string, CommandSpec> = {
  info: {
    name: 'space info',
    summary: 'the allowed values of every elastic dimension and the exact number of subnets',
    usage: 'ofa space info [--preset P] [--variant V] [--json]',
    flags: COMMON,
    examples: ['ofa space info', 'ofa space info --preset tiny-imagenet --variant ee-d-p --json'],
  },
  sample: {
    name: 'space sample',
    summary: 'print canonical subnet configs: random (seeded), min, max or uniform',
    usage: 'ofa space sample [--kind random|min|max|uniform] [--subnets N] [--seed S] [--preset P] [--variant V] [--json]',
    flags: {
      ...COMMON,
      kind: { type: 'string', description: 'which configs', default: 'random', choices: ['random', 'min', 'max', 'uniform'], placeholder: 'KIND' },
      subnets: { type: 'int', description: 'number of random configs (--kind random)', default: 1, placeholder: 'N', formerly: ['n'], min: 1, max: 1_000_000 },
      seed: { type: 'int', description: 'random seed', default: 0, placeholder: 'S' },
      kernel: { type: 'int', description: 'kernel size for --kind uniform (default: the largest)', placeholder: 'K' },
      expand: { type: 'int', description: 'expand ratio for --kind uniform (default: the largest)', placeholder: 'E' },
      depth: { type: 'int', description: 'depth for --kind uniform (default: the largest)', placeholder: 'D' },
    },
    examples: ['ofa space sample --subnets 5 --seed 1 --json', 'ofa space sample --kind uniform --kernel 5 --expand 4 --depth 3 --json'],
  },
  validate: {
    name: 'space validate',
    summary: 'check a config or an array of configs (exit 0 when all are valid, 2 otherwise)',
    usage: 'ofa space validate FILE|- [--preset P] [--variant V] [--json]',
    positionals: ['FILE'],
    // No defaults: a config names its own preset and variant; the flags only require particular ones.
    flags: {
      preset: { type: 'string', description: 'require this preset (default: any)', choices: PRESET_NAMES, placeholder: 'NAME' },
      variant: { type: 'string', description: 'require this variant (default: any)', choices: VARIANT_NAMES, placeholder: 'NAME' },
      json: COMMON.json,
    },
    examples: ['ofa space validate subnet.json', 'ofa space sample --subnets 3 --json | ofa space validate -', 'ofa space validate --preset fashion --variant ee-d subnets.json'],
  },
  stats: {
    name: 'space stats',
    summary: 'MACs and parameters over random samples plus the min and max configs',
    usage: 'ofa space stats [--subnets N] [--seed S] [--preset P] [--variant V] [--json]',
    flags: {
      ...COMMON,
      subnets: { type: 'int', description: 'number of random subnets (the min and max configs are added)', default: 1000, placeholder: 'N', formerly: ['n'], max: 1_000_000 },
      seed: { type: 'int', description: 'random seed', default: 0, placeholder: 'S' },
    },
    examples: ['ofa space stats --subnets 2000 --json'],
  },
};

export async function run(argv: string[]): Promise<number> {
  const call = parseGroup({ name: 'space', summary: 'inspect the search space', commands: SPECS }, argv);
  if (typeof call === 'number') return call;
  const { command: sub, parsed } = call;
  const flags = parsed.flags;
  const space = { preset: flags.preset as string, variant: flags.variant as string };
  switch (sub) {
    case 'info':
      return info(space, flags.json === true);
    case 'sample':
      return sample(space, flags);
    case 'validate':
      return validate(parsed.positionals, { preset: flags.preset as string | undefined, variant: flags.variant as string | undefined }, flags.json === true);
    case 'stats':
      return stats(space, flags.subnets as number, flags.seed as number, flags.json === true);
  }
  return 2;
}

function info(space: { preset: string; variant: string }, json: boolean): number {
  const preset = getPreset(space.preset);
  const variant = getVariant(space.variant);
  const dims = resolveDimensions(space);
  const count = subnetCount(space);
  // Dimensions a variant does not have (exit without early exits, branches without parallel blocks)
  // are left out rather than shown with a single value.
  const dimensions: Record<string, readonly number[]> = { resolution: dims.resolutions };
  if (variant.earlyExits) dimensions.exit = dims.exits;
  dimensions.depth = dims.depths;
  dimensions.kernel = dims.kernelSizes;
  dimensions.expand = dims.expandRatios;
  if (variant.parallelBlocks) dimensions.branches = dims.branchMasks;
  // JSON numbers are exact only up to 2^53: larger counts are printed as decimal strings.
  const subnetCountValue = count <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(count) : count.toString();
  if (json) {
    out(JSON.stringify({ preset: preset.name, variant: variant.name, dimensions, subnetCount: subnetCountValue }, null, 2));
    return 0;
  }
  const min = subnetCost(sampleMin(space));
  const max = subnetCost(sampleMax(space));
  out(
    [
      `preset ${preset.name}: input ${preset.inputChannels}x${preset.resolutions.at(-1)}x${preset.resolutions.at(-1)}, ${preset.numClasses} classes`,
      `variant ${variant.name}: early exits ${variant.earlyExits ? 'yes' : 'no'}, dense skips ${variant.denseSkip ? 'yes' : 'no'}, parallel blocks ${variant.parallelBlocks ? 'yes' : 'no'}`,
      `stages (width/stride/activation/SE): ${preset.stages.map((s) => `${s.width}/${s.stride}/${s.activation}/${s.squeezeExcite ? 'se' : '-'}`).join('  ')}`,
      ...Object.entries(dimensions).map(([name, values]) => `  ${name.padEnd(10)} ${values.join(', ')}`),
      `distinct subnets: ${count.toString()}`,
      `MACs: min ${(min.macs / 1e6).toFixed(2)} M, max ${(max.macs / 1e6).toFixed(2)} M; params: min ${(min.params / 1e6).toFixed(3)} M, max ${(max.params / 1e6).toFixed(3)} M`,
    ].join('\n'),
  );
  return 0;
}

function sample(space: { preset: string; variant: string }, flags: Record<string, unknown>): number {
  let configs: SubnetConfig[];
  const n = flags.subnets as number;
  if (n < 1) throw new OfaError('E_ARGS', `ofa space sample: --subnets ${n} is not valid; allowed: an integer >= 1`);
  switch (flags.kind) {
    case 'min':
      configs = [sampleMin(space)];
      break;
    case 'max':
      configs = [sampleMax(space)];
      break;
    case 'uniform': {
      const dims = resolveDimensions(space);
      const pickOr = (value: unknown, allowed: readonly number[], name: string) => {
        if (value === undefined) return allowed[allowed.length - 1];
        if (!allowed.includes(value as number)) {
          throw new OfaError('E_ARGS', `ofa space sample: --${name} ${value} is not valid; allowed: ${allowed.join(', ')}`);
        }
        return value as number;
      };
      configs = [
        sampleUniform(space, {
          kernel: pickOr(flags.kernel, dims.kernelSizes, 'kernel'),
          expand: pickOr(flags.expand, dims.expandRatios, 'expand'),
          depth: pickOr(flags.depth, dims.depths, 'depth'),
        }),
      ];
      break;
    }
    default: {
      const rng = createRng(flags.seed as number);
      configs = Array.from({ length: n }, () => sampleRandom(space, rng));
    }
  }
  if (flags.json) out(JSON.stringify(flags.kind === 'random' ? configs : configs[0], null, 2));
  else for (const config of configs) out(`${configId(config)}  ${JSON.stringify(config)}`);
  return 0;
}

/** Faults of a config whose preset or variant is not the one the --preset / --variant flags require. */
function requiredFaults(item: unknown, required: { preset?: string; variant?: string }): Fault[] {
  const faults: Fault[] = [];
  if (typeof item !== 'object' || item === null || Array.isArray(item)) return faults; // findFaults names it
  const record = item as Record<string, unknown>;
  for (const key of ['preset', 'variant'] as const) {
    const want = required[key];
    if (want !== undefined && record[key] !== want) {
      faults.push({ path: `$.${key}`, value: record[key], message: `${key} ${JSON.stringify(record[key])} is not the one required by --${key}; allowed: ${JSON.stringify(want)}` });
    }
  }
  return faults;
}

function validate(positionals: string[], required: { preset?: string; variant?: string }, json: boolean): number {
  if (positionals.length !== 1) {
    throw new OfaError('E_ARGS', `ofa space validate: expected one FILE (or - for standard input), got ${positionals.length}`, {
      hint: 'run `ofa space validate --help`',
    });
  }
  // The shared reader (lib/json.ts): size and depth limits, binary and truncated files, named.
  const { value, input } = readJsonInput(positionals[0], 'subnet config file', { code: 'E_CONFIG', hint: 'pass a subnet config or a list of them (see `ofa space sample --json`)' });
  if (Array.isArray(value) && value.length === 0) {
    throw new OfaError('E_CONFIG', `${input} holds an empty list; expected a subnet config or a non-empty list of them`, { hint: 'see `ofa space sample --json` for the form' });
  }
  const items = Array.isArray(value) ? value : [value];
  const report = items.map((item, index) => {
    const own = findFaults(item);
    const extra = requiredFaults(item, required).filter((fault) => !own.some((o) => o.path === fault.path));
    const faults = [...own, ...extra].map((fault) => ({
      ...fault,
      path: Array.isArray(value) ? fault.path.replace(/^\$/, `$[${index}]`) : fault.path,
    }));
    return { index, valid: faults.length === 0, id: faults.length === 0 ? configId(canonicalize(item as SubnetConfig)) : undefined, faults };
  });
  const bad = report.filter((r) => !r.valid);
  if (json) out(JSON.stringify({ valid: bad.length === 0, count: items.length, invalid: bad.length, results: report }, null, 2));
  else if (bad.length === 0) out(`${items.length} config${items.length === 1 ? '' : 's'} valid`);
  // Each fault names the input (compiler style: `file: $.path: ...`), so that a fault is found from its line alone.
  else {
    const name = positionals[0] === '-' ? 'standard input' : positionals[0];
    for (const r of bad) for (const fault of r.faults) process.stderr.write(`${name}: ${formatFault(fault)}\n`);
  }
  return bad.length === 0 ? 0 : 2;
}

function summary(values: number[]): { min: number; median: number; max: number } {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  const median = sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
  return { min: sorted[0], median, max: sorted[sorted.length - 1] };
}

function stats(space: { preset: string; variant: string }, n: number, seed: number, json: boolean): number {
  if (n < 0) throw new OfaError('E_ARGS', `ofa space stats: --subnets ${n} is not valid; allowed: an integer >= 0`);
  const rng = createRng(seed);
  const configs = [sampleMin(space), sampleMax(space), ...Array.from({ length: n }, () => sampleRandom(space, rng))];
  const costs = configs.map(subnetCost);
  const result = {
    samples: configs.length,
    macs: summary(costs.map((c) => c.macs)),
    params: summary(costs.map((c) => c.params)),
  };
  if (json) out(JSON.stringify(result, null, 2));
  else {
    const fmt = (s: { min: number; median: number; max: number }, scale: number, unit: string) =>
      `min ${(s.min / scale).toFixed(3)} ${unit}, median ${(s.median / scale).toFixed(3)} ${unit}, max ${(s.max / scale).toFixed(3)} ${unit}`;
    out(`${result.samples} configs (${n} random, seed ${seed}, plus min and max)\nMACs:   ${fmt(result.macs, 1e6, 'M')}\nparams: ${fmt(result.params, 1e6, 'M')} (trainable, BN scale and shift included)`);
  }
  return 0;
}
