// `ofa search`: the per-device search (ofav2.md s4) and the two steps before it: `ofa search dataset`
// measures random subnets of a trained supernet (the one step that loads the trainer), `ofa search fit`
// fits the accuracy predictor on them. `ofa search` itself loads no training engine and no runtime.
import { writeJsonAtomic } from '../lib/atomic.ts';
import { OfaError } from '../lib/errors.ts';
import { ProgressBar } from '../lib/progress.ts';
import { DEFAULT_DEVICES_DIR } from '../profile/predict.ts';
import {
  EVOLUTION_DEFAULTS,
  NSGA2_DEFAULTS,
  PREDICTOR_DEFAULTS,
  SEARCH_ALGORITHMS,
  accuracyPredictorOf,
  checkPredictorCheckpoint,
  fitAccuracyPredictor,
  loadSearchDevice,
  measureAccuracyDataset,
  prepareDevice,
  readAccuracyDataset,
  readAccuracyPredictor,
  searchPrepared,
  searchTag,
  type DeviceSearchResult,
  type PredictorFile,
  type SearchAlgorithm,
} from '../search/index.ts';
import { helpText, log, out, parseArgs, type CommandSpec, type ParsedFlags } from './args.ts';

const JSON_FLAG = { type: 'boolean', description: 'print JSON' } as const;

export const SEARCH_SPEC: CommandSpec = {
  name: 'search',
  summary: 'per device, the best subnet under each latency budget (NSGA-II front, or OFA evolution per budget)',
  usage: 'ofa search --predictor FILE [--checkpoint DIR] --devices D1,D2 [--budgets-ms 0.2,0.3] [--seed S] [--json] [--out FILE]\n       ofa search dataset|fit ... (ofa search dataset --help)',
  flags: {
    predictor: { type: 'string', description: 'accuracy predictor file (`ofa search fit --out`)', placeholder: 'FILE' },
    checkpoint: { type: 'string', description: "the supernet the picks are for: its weights' checksum (from its manifest; no weights are loaded) must be the predictor's", placeholder: 'DIR' },
    devices: { type: 'list', description: 'devices to search for, comma-separated (<devices-dir>/<name>.json, with their table and calibration)', placeholder: 'D1,D2' },
    'budgets-ms': { type: 'list', description: "latency budgets in ms for every device (default: each device's latencyBudgetsMs)", placeholder: 'MS,MS' },
    algorithm: { type: 'string', description: 'nsga2: one front per device, every budget read off it; evolution: OFA\'s evolution once per budget', default: 'nsga2', choices: SEARCH_ALGORITHMS, placeholder: 'NAME' },
    seed: { type: 'int', description: 'seed of the search', default: 1, placeholder: 'S' },
    population: { type: 'int', description: `population size (default ${NSGA2_DEFAULTS.population}; evolution ${EVOLUTION_DEFAULTS.population})`, placeholder: 'N', min: 2, max: 100_000 },
    generations: { type: 'int', description: `generations (default nsga2 ${NSGA2_DEFAULTS.generations}, evolution ${EVOLUTION_DEFAULTS.generations})`, placeholder: 'N', min: 0, max: 1_000_000 },
    'devices-dir': { type: 'string', description: 'folder of the device files (their tables in <devices-dir>/<name>/)', default: DEFAULT_DEVICES_DIR, placeholder: 'DIR' },
    'front-size': { type: 'int', description: 'front points printed per device (all are in --json and --out)', default: 8, placeholder: 'N' },
    out: { type: 'string', description: 'write the JSON result here', alias: 'o', placeholder: 'FILE' },
    json: JSON_FLAG,
  },
  examples: [
    'ofa search --predictor predictor.json --checkpoint runs/eps-ee-d-pet --devices cpu-1t,cpu-2t,wasm-node',
    'ofa search --predictor predictor.json --devices cpu-1t --budgets-ms 0.2,0.3 --json --out search.json',
    'ofa search --predictor predictor.json --devices cpu-1t --algorithm evolution',
  ],
};

export const DATASET_SPEC: CommandSpec = {
  name: 'search dataset',
  summary: 'measure seeded random subnets of a supernet on the validation split (BN recalibrated), one JSON line each; resumable',
  usage: 'ofa search dataset --checkpoint DIR --subnets N --out FILE [--seed S] [--max-images N] [--recalibration-images N]',
  flags: {
    checkpoint: { type: 'string', description: 'checkpoint folder, run folder or `ofa train eps` folder', placeholder: 'DIR' },
    subnets: { type: 'int', description: 'how many subnets the file should hold (those already in it count)', placeholder: 'N', min: 1, max: 10_000_000 },
    out: { type: 'string', description: 'the data set file (JSON lines), appended to; the same command resumes it', alias: 'o', placeholder: 'FILE' },
    seed: { type: 'int', description: 'seed of the subnet sequence and of the recalibration images', default: 1, placeholder: 'S' },
    'max-images': { type: 'int', description: 'score on at most this many validation images (default all)', placeholder: 'N' },
    'recalibration-images': { type: 'int', description: 'training images for BN recalibration (ofav2.md s3)', default: 2000, placeholder: 'N' },
    'chunk-size': { type: 'int', description: 'subnets per evaluation call, written after each (what a kill can lose)', default: 8, placeholder: 'N' },
    workers: { type: 'int', description: 'worker threads of the tfjs scorer, onnxruntime threads of the onnxruntime one (default: all cores)', placeholder: 'N' },
    scorer: { type: 'string', description: 'onnxruntime: each subnet exported with BN recalibrated and scored by onnxruntime-node (3-4x faster); tfjs: the supernet\'s own evaluation on worker threads', default: 'onnxruntime', choices: ['onnxruntime', 'tfjs'], placeholder: 'NAME' },
    backend: { type: 'string', description: 'tfjs backend', default: 'auto', choices: ['auto', 'tfjs-node', 'wasm', 'cpu'], placeholder: 'NAME' },
    'data-dir': { type: 'string', description: 'data set folder (CIFAR-10, Tiny ImageNet)', placeholder: 'DIR' },
    'cache-dir': { type: 'string', description: 'cache folder for converted data', placeholder: 'DIR' },
    json: JSON_FLAG,
  },
  examples: ['ofa search dataset --checkpoint runs/eps-ee-d-pet --subnets 1000 --out results/search/accuracy.jsonl'],
};

export const FIT_SPEC: CommandSpec = {
  name: 'search fit',
  summary: 'fit the accuracy predictor (MLP 3 x 400, Adam) on a data set; held-out RMSE, Spearman, Kendall tau beside MACs and ridge baselines',
  usage: 'ofa search fit --data FILE --out PREDICTOR [--epochs N] [--seed S] [--json]',
  flags: {
    data: { type: 'string', description: 'accuracy data set (`ofa search dataset --out`)', placeholder: 'FILE' },
    out: { type: 'string', description: 'the predictor file to write', alias: 'o', placeholder: 'FILE' },
    epochs: { type: 'int', description: 'training epochs', default: PREDICTOR_DEFAULTS.epochs, placeholder: 'N' },
    'batch-size': { type: 'int', description: 'mini-batch size', default: PREDICTOR_DEFAULTS.batchSize, placeholder: 'N' },
    'learning-rate': { type: 'number', description: 'Adam learning rate (ofav2.md s4)', default: PREDICTOR_DEFAULTS.learningRate, placeholder: 'LR' },
    'weight-decay': { type: 'number', description: 'Adam weight decay (ofav2.md s4)', default: PREDICTOR_DEFAULTS.weightDecay, placeholder: 'WD' },
    holdout: { type: 'number', description: 'share of the subnets held out to judge the predictor', default: PREDICTOR_DEFAULTS.holdout, placeholder: 'F' },
    seed: { type: 'int', description: 'seed of the split, initialisation and batches', default: PREDICTOR_DEFAULTS.seed, placeholder: 'S' },
    json: JSON_FLAG,
  },
  examples: ['ofa search fit --data results/search/accuracy.jsonl --out results/search/predictor.json'],
};

const SUBCOMMANDS: Record<string, { spec: CommandSpec; run: (flags: ParsedFlags) => Promise<number> }> = {
  dataset: { spec: DATASET_SPEC, run: runDataset },
  fit: { spec: FIT_SPEC, run: runFit },
};

function required(command: string, flags: ParsedFlags, name: string): string {
  const value = flags[name];
  if (typeof value !== 'string') throw new OfaError('E_ARGS', `ofa ${command}: --${name} is required`, { hint: `run \`ofa ${command} --help\`` });
  return value;
}

function atLeast(command: string, flags: ParsedFlags, name: string, min: number): void {
  const value = flags[name];
  if (value !== undefined && (typeof value !== 'number' || value < min)) {
    throw new OfaError('E_ARGS', `ofa ${command}: --${name} ${value} is not valid; allowed: an integer >= ${min}`, { hint: `run \`ofa ${command} --help\`` });
  }
}

export async function run(argv: string[]): Promise<number> {
  const sub = SUBCOMMANDS[argv[0]];
  const spec = sub?.spec ?? SEARCH_SPEC;
  const parsed = parseArgs(spec, sub ? argv.slice(1) : argv);
  if (parsed.help) {
    out(sub ? helpText(spec) : `${helpText(spec)}\nSub-commands:\n  dataset    ${DATASET_SPEC.summary}\n  fit        ${FIT_SPEC.summary}\n`);
    return 0;
  }
  return sub ? sub.run(parsed.flags) : runSearch(parsed.flags);
}

async function runDataset(f: ParsedFlags): Promise<number> {
  const command = 'search dataset';
  const checkpoint = required(command, f, 'checkpoint');
  const file = required(command, f, 'out');
  if (typeof f.subnets !== 'number') throw new OfaError('E_ARGS', `ofa ${command}: --subnets N is required`, { hint: `run \`ofa ${command} --help\`` });
  atLeast(command, f, 'subnets', 1);
  atLeast(command, f, 'max-images', 1);
  atLeast(command, f, 'recalibration-images', 0);
  atLeast(command, f, 'chunk-size', 1);
  atLeast(command, f, 'workers', 1);
  // The one search step that needs the supernet: the trainer is loaded here only.
  const { openSupernet, loadDataset, PRESET_DATASETS } = await import('../train/index.ts');
  const supernet = await openSupernet(checkpoint, { backend: f.backend as 'auto', log: !f.json });
  try {
    const { preset, variant } = supernet.facts;
    const data = loadDataset(PRESET_DATASETS[preset] ?? preset, { dir: f['data-dir'] as string | undefined, cacheDir: f['cache-dir'] as string | undefined });
    const progress = new ProgressBar({ label: `${preset}/${variant} subnets`, total: f.subnets as number, unit: 'subnets', quiet: f.json === true });
    const result = await measureAccuracyDataset(supernet, { calibration: data.train, set: data.validation, spec: data.spec }, {
      subnets: f.subnets as number,
      seed: f.seed as number,
      out: file,
      checkpoint,
      recalibrationImages: f['recalibration-images'] as number,
      maxImages: f['max-images'] as number | undefined,
      workers: f.workers as number | undefined,
      chunkSize: f['chunk-size'] as number,
      scorer: f.scorer as 'onnxruntime' | 'tfjs',
      onProgress: (done, _total, row) => progress.tick(1, { last: `${(100 * row.top1).toFixed(1)}%` }),
    });
    if (f.json) out(JSON.stringify(result, null, 2));
    else {
      out(`${result.file}: ${result.total} subnets (${result.skipped} already there, ${result.measured} measured${result.repaired ? ', a cut last line removed' : ''}) in ${result.seconds.toFixed(1)} s, ${result.secondsPerSubnet.toFixed(2)} s per measured subnet`);
    }
    return 0;
  } finally {
    await supernet.close();
  }
}

const percent = (value: number) => `${(100 * value).toFixed(2)}%`;
const figure = (value: number | null) => (value === null ? '   -  ' : value.toFixed(4));

async function runFit(f: ParsedFlags): Promise<number> {
  const command = 'search fit';
  const dataFile = required(command, f, 'data');
  const outFile = required(command, f, 'out');
  const dataset = readAccuracyDataset(dataFile);
  if (dataset.truncatedTail && !f.json) log(`${dataFile}: its last line is cut (a measurement still running, or killed); fitting on the ${dataset.rows.length} complete lines`);
  const predictor = fitAccuracyPredictor(dataset, {
    epochs: f.epochs as number,
    batchSize: f['batch-size'] as number,
    learningRate: f['learning-rate'] as number,
    weightDecay: f['weight-decay'] as number,
    holdout: f.holdout as number,
    seed: f.seed as number,
  });
  writeJsonAtomic(outFile, predictor);
  const { layers: _, ...report } = predictor;
  if (f.json) out(JSON.stringify(report, null, 2));
  else {
    const { heldOut, training } = predictor;
    out(`${outFile}: MLP ${training.hidden.join('x')} (${training.parameters} parameters) on ${training.trainSubnets} subnets, ${training.epochs} epochs in ${training.seconds.toFixed(1)} s${training.simd ? '' : ' (no WebAssembly SIMD: plain loops)'}`);
    const row = (name: string, q: { rmse: number | null; spearman: number; kendallTau: number }) => `  ${name.padEnd(28)} ${figure(q.rmse)}  ${q.spearman.toFixed(4).padStart(8)}  ${q.kendallTau.toFixed(4).padStart(11)}`;
    out(`held out: ${heldOut.subnets} subnets`.padEnd(31) + '   RMSE  Spearman  Kendall tau');
    out(row('MLP predictor', heldOut.mlp));
    out(row(`ridge (lambda ${heldOut.ridge.lambda})`, heldOut.ridge));
    out(row('MACs (line in log MACs)', heldOut.macs));
  }
  return 0;
}

function numbers(command: string, name: string, values: string[] | undefined): number[] | undefined {
  if (values === undefined) return undefined;
  return values.map((text) => {
    const value = Number(text);
    if (text.trim() === '' || !Number.isFinite(value) || value <= 0) throw new OfaError('E_ARGS', `ofa ${command}: --${name} ${JSON.stringify(text)} is not valid; allowed: numbers > 0, comma-separated`, { hint: `run \`ofa ${command} --help\`` });
    return value;
  });
}

async function runSearch(f: ParsedFlags): Promise<number> {
  const command = 'search';
  const predictorFile = required(command, f, 'predictor');
  const devices = f.devices as string[] | undefined;
  if (!devices || devices.length === 0) throw new OfaError('E_ARGS', 'ofa search: --devices D1,D2 is required', { hint: 'run `ofa search --help` (`ofa profile devices` lists them)' });
  atLeast(command, f, 'population', 2);
  atLeast(command, f, 'generations', 0);
  atLeast(command, f, 'front-size', 0);
  const budgetsMs = numbers(command, 'budgets-ms', f['budgets-ms'] as string[] | undefined);
  const predictorData: PredictorFile = readAccuracyPredictor(predictorFile);
  if (typeof f.checkpoint === 'string') {
    // The manifest only (train/facts.ts: no weights, no engine): the search stays light.
    const { readSupernetFacts } = await import('../train/facts.ts');
    checkPredictorCheckpoint(predictorData, predictorFile, f.checkpoint, readSupernetFacts(f.checkpoint).checksum);
  }
  const space = { preset: predictorData.preset, variant: predictorData.variant };
  const accuracy = accuracyPredictorOf(predictorData, { file: predictorFile });
  // Every device's files and budgets first: a missing table or an infeasible budget fails before any search.
  const prepared = devices.map((name) => prepareDevice(space, accuracy, loadSearchDevice(name, space, { devicesDir: f['devices-dir'] as string, budgetsMs })));
  const algorithm = f.algorithm as SearchAlgorithm;
  const overrides = { ...(f.population !== undefined ? { population: f.population as number } : {}), ...(f.generations !== undefined ? { generations: f.generations as number } : {}) };
  const results: DeviceSearchResult[] = [];
  for (const device of prepared) {
    const total = algorithm === 'nsga2' ? (overrides.generations ?? NSGA2_DEFAULTS.generations) : (overrides.generations ?? EVOLUTION_DEFAULTS.generations) * device.device.budgetsMs.length;
    const progress = new ProgressBar({ label: `${device.device.name} ${algorithm}`, total: Math.max(1, total), unit: 'generations', quiet: f.json === true });
    results.push(searchPrepared(device, { algorithm, seed: f.seed as number, nsga2: overrides, evolution: overrides, onProgress: () => progress.tick() }));
  }
  const report = {
    ...searchTag('result'),
    preset: space.preset,
    variant: space.variant,
    supernet: predictorData.supernet,
    predictor: { file: predictorFile, heldOut: predictorData.heldOut },
    algorithm,
    seed: f.seed,
    settings: algorithm === 'nsga2' ? { ...NSGA2_DEFAULTS, ...overrides } : { ...EVOLUTION_DEFAULTS, ...overrides },
    devices: results,
  };
  if (typeof f.out === 'string') writeJsonAtomic(f.out, report);
  if (f.json) {
    out(JSON.stringify(report, null, 2));
    return 0;
  }
  for (const result of results) {
    out(`${result.device}: ${algorithm}, front of ${result.front.length} subnets from ${result.smallest.latencyMs.toFixed(4)} ms, ${result.seconds.toFixed(2)} s (${result.accuracyPredictions} accuracy, ${result.latencyPredictions} latency predictions)`);
    for (const pick of result.picks) {
      out(`  <= ${String(pick.budgetMs).padEnd(6)} ms: ${pick.id}  top-1 ${percent(pick.predictedTop1)} (predicted)  ${pick.predictedLatencyMs.toFixed(4)} ms  ${(pick.macs / 1e6).toFixed(2)} MMACs  ${pick.config.resolution}px${pick.config.exit ? ` exit ${pick.config.exit}` : ''}`);
    }
    const size = f['front-size'] as number;
    if (size > 0 && result.front.length > 0) {
      const step = Math.max(1, Math.floor(result.front.length / size));
      const shown = result.front.filter((_, i) => i % step === 0).slice(0, size);
      out(`  front: ${shown.map((p) => `${p.predictedLatencyMs.toFixed(3)} ms ${percent(p.predictedTop1)}`).join(', ')}`);
    }
  }
  if (typeof f.out === 'string') out(`wrote ${f.out}`);
  return 0;
}
