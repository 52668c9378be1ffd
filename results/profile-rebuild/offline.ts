// Offline figures of issue 17's predictor ideas, on the committed fashion data (no measurement):
// devices/<device>/{lut,calibration,validation}-fashion-<variant>.json of cpu-1t, cpu-2t and wasm-node.
// Every idea is fitted on the 60 calibration subnets (measured, scaled to the calibration's speed as
// calibrate.ts does) and judged on the 100 held-out subnets of the validation file (their measured
// figures as recorded). The subnets themselves are drawn again from the recorded seeds (calibrate.ts
// randomSubnets); their ids and table sums are checked against the files.
//
// The committed ee-d files were measured with the dense-skip wiring before commit 30ca597: when a file's
// table sums do not match today's blocks, the script uses the blocks of space/ at 696f68a, taken from
// git (`git archive`) into a temp folder, and says so. Files rebuilt with today's wiring match directly.
//
// Run from the checkout: node --import tsx results/profile-rebuild/offline.ts
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { createRng } from '../../lib/rng.ts';
import { fitLatencyModel, predictSample, type FitSample, type TermFamily } from '../../profile/fit.ts';
import { fitCalibration, predictorQuality } from '../../profile/predictor.ts';
import { entryMs } from '../../profile/table.ts';
import { blockGroup, type TermBlock } from '../../profile/terms.ts';
import * as currentSpace from '../../space/index.ts';

const DEVICES = ['cpu-1t', 'cpu-2t', 'wasm-node'];
const VARIANTS = ['ofa', 'ee-d'];
const OLD_WIRING = '696f68a';

interface Subnet extends FitSample {
  blockList: TermBlock[];
  megaMacs: number;
  megaParams: number;
  kinds: Record<string, number>;
}

interface DataSet {
  name: string;
  calibration: Subnet[];
  validation: Subnet[];
  /** The validation's per-chunk speed factors (drift.factors, chunks of 50 in order). */
  factors: number[];
  committed: { within10: number; spearman: number };
}

let oldSpace: typeof currentSpace | undefined;
async function spaceAt(commit: string): Promise<typeof currentSpace> {
  if (!oldSpace) {
    const dir = mkdtempSync(join(tmpdir(), 'ofa-old-space-'));
    execFileSync('sh', ['-c', `git archive ${commit} space lib | tar -x -C ${JSON.stringify(dir)}`]);
    oldSpace = (await import(pathToFileURL(join(dir, 'space', 'index.ts')).href)) as typeof currentSpace;
  }
  return oldSpace;
}

function draw(space: typeof currentSpace, variant: string, count: number, seed: number, exclude: Set<string>) {
  const rng = createRng(seed);
  const seen = new Set(exclude);
  const out: currentSpace.SubnetConfig[] = [];
  while (out.length < count) {
    const config = space.sampleRandom({ preset: 'fashion', variant }, rng);
    const id = space.configId(config);
    if (seen.has(id)) continue;
    seen.add(id);
    out.push(config);
  }
  return out;
}

async function load(device: string, variant: string): Promise<DataSet> {
  try {
    return loadWith(currentSpace, device, variant);
  } catch (error) {
    if (!(error instanceof Mismatch)) throw error;
    console.error(`${device}/${variant}: ${error.message} with today's blocks; using the dense-skip wiring of ${OLD_WIRING} (the files predate 30ca597)`);
    return loadWith(await spaceAt(OLD_WIRING), device, variant);
  }
}

class Mismatch extends Error {}

function loadWith(space: typeof currentSpace, device: string, variant: string): DataSet {
  const read = (kind: string) => JSON.parse(readFileSync(join('devices', device, `${kind}-fashion-${variant}.json`), 'utf8'));
  const [table, calibration, validation] = [read('lut'), read('calibration'), read('validation')];
  const statistic = calibration.statistic;
  const blocksOf = (config: currentSpace.SubnetConfig) =>
    // 696f68a's space has blocksOfConfig; today's the same through its geometry.
    ((space as unknown as { blocksOfConfig?: (c: unknown) => currentSpace.BlockSpec[] }).blocksOfConfig ?? ((c: currentSpace.SubnetConfig) => space.blocksOfGeometry(space.subnetGeometry(c))))(config);
  const subnet = (config: currentSpace.SubnetConfig, recorded: { configId: string; tableSumMs: number }, measuredMs: number): Subnet => {
    if (space.configId(config) !== recorded.configId) throw new Mismatch(`subnet ${recorded.configId} does not redraw`);
    const specs = blocksOf(config);
    const blockList = specs.map((spec) => {
      const key = space.blockKey(spec);
      if (!table.entries[key]) throw new Mismatch(`the table has no entry ${key}`);
      return { key, group: blockGroup(spec), ms: entryMs(table.entries[key], table, statistic) };
    });
    const tableSumMs = blockList.reduce((s, b) => s + b.ms, 0);
    if (Math.abs(tableSumMs / recorded.tableSumMs - 1) > 1e-9) throw new Mismatch(`the table sum of ${recorded.configId} differs from the file's`);
    const cost = space.subnetCost(config);
    const kinds: Record<string, number> = {};
    for (const spec of specs) kinds[spec.kind] = (kinds[spec.kind] ?? 0) + 1;
    return { measuredMs, tableSumMs, blocks: specs.length, megaMacs: cost.macs / 1e6, megaParams: cost.deployedParams / 1e6, blockList, kinds };
  };
  const reference = statistic === 'min' ? calibration.reference.minMs : calibration.reference.medianMs;
  const calibrationSubnets = draw(space, variant, calibration.subnets, calibration.seed, new Set()).map((config, i) => {
    const p = calibration.points[i];
    return subnet(config, p, p.referenceMs ? (p.measuredMs * reference) / p.referenceMs : p.measuredMs);
  });
  const validationSubnets = draw(space, variant, validation.subnets.length, validation.seed, new Set(calibration.points.map((p: { configId: string }) => p.configId))).map((config, i) =>
    subnet(config, validation.subnets[i], validation.subnets[i].measuredMs),
  );
  return { name: `${device}/${variant}`, calibration: calibrationSubnets, validation: validationSubnets, factors: validation.drift.factors, committed: validation.quality };
}

type Predict = (s: Subnet) => number;
interface Idea {
  name: string;
  fit(train: Subnet[]): Predict;
}

const families = (name: string, list: TermFamily[]): Idea => ({
  name,
  fit(train) {
    const fit = fitLatencyModel(train, { families: list });
    return (s) => predictSample(s, fit);
  },
});

/** Thread terms: per block kind, a per-block cost of its own (as pseudo-blocks of 10 us each with their own block term). */
const threadTerms: Idea = {
  name: '+ per-kind per-block terms ("thread terms")',
  fit(train) {
    const withCounts = (s: Subnet): Subnet => ({
      ...s,
      blockList: [...Object.entries(s.kinds).flatMap(([kind, count]) => Array.from({ length: count }, () => ({ key: `count-${kind}`, group: 'count', ms: 0.01 }))), ...s.blockList],
    });
    const fit = fitLatencyModel(train.map(withCounts));
    return (s) => predictSample(withCounts(s), fit);
  },
};

/** Robust: calibration subnets the five-term fit misses by more than 3x its median error (and 15%) are left out. */
const trimmed: Idea = {
  name: '+ calibration outliers left out',
  fit(train) {
    const five = fitCalibration(train);
    const error = (s: Subnet) => Math.abs(predictSample(s, { coefficients: five }) / s.measuredMs - 1);
    const errors = train.map(error).sort((a, b) => a - b);
    const limit = Math.max(0.15, 3 * errors[Math.floor(errors.length / 2)]);
    const fit = fitLatencyModel(train.filter((s) => error(s) <= limit));
    return (s) => predictSample(s, fit);
  },
};

const IDEAS: Idea[] = [
  { name: 'five terms (the committed calibrations)', fit: (train) => ((c) => (s: Subnet) => predictSample(s, { coefficients: c }))(fitCalibration(train)) },
  families('+ per-key block terms (table as prior)', ['block']),
  families('+ per-group terms', ['block', 'group']),
  families('+ neighbour-pair interaction terms (fit.ts)', ['block', 'group', 'pair']),
  threadTerms,
  trimmed,
];

const percent = (share: number) => `${(share * 100).toFixed(0)}%`;

function heldOut(data: DataSet, predict: Predict) {
  const measured = data.validation.map((s) => s.measuredMs);
  const predicted = data.validation.map(predict);
  const byChunk = [0, 1].map((chunk) => {
    const rows = data.validation.map((s, i) => ({ s, i })).filter(({ i }) => Math.floor(i / 50) === chunk);
    return predictorQuality(rows.map(({ i }) => predicted[i]), rows.map(({ s }) => s.measuredMs)).within10;
  });
  return { quality: predictorQuality(predicted, measured), byChunk };
}

/** Pooled: calibration + validation subnets (the latter divided by their chunk's speed factor), 8 random splits of 60 fitted / 100 judged. */
function pooled(data: DataSet, idea: Idea, splits = 8) {
  const validation = data.validation.map((s, i) => ({ ...s, measuredMs: s.measuredMs / data.factors[Math.min(data.factors.length - 1, Math.floor(i / 50))] }));
  const all = [...data.calibration, ...validation];
  let within10 = 0;
  let spearman = 0;
  for (let k = 0; k < splits; k++) {
    const order = createRng(100 + k).shuffle(all.map((_, i) => i));
    const predict = idea.fit(order.slice(0, 60).map((i) => all[i]));
    const test = order.slice(60).map((i) => all[i]);
    const q = predictorQuality(test.map(predict), test.map((s) => s.measuredMs));
    within10 += q.within10 / splits;
    spearman += q.spearman / splits;
  }
  return { within10, spearman };
}

const data: DataSet[] = [];
for (const variant of VARIANTS) for (const device of DEVICES) data.push(await load(device, variant));

console.log('Held out (fit on the calibration file\'s 60 subnets, judged on the validation file\'s 100): within +-10% / Spearman\n');
console.log(`| idea | ${data.map((d) => d.name).join(' | ')} |`);
console.log(`| --- | ${data.map(() => '---').join(' | ')} |`);
console.log(`| committed validation files | ${data.map((d) => `${percent(d.committed.within10)} / ${d.committed.spearman.toFixed(3)}`).join(' | ')} |`);
const chunkRows: string[] = [];
for (const idea of IDEAS) {
  const cells = data.map((d) => heldOut(d, idea.fit(d.calibration)));
  console.log(`| ${idea.name} | ${cells.map((c) => `${percent(c.quality.within10)} / ${c.quality.spearman.toFixed(3)}`).join(' | ')} |`);
  if (idea === IDEAS[0] || idea === IDEAS[3]) chunkRows.push(`| ${idea.name} | ${cells.map((c) => c.byChunk.map(percent).join(' + ')).join(' | ')} |`);
}
console.log('\nThe same per validation chunk (subnets 1-50 + 51-100, each chunk measured interleaved with its own sessions): within +-10%\n');
console.log(`| idea | ${data.map((d) => d.name).join(' | ')} |`);
console.log(`| --- | ${data.map(() => '---').join(' | ')} |`);
for (const row of chunkRows) console.log(row);
console.log('\nPooled (calibration + speed-corrected validation subnets, 8 random splits: fit on 60, judge 100): mean within +-10% / Spearman\n');
console.log(`| idea | ${data.map((d) => d.name).join(' | ')} |`);
console.log(`| --- | ${data.map(() => '---').join(' | ')} |`);
for (const idea of IDEAS) {
  const cells = data.map((d) => pooled(d, idea));
  console.log(`| ${idea.name} | ${cells.map((c) => `${(c.within10 * 100).toFixed(1)}% / ${c.spearman.toFixed(3)}`).join(' | ')} |`);
}

// What a short table and fewer calibration subnets cost (the design of `ofa profile device`): every
// entry multiplied by exp(sd * N(0, 1)) (3 draws), the fit.ts method on the first N calibration subnets.
console.log('\nA noisier table and fewer calibration subnets (fit.ts method, held out as above; entries x exp(sd N(0,1)), mean of 3 draws): within +-10%\n');
const settings = [
  [60, 0],
  [60, 0.05],
  [60, 0.1],
  [40, 0],
  [40, 0.05],
] as const;
console.log(`| calibration subnets, entry noise sd | ${data.map((d) => d.name).join(' | ')} |`);
console.log(`| --- | ${data.map(() => '---').join(' | ')} |`);
for (const [count, sd] of settings) {
  const cells = data.map((d) => {
    const draws = sd === 0 ? 1 : 3;
    let within10 = 0;
    for (let draw = 0; draw < draws; draw++) {
      const rng = createRng(7 + draw);
      const factor = new Map<string, number>();
      const noisy = (s: Subnet): Subnet => {
        const blockList = s.blockList.map((b) => {
          if (!factor.has(b.key)) factor.set(b.key, Math.exp(sd * rng.normal()));
          return { ...b, ms: b.ms * factor.get(b.key)! };
        });
        return { ...s, blockList, tableSumMs: blockList.reduce((t, b) => t + b.ms, 0) };
      };
      const train = d.calibration.slice(0, count).map(noisy);
      const test = d.validation.map(noisy);
      const fit = fitLatencyModel(train);
      within10 += predictorQuality(test.map((s) => predictSample(s, fit)), test.map((s) => s.measuredMs)).within10 / draws;
    }
    return percent(within10);
  });
  console.log(`| ${count}, ${sd} | ${cells.join(' | ')} |`);
}
