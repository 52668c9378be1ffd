// The evaluation fast path (BatchNormMode.fusedEval): BN + activation as the project's fused kernel with
// the running statistics gives the logits of the regular eval forward (tfjs BN, then the activation).
import test from 'ava';
import * as tf from '@tensorflow/tfjs-core';
import { createRng } from '../../../lib/rng.ts';
import { VARIANT_NAMES, sampleRandom, sampleMax } from '../../../space/index.ts';
import { initBackend } from '../../../train/backend/index.ts';
import { Supernet } from '../../../train/supernet/index.ts';
import { perturb, randomImages } from '../fixtures/supernet.ts';

for (const backend of ['wasm', 'cpu'] as const) {
  test.serial(`${backend}: fused eval forward == eval forward (<= 1e-4 of the logit scale), every variant`, async (t) => {
    await initBackend({ prefer: backend, log: false });
    let worst = 0;
    for (const variant of VARIANT_NAMES) {
      const net = new Supernet({ preset: 'micro', variant, seed: 9 });
      perturb(net, 4);
      const rng = createRng(2);
      const configs = [sampleMax({ preset: 'micro', variant }), ...Array.from({ length: 4 }, () => sampleRandom({ preset: 'micro', variant }, rng))];
      for (const [i, config] of configs.entries()) {
        const images = randomImages(6, config.resolution, 1, 10 + i);
        const [plain, fused] = tf.tidy(() => [net.forward(config, images, { training: false }).dataSync(), net.forward(config, images, { training: false, fusedEval: true }).dataSync()]);
        let scale = 0;
        let diff = 0;
        for (let k = 0; k < plain.length; k++) {
          scale = Math.max(scale, Math.abs(plain[k]));
          diff = Math.max(diff, Math.abs(plain[k] - fused[k]));
        }
        t.true(scale > 1e-3, 'logits are not trivial');
        worst = Math.max(worst, diff / scale);
        tf.dispose(images);
      }
      net.dispose();
    }
    t.log(`${backend}: worst relative difference ${worst.toExponential(2)}`);
    t.true(worst <= 1e-4);
  });
}
