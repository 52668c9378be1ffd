// What a rerun of `ofa deploy` reuses (deploy/schema.ts, issue 18): an earlier bundle manifest whose
// figures are garbage, or a damaged gate record, is not reused (it is made again), even when the inputs
// hash and the model checksum match.
import test from 'ava';
import { bundleManifestFault, reusableGateRecord } from '../../deploy/schema.ts';
import { createRng } from '../../lib/rng.ts';
import { sampleRandom } from '../../space/index.ts';

const HEX = 'ab'.repeat(32);
const manifest = {
  format: 'ofav2/deploy-bundle',
  formatVersion: 1,
  device: 'cpu-1t',
  budgetMs: 1,
  id: '0123456789abcdef',
  config: sampleRandom({ preset: 'micro', variant: 'ee-d' }, createRng(1)),
  predicted: { latencyMs: 0.8, top1: 0.7 },
  measured: { medianMs: 0.9, p90Ms: 1, fastestMs: 0.85, samples: 64, protocol: { warmupRuns: 10, minSamples: 64, minTimeMs: 1000 } },
  trueTop1: 0.71,
  testImages: 96,
  macs: 1e5,
  params: 1e4,
  model: { file: 'model.onnx', sha256: HEX, bytes: 1000 },
  verify: { images: 64, maxAbsDiff: 1e-6, tolerance: 1e-4, runtime: 'onnxruntime-node', executionProvider: 'cpu', onnxChecker: { ran: false } },
  supernetChecksum: `sha256:${HEX}`,
  tries: [],
  inputs: {},
  inputsHash: HEX,
};

test('a sound manifest is reusable; garbage figures are not, each named by its path', (t) => {
  t.is(bundleManifestFault(manifest), undefined);
  const cases: [string, unknown, RegExp][] = [
    ['true top-1 57', { ...manifest, trueTop1: 57 }, /^\$\.trueTop1: must be <= 1$/],
    ['negative latency', { ...manifest, measured: { ...manifest.measured, medianMs: -1 } }, /^\$\.measured\.medianMs: must be > 0$/],
    ['bad config', { ...manifest, config: { ...manifest.config, resolution: 9 } }, /^\$\.config: must be a valid subnet config$/],
    ['another model file', { ...manifest, model: { ...manifest.model, file: '../x.onnx' } }, /^\$\.model\.file: must be "model\.onnx"$/],
    ['not an object', null, /^\$: must be an object/],
  ];
  for (const [name, value, pattern] of cases) t.regex(bundleManifestFault(value) ?? '', pattern, name);
  t.false(reusableGateRecord({ logRatios: [1] }));
  t.false(reusableGateRecord(null));
});
