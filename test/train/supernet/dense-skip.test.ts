// ofav2.md s1: the dense-skip wiring of the paper's code, written out by hand for depths 2, 3 and 4 and
// compared with the supernet's forward, the static forward, the geometry's term counts and the costs.
import test from 'ava';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { denseSkipTerms, sampleMax, subnetGeometry, type SubnetConfig } from '../../../space/index.ts';
import type { StaticStage } from '../../../subnet/index.ts';
import { applyConv, applyHead, applyLayer, applyMBConv, applyStage } from '../../../subnet/forward.ts';
import { Supernet } from '../../../train/supernet/index.ts';
import { maxAbsDiff, perturb, randomImages } from '../fixtures/supernet.ts';

await tf.setBackend('cpu');

test('denseSkipTerms: y_n, then y_1 .. y_{n-2} (0-based indices)', (t) => {
  t.deepEqual(denseSkipTerms(1), [0]);
  t.deepEqual(denseSkipTerms(2), [1]);
  t.deepEqual(denseSkipTerms(3), [2, 0]);
  t.deepEqual(denseSkipTerms(4), [3, 0, 1]);
  t.throws(() => denseSkipTerms(0));
});

/** The stage by hand: layer d reads y_{d-1} + sum_{j<=d-3} y_j; the output at depth D is y_D + sum_{j<=D-2} y_j. */
function handStage(x: tf.Tensor4D, stage: StaticStage): tf.Tensor4D {
  const [l1, l2, l3, l4] = stage.layers;
  const y1 = applyLayer(x, l1);
  const y2 = applyLayer(y1, l2);
  if (stage.layers.length === 2) return y2;
  const y3 = applyLayer(y2, l3);
  if (stage.layers.length === 3) return tf.add(y3, y1);
  const y4 = applyLayer(tf.add(y3, y1), l4);
  return tf.add(tf.add(y4, y1), y2);
}

for (const depth of [2, 3, 4]) {
  test(`depth ${depth}: supernet forward and static stage equal the hand-written wiring (micro ee-d)`, (t) => {
    const net = new Supernet({ preset: 'micro', variant: 'ee-d', seed: 5 });
    perturb(net, 11);
    const max = sampleMax({ preset: 'micro', variant: 'ee-d' });
    const config: SubnetConfig = { ...max, stages: max.stages.map((s) => ({ ...s, depth, layers: s.layers.slice(0, depth) })) };
    const geometry = subnetGeometry(config);
    const outputTerms = { 2: 1, 3: 2, 4: 3 }[depth];
    t.true(geometry.stages.every((s) => s.outputTerms === outputTerms));
    t.deepEqual(geometry.stages[0].layers.map((l) => l.inputTerms), [1, 1, 1, 2].slice(0, depth));
    const subnet = net.extractSubnet(config);
    const images = randomImages(4, config.resolution, 1, 3);
    const [expected, viaStatic, viaSupernet] = tf.tidy(() => {
      let x = applyMBConv(applyConv(images, subnet.stem.conv), subnet.stem.block);
      let y = x;
      for (const stage of subnet.stages) {
        x = handStage(x, stage);
        y = applyStage(y, stage);
      }
      return [applyHead(x, subnet.head), applyHead(y, subnet.head), net.forward(config, images, { training: false })].map((v) => tf.keep(v));
    });
    t.true(maxAbsDiff(expected, expected) === 0 && maxAbsDiff(expected, tf.zerosLike(expected)) > 1e-3, 'the logits are not trivial');
    t.true(maxAbsDiff(expected, viaStatic) <= 1e-5, 'static forward');
    t.true(maxAbsDiff(expected, viaSupernet) <= 1e-5, 'supernet forward');
    tf.dispose([images, expected, viaStatic, viaSupernet]);
    net.dispose();
  });
}
