import test from 'ava';
import fc from 'fast-check';
import { createRng } from '../../lib/rng.ts';
import {
  PRESET_NAMES,
  VARIANT_NAMES,
  canonicalJson,
  configId,
  encodeConfig,
  encodingLayout,
  findFaults,
  resolveDimensions,
  sampleMax,
  sampleMin,
  sampleRandom,
  sampleUniform,
  subnetCount,
  validateConfig,
  type SubnetConfig,
} from '../../space/index.ts';
import { subnetMacs } from '../../space/cost.ts';
import { uniformConfigs } from '../../space/sample.ts';

const SPACES = PRESET_NAMES.flatMap((preset) => VARIANT_NAMES.map((variant) => ({ preset, variant })));
const spaceArb = fc.constantFrom(...SPACES);
const RUNS = 1000;

test('every sampled config validates and round-trips through canonical JSON with the same id', (t) => {
  fc.assert(
    fc.property(spaceArb, fc.integer({ min: 0, max: 2 ** 31 - 1 }), (space, seed) => {
      const config = sampleRandom(space, createRng(seed));
      const faults = findFaults(config);
      if (faults.length > 0) return false;
      const reparsed = validateConfig(JSON.parse(canonicalJson(config)));
      return configId(reparsed) === configId(config) && canonicalJson(reparsed) === canonicalJson(config);
    }),
    { numRuns: RUNS },
  );
  t.pass();
});

test('ids differ for different networks and ignore key order', (t) => {
  const rng = createRng(7);
  const ids = new Set<string>();
  const jsons = new Set<string>();
  for (let i = 0; i < 300; i++) {
    const config = sampleRandom({ preset: 'fashion', variant: 'ee-d-p' }, rng);
    ids.add(configId(config));
    jsons.add(canonicalJson(config));
  }
  t.is(ids.size, jsons.size);
  const config = sampleRandom({ preset: 'fashion', variant: 'ofa' }, createRng(1));
  const shuffled = { stages: config.stages, resolution: config.resolution, variant: config.variant, preset: config.preset };
  t.is(configId(shuffled as SubnetConfig), configId(config));
});

test('layers with the MBConv branch off canonicalise kernel and expand (one network, one id)', (t) => {
  const base = sampleUniform3('fashion', 'p', 4);
  const other = structuredClone(base);
  other.stages[0].layers[0].kernel = 3;
  other.stages[0].layers[0].expand = 3;
  t.not(canonicalJson(other), JSON.stringify(other));
  t.is(configId(other), configId(base));
  t.is(validateConfig(other).stages[0].layers[0].kernel, 7);
});

function sampleUniform3(preset: string, variant: string, branches: number): SubnetConfig {
  const config = sampleMax({ preset, variant });
  for (const stage of config.stages) for (const layer of stage.layers) layer.branches = branches;
  return validateConfig(config);
}

/** Changes one field of a layer, keeping everything else, and returns a canonical config. */
function withLayer(config: SubnetConfig, s: number, l: number, change: Partial<SubnetConfig['stages'][0]['layers'][0]>): SubnetConfig {
  const copy = structuredClone(config);
  Object.assign(copy.stages[s].layers[l], change);
  return validateConfig(copy);
}

test('MACs grow strictly with kernel, expand and depth, the rest fixed', (t) => {
  fc.assert(
    fc.property(spaceArb, fc.integer({ min: 0, max: 2 ** 31 - 1 }), fc.nat(), fc.nat(), (space, seed, stagePick, layerPick) => {
      const config = sampleRandom(space, createRng(seed));
      const s = stagePick % config.stages.length;
      const stage = config.stages[s];
      const l = layerPick % stage.layers.length;
      const layer = stage.layers[l];
      // Kernel and expand only act through the MBConv branch (P variants can switch it off).
      const mbconvOn = layer.branches === undefined || (layer.branches & 1) === 1;
      const ok = (a: SubnetConfig, b: SubnetConfig) => subnetMacs(a) < subnetMacs(b);
      const forced = mbconvOn ? config : withLayer(config, s, l, { branches: layer.branches! | 1 });
      const kernels = [3, 5, 7].map((kernel) => withLayer(forced, s, l, { kernel }));
      const expands = [3, 4, 6].map((expand) => withLayer(forced, s, l, { expand }));
      if (!ok(kernels[0], kernels[1]) || !ok(kernels[1], kernels[2])) return false;
      if (!ok(expands[0], expands[1]) || !ok(expands[1], expands[2])) return false;
      // Depth: add a layer (a copy of the last) to a stage of depth < 4.
      if (stage.depth < 4) {
        const deeper = structuredClone(config);
        deeper.stages[s].depth += 1;
        deeper.stages[s].layers.push({ ...stage.layers[stage.layers.length - 1] });
        if (!ok(config, validateConfig(deeper))) return false;
      }
      return true;
    }),
    { numRuns: RUNS },
  );
  t.pass();
});

test('the min config has the fewest MACs and the max the most, for every preset and variant', (t) => {
  for (const space of SPACES) {
    const min = subnetMacs(sampleMin(space));
    const max = subnetMacs(sampleMax(space));
    const rng = createRng(11);
    const others = [...Array.from({ length: 150 }, () => sampleRandom(space, rng)), ...uniformConfigs(space)];
    for (const config of others) {
      const macs = subnetMacs(config);
      if (macs < min || macs > max) t.fail(`${space.preset}/${space.variant}: ${macs} outside [${min}, ${max}]`);
    }
  }
  fc.assert(
    fc.property(spaceArb, fc.integer({ min: 0, max: 2 ** 31 - 1 }), (space, seed) => {
      const macs = subnetMacs(sampleRandom(space, createRng(seed)));
      return subnetMacs(sampleMin(space)) <= macs && macs <= subnetMacs(sampleMax(space));
    }),
    { numRuns: RUNS },
  );
  t.pass();
});

type Mutation = (config: Record<string, any>, pick: number) => void;

const layerOf = (config: Record<string, any>, pick: number) => {
  const stage = config.stages[pick % config.stages.length];
  return stage.layers[pick % stage.layers.length];
};

const MUTATIONS: Record<string, Mutation> = {
  'unknown preset': (c) => (c.preset = 'imagenet'),
  'unknown variant': (c) => (c.variant = 'ee-x'),
  'resolution off the grid': (c) => (c.resolution = c.resolution + 1),
  'kernel 4': (c, p) => (layerOf(c, p).kernel = 4),
  'kernel as a string': (c, p) => (layerOf(c, p).kernel = String(layerOf(c, p).kernel)),
  'expand 5': (c, p) => (layerOf(c, p).expand = 5),
  'fractional expand': (c, p) => (layerOf(c, p).expand = 4.5),
  'depth 5': (c, p) => (c.stages[p % c.stages.length].depth = 5),
  'depth 1': (c, p) => (c.stages[p % c.stages.length].depth = 1),
  'depth not matching the layers': (c, p) => {
    const stage = c.stages[p % c.stages.length];
    stage.depth = stage.depth === 4 ? 3 : stage.depth + 1;
  },
  'branch mask 0': (c, p) => (layerOf(c, p).branches = 0),
  'branch mask 8': (c, p) => (layerOf(c, p).branches = 8),
  'exit 6': (c) => (c.exit = 6),
  'exit 0': (c) => (c.exit = 0),
  'dropped preset': (c) => delete c.preset,
  'dropped resolution': (c) => delete c.resolution,
  'dropped stages': (c) => delete c.stages,
  'dropped kernel': (c, p) => delete layerOf(c, p).kernel,
  'dropped depth': (c, p) => delete c.stages[p % c.stages.length].depth,
  'extra top-level field': (c) => (c.width = 1.0),
  'extra layer field': (c, p) => (layerOf(c, p).dilation = 1),
  'extra stage field': (c, p) => (c.stages[p % c.stages.length].stride = 2),
  'missing stage': (c) => c.stages.pop(),
  'extra stage': (c) => c.stages.push(structuredClone(c.stages[0])),
  'stages not an array': (c) => (c.stages = {}),
  'layer not an object': (c, p) => (c.stages[p % c.stages.length].layers[0] = 3),
  'null config': () => undefined,
};

test('random mutations of valid configs (wrong values, dropped or added fields) are all refused', (t) => {
  const names = Object.keys(MUTATIONS);
  fc.assert(
    fc.property(spaceArb, fc.integer({ min: 0, max: 2 ** 31 - 1 }), fc.constantFrom(...names), fc.nat(), (space, seed, name, pick) => {
      const config = structuredClone(sampleRandom(space, createRng(seed))) as Record<string, any>;
      if (name === 'null config') return findFaults(null).length > 0;
      MUTATIONS[name](config, pick);
      return findFaults(config).length > 0;
    }),
    { numRuns: RUNS },
  );
  t.pass();
});

/** A random non-empty subset of `values` (as chosen by the bits of `mask`). */
function subsetOf<T>(values: readonly T[], mask: number): T[] {
  const picked = values.filter((_, i) => (mask >> i) & 1);
  return picked.length > 0 ? picked : [values[mask % values.length]];
}

test('seeded sampling is reproducible and stays inside a restricted space (random, min, max, uniform)', (t) => {
  fc.assert(
    fc.property(spaceArb, fc.integer({ min: 0, max: 2 ** 31 - 1 }), fc.array(fc.nat(127), { minLength: 6, maxLength: 6 }), (space, seed, masks) => {
      const full = resolveDimensions(space);
      const dimensions = {
        resolutions: subsetOf(full.resolutions, masks[0]),
        exits: subsetOf(full.exits, masks[1]),
        depths: subsetOf(full.depths, masks[2]),
        kernelSizes: subsetOf(full.kernelSizes, masks[3]),
        expandRatios: subsetOf(full.expandRatios, masks[4]),
        branchMasks: subsetOf(full.branchMasks, masks[5]),
      };
      const restricted = { ...space, dimensions };
      const a = sampleRandom(restricted, createRng(seed));
      const b = sampleRandom(restricted, createRng(seed));
      if (canonicalJson(a) !== canonicalJson(b)) return false;
      // Canonical form sets kernel/expand of layers without the MBConv branch to the maxima, so those
      // two dimensions are only restricted where the MBConv branch is on: check them separately.
      const inside = (c: SubnetConfig) =>
        findFaults(c, { dimensions: { ...dimensions, kernelSizes: full.kernelSizes, expandRatios: full.expandRatios } }).length === 0 &&
        c.stages.every((stage) =>
          stage.layers.every(
            (layer) =>
              (layer.branches !== undefined && (layer.branches & 1) === 0) ||
              (dimensions.kernelSizes.includes(layer.kernel) && dimensions.expandRatios.includes(layer.expand)),
          ),
        );
      const uniform = sampleUniform(restricted, { kernel: dimensions.kernelSizes[0], expand: dimensions.expandRatios[0], depth: dimensions.depths[0] });
      return [a, sampleMin(restricted), sampleMax(restricted), uniform].every(inside);
    }),
    { numRuns: RUNS },
  );
  t.pass();
});

test('variant-specific fields: exit only with early exits, branches only with parallel blocks', (t) => {
  const ofa = sampleMax({ preset: 'fashion', variant: 'ofa' }) as Record<string, any>;
  t.regex(findFaults({ ...ofa, exit: 5 })[0].message, /not allowed here/);
  const ee = sampleMax({ preset: 'fashion', variant: 'ee' }) as Record<string, any>;
  const { exit: _, ...noExit } = ee;
  t.regex(findFaults(noExit)[0].message, /missing field "exit"/);
  const withBranches = structuredClone(ofa);
  withBranches.stages[0].layers[0].branches = 7;
  const fault = findFaults(withBranches)[0];
  t.is(fault.path, '$.stages[0].layers[0].branches');
  const p = sampleMax({ preset: 'fashion', variant: 'p' }) as Record<string, any>;
  delete p.stages[2].layers[1].branches;
  t.is(findFaults(p)[0].path, '$.stages[2].layers[1].branches');
});

test('faults name the JSON path, the bad value and the allowed values', (t) => {
  const config = structuredClone(sampleMax({ preset: 'fashion', variant: 'ee-d-p' })) as Record<string, any>;
  config.stages[1].layers[2].kernel = 4;
  config.stages[3].depth = 5;
  config.stages[0].layers[0].branches = 0;
  const faults = findFaults(config);
  const byPath = new Map(faults.map((f) => [f.path, f]));
  const kernel = byPath.get('$.stages[1].layers[2].kernel');
  t.truthy(kernel);
  t.is(kernel!.value, 4);
  t.regex(kernel!.message, /allowed: 3, 5, 7/);
  t.regex(byPath.get('$.stages[3].depth')!.message, /allowed: 2, 3, 4/);
  t.regex(byPath.get('$.stages[0].layers[0].branches')!.message, /allowed: 1, 2, 3, 4, 5, 6, 7/);
  const unknownPreset = findFaults({ ...config, preset: 'cifar' });
  t.is(unknownPreset.length, 1);
  t.is(unknownPreset[0].path, '$.preset');
  t.regex(unknownPreset[0].message, /allowed: "tiny-imagenet", "fashion", "micro"/);
  // A missing scalar field names its allowed values too.
  const { resolution: _r, ...noResolution } = sampleMax({ preset: 'fashion', variant: 'ofa' }) as Record<string, any>;
  t.regex(findFaults(noResolution)[0].message, /missing field "resolution" \(required\); allowed: 20, 24, 28, 32$/);
  const noKernel = structuredClone(sampleMax({ preset: 'tiny-imagenet', variant: 'p' })) as Record<string, any>;
  delete noKernel.stages[4].layers[3].kernel;
  const kernelFault = findFaults(noKernel)[0];
  t.is(kernelFault.path, '$.stages[4].layers[3].kernel');
  t.regex(kernelFault.message, /allowed: 3, 5, 7$/);
  t.regex(findFaults({ variant: 'ofa' })[0].message, /missing field "preset" \(required\); allowed: "tiny-imagenet", "fashion", "micro"/);
  const error = t.throws(() => validateConfig(config, { input: 'cfg.json' }));
  t.regex(error!.message, /^cfg\.json is invalid:/);
  t.is((error as any).code, 'E_CONFIG');
});

test('validation against a restricted space (a training phase) refuses values outside it', (t) => {
  const config = sampleMax({ preset: 'fashion', variant: 'ee-d' });
  t.deepEqual(findFaults(config, { dimensions: { kernelSizes: [7] } }), []);
  const small = structuredClone(config);
  small.stages[0].layers[0].kernel = 3;
  const faults = findFaults(small, { dimensions: { kernelSizes: [7] } });
  t.is(faults.length, 1);
  t.regex(faults[0].message, /allowed: 7$/);
});

test('subnet counts: exact, checked against enumeration on a restricted space and by formula', (t) => {
  // Restricted space small enough to enumerate: depths {2}, kernels {3,5}, expands {3}, masks {1,4}:
  // per layer 2 (MBConv on, 2 kernels) + 1 (transform only) = 3 choices, per stage 3^2 = 9,
  // exits {1,2}: 9 + 81 = 90, times 2 resolutions = 180.
  const space = {
    preset: 'micro',
    variant: 'ee-p',
    dimensions: { depths: [2], kernelSizes: [3, 5], expandRatios: [3], branchMasks: [1, 4], exits: [1, 2] },
  };
  t.is(subnetCount(space), 180n);
  const seen = new Set<string>();
  const rng = createRng(3);
  for (let i = 0; i < 20000; i++) seen.add(configId(sampleRandom(space, rng)));
  t.is(seen.size, 180);
  // fashion/ofa: per stage 9^2 + 9^3 + 9^4 = 7371, five stages, 4 resolutions.
  t.is(subnetCount({ preset: 'fashion', variant: 'ofa' }), 7371n ** 5n * 4n);
  // ee: sum over exits e of 7371^e.
  let ee = 0n;
  for (let e = 1n; e <= 5n; e++) ee += 7371n ** e;
  t.is(subnetCount({ preset: 'fashion', variant: 'ee' }), ee * 4n);
  // p: per layer 9 * 4 (masks with the MBConv) + 3 (masks without) = 39.
  const perStage = 39n ** 2n + 39n ** 3n + 39n ** 4n;
  t.is(subnetCount({ preset: 'tiny-imagenet', variant: 'd-p' }), perStage ** 5n * 5n);
});

test('predictor encoding: fixed length, documented layout, one-hot blocks', (t) => {
  t.is(encodingLayout('fashion', 'ofa').length, 20 * 6 + 4);
  t.is(encodingLayout('fashion', 'ee-d-p').length, 20 * 9 + 4 + 5);
  t.is(encodingLayout('tiny-imagenet', 'ee').length, 20 * 6 + 5 + 5);
  const config = sampleMin({ preset: 'fashion', variant: 'ee' });
  const vector = encodeConfig(config);
  // exit 1, depth 2: only stage1.layer1/2 are active: 2 layers x (kernel + expand) + resolution + exit.
  t.is(vector.reduce((a, b) => a + b, 0), 2 * 2 + 1 + 1);
  const layout = encodingLayout('fashion', 'ee');
  const at = (name: string) => layout.segments.find((s) => s.name === name)!.offset;
  t.is(vector[at('stage1.layer1.kernel')], 1); // kernel 3 = index 0
  t.is(vector[at('stage1.layer3.kernel')], 0);
  t.is(vector[at('exit')], 1);
  fc.assert(
    fc.property(spaceArb, fc.integer({ min: 0, max: 2 ** 31 - 1 }), (space, seed) => {
      const c = sampleRandom(space, createRng(seed));
      const v = encodeConfig(c);
      return v.length === encodingLayout(space.preset, space.variant).length && v.every((x) => x === 0 || x === 1);
    }),
    { numRuns: 200 },
  );
});
