// Public API of the supernet (contract: /tmp/contract.md; ofav2.md s1-s3).
export { Supernet, type ForwardOptions, type SupernetOptions } from './supernet.ts';
export { computeGradients, subnetLoss, EXIT_WEIGHTS, type GradientResult, type Labels, type LossOptions } from './loss.ts';
export { type SortOptions, blockSortPermutation } from './sort.ts';
export { BN_EPSILON, BN_MOMENTUM, hswish, hsigmoid, elasticKernel } from './ops.ts';
