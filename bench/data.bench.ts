// Data figures: Fashion-MNIST cache build and load times and size, the training split's pixel
// statistics (the spec's mean/std), and the cost of preparing one batch (to judge whether prefetch in
// the same thread is enough or a worker thread is needed).
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRng } from '../lib/rng.ts';
import { BatchIterator, FASHION_MNIST_SPEC, TINY_IMAGENET_SPEC, fashionCachePaths, loadFashionMnist } from '../train/data/index.ts';

function time<T>(fn: () => T): [T, number] {
  const started = performance.now();
  const value = fn();
  return [value, performance.now() - started];
}

export async function run(): Promise<void> {
  const cacheDir = mkdtempSync(join(tmpdir(), 'ofav2-bench-data-'));
  try {
    const [, buildMs] = time(() => loadFashionMnist({ cacheDir, log: () => undefined }));
    const [splits, loadMs] = time(() => loadFashionMnist({ cacheDir }));
    const [, loadNoVerifyMs] = time(() => loadFashionMnist({ cacheDir, verify: false }));
    const bytes = statSync(fashionCachePaths(cacheDir).data).size + statSync(fashionCachePaths(cacheDir).header).size;
    console.log(`fashion-mnist cache: build ${(buildMs / 1000).toFixed(2)} s (first load), ${(bytes / 1e6).toFixed(2)} MB; load ${loadMs.toFixed(0)} ms (sha256 checked), ${loadNoVerifyMs.toFixed(0)} ms (not checked)`);
    console.log(`fashion-mnist split: train ${splits.train.count}, validation ${splits.validation.count}, test ${splits.test.count}`);
    let sum = 0;
    let squares = 0;
    let n = 0;
    for (const set of [splits.train, splits.validation]) {
      for (const v of set.pixels) {
        sum += v / 255;
        squares += (v / 255) ** 2;
      }
      n += set.pixels.length;
    }
    const mean = sum / n;
    console.log(`fashion-mnist training pixels: mean ${mean.toFixed(4)}, std ${Math.sqrt(squares / n - mean * mean).toFixed(4)} (spec: ${FASHION_MNIST_SPEC.mean[0]}, ${FASHION_MNIST_SPEC.std[0]})`);

    const measure = (label: string, iterator: BatchIterator) => {
      iterator.batchAt(0, 0);
      const batches = 40;
      const [, ms] = time(() => {
        for (let b = 0; b < batches; b++) iterator.batchAt(0, b % iterator.batchesPerEpoch);
      });
      console.log(`${label}: ${(ms / batches).toFixed(2)} ms per batch of ${iterator.batchSize}`);
    };
    for (const resolution of [20, 28, 32]) {
      measure(`fashion batch, augmented, resolution ${resolution}`, new BatchIterator(splits.train, FASHION_MNIST_SPEC, { batchSize: 64, resolutions: [resolution] }));
    }
    const rng = createRng(1);
    const count = 256;
    const tiny = { count, height: 64, width: 64, channels: 3, pixels: Uint8Array.from({ length: count * 64 * 64 * 3 }, () => rng.int(256)), labels: new Uint8Array(count) };
    for (const resolution of [48, 64]) {
      measure(`tiny-imagenet-sized batch (64x64x3), augmented, resolution ${resolution}`, new BatchIterator(tiny, TINY_IMAGENET_SPEC, { batchSize: 64, resolutions: [resolution] }));
    }
  } finally {
    rmSync(cacheDir, { recursive: true, force: true });
  }
}
