// Public API of the data stage of train/ (see README.md for the split rules and the cache).
export * from './types.ts';
export * from './cache.ts';
export * from './holdout.ts';
export * from './augment.ts';
export * from './transforms.ts';
export * from './pipeline.ts';
export * from './fashion-mnist.ts';
export * from './cifar10.ts';
export * from './tiny-imagenet.ts';
export * from './registry.ts';
export * from './decoded-cache.ts';
