// A process that opens one session on a chromium device and then waits (chromium-faults.test.ts sends
// it Ctrl-C): prints {"pid", "origin"} once the browser and the model server are up.
import { loadDevice } from '../../../profile/index.ts';
import { chromium, type ChromiumSession } from '../../../profile/runtimes/chromium.ts';
import { matmulModel } from '../fixtures.ts';

const session: ChromiumSession = await chromium.createSession(matmulModel(['batch', 16]), loadDevice(process.argv[2] ?? 'chromium-wasm-1t'));
process.stdout.write(`${JSON.stringify({ pid: process.pid, origin: session.handle.server.origin })}\n`);
setInterval(() => {}, 1000);
