// `ofa train eps`: the whole extended-progressive-shrinking schedule of a variant (ofav2.md s3).
import { OfaError } from '../lib/errors.ts';
import { DEFAULT_PRESET, DEFAULT_VARIANT, PRESET_NAMES, VARIANT_NAMES } from '../space/index.ts';
import { helpText, log, out, parseArgs, type CommandSpec } from './args.ts';

export const EPS_SPEC: CommandSpec = {
  name: 'train eps',
  summary: 'every EPS phase of a variant in order, each from the previous best, with PET / baseline / no teacher (resumable)',
  usage: 'ofa train eps [--preset P] [--variant V] --teacher pet|baseline|none --scale S --out DIR [options]',
  flags: {
    preset: { type: 'string', description: 'preset', default: DEFAULT_PRESET, choices: PRESET_NAMES, placeholder: 'NAME' },
    variant: { type: 'string', description: 'supernet variant', default: DEFAULT_VARIANT, choices: VARIANT_NAMES, placeholder: 'NAME' },
    teacher: { type: 'string', description: "pet: the previous phase's best (progressively extracted teacher); baseline: the full phase's best throughout; none", default: 'pet', choices: ['pet', 'baseline', 'none'], placeholder: 'KIND' },
    scale: { type: 'number', description: "share of the paper's epochs and warm-up, in (0, 1]; each phase at least 1 epoch", placeholder: 'S' },
    out: { type: 'string', description: 'schedule folder (eps-state.json, one folder per phase); rerun the same command to resume', placeholder: 'DIR' },
    seed: { type: 'int', description: 'seed of initialisation, data order and sampling', default: 0, placeholder: 'S' },
    'batch-size': { type: 'int', description: 'images per step', default: 64, placeholder: 'N' },
    'max-train-images': { type: 'int', description: 'train on a seeded subset of this many images', placeholder: 'M' },
    'validation-size': { type: 'int', description: "images held out of the training split for validation (default: the data set's)", placeholder: 'N' },
    'validation-subnets': { type: 'int', description: "subnets of the phase's grid validated per epoch", default: 8, placeholder: 'N' },
    'eval-images': { type: 'int', description: 'validation images per evaluation (default: the whole validation split)', placeholder: 'N' },
    'recalibration-images': { type: 'int', description: 'training images for BN recalibration before each evaluation', default: 2000, placeholder: 'N' },
    workers: { type: 'int', description: 'worker threads (default: all cores, at most --shards)', placeholder: 'N' },
    shards: { type: 'int', description: 'BN shards per batch', default: 2, placeholder: 'N' },
    backend: { type: 'string', description: 'tfjs backend', default: 'auto', choices: ['auto', 'tfjs-node', 'wasm', 'cpu'], placeholder: 'NAME' },
    'data-dir': { type: 'string', description: 'data set folder (CIFAR-10, Tiny ImageNet)', placeholder: 'DIR' },
    'cache-dir': { type: 'string', description: 'cache folder for converted data', placeholder: 'DIR' },
    quiet: { type: 'boolean', description: 'no progress output' },
  },
  examples: [
    'ofa train eps --preset fashion --variant ee-d --teacher pet --scale 0.02 --out runs/eps-ee-d-pet',
    'ofa train eps --preset fashion --variant ofa --teacher baseline --scale 0.02 --out runs/eps-ofa',
  ],
};

function atLeast(name: string, value: unknown, min: number): void {
  if (value !== undefined && (typeof value !== 'number' || value < min)) throw new OfaError('E_ARGS', `ofa train eps: --${name} ${value} is not valid; allowed: an integer >= ${min}`);
}

export async function run(argv: string[]): Promise<number> {
  const parsed = parseArgs(EPS_SPEC, argv);
  if (parsed.help) {
    out(helpText(EPS_SPEC));
    return 0;
  }
  const f = parsed.flags;
  if (parsed.positionals.length > 0) throw new OfaError('E_ARGS', `ofa train eps: unexpected argument ${JSON.stringify(parsed.positionals[0])}`, { hint: 'run `ofa train eps --help`' });
  if (typeof f.out !== 'string') throw new OfaError('E_ARGS', 'ofa train eps: --out DIR is required (the schedule folder; rerun the same command to resume)', { hint: 'run `ofa train eps --help`' });
  if (typeof f.scale !== 'number') throw new OfaError('E_ARGS', "ofa train eps: --scale S is required; allowed: a number in (0, 1] (the share of the paper's epochs)", { hint: 'e.g. --scale 0.02' });
  if (!(f.scale > 0 && f.scale <= 1)) throw new OfaError('E_SCALE', `ofa train eps: --scale ${f.scale} is not allowed; allowed: a number in (0, 1] (the share of the paper's epochs)`);
  for (const name of ['batch-size', 'max-train-images', 'validation-subnets', 'eval-images', 'workers', 'shards']) atLeast(name, f[name], 1);
  atLeast('validation-size', f['validation-size'], 0);
  atLeast('recalibration-images', f['recalibration-images'], 0);
  const { trainEps } = await import('../train/index.ts');
  const result = await trainEps({
    preset: f.preset as string,
    variant: f.variant as string,
    teacher: f.teacher as 'pet',
    scale: f.scale,
    outDir: f.out,
    seed: f.seed as number,
    batchSize: f['batch-size'] as number,
    maxTrainImages: f['max-train-images'] as number | undefined,
    validationSize: f['validation-size'] as number | undefined,
    validationSubnets: f['validation-subnets'] as number,
    evalImages: f['eval-images'] as number | undefined,
    recalibrationImages: f['recalibration-images'] as number,
    workers: f.workers as number | undefined,
    shards: f.shards as number,
    backend: f.backend as 'auto',
    dataDir: f['data-dir'] as string | undefined,
    cacheDir: f['cache-dir'] as string | undefined,
    quiet: f.quiet === true,
  });
  const last = result.state.phases.at(-1)!;
  log(`EPS schedule ${result.complete ? 'done' : 'stopped'} in ${(result.seconds / 60).toFixed(1)} min; final phase ${last.name}${last.best ? ` best ${last.best.checkpoint} (validation ${(100 * last.best.score).toFixed(2)}%)` : ''}; state ${result.outDir}/eps-state.json`);
  return result.complete ? 0 : 1;
}
