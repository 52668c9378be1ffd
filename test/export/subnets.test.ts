// Issue 5, "Done when": for every variant, >= 50 random subnets of the micro preset: onnxruntime-node
// (cpu) equals the tfjs eval-mode forward (staticForward) within 1e-4 max abs on batches of 1 and 8,
// onnxruntime-web (wasm in Node) gives the same outputs (checked against tfjs and against onnxruntime-node
// directly), and the graph's MACs and params, counted by an independent walker, equal space/cost.ts. The
// 50 subnets of a variant are 50 distinct configs (by config id).
import test from 'ava';
import { encodeModel, exportSubnet, randomStaticSubnet, summarizeModel } from '../../export/index.ts';
import { decodeModel } from '../../export/onnx.ts';
import { createRng } from '../../lib/rng.ts';
import { VARIANT_NAMES, configId, sampleMax, sampleMin, sampleRandom, subnetCost, type SubnetConfig } from '../../space/index.ts';
import { staticForward } from '../../subnet/index.ts';
import { countGraph } from './graph-counter.ts';
import { closeSessions, maxAbsDiff, nhwcToNchw, openSessions, randomImages, runNode, runWeb, tf, useCpuBackend } from './harness.ts';

const SUBNETS_PER_VARIANT = 50;
const TOLERANCE = 1e-4;
const BATCHES = [1, 8];
/** Random draws allowed per variant before giving up on finding enough distinct configs. */
const MAX_DRAWS = 20 * SUBNETS_PER_VARIANT;

test.before(useCpuBackend);

/** The min and max subnets, then seeded random ones, skipping any config id already drawn. */
function configsOf(variant: string): SubnetConfig[] {
  const space = { preset: 'micro', variant };
  const byId = new Map<string, SubnetConfig>();
  for (const config of [sampleMin(space), sampleMax(space)]) byId.set(configId(config), config);
  for (let seed = 0; byId.size < SUBNETS_PER_VARIANT && seed < MAX_DRAWS; seed++) {
    const config = sampleRandom(space, createRng(1000 * VARIANT_NAMES.indexOf(variant as never) + seed));
    if (!byId.has(configId(config))) byId.set(configId(config), config);
  }
  return [...byId.values()];
}

for (const variant of VARIANT_NAMES) {
  test(`${variant}: ${SUBNETS_PER_VARIANT} micro subnets, ONNX (node cpu, web wasm) == tfjs eval forward, graph MACs/params == space/cost.ts`, async (t) => {
    const configs = configsOf(variant);
    t.is(new Set(configs.map(configId)).size, SUBNETS_PER_VARIANT, `${variant}: distinct config ids`);
    let worstNode = 0;
    let worstWeb = 0;
    let worstNodeWeb = 0;
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
          const dNodeWeb = maxAbsDiff(fromNode.data, fromWeb.data);
          worstNode = Math.max(worstNode, dNode);
          worstWeb = Math.max(worstWeb, dWeb);
          worstNodeWeb = Math.max(worstNodeWeb, dNodeWeb);
          worstScale = Math.max(worstScale, maxAbsDiff(expected, new Float32Array(expected.length)));
          if (dNode > TOLERANCE || dWeb > TOLERANCE || dNodeWeb > TOLERANCE) {
            t.fail(`${variant} #${i} batch ${batch}: max abs diff node ${dNode}, web ${dWeb}, node vs web ${dNodeWeb} (config ${JSON.stringify(config)})`);
          }
        }
      } finally {
        await closeSessions(sessions);
      }
    }
    t.log(
      `${variant}: ${configs.length} distinct subnets, worst max abs diff vs tfjs: node ${worstNode.toExponential(2)}, web ${worstWeb.toExponential(2)}; ` +
        `node vs web ${worstNodeWeb.toExponential(2)}; largest |logit| ${worstScale.toFixed(2)}`,
    );
    t.true(worstNode <= TOLERANCE && worstWeb <= TOLERANCE && worstNodeWeb <= TOLERANCE);
  });
}
