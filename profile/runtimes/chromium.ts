// The chromium runtime: onnxruntime-web's wasm/webgpu EPs inside a real browser (Debian's chromium
// driven by playwright-core, pipeline.md "Runtimes"). This host has neither, so only the availability
// check is implemented: it names what is missing and how to install it. In-page measurement is another
// issue's: time() will send the input plan and the timing request to the page, which fills the inputs
// (profile/inputs.ts), runs the same loop with performance.now() and returns the samples.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { OfaError } from '../../lib/errors.ts';
import type { DeviceProfile } from '../device.ts';
import type { Runtime, RuntimeInfo, RuntimeSession, Timing } from './types.ts';

const require = createRequire(import.meta.url);
const CHROMIUM_PATHS = ['/usr/bin/chromium', '/usr/bin/chromium-browser'];

function missingPieces(): string[] {
  const missing: string[] = [];
  try {
    require.resolve('playwright-core');
  } catch {
    missing.push('the npm package playwright-core (`npm install playwright-core`)');
  }
  if (!CHROMIUM_PATHS.some((path) => existsSync(path))) missing.push(`a chromium executable at ${CHROMIUM_PATHS.join(' or ')} (\`apt-get install chromium\`)`);
  return missing;
}

export const chromium: Runtime = {
  name: 'chromium',
  executionProviders: ['wasm', 'webgpu'],

  async check(device: DeviceProfile) {
    const missing = missingPieces();
    if (missing.length > 0) {
      throw new OfaError('E_EP_UNAVAILABLE', `device ${device.name}: runtime chromium cannot start on this host: missing ${missing.join('; ')}`, {
        hint: `install them${device.executionProvider === 'webgpu' ? '; webgpu also needs a GPU adapter visible to chromium' : ''}`,
        kind: 'failure',
      });
    }
    throw new OfaError('E_RUNTIME_UNIMPLEMENTED', `device ${device.name}: the chromium runtime's in-page measurement is not implemented yet`, {
      hint: 'use runtime onnxruntime-web (wasm inside Node) meanwhile',
      kind: 'failure',
    });
  },

  async info(): Promise<RuntimeInfo> {
    return { name: 'chromium', version: 'chromium (not available)', settings: {} };
  },

  async createSession(_model: Uint8Array, device: DeviceProfile): Promise<RuntimeSession> {
    await this.check(device);
    throw new Error('unreachable');
  },

  async time(): Promise<Timing> {
    throw new OfaError('E_RUNTIME_UNIMPLEMENTED', "the chromium runtime's in-page measurement is not implemented yet", { kind: 'failure' });
  },
};
