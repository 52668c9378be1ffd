// Public API of the supernet (contract /tmp/contract.md; ofav2.md s1-s3).
//
// - `new Supernet({preset, variant, seed})`: every variable of the largest subnet, initialised from the
//   seed (OFA's he_fout for convolutions, BN 1/0, classifier normal(0, 0.01), kernel transforms identity).
//   `parameters` (trainable) and `buffers` (BN `<bn>.runningMean` / `<bn>.runningVariance`) by stable
//   dotted names, e.g. `stage2.layer1.mbconv.depthwise.weight`, `stage2.layer1.mbconv.kernelTransform5`,
//   `stage3.layer1.conv1x1.bn.gamma`, `stage3.layer1.transform.conv.weight`, `exit3.classifier.bias`.
// - `forward(config, images, {training, dropout?, dropoutSeed?})`: logits of exactly that subnet; training
//   mode uses batch statistics and updates the running ones (momentum 0.1, unbiased batch variance).
// - `forwardAllExits` (EE variants, exit-5 configs): the logits of exits 1..5 in one pass.
// - `recalibrateBatchNorm(config, batches)`: ofav2.md s3 BN recalibration (exact batch statistics averaged).
// - `extractSubnet(config)`: the StaticSubnet of subnet/types.ts (kernels transformed, channels sliced).
// - `sortChannels({keepExpandRatios?})`: ofav2.md s2 channel sorting; see sort.ts for what it preserves.
// - `computeGradients(net, configs, images, labels, options)`: one step's loss and summed gradients.
export { Supernet, type ForwardOptions, type SupernetOptions } from './supernet.ts';
export { computeGradients, subnetLoss, EXIT_WEIGHTS, type GradientResult, type Labels, type LossOptions } from './loss.ts';
export { type SortOptions, blockSortPermutation } from './sort.ts';
export { BN_EPSILON, BN_MOMENTUM, hswish, hsigmoid, elasticKernel } from './ops.ts';
