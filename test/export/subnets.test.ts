// Issue 5, "Done when": for every variant, >= 50 random subnets of the micro preset: onnxruntime-node
// (cpu) equals the tfjs eval-mode forward (staticForward) within 1e-4 max abs on batches of 1 and 8,
// onnxruntime-web (wasm in Node) gives the same outputs, and the graph's MACs and params, counted by an
// independent walker, equal space/cost.ts.
import test from 'ava';
import { decodeModel, encodeModel, exportSubnet, randomStaticSubnet, summarizeModel } from '../../export/index.ts';
import { createRng } from '../../lib/rng.ts';
import { VARIANT_NAMES, sampleMax, sampleMin, sampleRandom, subnetCost, type SubnetConfig } from '../../space/index.ts';
import { staticForward } from '../../train/static_forward.ts';
import { countGraph } from './graph-counter.ts';
import { closeSessions, maxAbsDiff, nhwcToNchw, openSessions, randomImages, runNode, runWeb, tf, useCpuBackend } from './harness.ts';

const SUBNETS_PER_VARIANT = 50;
const TOLERANCE = 1e-4;
const BATCHES = [1, 8];

test.before(useCpuBackend);

function configsOf(variant: string): SubnetConfig[] {
  const space = { preset: 'micro', variant };
  const configs = [sampleMin(space), sampleMax(space)];
  for (let seed = 0; configs.length < SUBNETS_PER_VARIANT; seed++) configs.push(sampleRandom(space, createRng(1000 * VARIANT_NAMES.indexOf(variant as never) + seed)));
  return configs;
}

for (const variant of VARIANT_NAMES) {
  test(`${variant}: ${SUBNETS_PER_VARIANT} micro subnets, ONNX (node cpu, web wasm) == tfjs eval forward, graph MACs/params == space/cost.ts`, async (t) => {
    const configs = configsOf(variant);
    let worstNode = 0;
    let worstWeb = 0;
    let worstScale = 0;
    for (const [i, config] of configs.entries()) {
      const subnet = randomStaticSubnet(config, i);
      const bytes = encodeModel(exportSubnet(subnet, { source: `random-init:seed=${i}` }));
      // Independent count vs the analytic count, and the exporter's own inspector vs both.
      const cost = subnetCost(config);
      const counted = countGraph(bytes);
      t.is(counted.macs, cost.macs, `${variant} #${i} MACs`);
      t.is(counted.params, cost.deployedParams, `${variant} #${i} params`);
      const summary = summarizeModel(decodeModel(bytes));
      t.is(summary.macs, cost.macs);
      t.is(summary.params, cost.deployedParams);
      t.is(Number(summary.metadata.macs), cost.macs);
      // Every 10th model with the deployment optimisation level ('all'), the others 'basic' (faster).
      const sessions = await openSessions(bytes, i % 10 === 0 ? 'all' : 'basic');
      try {
        // One tfjs forward of 1 + 8 images serves both batch sizes (eval mode: samples are independent).
        const r = config.resolution;
        const c = subnet.inputChannels;
        const total = BATCHES.reduce((a, b) => a + b, 0);
        const allImages = randomImages(7919 * i, total, r, c);
        const allExpected = tf.tidy(() => staticForward(subnet, tf.tensor4d(allImages, [total, r, r, c])).dataSync() as Float32Array);
        let offset = 0;
        for (const batch of BATCHES) {
          const images = allImages.subarray(offset * r * r * c, (offset + batch) * r * r * c);
          const expected = allExpected.subarray(offset * subnet.numClasses, (offset + batch) * subnet.numClasses);
          offset += batch;
          const input = { input: { data: nhwcToNchw(images, batch, r, c), dims: [batch, c, r, r] } };
          const fromNode = await runNode(sessions.node, input);
          const fromWeb = await runWeb(sessions.web, input);
          t.deepEqual([...fromNode.dims], [batch, subnet.numClasses]);
          t.deepEqual([...fromWeb.dims], [batch, subnet.numClasses]);
          const dNode = maxAbsDiff(fromNode.data, expected);
          const dWeb = maxAbsDiff(fromWeb.data, expected);
          worstNode = Math.max(worstNode, dNode);
          worstWeb = Math.max(worstWeb, dWeb);
          worstScale = Math.max(worstScale, maxAbsDiff(expected, new Float32Array(expected.length)));
          if (dNode > TOLERANCE || dWeb > TOLERANCE) t.fail(`${variant} #${i} batch ${batch}: max abs diff node ${dNode}, web ${dWeb} (config ${JSON.stringify(config)})`);
        }
      } finally {
        await closeSessions(sessions);
      }
    }
    t.log(`${variant}: ${configs.length} subnets, worst max abs diff node ${worstNode.toExponential(2)}, web ${worstWeb.toExponential(2)}, largest |logit| ${worstScale.toFixed(2)}`);
    t.true(worstNode <= TOLERANCE && worstWeb <= TOLERANCE);
  });
}
