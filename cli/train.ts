// `ofa train` and `ofa eval`: the training loop and the evaluation of a subnet of a checkpoint.
import { OfaError } from '../lib/errors.ts';
import { DEFAULT_PRESET, DEFAULT_VARIANT, PRESET_NAMES, VARIANT_NAMES } from '../space/index.ts';
import { helpText, log, out, parseArgs, type CommandSpec } from './args.ts';

export const TRAIN_SPEC: CommandSpec = {
  name: 'train',
  summary: 'train the supernet for one phase (resumable, both cores)',
  usage: 'ofa train [--preset P] [--variant V] [--phase NAME] --epochs N [--out DIR] [--resume] [options]\n       ofa train eps --teacher pet|baseline|none --scale S --out DIR [options]   (the whole schedule; see `ofa train eps --help`)\n       ofa train pack --checkpoint DIR --out DIR   (a shipped supernet: weights, no optimiser state)',
  flags: {
    preset: { type: 'string', description: 'preset', default: DEFAULT_PRESET, choices: PRESET_NAMES, placeholder: 'NAME' },
    variant: { type: 'string', description: 'supernet variant', default: DEFAULT_VARIANT, choices: VARIANT_NAMES, placeholder: 'NAME' },
    phase: { type: 'string', description: 'training phase (ofav2.md s3): full, kernel, level-1/2, height-1..4, depth-1/2, expand-1/2', default: 'full', placeholder: 'NAME' },
    epochs: { type: 'int', description: 'epochs of this run (the LR schedule spans them)', default: 5, placeholder: 'N' },
    out: { type: 'string', description: 'run folder (checkpoints, log.jsonl) (default: runs/<preset>-<variant>-<phase>)', placeholder: 'DIR' },
    resume: { type: 'boolean', description: 'continue the run in --out from its latest checkpoint' },
    'batch-size': { type: 'int', description: 'images per step', default: 64, placeholder: 'N' },
    lr: { type: 'number', description: "base learning rate (default: the phase's)", placeholder: 'LR' },
    seed: { type: 'int', description: 'seed of initialisation, data order and sampling', default: 0, placeholder: 'S' },
    'max-train-images': { type: 'int', description: 'train on a seeded subset of this many images', placeholder: 'M' },
    'validation-size': { type: 'int', description: "images held out of the training split for validation (default: the data set's, 5000; tiny-imagenet 15%)", placeholder: 'N' },
    'eval-images': { type: 'int', description: 'validation images per evaluation (default: the whole validation split)', placeholder: 'N' },
    'validation-subnets': { type: 'int', description: "subnets of the phase's grid validated per epoch (their mean top-1 picks best.json)", default: 8, placeholder: 'N' },
    'eval-every': { type: 'int', description: 'evaluate every N epochs (0: only at the end)', default: 1, placeholder: 'N' },
    init: { type: 'string', description: "start from this checkpoint's weights (the previous phase's run or checkpoint folder)", placeholder: 'DIR' },
    teacher: { type: 'string', description: 'teacher for knowledge distillation: a checkpoint or phase folder (its best), as its BN-recalibrated largest subnet', placeholder: 'DIR' },
    'teacher-mode': { type: 'string', description: 'pet: teacher dropout 0.1; baseline: dropout 0 (both in training mode, as the paper runs them)', default: 'pet', choices: ['pet', 'baseline'], placeholder: 'MODE' },
    workers: { type: 'int', description: 'worker threads (default: all cores, at most --shards: each worker computes whole shards)', placeholder: 'N' },
    shards: { type: 'int', description: 'BN shards per batch (results depend on it, not on --workers)', default: 2, placeholder: 'N' },
    backend: { type: 'string', description: 'tfjs backend', default: 'auto', choices: ['auto', 'tfjs-node', 'wasm', 'cpu'], placeholder: 'NAME' },
    'data-dir': { type: 'string', description: 'data set folder (CIFAR-10, Tiny ImageNet)', placeholder: 'DIR' },
    'cache-dir': { type: 'string', description: 'cache folder for converted data (default $OFA_CACHE_DIR or .cache/ofav2)', placeholder: 'DIR' },
    quiet: { type: 'boolean', description: 'no progress output' },
  },
  examples: [
    'ofa train --preset fashion --variant ee-d --phase full --epochs 5 --out runs/fashion',
    'ofa train --preset fashion --variant ee-d --phase full --epochs 5 --out runs/fashion --resume',
    'ofa train --variant ofa --epochs 1 --max-train-images 2000 --out runs/quick',
    'ofa train --phase kernel --epochs 3 --init runs/fashion --teacher runs/fashion --out runs/fashion-kernel',
  ],
};

function positive(name: string, value: unknown, min = 1): void {
  if (value !== undefined && (typeof value !== 'number' || value < min)) {
    throw new OfaError('E_ARGS', `--${name} ${value} is not valid; allowed: an integer >= ${min}`);
  }
}

export async function run(argv: string[]): Promise<number> {
  // `ofa train eps ...`: the whole schedule (cli/train-eps.ts).
  if (argv[0] === 'eps') return (await import('./train-eps.ts')).run(argv.slice(1));
  // `ofa train pack ...`: a shipped supernet folder (cli/train-pack.ts).
  if (argv[0] === 'pack') return (await import('./train-pack.ts')).run(argv.slice(1));
  const parsed = parseArgs(TRAIN_SPEC, argv);
  if (parsed.help) {
    out(helpText(TRAIN_SPEC));
    return 0;
  }
  if (parsed.positionals.length > 0) throw new OfaError('E_ARGS', `ofa train: unexpected argument ${JSON.stringify(parsed.positionals[0])}`, { hint: 'run `ofa train --help`' });
  const f = parsed.flags;
  positive('epochs', f.epochs);
  positive('batch-size', f['batch-size']);
  positive('max-train-images', f['max-train-images']);
  positive('workers', f.workers);
  positive('shards', f.shards);
  positive('validation-size', f['validation-size'], 0);
  positive('eval-every', f['eval-every'], 0);
  positive('eval-images', f['eval-images']);
  positive('validation-subnets', f['validation-subnets']);
  if (f.lr !== undefined && !((f.lr as number) > 0)) throw new OfaError('E_ARGS', `--lr ${f.lr} is not valid; allowed: a number > 0`);
  const { train } = await import('../train/index.ts');
  const result = await train({
    preset: f.preset as string,
    variant: f.variant as string,
    phase: f.phase as string,
    epochs: f.epochs as number,
    outDir: (f.out as string | undefined) ?? `runs/${f.preset}-${f.variant}-${f.phase}`,
    resume: f.resume === true,
    batchSize: f['batch-size'] as number,
    baseLr: f.lr as number | undefined,
    seed: f.seed as number,
    maxTrainImages: f['max-train-images'] as number | undefined,
    validationSize: f['validation-size'] as number | undefined,
    evalImages: f['eval-images'] as number | undefined,
    validationSubnets: f['validation-subnets'] as number,
    teacherMode: f['teacher-mode'] as 'pet',
    evalEvery: f['eval-every'] as number,
    teacher: f.teacher as string | undefined,
    init: f.init as string | undefined,
    workers: f.workers as number | undefined,
    shards: f.shards as number,
    backend: f.backend as 'auto',
    dataDir: f['data-dir'] as string | undefined,
    cacheDir: f['cache-dir'] as string | undefined,
    quiet: f.quiet === true,
  });
  const last = result.evaluations.at(-1);
  log(
    `done: ${result.stepsDone}/${result.totalSteps} steps in ${(result.seconds / 60).toFixed(1)} min (${result.imagesPerSecond.toFixed(1)} img/s); checkpoint ${result.lastCheckpoint ?? 'none'}` +
      (last ? `; validation top-1 ${last.results.map((r) => `${(100 * r.top1).toFixed(2)}%`).join(', ')}` : ''),
  );
  return 0;
}
