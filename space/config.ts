// SubnetConfig: the currency of the pipeline (pipeline.md). Its type is inferred from SUBNET_SCHEMA and
// the validator walks the same schema.
import { createHash } from 'node:crypto';
import { OfaError, describeValue } from '../lib/errors.ts';
import { parseJsonText } from '../lib/json.ts';
import {
  BRANCH_MBCONV,
  PRESET_NAMES,
  STAGE_COUNT,
  VARIANT_NAMES,
  fullDimensions,
  getPreset,
  getVariant,
  type Dimensions,
  type Preset,
  type Variant,
} from './presets.ts';
import { always, check, missingMessage, typeName, when, type ArraySchema, type Fault, type Infer, type SchemaContext } from './schema.ts';

const LAYER_SCHEMA = {
  kind: 'object',
  description: 'layer',
  fields: {
    kernel: always({ kind: 'int', description: 'kernel size', allowed: (ctx: SchemaContext) => ctx.dimensions.kernelSizes }),
    expand: always({ kind: 'int', description: 'expand ratio', allowed: (ctx: SchemaContext) => ctx.dimensions.expandRatios }),
    branches: when(
      { kind: 'int', description: 'branch mask', allowed: (ctx: SchemaContext) => ctx.dimensions.branchMasks },
      (ctx) => ctx.variant.parallelBlocks,
      'present exactly for the parallel-block variants (p, ee-p, d-p, ee-d-p)',
    ),
  },
} as const;

const LAYERS_SCHEMA: ArraySchema<typeof LAYER_SCHEMA> = {
  kind: 'array',
  description: 'layers',
  items: LAYER_SCHEMA,
  // One entry per active layer: the stage's depth.
  length: (ctx) => (typeof ctx.parent.depth === 'number' ? ctx.parent.depth : 0),
  lengthRule: 'one per active layer, equal to the stage depth',
};

const STAGE_SCHEMA = {
  kind: 'object',
  description: 'stage',
  fields: {
    depth: always({ kind: 'int', description: 'depth', allowed: (ctx: SchemaContext) => ctx.dimensions.depths }),
    layers: always(LAYERS_SCHEMA),
  },
} as const;

const STAGES_SCHEMA: ArraySchema<typeof STAGE_SCHEMA> = {
  kind: 'array',
  description: 'stages',
  items: STAGE_SCHEMA,
  // Stages after the exit are not run, so they are not listed (one config = one network).
  length: (ctx) => (ctx.variant.earlyExits ? (typeof ctx.root.exit === 'number' ? ctx.root.exit : STAGE_COUNT) : STAGE_COUNT),
  lengthRule: 'one per stage that runs: the exit index for early-exit variants, else 5',
};

export const SUBNET_SCHEMA = {
  kind: 'object',
  description: 'subnet config',
  fields: {
    preset: always({ kind: 'string', description: 'preset', allowed: () => PRESET_NAMES }),
    variant: always({ kind: 'string', description: 'variant', allowed: () => VARIANT_NAMES }),
    resolution: always({ kind: 'int', description: 'resolution', allowed: (ctx: SchemaContext) => ctx.dimensions.resolutions }),
    exit: when(
      { kind: 'int', description: 'exit', allowed: (ctx: SchemaContext) => ctx.dimensions.exits },
      (ctx) => ctx.variant.earlyExits,
      'present exactly for the early-exit variants (ee, ee-d, ee-p, ee-d-p)',
    ),
    stages: always(STAGES_SCHEMA),
  },
} as const;

export type SubnetConfig = Infer<typeof SUBNET_SCHEMA>;
export type StageConfig = SubnetConfig['stages'][number];
export type LayerConfig = StageConfig['layers'][number];

export interface ValidateOptions {
  /** Restrict the allowed values (a training phase's or a search's space). Defaults to the full space. */
  dimensions?: Partial<Dimensions>;
}

/** Returns every fault of `value` as a SubnetConfig (empty when valid). */
export function findFaults(value: unknown, options: ValidateOptions = {}): Fault[] {
  const faults: Fault[] = [];
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return [{ path: '$', value, message: `subnet config must be an object (got ${typeName(value)})` }];
  }
  const record = value as Record<string, unknown>;
  // The preset and variant decide every other rule: check them first.
  const presetName = record.preset;
  const variantName = record.variant;
  const presetOk = typeof presetName === 'string' && PRESET_NAMES.includes(presetName);
  const variantOk = typeof variantName === 'string' && (VARIANT_NAMES as readonly string[]).includes(variantName);
  if (!presetOk || !variantOk) {
    const ctx = { parent: record, root: record } as unknown as SchemaContext;
    if (!presetOk) {
      if (!Object.hasOwn(record, 'preset')) faults.push({ path: '$.preset', value: undefined, message: missingMessage('preset', SUBNET_SCHEMA.fields.preset, ctx) });
      else check(SUBNET_SCHEMA.fields.preset.schema, presetName, '$.preset', ctx, faults);
    }
    if (!variantOk) {
      if (!Object.hasOwn(record, 'variant')) faults.push({ path: '$.variant', value: undefined, message: missingMessage('variant', SUBNET_SCHEMA.fields.variant, ctx) });
      else check(SUBNET_SCHEMA.fields.variant.schema, variantName, '$.variant', ctx, faults);
    }
    return faults;
  }
  const preset = getPreset(presetName);
  const variant = getVariant(variantName);
  const dimensions = { ...fullDimensions(preset, variant), ...options.dimensions };
  check(SUBNET_SCHEMA, value, '$', { preset, variant, dimensions, parent: record, root: record }, faults);
  return faults;
}

export function formatFault(fault: Fault): string {
  const shown = fault.value === undefined ? '' : ` (value ${describeValue(fault.value)})`;
  return `${fault.path}: ${fault.message}${shown}`;
}

/** Validates and returns the canonical form; throws one OfaError listing every fault. */
export function validateConfig(value: unknown, options: ValidateOptions & { input?: string } = {}): SubnetConfig {
  const faults = findFaults(value, options);
  if (faults.length > 0) {
    const input = options.input ?? 'subnet config';
    throw Object.assign(
      new OfaError('E_CONFIG', `${input} is invalid:\n${faults.map((f) => `  ${formatFault(f)}`).join('\n')}`, {
        hint: 'run `ofa space info` for the allowed values',
      }),
      { faults },
    );
  }
  return canonicalize(value as SubnetConfig);
}

export function configContext(config: Pick<SubnetConfig, 'preset' | 'variant'>): { preset: Preset; variant: Variant } {
  return { preset: getPreset(config.preset), variant: getVariant(config.variant) };
}

/**
 * The canonical form: fields in a fixed order, and, for layers whose MBConv branch is off (P variants),
 * kernel and expand set to the maximum (they do not change the network), so that one network has one id.
 */
export function canonicalize(config: SubnetConfig): SubnetConfig {
  const { preset, variant } = configContext(config);
  const maxKernel = Math.max(...preset.kernelSizes);
  const maxExpand = Math.max(...preset.expandRatios);
  const out: SubnetConfig = { preset: config.preset, variant: config.variant, resolution: config.resolution, stages: [] };
  if (variant.earlyExits) out.exit = config.exit;
  out.stages = config.stages.map((stage) => ({
    depth: stage.depth,
    layers: stage.layers.map((layer) => {
      if (!variant.parallelBlocks) return { kernel: layer.kernel, expand: layer.expand };
      const branches = layer.branches as number;
      const mbconvOn = (branches & BRANCH_MBCONV) !== 0;
      return { kernel: mbconvOn ? layer.kernel : maxKernel, expand: mbconvOn ? layer.expand : maxExpand, branches };
    }),
  }));
  // Re-order keys: preset, variant, resolution, exit, stages.
  const ordered: SubnetConfig = { preset: out.preset, variant: out.variant, resolution: out.resolution } as SubnetConfig;
  if (out.exit !== undefined) ordered.exit = out.exit;
  ordered.stages = out.stages;
  return ordered;
}

export function canonicalJson(config: SubnetConfig): string {
  return JSON.stringify(canonicalize(config));
}

/** A stable id: the first 16 hex digits of sha256 of the canonical JSON. */
export function configId(config: SubnetConfig): string {
  return createHash('sha256').update(canonicalJson(config)).digest('hex').slice(0, 16);
}

/** The exit the subnet uses (5 for variants without early exits). */
export function exitOf(config: SubnetConfig): number {
  return config.exit ?? STAGE_COUNT;
}

/** Parses JSON text, naming the input on failure (lib/json.ts: depth limit, __proto__, overflow). */
export function parseJson(text: string, input: string): unknown {
  return parseJsonText(text, input);
}
