// Browsers and pages for the chromium runtime, shared per process: one browser per launch (or remote
// endpoint) setting, with its model server; one page per (entry, thread count, EP) in it; sessions are
// reference-counted handles on a page. The last handle released closes the browser and its server after
// a short linger (a table build opens and closes sessions chunk after chunk). Every call into a page has
// a watchdog: the page signals life between runs; silence longer than the device's time limit, a crash,
// a closed page or a lost browser become OfaErrors carrying the page's own messages. On Ctrl-C and
// process exit playwright-core closes (kills) the browsers it launched; the servers die with the process.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { OfaError } from '../../../lib/errors.ts';
import { startModelServer, type ModelServer } from './server.ts';
import { ORT_ENTRIES, isLoopbackHost, redactEndpoint, type BrowserSettings, type OrtEntry } from './settings.ts';

type Playwright = typeof import('playwright-core');
type Browser = import('playwright-core').Browser;
type BrowserContext = import('playwright-core').BrowserContext;
type Page = import('playwright-core').Page;

const require = createRequire(import.meta.url);

let playwrightModule: Playwright | undefined;
export function playwright(): Playwright {
  playwrightModule ??= require('playwright-core') as Playwright;
  return playwrightModule;
}

/** onnxruntime-web's dist folder: every file the page loads comes from it (one build: JavaScript and wasm agree). */
export function ortDistFolder(): string {
  // The package's exports map resolves the bare name (for Node) to a file in dist/.
  return dirname(require.resolve('onnxruntime-web'));
}

/** The installed onnxruntime-web's version (its exports map hides package.json from require). */
function ortPackageVersion(): string {
  return (JSON.parse(readFileSync(join(ortDistFolder(), '..', 'package.json'), 'utf8')) as { version: string }).version;
}

/** A released browser stays open this long for the next session (chunks of a table build). */
const LINGER_MS = 2000;

/** What the page reports about itself (init). */
export interface PageFacts {
  userAgent: string;
  crossOriginIsolated: boolean;
  hardwareConcurrency: number;
  ortVersion: string;
  wasmNumThreads: number;
  navigatorGpu?: boolean;
  adapter?: { vendor: string; architecture: string; device: string; description: string; isFallbackAdapter: boolean } | null;
}

/** What was started, as recorded with every result. */
export interface BrowserFacts {
  /** 'launched' (executablePath, args) or 'remote' (the endpoint without its path). */
  mode: 'launched' | 'remote';
  executablePath?: string;
  launchArgs?: string[];
  wsEndpoint?: string;
  version: string;
  /** How the browser reaches the model server: over the network, or through the Playwright connection. */
  serving: 'network' | 'playwright-connection';
}

interface BrowserEntry {
  key: string;
  browser: Browser;
  context: BrowserContext;
  server: ModelServer;
  facts: BrowserFacts;
  refs: number;
  pages: Map<string, Promise<PageEntry>>;
  lingerTimer?: NodeJS.Timeout;
  lost?: OfaError;
}

interface PageEntry {
  page: Page;
  facts: PageFacts;
  /** Date.now() of the last sign of life. */
  lastSign: number;
  consoleErrors: string[];
  /** consoleErrors before this index were already put into an error. */
  reported: number;
  broken?: OfaError;
  /** Rejecters of the calls in flight (a crash or hang ends them all). */
  pending: Set<(error: OfaError) => void>;
  closedByUs: boolean;
}

const browsers = new Map<string, Promise<BrowserEntry>>();

/** The runtime's own switches, then the device's (a later --js-flags replaces the earlier one). */
export function launchArgs(settings: BrowserSettings): string[] {
  return [
    // Chromium refuses to start its sandbox as root.
    ...(process.getuid?.() === 0 ? ['--no-sandbox'] : []),
    // WebGPU on Linux (blocklisted there by default); with no GPU, chromium's adapter is SwiftShader.
    '--enable-unsafe-webgpu',
    // The browser's own wasm tiering is kept (unlike onnxruntime-web.ts in Node, which compiles with
    // TurboFan up front): --js-flags=--no-liftoff made the first session of a page take 27 s (wasm build)
    // and 450 s (WebGPU build) here under load, against 2 s and 6 s; the warm-up runs cover the tier-up.
    ...settings.args,
  ];
}

function browserKey(settings: BrowserSettings): string {
  const where = settings.wsEndpoint === undefined ? { executablePath: settings.executablePath, args: launchArgs(settings) } : { wsEndpoint: settings.wsEndpoint };
  return JSON.stringify({ ...where, serverHost: settings.serverHost, serverPublicHost: settings.serverPublicHost, allowNonLoopback: settings.allowNonLoopback });
}

const firstLine = (error: unknown) => String((error as Error)?.message ?? error).split('\n')[0];
/** onnxruntime's console lines carry terminal colour codes. */
const plain = (text: string) => text.replace(/\u001b?\[[0-9;]*m/g, '').trim();

async function openBrowser(settings: BrowserSettings, key: string): Promise<BrowserEntry> {
  const { chromium } = playwright();
  const version = (require('playwright-core/package.json') as { version: string }).version;
  const server = await startModelServer({
    ortDist: ortDistFolder(),
    host: settings.serverHost,
    allowNonLoopback: settings.allowNonLoopback,
    ...(settings.serverPublicHost === undefined ? {} : { publicHost: settings.serverPublicHost }),
  });
  let browser: Browser;
  let facts: Omit<BrowserFacts, 'version'>;
  try {
    if (settings.wsEndpoint !== undefined) {
      try {
        browser = await chromium.connect(settings.wsEndpoint, { timeout: settings.timeoutMs });
      } catch (error) {
        throw new OfaError('E_BROWSER', `could not connect to the Playwright browser server at ${redactEndpoint(settings.wsEndpoint)}: ${firstLine(error)}`, {
          hint: `start one with \`npx playwright launch-server --browser chromium\` or chromium.launchServer() (a playwright-core of the same version as here, ${version}), and give its wsEndpoint`,
          cause: error,
        });
      }
      facts = { mode: 'remote', wsEndpoint: redactEndpoint(settings.wsEndpoint), serving: isLoopbackHost(settings.serverHost) ? 'playwright-connection' : 'network' };
    } else {
      const args = launchArgs(settings);
      try {
        browser = await chromium.launch({ executablePath: settings.executablePath, args, headless: true, timeout: settings.timeoutMs });
      } catch (error) {
        throw new OfaError('E_BROWSER', `could not launch chromium at ${settings.executablePath}: ${firstLine(error)}`, {
          hint: 'check that the executable runs (`chromium --version`); install Debian\'s with `apt-get install chromium`',
          cause: error,
        });
      }
      facts = { mode: 'launched', executablePath: settings.executablePath, launchArgs: args, serving: 'network' };
    }
  } catch (error) {
    await server.close();
    throw error;
  }
  let context: BrowserContext;
  try {
    context = await browser.newContext();
  } catch (error) {
    await Promise.all([browser.close().catch(() => {}), server.close()]);
    throw new OfaError('E_BROWSER', `the browser gave no page context: ${firstLine(error)}`, { cause: error });
  }
  if (facts.serving === 'playwright-connection') {
    // The remote browser cannot reach this host's loopback: its requests to the server's origin are
    // answered over the Playwright connection, by asking the server here (so its allowlist still decides).
    // The page keeps its http://127.0.0.1 origin, a secure context (WebGPU, cross-origin isolation).
    await context.route(
      (url) => url.origin === server.origin,
      async (route) => {
        try {
          const response = await fetch(route.request().url(), { method: route.request().method() === 'HEAD' ? 'HEAD' : 'GET' });
          const headers: Record<string, string> = {};
          response.headers.forEach((value, name) => (headers[name] = value));
          await route.fulfill({ status: response.status, headers, body: Buffer.from(await response.arrayBuffer()) });
        } catch {
          await route.abort().catch(() => {});
        }
      },
    );
  }
  const entry: BrowserEntry = { key, browser, context, server, facts: { ...facts, version: browser.version() }, refs: 0, pages: new Map() };
  browser.on('disconnected', () => {
    entry.lost = new OfaError('E_BROWSER', `the browser (${describe(entry.facts)}) closed, or the connection to it was lost`, {
      hint: entry.facts.mode === 'remote' ? 'check the browser server; it may have been stopped or restarted' : 'the browser process ended (killed, out of memory, or Ctrl-C)',
    });
    void forget(entry);
  });
  return entry;
}

function describe(facts: BrowserFacts): string {
  return facts.mode === 'remote' ? `remote chromium ${facts.version} at ${facts.wsEndpoint}` : `chromium ${facts.version} at ${facts.executablePath}`;
}

/** Drops a browser from the pool and fails its pages' calls (the browser is gone or going). */
async function forget(entry: BrowserEntry): Promise<void> {
  if (browsers.get(entry.key) && (await browsers.get(entry.key)!.catch(() => undefined)) === entry) browsers.delete(entry.key);
  for (const pending of entry.pages.values()) {
    const page = await pending.catch(() => undefined);
    if (page) breakPage(page, entry.lost ?? new OfaError('E_BROWSER', 'the browser was closed'));
  }
  await entry.server.close();
}

async function closeBrowser(entry: BrowserEntry): Promise<void> {
  clearTimeout(entry.lingerTimer);
  entry.lost ??= new OfaError('E_BROWSER', 'the browser was closed by the runtime');
  for (const pending of entry.pages.values()) {
    const page = await pending.catch(() => undefined);
    if (page) page.closedByUs = true;
  }
  await forget(entry);
  await entry.browser.close().catch(() => {});
}

function breakPage(page: PageEntry, error: OfaError): void {
  if (page.broken) return;
  page.broken = error;
  for (const reject of page.pending) reject(error);
  page.pending.clear();
  page.closedByUs = true;
  void page.page.close({ runBeforeUnload: false }).catch(() => {});
}

async function openPage(entry: BrowserEntry, ortEntry: OrtEntry, numThreads: number, executionProvider: string, timeoutMs: number): Promise<PageEntry> {
  const page = await entry.context.newPage();
  const state: PageEntry = { page, facts: undefined as unknown as PageFacts, lastSign: Date.now(), consoleErrors: [], reported: 0, pending: new Set(), closedByUs: false };
  const remember = (text: string) => {
    state.consoleErrors.push(plain(text).slice(0, 500));
    if (state.consoleErrors.length > 8) {
      state.consoleErrors.shift();
      state.reported = Math.max(0, state.reported - 1);
    }
  };
  page.on('console', (message) => {
    if (message.type() === 'error') remember(message.text());
  });
  page.on('pageerror', (error) => remember(`uncaught: ${error.message}`));
  page.on('crash', () => breakPage(state, new OfaError('E_BROWSER', 'the page crashed (its renderer process died: out of memory, killed, or a browser fault)', { hint: lastConsole(state) })));
  page.on('close', () => {
    if (!state.closedByUs) breakPage(state, new OfaError('E_BROWSER', 'the page was closed from outside the runtime'));
  });
  await page.exposeFunction('ofaAlive', () => {
    state.lastSign = Date.now();
  });
  try {
    await page.goto(entry.server.pageUrl, { timeout: timeoutMs });
    if (!(await page.evaluate(() => (globalThis as { ofa?: { ready?: boolean } }).ofa?.ready === true))) {
      throw new OfaError('E_BROWSER', `the profiler page did not start (${state.consoleErrors.join('; ') || 'no console message'})`);
    }
    state.facts = await callPage<PageFacts>(state, timeoutMs, 'init', { module: ORT_ENTRIES[ortEntry].module, numThreads, executionProvider }, `loading ${ortEntry}`);
    // The page's JavaScript and wasm come from one dist folder; its version must be the package's.
    const installed = ortPackageVersion();
    if (state.facts.ortVersion !== installed) {
      throw new OfaError('E_BROWSER', `the page runs onnxruntime-web ${state.facts.ortVersion}, but the installed package is ${installed}`, { hint: 'reinstall onnxruntime-web (`npm ci`)' });
    }
  } catch (error) {
    state.closedByUs = true;
    await page.close().catch(() => {});
    throw error;
  }
  return state;
}

/** onnxruntime's log prefix (time, severity, source) before the text it also puts in the error. */
const ORT_LOG_PREFIX = /^\d{4}-\d\d-\d\d [\d:.]+ \[[EWF]:onnxruntime:[^\]]*\]\s*/;

/** The console errors not yet reported (the last few), minus those that only repeat `message`. */
function lastConsole(page: PageEntry, message = ''): string | undefined {
  const lines = page.consoleErrors.slice(page.reported).filter((line) => !message || !message.includes(line.replace(ORT_LOG_PREFIX, '')));
  page.reported = page.consoleErrors.length;
  return lines.length > 0 ? `the page's console said: ${lines.join(' | ')}` : undefined;
}

type Answer<T> = { ok: true; value: T } | { ok: false; error: { kind: string; message: string } };

/** A page's own error (its kind says which OfaError the runtime makes of it). */
export class PageError extends Error {
  constructor(readonly kind: string, message: string, readonly console?: string) {
    super(message);
  }
}

/**
 * One call into the page (page.js `ofa.call`), with the watchdog: the page signals life at least every
 * 250 ms while it works; `timeoutMs` of silence (a hung page), a crash or a lost browser end the call.
 */
async function callPage<T>(page: PageEntry, timeoutMs: number, method: string, args: unknown, what: string): Promise<T> {
  if (page.broken) throw page.broken;
  page.lastSign = Date.now();
  let interrupt!: (error: OfaError) => void;
  const interrupted = new Promise<never>((_, reject) => (interrupt = reject));
  page.pending.add(interrupt);
  const watchdog = setInterval(() => {
    if (Date.now() - page.lastSign > timeoutMs) {
      breakPage(
        page,
        new OfaError('E_BROWSER_TIMEOUT', `the page gave no answer and no sign of life for ${timeoutMs} ms while ${what}; the page was closed`, {
          hint: `a hung page (busy loop, deadlock, lost GPU); if a single run really takes longer, raise "timeoutMs" in the device's browser settings${((text) => (text ? `; ${text}` : ''))(lastConsole(page))}`,
        }),
      );
    }
  }, Math.max(50, Math.min(1000, timeoutMs / 4)));
  try {
    const evaluation = page.page.evaluate(([m, a]) => (globalThis as unknown as { ofa: { call(m: string, a: unknown): Promise<unknown> } }).ofa.call(m as string, a), [method, args] as const);
    evaluation.catch(() => {});
    const answer = (await Promise.race([evaluation, interrupted])) as Answer<T>;
    if (!answer.ok) {
      const message = plain(answer.error.message);
      throw new PageError(answer.error.kind, message, lastConsole(page, message));
    }
    return answer.value;
  } catch (error) {
    if (error instanceof OfaError || error instanceof PageError) throw error;
    throw page.broken ?? new OfaError('E_BROWSER', `the page failed while ${what}: ${firstLine(error)}`, { hint: lastConsole(page) ?? 'see the browser\'s output', cause: error });
  } finally {
    clearInterval(watchdog);
    page.pending.delete(interrupt);
  }
}

/** A reference-counted handle on one page; release() it once. */
export interface PageHandle {
  readonly server: ModelServer;
  readonly browser: BrowserFacts;
  readonly facts: PageFacts;
  call<T>(method: string, args: unknown, what: string): Promise<T>;
  release(): Promise<void>;
  /** The playwright page (tests). */
  readonly page: Page;
}

async function acquireBrowser(settings: BrowserSettings): Promise<BrowserEntry> {
  const key = browserKey(settings);
  let pending = browsers.get(key);
  if (pending) {
    const entry = await pending.catch(() => undefined);
    if (!entry || entry.lost) {
      if (browsers.get(key) === pending) browsers.delete(key);
      pending = undefined;
    }
  }
  if (!pending) {
    pending = openBrowser(settings, key);
    browsers.set(key, pending);
    pending.catch(() => {
      if (browsers.get(key) === pending) browsers.delete(key);
    });
  }
  const entry = await pending;
  entry.refs++;
  clearTimeout(entry.lingerTimer);
  return entry;
}

function releaseBrowser(entry: BrowserEntry): void {
  entry.refs--;
  if (entry.refs > 0) return;
  clearTimeout(entry.lingerTimer);
  entry.lingerTimer = setTimeout(() => {
    if (entry.refs === 0) void closeBrowser(entry);
  }, LINGER_MS);
  entry.lingerTimer.unref();
}

/** A page for (browser settings, entry, threads, EP), shared with every other session of the same kind. */
export async function acquirePage(settings: BrowserSettings, numThreads: number, executionProvider: string): Promise<PageHandle> {
  const entry = await acquireBrowser(settings);
  try {
    const key = JSON.stringify([settings.ortEntry, numThreads, executionProvider]);
    let pending = entry.pages.get(key);
    if (pending) {
      const page = await pending.catch(() => undefined);
      if (!page || page.broken) {
        if (entry.pages.get(key) === pending) entry.pages.delete(key);
        pending = undefined;
      }
    }
    if (!pending) {
      pending = openPage(entry, settings.ortEntry, numThreads, executionProvider, settings.timeoutMs);
      entry.pages.set(key, pending);
      pending.catch(() => {
        if (entry.pages.get(key) === pending) entry.pages.delete(key);
      });
    }
    const page = await pending;
    let released = false;
    return {
      server: entry.server,
      browser: entry.facts,
      facts: page.facts,
      page: page.page,
      call: (method, args, what) => callPage(page, settings.timeoutMs, method, args, what),
      async release() {
        if (released) return;
        released = true;
        releaseBrowser(entry);
      },
    };
  } catch (error) {
    releaseBrowser(entry);
    throw error;
  }
}

/** Closes every browser and server now (tests; a host program that wants them gone before exit). */
export async function closeAllBrowsers(): Promise<void> {
  const entries = await Promise.all([...browsers.values()].map((pending) => pending.catch(() => undefined)));
  browsers.clear();
  await Promise.all(entries.filter((entry): entry is BrowserEntry => entry !== undefined).map((entry) => closeBrowser(entry)));
}

/** How many browsers are open (tests). */
export function openBrowserCount(): number {
  return browsers.size;
}
