// The import rules of the pipeline (pipeline.md, "Data flows one way"; issue 11 item 4), checked by
// dependency-cruiser: `npm run check:imports`, and test/architecture.test.ts inside `npm test`.
//
// - A stage is a top-level folder. Within a stage anything goes.
// - A stage imports only the stages listed for it in MAY_IMPORT: earlier stages of the pipeline
//   (space -> subnet -> train -> export -> profile -> search -> deploy -> cli), never a later one.
// - Across stages, only a stage's public entry is imported: `<stage>/index.ts`, plus the pure latency
//   predictor `profile/predict.ts`. lib/ has no entry: each of its files is a small helper for all.
// - No cycle runs through more than one stage.
// - space/ and lib/ import no training engine, runtime or ONNX library. (That the latency predictor entry
//   loads none either is a fact of what runs, not of the graph: profile/'s runtimes require onnxruntime
//   lazily inside functions. test/profile/predict.test.ts checks it in a fresh process.)
// test/ and bench/ may import anything, internals included (tests test internals).
//
// TypeScript 7 has no JavaScript compiler API, so the parser is swc (@swc/core, a devDependency).

/** What each stage may import besides itself. lib/ is usable by all; cli/ may use every stage. */
const MAY_IMPORT = {
  lib: [],
  space: ['lib'],
  subnet: ['lib', 'space'],
  train: ['lib', 'space', 'subnet'],
  export: ['lib', 'space', 'subnet', 'train'],
  profile: ['lib', 'space', 'subnet', 'export'],
  search: ['lib', 'space', 'train', 'export', 'profile'],
  deploy: ['lib', 'space', 'subnet', 'train', 'export', 'profile', 'search'],
  cli: ['lib', 'space', 'subnet', 'train', 'export', 'profile', 'search', 'deploy'],
};
const STAGES = Object.keys(MAY_IMPORT);
/** Folders no stage may import; they may import anything. */
const FREE = ['test', 'bench'];
/** Public entries besides `<stage>/index.ts`. */
const EXTRA_ENTRIES = ['profile/predict.ts', 'train/facts.ts'];
const HEAVY = '(^|node_modules/)(@tensorflow/|onnxruntime-|onnx-proto)';

const either = (names) => `(${names.join('|')})`;
const escape = (path) => path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

const direction = STAGES.map((stage) => {
  const banned = [...STAGES, ...FREE].filter((other) => other !== stage && !MAY_IMPORT[stage].includes(other));
  return {
    name: `direction-${stage}`,
    comment: `${stage}/ may import only ${MAY_IMPORT[stage].join(', ') || 'nothing of the other stages'} (pipeline.md: data flows one way)`,
    severity: 'error',
    from: { path: `^${stage}/` },
    to: { path: `^${either(banned)}/` },
  };
});

module.exports = {
  forbidden: [
    ...direction,
    {
      name: 'public-entry-only',
      comment: "another stage is imported only through its index.ts (or profile/predict.ts), never its internals",
      severity: 'error',
      from: { path: `^${either(STAGES)}/` },
      to: {
        path: `^${either(STAGES.filter((stage) => stage !== 'lib'))}/`,
        pathNot: ['^$1/', `^${either(STAGES)}/index\\.ts$`, ...EXTRA_ENTRIES.map((entry) => `^${escape(entry)}$`)],
      },
    },
    {
      name: 'no-stage-cycle',
      comment: 'no import cycle runs through more than one stage',
      severity: 'error',
      from: { path: `^${either(STAGES)}/` },
      to: { circular: true, via: { pathNot: '^$1/' } },
    },
    {
      name: 'space-stays-pure',
      comment: 'space/ and lib/ import no training engine, runtime or ONNX library',
      severity: 'error',
      from: { path: '^(space|lib)/' },
      to: { path: HEAVY },
    },
    {
      name: 'no-unresolved-relative',
      comment: 'a relative import that does not resolve would hide its target from every rule above',
      severity: 'error',
      from: {},
      to: { couldNotResolve: true, path: '^\\.\\.?/' },
    },
  ],
  options: {
    // TypeScript 7 (native) has no JS API for dependency-cruiser to parse with; swc parses TypeScript.
    parser: 'swc',
    // Type-only imports cross boundaries too.
    tsPreCompilationDeps: true,
    doNotFollow: { path: 'node_modules' },
    // node_modules stays in the graph (not followed) so that the purity rules see which packages are imported.
    exclude: { path: '^(results|runs|\\.cache)/' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      extensions: ['.ts', '.js', '.mjs', '.cjs', '.json'],
    },
  },
};
