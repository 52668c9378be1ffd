// The chromium runtime's faults, in a browser of their own (they break pages on purpose): a page that
// never answers and a busy-looping page end in E_BROWSER_TIMEOUT within the device's time limit and are
// replaced by a fresh page; a crashed page is an E_BROWSER naming the crash; released browsers and their
// servers close; Ctrl-C leaves no browser process and no server behind.
import test from 'ava';
import { spawn } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { request } from 'node:http';
import { fileURLToPath } from 'node:url';
import { loadDevice } from '../../../profile/index.ts';
import { planInputs } from '../../../profile/inputs.ts';
import { validateDevice } from '../../../profile/predict.ts';
import { chromium, type ChromiumSession } from '../../../profile/runtimes/chromium.ts';
import { closeAllBrowsers, openBrowserCount } from '../../../profile/runtimes/chromium/browser.ts';
import { FAST, cpuDevice, matmulModel } from '../fixtures.ts';

const device = (name: string, browser: Record<string, unknown>, threads = 1) => {
  const base = cpuDevice(name);
  return validateDevice({ ...base, runtime: 'chromium', executionProvider: 'wasm', browser, session: { ...(base.session as object), intraOpNumThreads: threads } }, name);
};
const REQUEST = { firstRun: true, ...FAST };

/**
 * A session on a device whose page calls may stay silent for only `timeoutMs`: the page (shared by every
 * device of the same entry, threads and EP) is loaded first by a session with the default limit, since
 * loading onnxruntime-web's wasm takes seconds here.
 */
async function impatientSession(name: string, timeoutMs: number, threads: number): Promise<ChromiumSession> {
  const browser = { ortEntry: 'onnxruntime-web' };
  const warm = await chromium.createSession(matmulModel(['batch', 16]), device(`${name}-warm`, browser, threads));
  try {
    return await chromium.createSession(matmulModel(['batch', 16]), device(name, { ...browser, timeoutMs }, threads));
  } finally {
    await warm.dispose();
  }
}
const planOf = (session: ChromiumSession) => planInputs(session.inputs, { batch: 1 });

/** Whether anything answers HTTP at `origin`. */
function answers(origin: string): Promise<boolean> {
  const { hostname, port } = new URL(origin);
  return new Promise((resolve) => {
    const req = request({ host: hostname, port, path: '/', agent: false }, (res) => {
      res.resume();
      resolve(true);
    });
    req.on('error', () => resolve(false));
    req.end();
  });
}

async function until(condition: () => boolean | Promise<boolean>, limitMs: number): Promise<boolean> {
  const end = Date.now() + limitMs;
  while (Date.now() < end) {
    if (await condition()) return true;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return condition();
}

test.after.always(closeAllBrowsers);

// Serial: runs before the other tests of this file, alone, so that its browser is the only one.
test.serial('a released browser closes after its linger, and its model server with it', async (t) => {
  const session = await chromium.createSession(matmulModel(['batch', 16]), loadDevice('chromium-wasm-1t'));
  const origin = session.handle.server.origin;
  t.is(openBrowserCount(), 1);
  t.true(await answers(origin));
  await chromium.time(session, planOf(session), REQUEST);
  await session.dispose();
  t.true(await until(() => openBrowserCount() === 0, 30_000), 'the browser closes once nothing uses it');
  t.true(await until(async () => !(await answers(origin)), 10_000), 'its server is closed');
});

test('a page that never answers: E_BROWSER_TIMEOUT naming the limit and the step; the next session gets a fresh page', async (t) => {
  const session = await impatientSession('hung', 1500, 1);
  await session.handle.page.evaluate(() => {
    (globalThis as unknown as { ofa: { call: () => Promise<never> } }).ofa.call = () => new Promise<never>(() => {});
  });
  const error = await t.throwsAsync(chromium.time(session, planOf(session), REQUEST), { code: 'E_BROWSER_TIMEOUT' } as never);
  t.regex(error!.message, /the page gave no answer and no sign of life for 1500 ms while receiving the inputs; the page was closed/);
  t.regex((error as { hint?: string }).hint!, /raise "timeoutMs"/);
  await session.dispose();
  const next = await chromium.createSession(matmulModel(['batch', 16]), device('hung-next', { ortEntry: 'onnxruntime-web' }));
  t.true((await chromium.time(next, planOf(next), REQUEST)).samplesMs.length >= FAST.minSamples);
  await next.dispose();
});

test('a busy-looping page: E_BROWSER_TIMEOUT, the page is closed, the next session runs', async (t) => {
  const session = await impatientSession('busy', 1500, 2);
  await chromium.time(session, planOf(session), REQUEST);
  await session.handle.page.evaluate(() => {
    setTimeout(() => {
      for (;;);
    }, 0);
  });
  const error = await t.throwsAsync(chromium.time(session, planOf(session), { firstRun: false, warmupRuns: 0, minSamples: 1_000_000, minTimeMs: 0 }), { code: 'E_BROWSER_TIMEOUT' } as never);
  t.regex(error!.message, /no sign of life for 1500 ms while timing runs/);
  await session.dispose();
  t.true(session.handle.page.isClosed() || (await until(() => session.handle.page.isClosed(), 10_000)));
  const next = await chromium.createSession(matmulModel(['batch', 16]), device('busy-next', { ortEntry: 'onnxruntime-web' }, 2));
  t.true((await chromium.time(next, planOf(next), REQUEST)).samplesMs.length >= FAST.minSamples);
  await next.dispose();
});

test('a crashed page: E_BROWSER saying so', async (t) => {
  const crashing = device('crashing', {}, 2);
  const session = await chromium.createSession(matmulModel(['batch', 16]), crashing);
  const page = session.handle.page;
  await Promise.all([page.waitForEvent('crash'), page.goto('chrome://crash').catch(() => {})]);
  const error = await t.throwsAsync(chromium.time(session, planOf(session), REQUEST), { code: 'E_BROWSER' } as never);
  t.regex(error!.message, /the page crashed \(its renderer process died/);
  await session.dispose();
});

/** Every process descending from `root` (from /proc). */
function descendants(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(name)]);
    } catch {
      // gone meanwhile
    }
  }
  const found: number[] = [];
  const queue = [root];
  while (queue.length > 0) for (const child of children.get(queue.shift()!) ?? []) found.push(child), queue.push(child);
  return found;
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return !readFileSync(`/proc/${pid}/stat`, 'utf8').includes(') Z ');
  } catch {
    return false;
  }
};

test('Ctrl-C: the process ends, its browser processes and its model server with it', async (t) => {
  const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(new URL('./chromium-child.ts', import.meta.url))], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const ready = await new Promise<{ pid: number; origin: string }>((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes('\n')) resolve(JSON.parse(out.split('\n')[0]));
    });
    child.on('exit', (code) => reject(new Error(`child exited ${code} before it was ready: ${stderr}`)));
  });
  const browserProcesses = descendants(ready.pid);
  t.true(browserProcesses.length > 0, 'the child runs a browser');
  t.true(await answers(ready.origin));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  child.kill('SIGINT');
  t.is(await exited, 130);
  t.true(await until(() => browserProcesses.every((pid) => !alive(pid)), 20_000), `browser processes left: ${browserProcesses.filter(alive).join(', ')}`);
  t.false(await answers(ready.origin));
});
