// `ofa eval`: top-1 of subnets of a trained supernet after BN recalibration (ofav2.md s3): the largest
// subnet, one config file, a list, or the paper's best-subnet grid; on both cores.
import { writeJsonAtomic } from '../lib/atomic.ts';
import { OfaError } from '../lib/errors.ts';
import { paperGrid, sampleMax, subnetCost, type SubnetConfig } from '../space/index.ts';
import { helpText, log, out, parseArgs, type CommandSpec } from './args.ts';

export const EVAL_SPEC: CommandSpec = {
  name: 'eval',
  summary: 'top-1 of subnets of a checkpoint on the test split (BN recalibrated first), on both cores',
  usage: 'ofa eval --checkpoint DIR [--subnet cfg.json | --subnet-list list.json | --grid] [--json] [--out FILE]',
  flags: {
    checkpoint: { type: 'string', description: 'checkpoint folder, run folder (its best, else latest checkpoint) or `ofa train eps` folder (its last phase)', placeholder: 'DIR' },
    subnet: { type: 'string', description: 'subnet config file (default: the largest subnet)', placeholder: 'FILE' },
    'subnet-list': { type: 'string', description: 'a JSON list of subnet configs (or {"subnets": [...]}); --subnets is a count everywhere', placeholder: 'FILE' },
    grid: { type: 'boolean', description: "the paper's grid: resolution {min,max} x kernel {3,7} x expand {3,4,6} x depth {2,4} (x exit {1,5}, x masks)" },
    split: { type: 'string', description: 'which split', default: 'test', choices: ['test', 'validation'], placeholder: 'NAME' },
    'max-images': { type: 'int', description: 'evaluate on at most this many images', placeholder: 'N' },
    'recalibration-images': { type: 'int', description: 'training images for BN recalibration (0: keep running statistics)', default: 2000, placeholder: 'N' },
    seed: { type: 'int', description: "seed of the recalibration images' order and augmentation (and of --max-images' subset); another seed measures the evaluation's spread", default: 0, placeholder: 'N' },
    workers: { type: 'int', description: 'worker threads (default: all cores)', placeholder: 'N' },
    backend: { type: 'string', description: 'tfjs backend', default: 'auto', choices: ['auto', 'tfjs-node', 'wasm', 'cpu'], placeholder: 'NAME' },
    'data-dir': { type: 'string', description: 'data set folder (CIFAR-10, Tiny ImageNet)', placeholder: 'DIR' },
    'cache-dir': { type: 'string', description: 'cache folder for converted data', placeholder: 'DIR' },
    out: { type: 'string', description: 'also write the JSON result to this file', placeholder: 'FILE' },
    json: { type: 'boolean', description: 'print JSON' },
  },
  examples: [
    'ofa eval --checkpoint runs/fashion-ofa-full',
    'ofa eval --checkpoint runs/eps-fashion/c-ee-d-pet --grid --json --out grid.json',
    'ofa eval --checkpoint runs/fashion --subnet-list list.json',
    'ofa eval --checkpoint supernets/fashion-ee-d --seed 3',
  ],
};

function atLeast(name: string, value: unknown, min: number): void {
  if (value !== undefined && (typeof value !== 'number' || value < min)) throw new OfaError('E_ARGS', `ofa eval: --${name} ${value} is not valid; allowed: an integer >= ${min}`);
}

export async function run(argv: string[]): Promise<number> {
  const parsed = parseArgs(EVAL_SPEC, argv);
  if (parsed.help) {
    out(helpText(EVAL_SPEC));
    return 0;
  }
  const f = parsed.flags;
  if (parsed.positionals.length > 0) throw new OfaError('E_ARGS', `ofa eval: unexpected argument ${JSON.stringify(parsed.positionals[0])}`, { hint: 'run `ofa eval --help`' });
  atLeast('max-images', f['max-images'], 1);
  atLeast('recalibration-images', f['recalibration-images'], 0);
  atLeast('workers', f.workers, 1);
  if (typeof f.checkpoint !== 'string') throw new OfaError('E_ARGS', 'ofa eval: --checkpoint DIR is required', { hint: 'run `ofa eval --help`' });
  const chosen = [f.subnet !== undefined, f['subnet-list'] !== undefined, f.grid === true].filter(Boolean).length;
  if (chosen > 1) throw new OfaError('E_FLAG_CONFLICT', 'ofa eval: give at most one of --subnet, --subnet-list and --grid', { hint: 'run `ofa eval --help`' });
  const { readSubnetConfigFile, readSubnetListFile } = await import('../export/index.ts');
  // Config files are read before the supernet is opened: a bad file fails fast.
  const fromFiles: SubnetConfig[] | undefined = typeof f.subnet === 'string' ? [readSubnetConfigFile(f.subnet)] : typeof f['subnet-list'] === 'string' ? readSubnetListFile(f['subnet-list']) : undefined;
  const { openSupernet, loadDataset, PRESET_DATASETS } = await import('../train/index.ts');
  const supernet = await openSupernet(f.checkpoint, { backend: f.backend as 'auto', log: !f.json });
  try {
    const { preset, variant } = supernet.facts;
    const configs = (fromFiles ?? (f.grid ? paperGrid(preset, variant) : [sampleMax({ preset, variant })])).map((c) => supernet.check(c));
    const data = loadDataset(PRESET_DATASETS[preset] ?? preset, { dir: f['data-dir'] as string | undefined, cacheDir: f['cache-dir'] as string | undefined });
    const set = f.split === 'validation' ? data.validation : data.test;
    const started = performance.now();
    if (!f.json) log(`evaluating ${configs.length} subnet(s) of ${preset}/${variant} (${supernet.facts.dir}) on ${Math.min(set.count, (f['max-images'] as number | undefined) ?? set.count)} ${f.split} images...`);
    const results = await supernet.evaluateMany(configs, { calibration: data.train, set, spec: data.spec }, {
      recalibrationImages: f['recalibration-images'] as number,
      maxImages: f['max-images'] as number | undefined,
      seed: f.seed as number,
      workers: f.workers as number | undefined,
    });
    const seconds = (performance.now() - started) / 1000;
    const rows = results.map((r) => {
      const cost = subnetCost(r.config);
      return { subnet: r.id, config: r.config, top1: r.top1, loss: r.loss, images: r.images, macs: cost.macs, params: cost.params };
    });
    const best = rows.reduce((a, b) => (b.top1 > a.top1 ? b : a));
    const report = {
      format: 'ofav2/eval',
      formatVersion: 1,
      checkpoint: supernet.facts.dir,
      checksum: supernet.facts.checksum,
      preset,
      variant,
      split: f.split,
      recalibrationImages: f['recalibration-images'],
      seed: f.seed,
      seconds,
      subnets: rows,
      best: { subnet: best.subnet, top1: best.top1, macs: best.macs, params: best.params },
      // One subnet: its figures at the top level too, as `ofa eval` has always printed them.
      ...(rows.length === 1 ? rows[0] : {}),
    };
    if (typeof f.out === 'string') writeJsonAtomic(f.out, report);
    if (f.json) out(JSON.stringify(report, null, 2));
    else {
      const describe = (c: SubnetConfig) => `${c.resolution}px${c.exit ? ` exit ${c.exit}` : ''}`;
      for (const r of rows) out(`${r.subnet}  ${describe(r.config).padEnd(14)} top-1 ${(100 * r.top1).toFixed(2)}%  loss ${r.loss.toFixed(4)}  ${(r.macs / 1e6).toFixed(2)} MMACs  ${(r.params / 1e6).toFixed(3)} M params`);
      out(`${rows.length > 1 ? `best: ${best.subnet} top-1 ${(100 * best.top1).toFixed(2)}%; ` : ''}${rows.length} subnet(s) on ${rows[0].images} ${f.split} images in ${seconds.toFixed(1)} s`);
    }
    return 0;
  } finally {
    await supernet.close();
  }
}
