// Analytic MACs and parameter counts of a subnet (pipeline.md; checked against the exported ONNX graph).
//
// Conventions (the exporter's graph counter uses the same ones):
// - BN is folded into the preceding convolution: it costs no MACs. A BN with no convolution before it
//   (the transform branch when Cin == Cout) is a per-channel Mul and Add: 2 MACs per element.
// - Conv: outH * outW * Cout * (Cin / groups) * k * k. Linear: in * out. Bias additions: free.
// - Element-wise Add and Mul (residuals, branch sums, dense-skip sums, SE scaling): 1 per output element.
// - Global average pooling: 1 per input element. Max pooling and activations (ReLU, HardSwish,
//   HardSigmoid): free.
// - Parameters, `trainable`: weights, biases, and BN scale and shift (not its running statistics).
//   `deployed`: after BN folding, each BN becomes the bias of its convolution (Cout values), a standalone
//   BN is a scale and a shift. The supernet's kernel transforms (25x25, 9x9) belong to no subnet.
import type { SubnetConfig } from './config.ts';
import { activeBranches, subnetGeometry, type HeadGeometry, type LayerGeometry, type StemGeometry, type SubnetGeometry } from './geometry.ts';

export interface Cost {
  macs: number;
  /** Trainable parameters (BN scale and shift counted). */
  params: number;
  /** Parameters of the deployed (BN-folded) model, as stored in the ONNX file. */
  deployedParams: number;
}

const ZERO: Cost = { macs: 0, params: 0, deployedParams: 0 };

export function addCost(a: Cost, b: Cost): Cost {
  return { macs: a.macs + b.macs, params: a.params + b.params, deployedParams: a.deployedParams + b.deployedParams };
}

/** Convolution followed by BN (weights + BN scale/shift; deployed: weights + bias). */
function convBn(outSize: number, inChannels: number, outChannels: number, kernel: number, depthwise: boolean): Cost {
  const perOut = (depthwise ? 1 : inChannels) * kernel * kernel;
  const weights = perOut * outChannels;
  return { macs: outSize * outSize * outChannels * perOut, params: weights + 2 * outChannels, deployedParams: weights + outChannels };
}

/** 1x1 convolution with bias on a 1x1 map (SE) or a linear layer with bias. */
function denseWithBias(inChannels: number, outChannels: number): Cost {
  const n = inChannels * outChannels + outChannels;
  return { macs: inChannels * outChannels, params: n, deployedParams: n };
}

function elementwise(size: number, channels: number, ops = 1): Cost {
  return { macs: ops * size * size * channels, params: 0, deployedParams: 0 };
}

export function stemCost(stem: StemGeometry): Cost {
  const s = stem.outputSize;
  const c = stem.outChannels;
  let cost = convBn(s, stem.inChannels, c, stem.kernel, false);
  cost = addCost(cost, convBn(s, c, c, stem.blockKernel, true)); // depthwise, expand 1
  cost = addCost(cost, convBn(s, c, c, 1, false)); // projection
  return addCost(cost, elementwise(s, c)); // residual
}

/** The elastic MBConv branch, with its residual. */
export function mbconvCost(layer: LayerGeometry): Cost {
  const out = layer.outputSize;
  let cost = convBn(layer.inputSize, layer.inChannels, layer.mid, 1, false);
  cost = addCost(cost, convBn(out, layer.mid, layer.mid, layer.kernel, true));
  if (layer.squeezeExcite) {
    cost = addCost(cost, elementwise(out, layer.mid)); // global average pool
    cost = addCost(cost, denseWithBias(layer.mid, layer.seMid));
    cost = addCost(cost, denseWithBias(layer.seMid, layer.mid));
    cost = addCost(cost, elementwise(out, layer.mid)); // scale
  }
  cost = addCost(cost, convBn(out, layer.mid, layer.outChannels, 1, false));
  if (layer.residual) cost = addCost(cost, elementwise(out, layer.outChannels));
  return cost;
}

export function conv1x1BranchCost(layer: LayerGeometry): Cost {
  return convBn(layer.outputSize, layer.inChannels, layer.outChannels, 1, false);
}

export function transformBranchCost(layer: LayerGeometry): Cost {
  if (layer.inChannels !== layer.outChannels) return convBn(layer.outputSize, layer.inChannels, layer.outChannels, 1, false);
  // Max-pool (free) then a standalone BN: scale and shift.
  const c = layer.outChannels;
  return { macs: 2 * layer.outputSize * layer.outputSize * c, params: 2 * c, deployedParams: 2 * c };
}

/** One layer position: its input sum (dense skips), active branches, and the branch sum. */
export function layerCost(layer: LayerGeometry): Cost {
  const branches = activeBranches(layer.branches);
  let cost = elementwise(layer.inputSize, layer.inChannels, layer.inputTerms - 1);
  if (branches.mbconv) cost = addCost(cost, mbconvCost(layer));
  if (branches.conv1x1) cost = addCost(cost, conv1x1BranchCost(layer));
  if (branches.transform) cost = addCost(cost, transformBranchCost(layer));
  return addCost(cost, elementwise(layer.outputSize, layer.outChannels, branches.count - 1));
}

export function headCost(head: HeadGeometry): Cost {
  let cost = convBn(head.inputSize, head.inChannels, head.expandChannels, 1, false);
  cost = addCost(cost, elementwise(head.inputSize, head.expandChannels)); // global average pool
  const mix = head.expandChannels * head.featureChannels; // no BN, no bias
  cost = addCost(cost, { macs: mix, params: mix, deployedParams: mix });
  return addCost(cost, denseWithBias(head.featureChannels, head.numClasses));
}

export function subnetCost(config: SubnetConfig): Cost {
  return geometryCost(subnetGeometry(config));
}

/** subnetCost of a geometry already derived (the latency predictor derives it once per prediction). */
export function geometryCost(geometry: SubnetGeometry): Cost {
  let cost = stemCost(geometry.stem);
  for (const stage of geometry.stages) {
    for (const layer of stage.layers) cost = addCost(cost, layerCost(layer));
    const last = stage.layers[stage.layers.length - 1];
    cost = addCost(cost, elementwise(last.outputSize, last.outChannels, stage.outputTerms - 1));
  }
  return addCost(cost, headCost(geometry.head));
}

export function subnetMacs(config: SubnetConfig): number {
  return subnetCost(config).macs;
}

export { ZERO as ZERO_COST };
