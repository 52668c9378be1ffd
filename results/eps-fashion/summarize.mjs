// The OFAv2-vs-OFA table of issue 12 from what collect.sh wrote: per finished run, its grid evaluation
// (grid.json) and 100 seeded random subnets (random-100.json), both on the test split with BN
// recalibrated. Prints a markdown table (best grid subnet; best subnet within 2.5, 5, 10 and 25 MMACs
// over grid and random subnets; Pareto-front size) and the spread between repeated evaluations
// (spread-seed-*.json), and writes fronts.json (each run's Pareto front as data) and fronts.svg (top-1
// against MMACs, every point and each run's front; Vega-Lite rendered by Vega's headless SVG renderer).
// Run from the repository root: node results/eps-fashion/summarize.mjs
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import * as vega from 'vega';
import * as vegaLite from 'vega-lite';

const DIR = 'results/eps-fashion';
const RUNS = [
  ['c-ee-d-pet', 'OFAv2: ee-d, ENS-KD + PET'],
  ['b-ee-d-baseline', 'ee-d, baseline teacher'],
  ['a-ofa-baseline', 'OFA: ofa, baseline teacher'],
];
const LIMITS = [2.5, 5, 10, 25];

const rowsOf = (file) => (existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')).subnets : undefined);

/** The points no other point beats on both MACs (lower) and top-1 (higher), by MACs. */
function pareto(points) {
  const sorted = [...points].sort((a, b) => a.macs - b.macs || b.top1 - a.top1);
  const front = [];
  for (const p of sorted) if (front.length === 0 || p.top1 > front[front.length - 1].top1) front.push(p);
  return front;
}

const pct = (v) => (v === undefined ? '-' : `${(100 * v).toFixed(2)}%`);
const lines = [];
const plotted = [];
const fronts = {};
lines.push(`| run | best grid subnet (MMACs) | ${LIMITS.map((l) => `best <= ${l} MMACs`).join(' | ')} | Pareto points |`);
lines.push(`| --- | --- | ${LIMITS.map(() => '---').join(' | ')} | --- |`);
for (const [run, label] of RUNS) {
  const grid = rowsOf(`${DIR}/${run}/grid.json`);
  const random = rowsOf(`${DIR}/${run}/random-100.json`);
  if (!grid || !random) {
    lines.push(`| ${label} | not finished | ${LIMITS.map(() => '-').join(' | ')} | - |`);
    continue;
  }
  const all = [...grid, ...random];
  const bestGrid = grid.reduce((a, b) => (b.top1 > a.top1 ? b : a));
  const within = LIMITS.map((limit) => {
    const fitting = all.filter((r) => r.macs <= limit * 1e6);
    return fitting.length ? fitting.reduce((a, b) => (b.top1 > a.top1 ? b : a)).top1 : undefined;
  });
  const front = pareto(all);
  fronts[run] = front.map((r) => ({ subnet: r.subnet, mmacs: r.macs / 1e6, top1: r.top1, config: r.config }));
  lines.push(`| ${label} | ${pct(bestGrid.top1)} (${(bestGrid.macs / 1e6).toFixed(2)}) | ${within.map(pct).join(' | ')} | ${front.length} |`);
  for (const r of all) plotted.push({ run: label, mmacs: r.macs / 1e6, top1: 100 * r.top1, front: false });
  for (const r of front) plotted.push({ run: label, mmacs: r.macs / 1e6, top1: 100 * r.top1, front: true });
}
console.log(lines.join('\n'));
if (Object.keys(fronts).length > 0) {
  writeFileSync(`${DIR}/fronts.json`, `${JSON.stringify({ about: 'each run: the Pareto front (top-1 on the test split against MMACs) over its grid and 100 random subnets', fronts }, null, 1)}\n`);
  console.error(`wrote ${DIR}/fronts.json`);
}

// The spread between repeated evaluations (collect.sh): the same subnets with 5 recalibration seeds
// (0 is the grid's own evaluation), beside the test split's sampling error sqrt(p (1 - p) / n).
const spread = [];
for (const [run, label] of RUNS) {
  const grid = rowsOf(`${DIR}/${run}/grid.json`);
  const seeds = [1, 2, 3, 4].map((s) => rowsOf(`${DIR}/${run}/spread-seed-${s}.json`));
  if (!grid || seeds.some((x) => !x)) continue;
  for (const [i, row] of seeds[0].entries()) {
    const first = grid.find((r) => r.subnet === row.subnet);
    const values = [first.top1, ...seeds.map((x) => x[i].top1)];
    const mean = values.reduce((a, b) => a + b, 0) / values.length;
    const sd = Math.sqrt(values.reduce((a, b) => a + (b - mean) ** 2, 0) / (values.length - 1));
    const se = Math.sqrt((mean * (1 - mean)) / row.images);
    spread.push(`| ${label} | ${row.subnet} (${(row.macs / 1e6).toFixed(2)} MMACs) | ${values.map((v) => (100 * v).toFixed(2)).join(', ')} | ${(100 * sd).toFixed(2)} | ${(100 * (Math.max(...values) - Math.min(...values))).toFixed(2)} | ${(100 * se).toFixed(2)} |`);
  }
}
if (spread.length > 0) {
  console.log('\n| run | subnet | top-1 (%) with recalibration seeds 0-4 | SD (points) | range (points) | test-split sampling error (points) |');
  console.log('| --- | --- | --- | --- | --- | --- |');
  console.log(spread.join('\n'));
}

if (plotted.length > 0) {
  const x = { field: 'mmacs', type: 'quantitative', title: 'MMACs', scale: { type: 'log' } };
  const y = { field: 'top1', type: 'quantitative', title: 'test top-1 (%)', scale: { zero: false } };
  const color = { field: 'run', type: 'nominal', title: null };
  const spec = {
    width: 620,
    height: 380,
    title: 'fashion: every evaluated subnet (grid + 100 random) and each run\'s Pareto front',
    layer: [
      { transform: [{ filter: '!datum.front' }], mark: { type: 'point', opacity: 0.35, size: 18 }, encoding: { x, y, color } },
      { transform: [{ filter: 'datum.front' }], mark: { type: 'line', point: true, interpolate: 'step-after' }, encoding: { x, y, color } },
    ],
    data: { values: plotted },
    config: { legend: { orient: 'bottom', labelLimit: 400 } },
  };
  const view = new vega.View(vega.parse(vegaLite.compile(spec).spec), { renderer: 'none' });
  writeFileSync(`${DIR}/fronts.svg`, await view.toSVG());
  view.finalize();
  console.error(`wrote ${DIR}/fronts.svg`);
}
