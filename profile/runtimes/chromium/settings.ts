// The `browser` field of a chromium device profile: which browser (a local executable, launched; or a
// Playwright browser server, connected to by `wsEndpoint`), which onnxruntime-web entry the page imports,
// where the model server binds, and how long a page may stay silent. Checked by the chromium runtime's
// deviceFaults (the common schema in profile/device.ts only knows that the field belongs to this runtime).
import type { DeviceFault, DeviceProfile } from '../../device.ts';

/** The package entries the page may import, each with the files it loads (all from one dist folder: one build). */
export const ORT_ENTRIES = {
  // The wasm EP only: the same wasm build as onnxruntime-web inside Node (runtime onnxruntime-web).
  'onnxruntime-web/wasm': { module: 'ort.wasm.min.mjs', files: ['ort-wasm-simd-threaded.mjs', 'ort-wasm-simd-threaded.wasm'] },
  // wasm and WebGPU: the C++ WebGPU EP (the one onnxruntime-node bundles) compiled to wasm with asyncify.
  'onnxruntime-web/webgpu': { module: 'ort.webgpu.min.mjs', files: ['ort-wasm-simd-threaded.asyncify.mjs', 'ort-wasm-simd-threaded.asyncify.wasm'] },
  // The package's default entry: wasm, and WebGPU through JSEP (kernels written in JavaScript/WGSL).
  'onnxruntime-web': { module: 'ort.min.mjs', files: ['ort-wasm-simd-threaded.jsep.mjs', 'ort-wasm-simd-threaded.jsep.wasm'] },
} as const;
export type OrtEntry = keyof typeof ORT_ENTRIES;
export const ORT_ENTRY_NAMES = Object.keys(ORT_ENTRIES) as OrtEntry[];

/** The entry a device gets when its file names none: the smallest build that has its EP. */
export const DEFAULT_ORT_ENTRY: Record<string, OrtEntry> = { wasm: 'onnxruntime-web/wasm', webgpu: 'onnxruntime-web/webgpu' };

export const DEFAULT_EXECUTABLE = '/usr/bin/chromium';
/**
 * A page call with no answer and no sign of progress (the page signals each run) for this long is a hung
 * page. Generous: loading onnxruntime-web's WebGPU build and creating a first session took ~6 s here under
 * load, one first run of WebGPU on SwiftShader ~20 s.
 */
export const DEFAULT_TIMEOUT_MS = 120_000;

export interface BrowserSettings {
  /** Launch this executable (default /usr/bin/chromium), unless wsEndpoint is given. */
  executablePath: string;
  /** Launch arguments added after the runtime's own (see browser.ts launchArgs). */
  args: string[];
  /** Connect to this Playwright browser server (ws:// or wss://) instead of launching a browser. */
  wsEndpoint?: string;
  /** A page call that gives no answer and no sign of progress for this long fails as hung, ms. */
  timeoutMs: number;
  /** The onnxruntime-web entry the page imports. */
  ortEntry: OrtEntry;
  /** Where the model server listens: loopback unless allowNonLoopback. */
  serverHost: string;
  /** The host name the browser uses to reach the server (default serverHost; only for a non-loopback server). */
  serverPublicHost?: string;
  allowNonLoopback: boolean;
}

const FIELDS = ['executablePath', 'args', 'wsEndpoint', 'timeoutMs', 'ortEntry', 'serverHost', 'serverPublicHost', 'allowNonLoopback'];

export function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || host === '::1' || host === '[::1]' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

/** The device's raw `browser` field (the common DeviceProfile type does not name runtime-specific fields). */
function browserField(device: Record<string, unknown> | DeviceProfile): unknown {
  return (device as { browser?: unknown }).browser;
}

/** Every fault of a chromium device's `browser` field (paths like $.browser.timeoutMs). */
export function browserFaults(device: Record<string, unknown>): DeviceFault[] {
  const value = browserField(device);
  if (value === undefined) return [];
  const faults: DeviceFault[] = [];
  const fault = (field: string, bad: unknown, message: string) => faults.push({ path: `$.browser${field ? `.${field}` : ''}`, value: bad, message });
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    fault('', value, 'browser must be an object (fields: ' + FIELDS.join(', ') + ')');
    return faults;
  }
  const browser = value as Record<string, unknown>;
  for (const key of Object.keys(browser)) if (!FIELDS.includes(key)) fault(key, browser[key], `unknown field "${key}" in browser; allowed fields: ${FIELDS.join(', ')}`);
  const text = (key: string) => {
    if (key in browser && (typeof browser[key] !== 'string' || browser[key] === '')) fault(key, browser[key], `${key} must be a non-empty string`);
  };
  ['executablePath', 'wsEndpoint', 'serverHost', 'serverPublicHost'].forEach(text);
  if ('args' in browser && (!Array.isArray(browser.args) || browser.args.some((arg) => typeof arg !== 'string' || !arg.startsWith('--')))) {
    fault('args', browser.args, 'args must be an array of command-line switches, each starting with "--"');
  }
  if (typeof browser.wsEndpoint === 'string' && !/^wss?:\/\/[^/\s]+/.test(browser.wsEndpoint)) {
    fault('wsEndpoint', browser.wsEndpoint, 'wsEndpoint must be a ws:// or wss:// URL of a Playwright browser server');
  }
  if ('wsEndpoint' in browser) {
    for (const key of ['executablePath', 'args']) if (key in browser) fault(key, browser[key], `${key} is for a browser this runtime launches; with wsEndpoint the browser server was launched elsewhere (remove one of them)`);
  }
  if ('timeoutMs' in browser && (typeof browser.timeoutMs !== 'number' || !Number.isInteger(browser.timeoutMs) || browser.timeoutMs < 100 || browser.timeoutMs > 3_600_000)) {
    fault('timeoutMs', browser.timeoutMs, 'timeoutMs must be an integer from 100 to 3600000 (ms)');
  }
  if ('ortEntry' in browser) {
    if (!ORT_ENTRY_NAMES.includes(browser.ortEntry as OrtEntry)) fault('ortEntry', browser.ortEntry, `ortEntry must be one of ${ORT_ENTRY_NAMES.map((n) => JSON.stringify(n)).join(', ')}`);
    else if (browser.ortEntry === 'onnxruntime-web/wasm' && device.executionProvider === 'webgpu') fault('ortEntry', browser.ortEntry, 'the onnxruntime-web/wasm entry has no webgpu EP; allowed for webgpu: "onnxruntime-web/webgpu", "onnxruntime-web"');
  }
  if ('allowNonLoopback' in browser && typeof browser.allowNonLoopback !== 'boolean') fault('allowNonLoopback', browser.allowNonLoopback, 'allowNonLoopback must be true or false');
  if (typeof browser.serverHost === 'string' && !isLoopbackHost(browser.serverHost) && browser.allowNonLoopback !== true) {
    fault('serverHost', browser.serverHost, 'the model server binds to loopback only (127.0.0.1, ::1, localhost) unless "allowNonLoopback": true says otherwise');
  }
  return faults;
}

/** The settings of a (validated) chromium device, defaults filled in. */
export function browserSettings(device: DeviceProfile): BrowserSettings {
  const browser = (browserField(device) ?? {}) as Partial<BrowserSettings>;
  return {
    executablePath: browser.executablePath ?? DEFAULT_EXECUTABLE,
    args: [...(browser.args ?? [])],
    ...(browser.wsEndpoint === undefined ? {} : { wsEndpoint: browser.wsEndpoint }),
    timeoutMs: browser.timeoutMs ?? DEFAULT_TIMEOUT_MS,
    ortEntry: browser.ortEntry ?? DEFAULT_ORT_ENTRY[device.executionProvider] ?? 'onnxruntime-web',
    serverHost: browser.serverHost ?? '127.0.0.1',
    ...(browser.serverPublicHost === undefined ? {} : { serverPublicHost: browser.serverPublicHost }),
    allowNonLoopback: browser.allowNonLoopback ?? false,
  };
}

/** A ws endpoint as recorded with results: scheme, host and port only (its path often is the server's secret). */
export function redactEndpoint(endpoint: string): string {
  try {
    const url = new URL(endpoint);
    return `${url.protocol}//${url.host}/...`;
  } catch {
    return '(unparsable endpoint)';
  }
}
