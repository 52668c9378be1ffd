// The ONNX project's checker (export/checker.ts) on the exporter's output: every variant's min, max and
// random micro subnets pass onnx.checker.check_model(full_check=True); a model with an operator the spec
// does not have, or a node input that nothing produces, fails with the checker's message; without a
// python that has the onnx package the result says so. .ci/run installs Debian's python3-onnx.
import test from 'ava';
import { checkOnnxModel, encodeModel, exportSubnet, randomStaticSubnet } from '../../export/index.ts';
import { createRng } from '../../lib/rng.ts';
import { VARIANT_NAMES, sampleMax, sampleMin, sampleRandom } from '../../space/index.ts';
import { useCpuBackend } from './harness.ts';

test.before(useCpuBackend);

const modelOf = (variant: string, kind: 'min' | 'max' | number) => {
  const space = { preset: 'micro', variant };
  const config = kind === 'min' ? sampleMin(space) : kind === 'max' ? sampleMax(space) : sampleRandom(space, createRng(kind));
  return exportSubnet(randomStaticSubnet(config, 3), { source: 'random-init:seed=3' });
};

test('every variant: min, max and two random micro subnets pass the ONNX checker (full check)', (t) => {
  for (const variant of VARIANT_NAMES) {
    for (const kind of ['min', 'max', 11, 12] as const) {
      const result = checkOnnxModel(encodeModel(modelOf(variant, kind)));
      t.true(result.available, `${variant} ${kind}: ${'reason' in result ? result.reason : ''}`);
      if (result.available) t.true(result.ok, `${variant} ${kind}: ${'message' in result ? result.message : ''}`);
    }
  }
});

test('a model the spec refuses fails with the checker\'s message: an unknown operator, a dangling input', (t) => {
  const unknownOp = modelOf('ee-d', 'max');
  unknownOp.graph!.node![0].opType = 'NotAnOperator';
  const first = checkOnnxModel(encodeModel(unknownOp));
  t.true(first.available && !first.ok);
  if (first.available && !first.ok) t.regex(first.message, /NotAnOperator/);

  const dangling = modelOf('ofa', 'min');
  dangling.graph!.node![1].input![0] = 'nothing_produces_this';
  const second = checkOnnxModel(encodeModel(dangling));
  t.true(second.available && !second.ok);
  if (second.available && !second.ok) t.regex(second.message, /nothing_produces_this/);
});

test('without a python that has the onnx package: not available, with the reason and the install command', (t) => {
  const result = checkOnnxModel(encodeModel(modelOf('ofa', 'min')), { pythons: ['/nonexistent/python3'] });
  t.false(result.available);
  if (!result.available) {
    t.regex(result.reason, /\/nonexistent\/python3/);
    t.regex(result.reason, /apt-get install python3-onnx/);
  }
});
