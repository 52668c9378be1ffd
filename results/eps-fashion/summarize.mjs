// The OFAv2-vs-OFA table of issue 12 from what collect.sh wrote: per finished run, its grid evaluation
// (grid.json) and 100 seeded random subnets (random-100.json), both on the test split with BN
// recalibrated. Prints a markdown table (best grid subnet; best subnet within 2.5, 5, 10 and 25 MMACs
// over grid and random subnets; Pareto-front size) and writes fronts.svg (top-1 against MMACs, the
// Pareto front of each run; Vega-Lite rendered by Vega's headless SVG renderer).
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
  lines.push(`| ${label} | ${pct(bestGrid.top1)} (${(bestGrid.macs / 1e6).toFixed(2)}) | ${within.map(pct).join(' | ')} | ${front.length} |`);
  for (const r of all) plotted.push({ run: label, mmacs: r.macs / 1e6, top1: 100 * r.top1, front: false });
  for (const r of front) plotted.push({ run: label, mmacs: r.macs / 1e6, top1: 100 * r.top1, front: true });
}
console.log(lines.join('\n'));

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
