// DIR/report.html (issue 14 item 2): one self-contained page over a deploy folder's deploy.json. Per
// device, a plot of the search's front (predicted top-1 against predicted latency), the deployed picks as
// predicted and as measured (median latency, true top-1 of the ONNX file) joined by a line, the tries
// that were over budget, and the budgets as lines; then a table of the picks. The plots are Vega-Lite
// specs rendered to SVG by Vega's headless renderer (no browser, no canvas) and inlined: the page loads
// no script and nothing from the network. Written by `ofa deploy` and again by `ofa report DIR`.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../lib/atomic.ts';
import { OfaError } from '../lib/errors.ts';
import { readJsonFile } from '../lib/json.ts';
import { parseWith } from '../lib/schema.ts';
import { DEPLOY_RESULT_SCHEMA } from './schema.ts';
import { DEPLOY_FORMAT } from './gate/baseline.ts';
import type { DeployResult, Deployment } from './deploy.ts';

/** The Vega mark names of a device plot's layers: `<g class="... <name>_marks">` in the SVG. */
export const PLOT_LAYERS = { front: 'front', predicted: 'predicted', measured: 'measured', error: 'error', overBudget: 'over_budget', budgets: 'budgets' } as const;

const SERIES = {
  front: 'front (predicted)',
  predicted: 'pick (predicted)',
  measured: 'pick (measured, true top-1)',
  overBudget: 'tried, over budget (measured)',
} as const;

const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

const deployedOf = (device: string, result: DeployResult) => result.deployments.filter((d) => d.device === device && d.status !== 'over-budget');

/** The Vega-Lite spec of one device's plot (exported for the test, which checks its data against deploy.json). */
export function devicePlotSpec(result: DeployResult, deviceName: string): Record<string, unknown> {
  const device = result.devices.find((d) => d.name === deviceName);
  if (!device) throw new OfaError('E_DEPLOY_OPTIONS', `deploy.json has no device ${JSON.stringify(deviceName)}; it has ${result.devices.map((d) => d.name).join(', ') || 'none'}`);
  const deployed = deployedOf(deviceName, result);
  const entries = result.deployments.filter((d) => d.device === deviceName);
  const x = { field: 'latencyMs', type: 'quantitative', title: 'latency (ms)', scale: { zero: false, nice: true } };
  const y = { field: 'top1', type: 'quantitative', title: 'top-1 (%)', scale: { zero: false, nice: true } };
  const color = (series: string) => ({ datum: series, type: 'nominal', title: null, scale: { domain: Object.values(SERIES), range: ['#9aa7b8', '#1f77b4', '#d62728', '#ff7f0e'] } });
  const tooltip = [{ field: 'id', title: 'subnet' }, { field: 'latencyMs', title: 'ms', format: '.4f' }, { field: 'top1', title: 'top-1 %', format: '.2f' }];
  const front = device.front.map((p) => ({ id: p.id, latencyMs: p.predictedLatencyMs, top1: 100 * p.predictedTop1 }));
  const predicted = deployed.map((d) => ({ id: d.configId, budgetMs: d.budgetMs, latencyMs: d.predicted!.latencyMs, top1: 100 * d.predicted!.top1 }));
  const measured = deployed.map((d) => ({ id: d.configId, budgetMs: d.budgetMs, latencyMs: d.measured!.medianMs, top1: 100 * d.trueTop1! }));
  const error = deployed.map((d) => ({ latencyMs: d.predicted!.latencyMs, top1: 100 * d.predicted!.top1, latencyMs2: d.measured!.medianMs, top12: 100 * d.trueTop1! }));
  const overBudget = entries.flatMap((d) => d.tries.filter((t) => !t.withinBudget).map((t) => ({ id: t.id, budgetMs: d.budgetMs, latencyMs: t.measured.medianMs, top1: 100 * t.predictedTop1 })));
  const budgets = [...new Set(entries.map((d) => d.budgetMs))].map((budgetMs) => ({ budgetMs, label: `${budgetMs} ms` }));
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    width: 560,
    height: 320,
    title: { text: deviceName, anchor: 'start' },
    layer: [
      { name: PLOT_LAYERS.budgets, data: { values: budgets }, mark: { type: 'rule', strokeDash: [5, 4], color: '#555' }, encoding: { x: { field: 'budgetMs', type: 'quantitative' } } },
      { name: `${PLOT_LAYERS.budgets}_label`, data: { values: budgets }, mark: { type: 'text', align: 'left', dx: 3, baseline: 'top', y: 2, fontSize: 10, color: '#555' }, encoding: { x: { field: 'budgetMs', type: 'quantitative' }, text: { field: 'label' } } },
      { name: PLOT_LAYERS.front, data: { values: front }, mark: { type: 'point', size: 28, opacity: 0.8 }, encoding: { x, y, color: color(SERIES.front), tooltip } },
      { name: PLOT_LAYERS.error, data: { values: error }, mark: { type: 'rule', color: '#d62728', strokeWidth: 1 }, encoding: { x, y, x2: { field: 'latencyMs2' }, y2: { field: 'top12' } } },
      { name: PLOT_LAYERS.overBudget, data: { values: overBudget }, mark: { type: 'point', shape: 'cross', filled: true, size: 70 }, encoding: { x, y, color: color(SERIES.overBudget), tooltip } },
      { name: PLOT_LAYERS.predicted, data: { values: predicted }, mark: { type: 'point', shape: 'diamond', filled: true, size: 90 }, encoding: { x, y, color: color(SERIES.predicted), tooltip } },
      { name: PLOT_LAYERS.measured, data: { values: measured }, mark: { type: 'point', shape: 'triangle-up', filled: true, size: 110 }, encoding: { x, y, color: color(SERIES.measured), tooltip } },
    ],
    config: { font: 'sans-serif', legend: { orient: 'bottom', columns: 2, labelLimit: 320 } },
  };
}

/** One device's plot as SVG text (Vega's headless SVG renderer). */
export async function devicePlotSvg(result: DeployResult, deviceName: string): Promise<string> {
  // Loaded on use: deploy.ts writes the report at its end, and nothing else of the deploy needs Vega.
  const [vega, vegaLite] = await Promise.all([import('vega'), import('vega-lite')]);
  const compiled = vegaLite.compile(devicePlotSpec(result, deviceName) as never).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

const pct = (value: number | undefined) => (value === undefined ? '–' : `${(100 * value).toFixed(2)}%`);
const msText = (value: number | undefined) => (value === undefined ? '–' : value.toFixed(4));

function pickRow(d: Deployment): string {
  const last = d.tries[d.tries.length - 1];
  const overBy = d.measured && d.measured.medianMs > d.budgetMs;
  const cells = [
    d.device,
    `${d.budgetMs} ms`,
    d.configId ?? last?.id ?? '–',
    msText(d.predicted?.latencyMs ?? last?.predictedLatencyMs),
    msText(d.measured?.medianMs ?? last?.measured.medianMs),
    msText(d.measured?.p90Ms ?? last?.measured.p90Ms),
    msText(d.measured?.fastestMs ?? last?.measured.fastestMs),
    pct(d.predicted?.top1 ?? last?.predictedTop1),
    pct(d.trueTop1),
    d.macs === undefined ? '–' : `${(d.macs / 1e6).toFixed(2)} M`,
    d.params === undefined ? '–' : `${(d.params / 1e3).toFixed(1)} k`,
    String(d.tries.length),
    d.status,
    d.model ? `${d.model}<br><code>${(d.sha256 ?? '').slice(0, 16)}…</code>` : '–',
  ];
  return `<tr class="pick status-${escapeHtml(d.status)}${overBy ? ' over' : ''}">${cells.map((c, i) => `<td>${i === cells.length - 1 ? c.replace(/^[^<]*/, escapeHtml) : escapeHtml(c)}</td>`).join('')}</tr>`;
}

const STYLE = `body{font-family:sans-serif;margin:2em;color:#222;max-width:70em}
h1{font-size:1.5em}h2{font-size:1.2em;margin-top:2em}
table{border-collapse:collapse;font-size:.85em;margin:1em 0}td,th{border:1px solid #ccc;padding:.25em .5em;text-align:right}
td:first-child,th:first-child,td:nth-child(3),td:last-child{text-align:left}th{background:#f3f3f3}
tr.status-over-budget td{background:#fde8e8}.note{color:#8a5a00}code{font-size:.9em}.facts td{text-align:left}`;

/** The report page for a deploy result: self-contained HTML (inline SVG and CSS, no script). */
export async function renderReport(result: DeployResult): Promise<string> {
  const parts: string[] = [];
  const { supernet } = result;
  parts.push(`<h1>ofav2 deploy report</h1>`);
  const facts: [string, string][] = [
    ['supernet', `${supernet.preset} ${supernet.variant}, ${supernet.checksum}`],
    ['tool', result.toolVersion],
  ];
  if (result.host) facts.push(['host', `${result.host.cpuModel}, ${result.host.logicalCores} cores, ${result.host.platform ?? ''} ${result.host.date ?? ''}`.trim()]);
  facts.push(['deployments', `${result.deployments.length} (${result.deployments.filter((d) => d.status !== 'over-budget').length} within budget); ${result.complete ? 'complete' : 'incomplete: a budget could not be met'}`]);
  parts.push(`<table class="facts">${facts.map(([k, v]) => `<tr><th>${escapeHtml(k)}</th><td>${escapeHtml(v)}</td></tr>`).join('')}</table>`);
  if (result.skippedDevices.length > 0) {
    parts.push(`<p>Skipped devices:</p><ul>${result.skippedDevices.map((s) => `<li><b>${escapeHtml(s.name)}</b>: ${escapeHtml(s.reason)}</li>`).join('')}</ul>`);
  }
  for (const device of result.devices) {
    parts.push(`<section class="device" data-device="${escapeHtml(device.name)}"><h2>${escapeHtml(device.name)}</h2>`);
    if (device.tableHostDiffers.length > 0) {
      const scaled = device.speed?.applied
        ? `predictions scaled by ${device.speed.factor.toFixed(3)} to this host's speed (the speed reference ran ${device.speed.hereMs.toFixed(4)} ms here, ${device.speed.calibrationMs.toFixed(4)} ms in the calibration)`
        : 'its calibration recorded no speed reference: predictions are that host\'s';
      parts.push(`<p class="note">Its latency table was measured on another host (${escapeHtml(device.tableHostDiffers.join('; '))}): ${escapeHtml(scaled)}.</p>`);
    } else if (device.speed) {
      parts.push(`<p>Speed reference: ${device.speed.hereMs.toFixed(4)} ms here, ${device.speed.calibrationMs.toFixed(4)} ms in the calibration (same host; predictions not scaled).</p>`);
    }
    if (device.median && device.median.factor !== 1) {
      parts.push(`<p>Budgets are on the median run: predictions of the fastest run times ${device.median.factor.toFixed(3)} (the speed reference's median over its fastest run here).</p>`);
    }
    parts.push(`<figure>${await devicePlotSvg(result, device.name)}</figure>`);
    parts.push(`<p>${device.front.length} front points up to the largest budget; smallest predicted latency ${msText(device.smallest.latencyMs)} ms (${escapeHtml(device.smallest.id)}).</p></section>`);
  }
  const header = ['device', 'budget', 'pick', 'predicted ms', 'median ms', 'p90 ms', 'fastest ms', 'predicted top-1', 'true top-1', 'MACs', 'params', 'tries', 'status', 'model, sha256'];
  parts.push(`<h2>Picks</h2><table class="picks"><tr>${header.map((h) => `<th>${h}</th>`).join('')}</tr>${result.deployments.map(pickRow).join('')}</table>`);
  parts.push(`<p>Latency: the profiler's protocol on the device (median, p90 and fastest timed run). True top-1: the ONNX file run by onnxruntime on the test split. Plots rendered with Vega-Lite.</p>`);
  return `<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>ofav2 deploy report</title><style>${STYLE}</style></head><body>\n${parts.join('\n')}\n</body></html>\n`;
}

/** deploy.json of a deploy folder, through the shared JSON reader and its schema (deploy/schema.ts). */
export function readDeployResult(dir: string): DeployResult {
  const file = join(dir, 'deploy.json');
  const input = `deploy result ${file}`;
  const hint = 'give the --out folder of an `ofa deploy` run, or run the deploy again to rewrite it';
  if (!existsSync(file)) throw new OfaError('E_READ', `${JSON.stringify(dir)} has no deploy.json`, { hint: 'give the --out folder of an `ofa deploy` run' });
  const value = readJsonFile(file, input, { code: 'E_DEPLOY_RESULT', hint });
  const tag = value as { format?: unknown; formatVersion?: unknown } | null;
  if (typeof tag !== 'object' || tag === null || tag.format !== DEPLOY_FORMAT.format || tag.formatVersion !== DEPLOY_FORMAT.formatVersion) {
    throw new OfaError('E_ARTIFACT_FORMAT', `${input} is not a deploy result (format ${JSON.stringify(tag?.format)} version ${JSON.stringify(tag?.formatVersion)}); allowed: ${DEPLOY_FORMAT.format} version ${DEPLOY_FORMAT.formatVersion}`, { hint });
  }
  parseWith(DEPLOY_RESULT_SCHEMA, value, input, { code: 'E_DEPLOY_RESULT', hint });
  return value as DeployResult;
}

/** Writes DIR/report.html from DIR/deploy.json (atomically); returns its path. */
export async function writeReport(dir: string, result: DeployResult = readDeployResult(dir)): Promise<string> {
  const file = join(dir, 'report.html');
  writeFileAtomic(file, await renderReport(result));
  return file;
}
