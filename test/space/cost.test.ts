import test from 'ava';
import { midChannels, sampleMax, samePadding, subnetCost, subnetGeometry, validateConfig } from '../../space/index.ts';
import { makeDivisible } from '../../space/presets.ts';

// The `micro` preset: 1x8x8 input at resolution 8, 4 classes, stem 8 channels stride 2 (-> 4x4),
// stage widths 8, 8, 16, 16, 16, strides 1, 2, 1, 2, 1, SE in stages 2, 4, 5.
// Conventions (space/cost.ts): BN folded (free), conv = outH*outW*Cout*(Cin/groups)*k*k, element-wise
// add/mul = 1 per element, GAP = 1 per input element; trainable params count BN scale and shift.

// Stem at 4x4: conv 3x3 1->8: 16*8*1*9 = 1152 MACs, 72 + 2*8 = 88 params;
// depthwise 3x3 on 8: 16*8*9 = 1152, 72 + 16 = 88; project 8->8: 16*64 = 1024, 64 + 16 = 80;
// residual add 16*8 = 128. Stem: 3456 MACs, 256 params.
const STEM = { macs: 1152 + 1152 + 1024 + 128, params: 88 + 88 + 80 };
// Exit 1 head (W=8) at 4x4: expand 8->48: 16*8*48 = 6144, 384 + 96 = 480; GAP 16*48 = 768;
// feature mix 48->64: 3072 MACs and params; classifier 64->4: 256 MACs, 256 + 4 = 260 params.
const HEAD1 = { macs: 6144 + 768 + 3072 + 256, params: 480 + 3072 + 260 };
// Stage-1 MBConv k3 e3 at 4x4 (8->8, stride 1, ReLU, no SE): mid = make_divisible(24) = 24;
// expand 16*8*24 = 3072 (192 + 48 = 240 params); depthwise 16*24*9 = 3456 (216 + 48 = 264);
// project 16*24*8 = 3072 (192 + 16 = 208); residual 128. Layer: 9728 MACs, 712 params.
const LAYER_K3E3 = { macs: 3072 + 3456 + 3072 + 128, params: 240 + 264 + 208 };

test('hand-computed: micro/ee, exit 1, one stage of two k3 e3 layers', (t) => {
  const config = validateConfig({
    preset: 'micro',
    variant: 'ee',
    resolution: 8,
    exit: 1,
    stages: [{ depth: 2, layers: [{ kernel: 3, expand: 3 }, { kernel: 3, expand: 3 }] }],
  });
  const cost = subnetCost(config);
  t.is(cost.macs, STEM.macs + 2 * LAYER_K3E3.macs + HEAD1.macs);
  t.is(cost.macs, 33152);
  t.is(cost.params, STEM.params + 2 * LAYER_K3E3.params + HEAD1.params);
  t.is(cost.params, 5492);
  // Deployed (BN folded): each BN's 2*C becomes a C bias: stem 8+8+8, layers 2*(24+24+8), head 48.
  t.is(cost.deployedParams, 5492 - (8 + 8 + 8) - 2 * (24 + 24 + 8) - 48);
});

test('hand-computed: micro/ee-d, depth 3 adds the dense-skip sums', (t) => {
  const layer = { kernel: 3, expand: 3 };
  const config = validateConfig({ preset: 'micro', variant: 'ee-d', resolution: 8, exit: 1, stages: [{ depth: 3, layers: [layer, layer, layer] }] });
  // ofav2.md s1 (the paper's wiring): layer 3 reads y2 alone (its residual already carries y1); the
  // stage output is y3 + y1 (one add, 16*8 = 128).
  t.is(subnetCost(config).macs, STEM.macs + 3 * LAYER_K3E3.macs + 128 + HEAD1.macs);
  t.is(subnetCost(config).macs, 43008);
  t.is(subnetGeometry(config).stages[0].layers[2].inputTerms, 1);
  t.is(subnetGeometry(config).stages[0].outputTerms, 2);
});

test('hand-computed: micro/ee-p, exit 2, parallel branches with SE and stride 2', (t) => {
  const config = validateConfig({
    preset: 'micro',
    variant: 'ee-p',
    resolution: 8,
    exit: 2,
    stages: [
      { depth: 2, layers: [{ kernel: 7, expand: 6, branches: 4 }, { kernel: 7, expand: 6, branches: 2 }] },
      { depth: 2, layers: [{ kernel: 5, expand: 4, branches: 7 }, { kernel: 3, expand: 3, branches: 1 }] },
    ],
  });
  // Stage 1 (4x4, 8->8): layer 1 transform only, Cin == Cout, stride 1: standalone BN = Mul + Add,
  // 2*16*8 = 256 MACs, 16 params. Layer 2 1x1 conv only: 16*8*8 = 1024 MACs, 64 + 16 = 80 params.
  const stage1 = { macs: 256 + 1024, params: 16 + 80 };
  // Stage 2 layer 1 (4x4 -> 2x2, stride 2, SE, mask 7), k5 e4: mid = 32, seMid = make_divisible(8) = 8.
  //  MBConv: expand 16*8*32 = 4096 (256+64); depthwise 4*32*25 = 3200 (800+64); SE GAP 4*32 = 128,
  //  reduce 32*8 = 256 (256+8), expand 8*32 = 256 (256+32), scale 128; project 4*32*8 = 1024 (256+16);
  //  no residual (stride 2). = 9088 MACs, 2008 params.
  //  1x1 branch: 4*8*8 = 256 (80); transform: max-pool + BN: 2*4*8 = 64 (16); sum of 3: 2*4*8 = 64.
  const s2l1 = { macs: 9088 + 256 + 64 + 64, params: 2008 + 80 + 16 };
  // Stage 2 layer 2 (2x2, stride 1, SE, mask 1), k3 e3: mid 24, seMid = make_divisible(6) = 8:
  //  expand 4*8*24 = 768 (240); depthwise 4*24*9 = 864 (264); GAP 96, reduce 192 (200), expand 192 (216),
  //  scale 96; project 768 (208); residual 4*8 = 32. = 3008 MACs, 1128 params.
  const s2l2 = { macs: 768 + 864 + 96 + 192 + 192 + 96 + 768 + 32, params: 240 + 264 + 200 + 216 + 208 };
  // Exit 2 head (W=8) at 2x2: expand 4*8*48 = 1536 (480); GAP 4*48 = 192; mix 3072; classifier 256 (260).
  const head2 = { macs: 1536 + 192 + 3072 + 256, params: 480 + 3072 + 260 };
  const cost = subnetCost(config);
  t.is(cost.macs, STEM.macs + stage1.macs + s2l1.macs + s2l2.macs + head2.macs);
  t.is(cost.macs, 22272);
  t.is(cost.params, STEM.params + stage1.params + s2l1.params + s2l2.params + head2.params);
  t.is(cost.params, 7396);
});

test('make_divisible, mid channels and SAME padding follow OFA and TensorFlow', (t) => {
  t.is(makeDivisible(24), 24);
  t.is(makeDivisible(6), 8);
  t.is(makeDivisible(20), 24); // nearest multiple of 8 rounds half up
  t.is(makeDivisible(10), 16); // 8 would be below 90% of 10
  t.is(midChannels(16, 3), 48);
  t.is(midChannels(24, 4), 96);
  t.deepEqual(samePadding(14, 3, 2), [0, 1]);
  t.deepEqual(samePadding(7, 3, 2), [1, 1]);
  t.deepEqual(samePadding(7, 2, 2), [0, 1]);
  t.deepEqual(samePadding(4, 7, 1), [3, 3]);
});

test('max fashion/ofa subnet: about 1.26 M trainable parameters', (t) => {
  const cost = subnetCost(sampleMax({ preset: 'fashion', variant: 'ofa' }));
  t.is(cost.params, 1256250);
  t.true(cost.macs > 20e6 && cost.macs < 30e6);
});

