// tfjs-core ships its gradient functions only in its ES-module build (dist/gradients/*_grad.js);
// the CommonJS build that `import '@tensorflow/tfjs-core'` resolves to under Node registers none,
// so tf.grads fails with "gradient function not found for RealDiv" until they are registered.
// The union package @tensorflow/tfjs would do this, but it is not a dependency (pipeline.md: core +
// backends only). We load every *_grad.js module once and register its config into the (global)
// gradient registry. The ES build's ops share the global engine with the CommonJS build
// (tfjs keeps its engine, registries and Tensor instanceof check on globalThis for exactly this).
import * as tf from '@tensorflow/tfjs-core';
import { readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

// Prod_grad.js imports '../base', whose `export * from './gradients'` is ambiguous (a file and a
// folder of that name) for Node's ES resolver; Prod is not used by the supernet.
const SKIPPED = new Set(['Prod_grad.js']);

let registered: Promise<number> | undefined;

/** dy of a reduction, reshaped to keep the reduced axes as 1, then broadcast back to x's shape by an
 *  Add to zeros (wasm's Tile is an element-by-element loop: 3x slower step when used here). */
function broadcastBack(dy: tf.Tensor, x: tf.Tensor, axis: number | number[], scale: number): tf.Tensor {
  const axes = tf.util.parseAxisParam(axis, x.shape);
  const kept = x.shape.map((size, k) => (axes.includes(k) ? 1 : size));
  const expanded = tf.reshape(dy, kept);
  return tf.add(tf.zerosLike(x), scale === 1 ? expanded : tf.div(expanded, scale));
}

/**
 * Gradients that replace tfjs-core's. Sum and Mean: tfjs multiplies dy by ones(x.shape), which fills
 * a full-size array of ones in JavaScript and copies it into the backend (116 MB per 32-image step of
 * the fashion max subnet, every BN's statistics); zeros + dy does the same inside the backend.
 */
const PROJECT_GRADIENTS: tf.GradConfig[] = [
  {
    kernelName: tf.Sum,
    inputsToSave: ['x'],
    gradFunc: (dy, saved, attrs) => {
      const [x] = saved;
      return { x: () => broadcastBack(dy as tf.Tensor, x, (attrs as unknown as tf.SumAttrs).axis, 1) };
    },
  },
  {
    kernelName: tf.Mean,
    inputsToSave: ['x'],
    gradFunc: (dy, saved, attrs) => {
      const [x] = saved;
      const axes = tf.util.parseAxisParam((attrs as unknown as tf.MeanAttrs).axis, x.shape);
      const count = axes.reduce((n, k) => n * x.shape[k], 1);
      return { x: () => broadcastBack(dy as tf.Tensor, x, axes, count) };
    },
  },
];

function isGradConfig(value: unknown): value is tf.GradConfig {
  return typeof value === 'object' && value !== null && 'kernelName' in value && 'gradFunc' in value;
}

/** Registers tfjs-core's own gradient functions (once per thread); resolves to how many. */
export function registerCoreGradients(): Promise<number> {
  registered ??= (async () => {
    const require = createRequire(import.meta.url);
    const root = path.dirname(require.resolve('@tensorflow/tfjs-core/package.json'));
    const dir = path.join(root, 'dist', 'gradients');
    const files = readdirSync(dir).filter((f) => f.endsWith('_grad.js') && !SKIPPED.has(f)).sort();
    const modules = await Promise.all(files.map((f) => import(pathToFileURL(path.join(dir, f)).href)));
    let count = 0;
    for (const config of PROJECT_GRADIENTS) {
      tf.registerGradient(config);
      count++;
    }
    for (const module of modules) {
      for (const value of Object.values(module as Record<string, unknown>)) {
        // The project's replacements were registered first and stay.
        if (isGradConfig(value) && tf.getGradient(value.kernelName) === undefined) {
          tf.registerGradient(value);
          count++;
        }
      }
    }
    return count;
  })();
  return registered;
}
