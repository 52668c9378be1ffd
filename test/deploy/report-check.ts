// The deploy report opened in a real headless Chromium (Debian's chromium driven by playwright-core;
// .ci/run installs it): every device's plot must have rendered, as SVG, with one symbol per front point,
// per deployed pick (as predicted and as measured) and one rule per budget, and the picks table one row
// per deployment. A screenshot is saved beside the report (report.png), and to $OFA_REPORT_SCREENSHOT
// when it is set (to look at it).
import type { ExecutionContext } from 'ava';
import { copyFileSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';
import { PLOT_LAYERS, type DeployResult } from '../../deploy/index.ts';

const EXECUTABLE = process.env.OFA_CHROMIUM ?? '/usr/bin/chromium';

export async function checkReportInChromium(t: ExecutionContext, dir: string, result: DeployResult): Promise<void> {
  const file = join(dir, 'report.html');
  t.true(existsSync(file), 'report.html written by the deploy');
  const html = readFileSync(file, 'utf8');
  t.notRegex(html, /<script|https?:\/\/(?!www\.w3\.org)/, 'self-contained: no script, no network address but SVG namespaces');
  t.true(existsSync(EXECUTABLE), `a chromium executable at ${EXECUTABLE} (apt-get install chromium)`);
  const browser = await chromium.launch({ executablePath: EXECUTABLE, args: ['--no-sandbox'] });
  try {
    const page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
    const requests: string[] = [];
    page.on('request', (request) => requests.push(request.url()));
    await page.goto(pathToFileURL(file).href);
    t.deepEqual(requests, [pathToFileURL(file).href], 'the page loads nothing but itself');
    for (const device of result.devices) {
      const section = page.locator(`section.device[data-device="${device.name}"]`);
      const count = (selector: string) => section.locator(selector).count();
      t.is(await count('svg'), 1, `${device.name}: one plot`);
      const deployed = result.deployments.filter((d) => d.device === device.name && d.status !== 'over-budget');
      const budgets = new Set(result.deployments.filter((d) => d.device === device.name).map((d) => d.budgetMs));
      t.is(await count(`g.${PLOT_LAYERS.front}_marks > path`), device.front.length, `${device.name}: one symbol per front point`);
      t.is(await count(`g.${PLOT_LAYERS.predicted}_marks > path`), deployed.length, `${device.name}: the picks as predicted`);
      t.is(await count(`g.${PLOT_LAYERS.measured}_marks > path`), deployed.length, `${device.name}: the picks as measured`);
      t.is(await count(`g.${PLOT_LAYERS.budgets}_marks > line`), budgets.size, `${device.name}: one line per budget`);
      // Rendered: the plot has a real size on the page.
      const box = await section.locator('svg').boundingBox();
      t.true(box !== null && box.width > 300 && box.height > 200, `${device.name}: plot box ${JSON.stringify(box)}`);
    }
    t.is(await page.locator('table.picks tr.pick').count(), result.deployments.length, 'one table row per deployment');
    const screenshot = join(dir, 'report.png');
    await page.screenshot({ path: screenshot, fullPage: true });
    t.true(readFileSync(screenshot).subarray(1, 4).toString() === 'PNG', 'a PNG screenshot');
    if (process.env.OFA_REPORT_SCREENSHOT) copyFileSync(screenshot, process.env.OFA_REPORT_SCREENSHOT);
  } finally {
    await browser.close();
  }
}
