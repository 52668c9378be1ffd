// The ONNX project's own checker (onnx.checker.check_model with full_check: the graph's structure, every
// node against its operator schema at the model's opset, and shape inference), run where the `onnx`
// Python package is available: Debian's python3-onnx (`apt-get install python3-onnx`) for /usr/bin/python3,
// or any python3 that can import it. An independent second opinion on the exporter's output: the ONNX
// files are written by our own protobuf code, and onnxruntime accepts some models the spec does not.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export type OnnxCheckerResult =
  | { available: true; ok: true; onnxVersion: string; python: string }
  | { available: true; ok: false; onnxVersion: string; python: string; message: string }
  | { available: false; reason: string };

const SCRIPT = [
  'import sys',
  'import onnx',
  'print("onnx " + onnx.__version__, flush=True)',
  'onnx.checker.check_model(onnx.load(sys.argv[1]), full_check=True)',
].join('\n');

/** Pythons tried in order: $OFA_PYTHON, Debian's (where python3-onnx installs), then python3 on PATH. */
function candidates(): string[] {
  return [...new Set([process.env.OFA_PYTHON, '/usr/bin/python3', 'python3'].filter((p): p is string => Boolean(p)))];
}

let found: { python: string; onnxVersion: string } | { reason: string } | undefined;

/** The first python of `pythons` that imports onnx (the default list's answer is cached per process). */
function findChecker(pythons?: readonly string[]): { python: string; onnxVersion: string } | { reason: string } {
  if (!pythons && found) return found;
  const tried: string[] = [];
  let result: { python: string; onnxVersion: string } | { reason: string } | undefined;
  for (const python of pythons ?? candidates()) {
    const probe = spawnSync(python, ['-c', 'import onnx; print(onnx.__version__)'], { encoding: 'utf8', timeout: 60_000 });
    if (probe.status === 0) {
      result = { python, onnxVersion: probe.stdout.trim() };
      break;
    }
    tried.push(`${python}: ${probe.error ? probe.error.message : (probe.stderr.trim().split('\n').pop() ?? `exit ${probe.status}`)}`);
  }
  result ??= { reason: `no python with the onnx package (${tried.join('; ')}); install it with \`apt-get install python3-onnx\` or set OFA_PYTHON` };
  if (!pythons) found = result;
  return result;
}

/**
 * Runs the ONNX checker on model bytes; `available: false` (with the reason) where there is none.
 * `pythons` replaces the default list of interpreters to try.
 */
export function checkOnnxModel(model: Uint8Array, options: { pythons?: readonly string[] } = {}): OnnxCheckerResult {
  const checker = findChecker(options.pythons);
  if ('reason' in checker) return { available: false, reason: checker.reason };
  const dir = mkdtempSync(join(tmpdir(), 'ofa-onnx-check-'));
  try {
    const file = join(dir, 'model.onnx');
    writeFileSync(file, model);
    const run = spawnSync(checker.python, ['-c', SCRIPT, file], { encoding: 'utf8', timeout: 300_000, maxBuffer: 16 << 20 });
    if (run.status === 0) return { available: true, ok: true, onnxVersion: checker.onnxVersion, python: checker.python };
    const message = run.error ? run.error.message : run.stderr.trim().split('\n').filter((line) => line.trim() !== '').slice(-3).join(' | ');
    return { available: true, ok: false, onnxVersion: checker.onnxVersion, python: checker.python, message };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
