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
    for (const module of modules) {
      for (const value of Object.values(module as Record<string, unknown>)) {
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
