// The model server of the chromium runtime: an HTTP server on loopback (127.0.0.1, a random free port)
// that serves the page, onnxruntime-web's files and the models under test to the browser, and nothing
// else. Every URL starts with a random token; a path is served only when it is, byte for byte, one of
// the allowlist's (the page, the ORT entries' files of one dist folder, the models currently open): no
// decoding, no joining of request paths onto folders, no directory listing, so `..`, `%2e%2e` and
// absolute paths are simply not in the list (404). Every response carries the cross-origin isolation
// headers (COOP same-origin + COEP require-corp): onnxruntime-web uses threads only in an isolated page.
import { randomBytes } from 'node:crypto';
import { createReadStream, existsSync, statSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { OfaError } from '../../../lib/errors.ts';
import { isLoopbackHost, ORT_ENTRIES } from './settings.ts';

export interface ModelServerOptions {
  /** onnxruntime-web's dist folder (its JavaScript and wasm files, one build). */
  ortDist: string;
  /** Bind address (default 127.0.0.1); a non-loopback one is refused unless allowNonLoopback. */
  host?: string;
  allowNonLoopback?: boolean;
  /** The host name browsers use in URLs (default: host). */
  publicHost?: string;
}

export interface ModelServer {
  /** http://host:port, as browsers reach it. */
  readonly origin: string;
  /** The page: origin + /token/. */
  readonly pageUrl: string;
  /** Serves `bytes` at a fresh URL (under the token) until removeModel. */
  addModel(bytes: Uint8Array): { id: string; url: string };
  removeModel(id: string): void;
  close(): Promise<void>;
}

const PAGE_SCRIPT = fileURLToPath(new URL('./page.js', import.meta.url));

// No favicon request (its 404 would be a console error), the page script as a module.
const INDEX_HTML = '<!doctype html><html><head><meta charset="utf-8"><link rel="icon" href="data:,"><title>ofav2 profiler page</title><script type="module" src="page.js"></script></head><body></body></html>\n';

const SECURITY_HEADERS = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
  'Cross-Origin-Resource-Policy': 'same-origin',
  'X-Content-Type-Options': 'nosniff',
  'Cache-Control': 'no-store',
} as const;

type Route = { type: string; file: string } | { type: string; bytes: Uint8Array };

const contentType = (file: string) => (file.endsWith('.wasm') ? 'application/wasm' : file.endsWith('.html') ? 'text/html; charset=utf-8' : 'text/javascript; charset=utf-8');

/** Every file the page may load: the page script and each ORT entry's module and its wasm build. */
function staticRoutes(token: string, ortDist: string): Map<string, Route> {
  const routes = new Map<string, Route>();
  routes.set(`/${token}/`, { type: contentType('.html'), bytes: new TextEncoder().encode(INDEX_HTML) });
  routes.set(`/${token}/page.js`, { type: contentType(PAGE_SCRIPT), file: PAGE_SCRIPT });
  for (const entry of Object.values(ORT_ENTRIES)) {
    for (const name of [entry.module, ...entry.files]) {
      const file = join(ortDist, name);
      if (!existsSync(file)) {
        throw new OfaError('E_EP_UNAVAILABLE', `onnxruntime-web's file ${name} is missing from ${ortDist}`, { hint: 'reinstall onnxruntime-web (`npm ci`)' });
      }
      routes.set(`/${token}/ort/${name}`, { type: contentType(name), file });
    }
  }
  return routes;
}

export async function startModelServer(options: ModelServerOptions): Promise<ModelServer> {
  const host = options.host ?? '127.0.0.1';
  if (!isLoopbackHost(host) && options.allowNonLoopback !== true) {
    throw new OfaError('E_SERVER_BIND', `model server host ${JSON.stringify(host)} is not a loopback address; allowed: 127.0.0.1 (or any 127.x.y.z), ::1, localhost`, {
      hint: 'the server hands models to any client that reaches it: bind it elsewhere only on purpose, with "allowNonLoopback": true in the device\'s browser settings',
    });
  }
  const token = randomBytes(16).toString('hex');
  const routes = staticRoutes(token, options.ortDist);
  const models = new Map<string, Route>();

  const handle = (request: IncomingMessage, response: ServerResponse) => {
    // The raw request target, undecoded: only exact allowlisted paths match.
    const path = (request.url ?? '').split('?')[0];
    const route = routes.get(path) ?? models.get(path);
    if (!route) {
      response.writeHead(404, { ...SECURITY_HEADERS, 'Content-Type': 'text/plain; charset=utf-8' });
      response.end('not found\n');
      return;
    }
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      response.writeHead(405, { ...SECURITY_HEADERS, Allow: 'GET, HEAD', 'Content-Type': 'text/plain; charset=utf-8' });
      response.end('method not allowed\n');
      return;
    }
    const length = 'bytes' in route ? route.bytes.byteLength : statSync(route.file).size;
    response.writeHead(200, { ...SECURITY_HEADERS, 'Content-Type': route.type, 'Content-Length': String(length) });
    if (request.method === 'HEAD') response.end();
    else if ('bytes' in route) response.end(route.bytes);
    else createReadStream(route.file).on('error', () => response.destroy()).pipe(response);
  };

  const server = createServer(handle);
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error) =>
      reject(new OfaError('E_BROWSER', `the model server could not listen on ${host}: ${(error as Error).message}`, { cause: error })),
    );
    server.listen(0, host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const publicHost = options.publicHost ?? host;
  const origin = `http://${publicHost.includes(':') && !publicHost.startsWith('[') ? `[${publicHost}]` : publicHost}:${port}`;
  let closed = false;
  return {
    origin,
    pageUrl: `${origin}/${token}/`,
    addModel(bytes) {
      const id = randomBytes(8).toString('hex');
      models.set(`/${token}/models/${id}.onnx`, { type: 'application/octet-stream', bytes });
      return { id, url: `${origin}/${token}/models/${id}.onnx` };
    },
    removeModel(id) {
      models.delete(`/${token}/models/${id}.onnx`);
    },
    async close() {
      if (closed) return;
      closed = true;
      models.clear();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
