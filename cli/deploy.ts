// `ofa deploy` (issue 14): per device and budget, the search's pick exported with BN recalibrated,
// verified, measured and scored, as DIR/<device>/<budget>/{model.onnx,manifest.json} and DIR/deploy.json.
// Thin: parses flags, loads the supernet, predictor and data, calls deploy/'s deployDevices, prints the
// summary table. Exit 0 when every device and budget was deployed, 1 when a budget could not be met.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { OfaError } from '../lib/errors.ts';
import { DEFAULT_DEVICES_DIR } from '../profile/predict.ts';
import { accuracyPredictorOf, checkPredictorCheckpoint, readAccuracyPredictor } from '../search/index.ts';
import { BUNDLE_DEFAULTS, checkGateRounds, deployDevices, type DeployResult } from '../deploy/index.ts';
import { helpText, log, out, parseArgs, type CommandSpec, type ParsedFlags } from './args.ts';

/** The shipped supernet (fashion, ee-d, trained by `ofa train eps`, results/eps-fashion/), with its accuracy predictor. */
export const DEFAULT_SUPERNET = 'supernets/fashion-ee-d';

export const DEPLOY_SPEC: CommandSpec = {
  name: 'deploy',
  summary: 'per device and budget: search, export with BN recalibrated, verify, measure, score; bundles and deploy.json',
  usage: 'ofa deploy [--checkpoint DIR] [--predictor FILE] [--devices a,b|all] [--budgets-ms 0.5,1] [--out DIR] [--json]',
  flags: {
    checkpoint: { type: 'string', description: 'the supernet: a packed supernet folder (`ofa train pack`), checkpoint folder, run folder or `ofa train eps` folder', default: DEFAULT_SUPERNET, placeholder: 'DIR' },
    predictor: { type: 'string', description: 'accuracy predictor fitted on that supernet (`ofa search fit --out`; default: <checkpoint>/predictor.json)', placeholder: 'FILE' },
    devices: { type: 'list', description: 'devices, comma-separated, or all: every device of the folder that can start here (the others are skipped with the reason)', default: ['all'], placeholder: 'D1,D2' },
    'devices-dir': { type: 'string', description: 'folder of the device files (their tables and calibrations in <devices-dir>/<name>/)', default: DEFAULT_DEVICES_DIR, placeholder: 'DIR' },
    'budgets-ms': { type: 'list', description: "latency budgets in ms for every device (default: each device's latencyBudgetsMs)", placeholder: 'MS,MS' },
    out: { type: 'string', alias: 'o', description: 'the deploy folder: <out>/<device>/<budget>ms/ and <out>/deploy.json', default: 'deploy', placeholder: 'DIR' },
    seed: { type: 'int', description: 'seed of the search, the recalibration images and the measurement inputs', default: 1, placeholder: 'S' },
    'max-tries': { type: 'int', description: 'subnets tried per budget when the measured latency is over it', default: BUNDLE_DEFAULTS.maxTries, placeholder: 'N' },
    'recalibration-images': { type: 'int', description: 'training images for BN recalibration (ofav2.md s3)', default: BUNDLE_DEFAULTS.recalibrationImages, placeholder: 'N' },
    'test-images': { type: 'int', description: 'test images the true top-1 is measured on (default all)', placeholder: 'N' },
    'gate-rounds': { type: 'int', description: "rounds of each model's gate baseline record in deploy.json (0: none)", default: 60, placeholder: 'N' },
    backend: { type: 'string', description: 'tfjs backend of the supernet', default: 'auto', choices: ['auto', 'tfjs-node', 'wasm', 'cpu'], placeholder: 'NAME' },
    'data-dir': { type: 'string', description: 'data set folder (CIFAR-10, Tiny ImageNet)', placeholder: 'DIR' },
    'cache-dir': { type: 'string', description: 'cache folder for converted data', placeholder: 'DIR' },
    json: { type: 'boolean', description: 'print the whole result (deploy.json) as JSON' },
  },
  examples: [
    'ofa deploy',
    'ofa deploy --devices cpu-1t --budgets-ms 1 --out deploy-cpu/',
    'ofa deploy --checkpoint runs/eps-ee-d-pet --predictor predictor.json --devices cpu-1t,wasm-node --budgets-ms 0.5,1 --out deploy/',
  ],
};

function count(flags: ParsedFlags, name: string, min: number): number | undefined {
  const value = flags[name];
  if (value !== undefined && (typeof value !== 'number' || value < min)) {
    throw new OfaError('E_ARGS', `ofa deploy: --${name} ${value} is not valid; allowed: an integer >= ${min}`, { hint: 'run `ofa deploy --help`' });
  }
  return value as number | undefined;
}

function budgets(values: string[] | undefined): number[] | undefined {
  return values?.map((text) => {
    const value = Number(text);
    if (text.trim() === '' || !Number.isFinite(value) || value <= 0) throw new OfaError('E_ARGS', `ofa deploy: --budgets-ms ${JSON.stringify(text)} is not valid; allowed: numbers > 0, comma-separated`, { hint: 'run `ofa deploy --help`' });
    return value;
  });
}

const percent = (value: number | undefined) => (value === undefined ? '-' : `${(100 * value).toFixed(2)}%`);
const ms = (value: number | undefined) => (value === undefined ? '-' : value.toFixed(4));

/** The summary table: one row per device and budget. */
export function summaryTable(result: DeployResult): string {
  const header = ['device', 'budget ms', 'pick', 'predicted ms', 'measured ms', 'predicted top-1', 'true top-1', 'tries', 'status'];
  const rows = result.deployments.map((d) => {
    const last = d.tries[d.tries.length - 1];
    return [d.device, String(d.budgetMs), d.configId ?? last?.id ?? '-', ms(d.predicted?.latencyMs ?? last?.predictedLatencyMs), ms(d.measured?.medianMs ?? last?.measured.medianMs), percent(d.predicted?.top1 ?? last?.predictedTop1), percent(d.trueTop1), String(d.tries.length), d.status];
  });
  for (const skipped of result.skippedDevices) rows.push([skipped.name, '-', '-', '-', '-', '-', '-', '0', 'device skipped']);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}

export async function run(argv: string[]): Promise<number> {
  const parsed = parseArgs(DEPLOY_SPEC, argv);
  if (parsed.help) {
    out(helpText(DEPLOY_SPEC));
    return 0;
  }
  const f = parsed.flags;
  const checkpoint = f.checkpoint as string;
  const predictorFile = typeof f.predictor === 'string' ? f.predictor : join(checkpoint, 'predictor.json');
  if (typeof f.predictor !== 'string' && !existsSync(predictorFile)) {
    throw new OfaError('E_ARGS', `ofa deploy: the supernet folder ${JSON.stringify(checkpoint)} has no predictor.json; name the accuracy predictor with --predictor FILE`, {
      hint: checkpoint === DEFAULT_SUPERNET ? 'the shipped supernet comes with the repository: run from the checkout\'s root' : 'fit one: `ofa search dataset` then `ofa search fit --out FILE`',
    });
  }
  const maxTries = count(f, 'max-tries', 1);
  const recalibrationImages = count(f, 'recalibration-images', 1);
  const testImages = count(f, 'test-images', 1);
  const gateRounds = checkGateRounds(count(f, 'gate-rounds', 0) ?? 60);
  const budgetsMs = budgets(f['budgets-ms'] as string[] | undefined);
  const names = f.devices as string[];
  const devices = names.length === 1 && names[0] === 'all' ? 'all' : names;
  if (devices !== 'all' && devices.includes('all')) throw new OfaError('E_ARGS', 'ofa deploy: --devices all cannot be combined with device names', { hint: 'pass either all or a list of names' });
  // The supernet's manifest first (no weights, no engine), then its data set, then the predictor: each
  // bad input is reported before anything heavy is loaded.
  const { readSupernetFacts } = await import('../train/facts.ts');
  const facts = readSupernetFacts(checkpoint);
  const { loadDataset, PRESET_DATASETS, openSupernet } = await import('../train/index.ts');
  const dataset = PRESET_DATASETS[facts.preset];
  if (!dataset) throw new OfaError('E_PRESET_DATA', `the supernet ${JSON.stringify(checkpoint)} is of preset ${JSON.stringify(facts.preset)}, which has no data set to recalibrate and score on`, { hint: 'deploy a supernet of a preset with a data set (fashion, tiny-imagenet)' });
  const predictor = readAccuracyPredictor(predictorFile);
  checkPredictorCheckpoint(predictor, predictorFile, checkpoint, facts.checksum);
  const supernet = await openSupernet(checkpoint, { backend: f.backend as 'auto', log: !f.json });
  try {
    const data = loadDataset(dataset, { dir: f['data-dir'] as string | undefined, cacheDir: f['cache-dir'] as string | undefined });
    const result = await deployDevices({
      supernet,
      accuracy: accuracyPredictorOf(predictor, { file: predictorFile }),
      devices,
      devicesDir: f['devices-dir'] as string,
      budgetsMs,
      data: { calibration: data.train, test: data.test, spec: data.spec },
      outDir: f.out as string,
      seed: f.seed as number,
      bundle: { maxTries, recalibrationImages, testImages },
      gateRounds,
      log: f.json ? undefined : log,
    });
    if (f.json) out(JSON.stringify(result, null, 2));
    else {
      out(summaryTable(result));
      out(`wrote ${f.out as string}/deploy.json and ${f.out as string}/report.html`);
    }
    return result.complete ? 0 : 1;
  } finally {
    await supernet.close();
  }
}
