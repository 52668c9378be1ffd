// The pipeline's import rules (pipeline.md "Data flows one way"; issue 11 item 4), as
// .dependency-cruiser.cjs states them: checked on the tree, and shown to catch deliberate bad imports in
// a fixture tree the test writes (a boundary is only real when a test fails the day it is crossed).
import test from 'ava';
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import type { ICruiseOptions, ICruiseResult, IConfiguration } from 'dependency-cruiser';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const config = createRequire(import.meta.url)(join(ROOT, '.dependency-cruiser.cjs')) as IConfiguration;
const STAGES = (config.forbidden ?? []).flatMap((rule) => (rule.name?.startsWith('direction-') ? [rule.name.slice('direction-'.length)] : []));
const FOLDERS = [...STAGES, 'test', 'bench'];

// dependency-cruiser runs in a plain Node child: under the tsx loader that runs these tests, its import of
// swc's Visitor (CommonJS) gets the class as the default export instead of module.exports, and every file
// fails with "visitor.getDependencies is not a function".
const CRUISE = `
const { cruise } = await import('dependency-cruiser');
const job = JSON.parse(process.env.OFA_CRUISE_JOB);
const { output } = await cruise(job.entries, job.options);
process.stdout.write(typeof output === 'string' ? output : JSON.stringify(output));
`;

async function cruiseTree(baseDir: string, entries: string[], options: ICruiseOptions = {}): Promise<ICruiseResult> {
  const job = { entries, options: { ...config.options, baseDir, validate: true, ruleSet: { forbidden: config.forbidden }, ...options } };
  const { NODE_OPTIONS: _, ...env } = process.env;
  const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', CRUISE], {
    cwd: ROOT,
    env: { ...env, OFA_CRUISE_JOB: JSON.stringify(job) },
    maxBuffer: 256 << 20,
  });
  return JSON.parse(stdout) as ICruiseResult;
}

/** One line per violation: `rule: from -> to` (a cycle lists its modules). */
function violations(result: ICruiseResult): string[] {
  return result.summary.violations
    .map((v) => `${v.rule.name}: ${v.from} -> ${v.to}${v.cycle ? ` (cycle ${v.cycle.map((step) => step.name).join(' -> ')})` : ''}`)
    .sort();
}

/**
 * The checkout's modules that importing `entry` loads, in a fresh process whose resolved module URLs are
 * logged by test/profile/module-log/ (what runs, not what the graph says: a type-only import or a lazy
 * `await import()` loads nothing; swc, the cruiser's parser here, does not mark type-only imports).
 */
async function loadedBy(entry: string): Promise<string[]> {
  const dir = mkdtempSync(join(tmpdir(), 'ofa-modules-'));
  try {
    const log = join(dir, 'modules.log');
    writeFileSync(log, '');
    const moduleLog = join(ROOT, 'test/profile/module-log');
    await promisify(execFile)(process.execPath, ['--import', 'tsx', '--import', join(moduleLog, 'register.mjs'), join(moduleLog, 'child.mjs')], {
      cwd: ROOT,
      env: { ...process.env, OFA_MODULE_LOG: log, OFA_ENTRY: entry },
      maxBuffer: 16 << 20,
    });
    const root = pathToFileURL(ROOT).href.replace(/\/?$/, '/');
    return readFileSync(log, 'utf8').split('\n').filter((url) => url.startsWith(root) && !url.includes('/node_modules/')).map((url) => url.slice(root.length));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function writeTree(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'ofa-architecture-'));
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
  return dir;
}

test('the tree keeps the import rules: public entries only, with the pipeline, no cycle between stages', async (t) => {
  const folders = FOLDERS.filter((folder) => existsSync(join(ROOT, folder)));
  const result = await cruiseTree(ROOT, folders);
  // A cruise that parsed nothing would pass vacuously (e.g. without a TypeScript parser).
  const sources = new Set(result.modules.map((module) => module.source));
  for (const file of ['space/index.ts', 'train/index.ts', 'profile/predict.ts', 'cli/main.ts']) t.true(sources.has(file), `${file} was cruised`);
  t.true(result.summary.totalCruised > 150, `${result.summary.totalCruised} modules cruised`);
  const found = violations(result);
  t.deepEqual(found, [], `import rule violations (see .dependency-cruiser.cjs):\n${found.join('\n')}`);
});

test('importing the profiler loads none of the trainer (it exports models through export/index.ts)', async (t) => {
  const loaded = await loadedBy('profile/index.ts');
  t.true(loaded.includes('export/index.ts') && loaded.includes('profile/measure.ts'), loaded.join('\n'));
  t.deepEqual(loaded.filter((path) => path.startsWith('train/')), []);
});

test('the rules catch deliberate bad imports (fixture tree), and allow the good ones', async (t) => {
  const dir = writeTree({
    'lib/errors.ts': 'export const E = 1;\n',
    'space/index.ts': "export { E } from '../lib/errors.ts';\n",
    // Bad: against the direction (space/ may import only lib/).
    'space/bad.ts': "import { T } from '../train/index.ts';\nexport const S = T;\n",
    'subnet/index.ts': "export const N = 1;\n",
    'train/index.ts': "export { T } from './supernet/supernet.ts';\n",
    'train/supernet/supernet.ts': "import { N } from '../../subnet/index.ts';\nexport const T = N;\nexport type Weights = number[];\n",
    'export/index.ts': "export { X } from './source.ts';\n",
    // Good: a stage's public entry.
    'export/source.ts': "import { T } from '../train/index.ts';\nexport const X = T;\n",
    // Bad: into another stage's internals, by a value import and by a type-only import.
    'export/bad.ts': "import { T } from '../train/supernet/supernet.ts';\nexport const B = T;\n",
    'export/bad-type.ts': "import type { Weights } from '../train/supernet/supernet.ts';\nexport const W: Weights = [];\n",
    'profile/index.ts': "export { P } from './predict.ts';\nexport { X } from '../export/index.ts';\n",
    'profile/predict.ts': "import { E } from '../lib/errors.ts';\nexport const P = E;\n",
    // Bad: profile/ measures exported models; it has no use for the trainer.
    'profile/bad.ts': "import { T } from '../train/index.ts';\nexport const Q = T;\n",
    // Good: search/ uses the predictor entry and train's entry.
    'search/index.ts': "import { P } from '../profile/predict.ts';\nimport { T } from '../train/index.ts';\nexport const R = P + T;\n",
    // Bad: the CLI reaching past train/index.ts, lazily.
    'cli/main.ts': "import { R } from '../search/index.ts';\nexport async function main() { const { T } = await import('../train/supernet/supernet.ts'); return R + T; }\n",
    // Good: tests import internals.
    'test/supernet.test.ts': "import { T } from '../train/supernet/supernet.ts';\nexport const U = T;\n",
  });
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  // Packages resolve as in the checkout (space-stays-pure matches them by their resolved node_modules path).
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'), 'dir');
  const folders = FOLDERS.filter((folder) => existsSync(join(dir, folder)));
  t.deepEqual(violations(await cruiseTree(dir, folders)), [
    'direction-profile: profile/bad.ts -> train/index.ts',
    'direction-space: space/bad.ts -> train/index.ts',
    'public-entry-only: cli/main.ts -> train/supernet/supernet.ts',
    'public-entry-only: export/bad-type.ts -> train/supernet/supernet.ts',
    'public-entry-only: export/bad.ts -> train/supernet/supernet.ts',
  ]);

  // A cycle between stages, space/ importing an engine, and a relative import that resolves nowhere (which
  // would hide its target from every other rule).
  writeFileSync(join(dir, 'subnet/index.ts'), "import type { Weights } from '../train/index.ts';\nexport const N = 1;\nexport type W = Weights;\n");
  writeFileSync(join(dir, 'train/index.ts'), "export { T, type Weights } from './supernet/supernet.ts';\n");
  writeFileSync(join(dir, 'space/engine.ts'), "import * as tf from '@tensorflow/tfjs-core';\nexport const F = tf;\n");
  writeFileSync(join(dir, 'lib/typo.ts'), "export { E } from './erors.ts';\n");
  const found = violations(await cruiseTree(dir, folders));
  t.true(found.includes('direction-subnet: subnet/index.ts -> train/index.ts'), found.join('\n'));
  t.true(found.some((line) => line.startsWith('no-stage-cycle: subnet/index.ts -> train/index.ts')), found.join('\n'));
  t.true(found.some((line) => /^space-stays-pure: space\/engine\.ts -> (\S*\/)?node_modules\/@tensorflow\/tfjs-core\//.test(line)), found.join('\n'));
  t.true(found.includes('no-unresolved-relative: lib/typo.ts -> ./erors.ts'), found.join('\n'));
});
