// onnxruntime-node: the native runtime (pipeline.md "Runtimes"). Its bundled EPs on Linux x64 are cpu
// and webgpu; cuda and tensorrt need EP libraries that the package's install script fetches (skipped
// on these machines with onnxruntime-node-install=skip).
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { OfaError } from '../../lib/errors.ts';
import type { DeviceProfile } from '../device.ts';
import { timeOrtSession, inferOrtSession, wrapOrtSession, type OrtSession } from './ort.ts';
import type { Runtime, RuntimeInfo } from './types.ts';

const require = createRequire(import.meta.url);
type Ort = typeof import('onnxruntime-node');

let ortModule: Ort | undefined;
function ort(): Ort {
  ortModule ??= require('onnxruntime-node') as Ort;
  return ortModule;
}

function packageVersion(): string {
  return (require('onnxruntime-node/package.json') as { version: string }).version;
}

/** Where the native binding and its EP libraries live. */
function binaryFolder(): string {
  const packageRoot = dirname(require.resolve('onnxruntime-node/package.json'));
  return join(packageRoot, 'bin', 'napi-v6', process.platform, process.arch);
}

/** The EP libraries each non-bundled EP needs beside the binding (from the package's install manifest). */
const EP_LIBRARIES: Record<string, string[]> = {
  cuda: ['libonnxruntime_providers_shared.so', 'libonnxruntime_providers_cuda.so'],
  tensorrt: ['libonnxruntime_providers_shared.so', 'libonnxruntime_providers_tensorrt.so'],
};

/** What a user does to make each EP start (shown with every EP error). */
const EP_INSTALL_HINTS: Record<string, string> = {
  cuda:
    'install the CUDA EP binaries: `npm install onnxruntime-node --onnxruntime-node-install=cuda12` ' +
    '(Linux x64 only; needs an NVIDIA GPU with a CUDA 12 driver, and cuDNN 9 on the library path)',
  tensorrt:
    'install the CUDA EP binaries (`npm install onnxruntime-node --onnxruntime-node-install=cuda12`) and TensorRT 10 ' +
    'libraries; needs an NVIDIA GPU with a CUDA 12 driver',
  webgpu:
    'the webgpu EP is bundled but needs a GPU adapter: on Linux a GPU with a Vulkan driver (libvulkan.so.1 and the ' +
    'vendor ICD), on Windows D3D12, on macOS Metal; on Linux without a GPU, SwiftShader (shipped with Debian\'s chromium) serves: start ' +
    'with VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json and libvulkan.so.1 loadable (LD_LIBRARY_PATH=/usr/lib/chromium, or ' +
    '`apt-get install libvulkan1`)',
  dml: 'DirectML is bundled only in the Windows builds of onnxruntime-node',
  coreml: 'CoreML is bundled only in the macOS builds of onnxruntime-node',
};

interface SupportedBackend {
  name: string;
  bundled: boolean;
}

function supportedBackends(): SupportedBackend[] {
  return (ort() as unknown as { listSupportedBackends: () => SupportedBackend[] }).listSupportedBackends();
}

/** The session options exactly as handed to InferenceSession.create (recorded with every result). */
export function sessionOptions(device: DeviceProfile): Record<string, unknown> {
  const ep = device.executionProvider;
  const epOptions = device.executionProviderOptions ?? {};
  const sessionConfig: Record<string, unknown> = {
    intra_op: { allow_spinning: device.session.allowSpinning ? '1' : '0' },
  };
  // Refuse silent fallback (pipeline.md): with another EP asked for, a node that EP cannot run must fail
  // session creation instead of quietly running on the CPU EP.
  if (ep !== 'cpu') sessionConfig.disable_cpu_ep_fallback = '1';
  return {
    executionProviders: [Object.keys(epOptions).length > 0 ? { name: ep, ...epOptions } : ep],
    intraOpNumThreads: device.session.intraOpNumThreads,
    interOpNumThreads: device.session.interOpNumThreads,
    executionMode: device.session.executionMode,
    graphOptimizationLevel: device.session.graphOptimizationLevel,
    logSeverityLevel: 3,
    extra: { session: sessionConfig },
  };
}

function unavailable(device: DeviceProfile, what: string, cause?: unknown): OfaError {
  const ep = device.executionProvider;
  return new OfaError(
    'E_EP_UNAVAILABLE',
    `device ${device.name}: execution provider ${JSON.stringify(ep)} of onnxruntime-node ${packageVersion()} cannot start on this host (${process.platform}/${process.arch}): ${what}`,
    { hint: EP_INSTALL_HINTS[ep] ?? `available here: ${supportedBackends().map((b) => b.name).join(', ')}`, kind: 'failure', cause },
  );
}

/** onnxruntime's messages start with a source location and a failed assertion: keep the readable part. */
function conciseError(message: string): string {
  const line = message.split('\n')[0].trim();
  const readable = /was false\.\s*(.+)$/.exec(line)?.[1] ?? /\]\s*:\s*\d+\s*:\s*\w+\s*:\s*(.+)$/.exec(line)?.[1];
  return readable ?? line;
}

export const onnxruntimeNode: Runtime<OrtSession> = {
  name: 'onnxruntime-node',
  // Every EP a build of onnxruntime-node may have (check() says which this host's build has and starts).
  executionProviders: ['cpu', 'cuda', 'tensorrt', 'webgpu', 'dml', 'coreml'],

  async check(device) {
    const ep = device.executionProvider;
    const backends = supportedBackends();
    const backend = backends.find((b) => b.name === ep);
    if (!backend) {
      throw unavailable(device, `this build has no such EP; its EPs: ${backends.map((b) => `${b.name}${b.bundled ? '' : ' (separate install)'}`).join(', ')}`);
    }
    if (!backend.bundled) {
      const folder = binaryFolder();
      const missing = (EP_LIBRARIES[ep] ?? []).filter((file) => !existsSync(join(folder, file)));
      if (missing.length > 0) {
        throw unavailable(
          device,
          `missing ${missing.join(', ')} in ${folder} (onnxruntime-node was installed without its ${ep} EP binaries, e.g. with onnxruntime-node-install=skip)`,
        );
      }
    }
  },

  async info(device): Promise<RuntimeInfo> {
    return { name: 'onnxruntime-node', version: `onnxruntime-node ${packageVersion()}`, settings: { sessionOptions: sessionOptions(device) } };
  },

  async createSession(model, device): Promise<OrtSession> {
    await this.check(device);
    const { InferenceSession, Tensor } = ort();
    let session: Awaited<ReturnType<typeof InferenceSession.create>>;
    try {
      session = await InferenceSession.create(model, sessionOptions(device) as never);
    } catch (error) {
      const message = (error as Error).message ?? String(error);
      // The model itself is bad (not an EP problem): report it as such.
      if (/protobuf parsing failed|Failed to load model|INVALID_PROTOBUF|INVALID_GRAPH|Load model .* failed/i.test(message)) {
        throw new OfaError('E_MODEL', `onnxruntime-node could not load the model: ${message.split('\n')[0]}`, { kind: 'bad-input', cause: error });
      }
      if (device.executionProvider !== 'cpu') throw unavailable(device, conciseError(message), error);
      throw new OfaError('E_SESSION', `onnxruntime-node could not create a session on ${device.name}: ${message.split('\n')[0]}`, { kind: 'failure', cause: error });
    }
    return wrapOrtSession(session as never, Tensor as never);
  },

  time: timeOrtSession,
  infer: inferOrtSession,
};
