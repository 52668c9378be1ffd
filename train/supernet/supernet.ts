// The OFAv2 supernet (ofav2.md s1-s2): stem, five stages of elastic layer positions, and the exit heads
// (one per stage for early-exit variants, only the final one otherwise).
import * as tf from '@tensorflow/tfjs-core';
import { OfaError } from '../../lib/errors.ts';
import { createRng } from '../../lib/rng.ts';
import {
  denseSkipTerms,
  STAGE_COUNT,
  exitOf,
  getPreset,
  getVariant,
  headGeometry,
  sampleMax,
  subnetGeometry,
  validateConfig,
  type Preset,
  type StageGeometry,
  type SubnetConfig,
  type SubnetGeometry,
  type Variant,
} from '../../space/index.ts';
import type { StaticSubnet } from '../../subnet/index.ts';
import { ExitHead, LayerPosition, Stem, type ForwardContext } from './layers.ts';
import { applyStatistics, type StatisticsAccumulator } from './ops.ts';
import { sortLayerChannels, type SortOptions } from './sort.ts';
import { ParameterStore } from './store.ts';

/** Left-to-right sum, the order the static forward and the ONNX exporter use (equal to float rounding). */
function sumInOrder(terms: tf.Tensor4D[]): tf.Tensor4D {
  let total = terms[0];
  for (let i = 1; i < terms.length; i++) total = tf.add(total, terms[i]);
  return total;
}

export interface SupernetOptions {
  preset: string;
  variant: string;
  seed: number;
}

export interface ForwardOptions {
  training: boolean;
  /** Dropout before the classifier (rate preset.dropout); only in training mode. Default false. */
  dropout?: boolean;
  /** Seed of the dropout mask, for reproducible steps (tf.dropout's seed). */
  dropoutSeed?: number;
  /** Dropout rate (default: the preset's); ofav2.md s3 sets it per phase (0.2 full, 0.1 after). */
  dropoutRate?: number;
  /** Eval mode: BN + activation as one fused kernel (train/supernet/ops.ts BatchNormMode.fusedEval). */
  fusedEval?: boolean;
}

export class Supernet {
  readonly preset: Preset;
  readonly variant: Variant;
  readonly seed: number;
  /** Trainable variables by stable dotted name; insertion order is stable. */
  readonly parameters: Map<string, tf.Variable>;
  /** BN running mean/variance by stable dotted name (`<bn>.runningMean`, `<bn>.runningVariance`). */
  readonly buffers: Map<string, tf.Variable>;
  /** The largest subnet: the geometry the variables are allocated at. */
  readonly maxGeometry: SubnetGeometry;

  private readonly stem: Stem;
  private readonly layers: LayerPosition[][];
  private readonly exits = new Map<number, ExitHead>();
  private readonly engineNames = new Map<string, string>();

  constructor(options: SupernetOptions) {
    this.preset = getPreset(options.preset);
    this.variant = getVariant(options.variant);
    this.seed = options.seed;
    const kernels = this.preset.kernelSizes;
    if (Math.max(...kernels) !== 7 || kernels.some((k) => ![3, 5, 7].includes(k))) {
      throw new OfaError('E_SUPERNET_KERNELS', `preset ${this.preset.name}: kernel sizes ${kernels.join(', ')} are not supported; allowed: a subset of 3, 5, 7 including 7`);
    }
    const store = new ParameterStore(createRng(options.seed));
    this.maxGeometry = subnetGeometry(sampleMax({ preset: this.preset.name, variant: this.variant.name }));
    const max = this.maxGeometry;
    this.stem = new Stem(store, max.stem);
    this.layers = max.stages.map((stage) => stage.layers.map((layer) => new LayerPosition(store, layer, 7, this.variant.parallelBlocks)));
    const exitList = this.variant.earlyExits ? [1, 2, 3, 4, 5] : [STAGE_COUNT];
    for (const exit of exitList) {
      const size = max.stages[exit - 1].layers[0].outputSize;
      this.exits.set(exit, new ExitHead(store, headGeometry(this.preset, exit, size)));
    }
    this.parameters = store.parameters;
    this.buffers = store.buffers;
    for (const [name, variable] of this.parameters) this.engineNames.set(variable.name, name);
  }

  /** Our dotted name of a tfjs variable of this supernet (tf.variableGrads keys by the engine name). */
  nameOfVariable(engineName: string): string | undefined {
    return this.engineNames.get(engineName);
  }

  private context(options: ForwardOptions): ForwardContext {
    return { training: options.training, dropout: options.dropout ?? false, dropoutRate: options.dropoutRate ?? this.preset.dropout, dropoutSeed: options.dropoutSeed, fusedEval: options.fusedEval };
  }

  private geometryOf(config: SubnetConfig): SubnetGeometry {
    if (config.preset !== this.preset.name || config.variant !== this.variant.name) {
      throw new OfaError(
        'E_CONFIG_SUPERNET',
        `subnet config is for preset ${JSON.stringify(config.preset)} variant ${JSON.stringify(config.variant)}; this supernet is preset ${JSON.stringify(this.preset.name)} variant ${JSON.stringify(this.variant.name)}`,
      );
    }
    return subnetGeometry(validateConfig(config));
  }

  private checkImages(images: tf.Tensor4D, geometry: SubnetGeometry): void {
    const [, h, w, c] = images.shape;
    if (images.rank !== 4 || h !== geometry.resolution || w !== geometry.resolution || c !== this.preset.inputChannels) {
      throw new OfaError(
        'E_SUPERNET_INPUT',
        `images have shape [${images.shape.join(', ')}]; expected [N, ${geometry.resolution}, ${geometry.resolution}, ${this.preset.inputChannels}] (NHWC at the config's resolution)`,
        { hint: 'resize the batch to config.resolution before the forward pass' },
      );
    }
  }

  private runStage(x: tf.Tensor4D, stage: StageGeometry, ctx: ForwardContext): tf.Tensor4D {
    const positions = this.layers[stage.index - 1];
    const outputs: tf.Tensor4D[] = [];
    for (const [l, layer] of stage.layers.entries()) {
      let input: tf.Tensor4D;
      if (l === 0) input = x;
      // ofav2.md s1 dense skips: layer d reads y_{d-1} + y_1 + ... + y_{d-3} (space/geometry.ts denseSkipTerms).
      else if (this.variant.denseSkip) input = sumInOrder(denseSkipTerms(l).map((j) => outputs[j]));
      else input = outputs[l - 1];
      outputs.push(positions[l].forward(input, layer, ctx));
    }
    // Stage output: y_D, plus y_1 + ... + y_{D-2} with dense skips.
    return this.variant.denseSkip ? sumInOrder(denseSkipTerms(outputs.length).map((j) => outputs[j])) : outputs[outputs.length - 1];
  }

  private trunk(geometry: SubnetGeometry, images: tf.Tensor4D, ctx: ForwardContext, onStage?: (index: number, y: tf.Tensor4D) => void): tf.Tensor4D {
    let x = this.stem.forward(images, geometry.stem, ctx);
    for (const stage of geometry.stages) {
      x = this.runStage(x, stage, ctx);
      onStage?.(stage.index, x);
    }
    return x;
  }

  forward(config: SubnetConfig, images: tf.Tensor4D, options: ForwardOptions): tf.Tensor2D {
    const geometry = this.geometryOf(config);
    this.checkImages(images, geometry);
    const ctx = this.context(options);
    return tf.tidy(() => {
      const x = this.trunk(geometry, images, ctx);
      return this.head(geometry.head.exit).forward(x, geometry.head, ctx);
    });
  }

  /**
   * ofav2.md s3 BN recalibration: sets the running statistics of every BN channel that `config` uses to
   * the exact batch mean and (biased) variance averaged over `batches` (OFA's set_running_statistics).
   * Parameters and the statistics of channels the config does not use are left alone.
   */
  recalibrateBatchNorm(config: SubnetConfig, batches: Iterable<tf.Tensor4D>, options: { allExits?: boolean } = {}): void {
    const geometry = this.geometryOf(config);
    // allExits (EE variants, exit-5 configs): the heads of exits 1..4 too, as forwardAllExits runs them
    // (ofav2.md s3: the teacher is the maximal network with all its exits).
    const allExits = options.allExits ?? false;
    if (allExits && (!this.variant.earlyExits || exitOf(config) !== STAGE_COUNT)) {
      throw new OfaError('E_SUPERNET_EXITS', `recalibrateBatchNorm allExits needs an early-exit variant and a config with exit 5; got variant ${this.variant.name}, exit ${exitOf(config)}`);
    }
    const statistics: StatisticsAccumulator = new Map();
    const ctx: ForwardContext = { training: true, statistics, dropout: false, dropoutRate: 0 };
    let count = 0;
    try {
      for (const images of batches) {
        this.checkImages(images, geometry);
        tf.tidy(() => {
          const x = this.trunk(geometry, images, ctx, (index, y) => {
            if (allExits && index < STAGE_COUNT) this.head(index).forward(y, headGeometry(this.preset, index, y.shape[1]), ctx);
          });
          this.head(geometry.head.exit).forward(x, geometry.head, ctx);
        });
        count++;
      }
      if (count === 0) throw new OfaError('E_SUPERNET_INPUT', 'recalibrateBatchNorm: no batches given; expected at least one batch of images');
      applyStatistics(statistics);
    } finally {
      for (const sums of statistics.values()) tf.dispose([sums.mean, sums.variance]);
    }
  }

  /** EE variants: the logits of exits 1..5 of a config that runs all five stages (ofav2.md s3). */
  forwardAllExits(config: SubnetConfig, images: tf.Tensor4D, options: ForwardOptions): tf.Tensor2D[] {
    if (!this.variant.earlyExits) {
      throw new OfaError('E_SUPERNET_EXITS', `variant ${this.variant.name} has no early exits; forwardAllExits needs an early-exit variant (ee, ee-d, ee-p, ee-d-p)`);
    }
    const geometry = this.geometryOf(config);
    if (exitOf(config) !== STAGE_COUNT) {
      throw new OfaError('E_SUPERNET_EXITS', `forwardAllExits needs a config with exit 5 (all stages); got exit ${exitOf(config)}`);
    }
    this.checkImages(images, geometry);
    const ctx = this.context(options);
    return tf.tidy(() => {
      const logits: tf.Tensor2D[] = [];
      this.trunk(geometry, images, ctx, (index, y) => {
        const head = headGeometry(this.preset, index, y.shape[1]);
        logits.push(this.head(index).forward(y, head, ctx));
      });
      return logits;
    });
  }

  private head(exit: number): ExitHead {
    const head = this.exits.get(exit);
    if (!head) throw new OfaError('E_SUPERNET_HEAD', `exit ${exit} does not exist in variant ${this.variant.name}`, { kind: 'failure' });
    return head;
  }

  extractSubnet(config: SubnetConfig): StaticSubnet {
    const geometry = this.geometryOf(config);
    return {
      config: validateConfig(config),
      inputChannels: this.preset.inputChannels,
      numClasses: this.preset.numClasses,
      resolution: geometry.resolution,
      stem: this.stem.extract(geometry.stem),
      stages: geometry.stages.map((stage) => ({
        index: stage.index,
        denseSkip: this.variant.denseSkip,
        layers: stage.layers.map((layer, l) => this.layers[stage.index - 1][l].extract(layer)),
      })),
      head: this.head(geometry.head.exit).extract(geometry.head),
    };
  }

  /**
   * ofav2.md s2: sorts the middle channels of every MBConv by importance (L1 norm of the projection
   * weights reading them), permuting every tensor that reads or writes them. See sort.ts for which
   * subnets keep their function exactly.
   */
  sortChannels(options: SortOptions = {}): void {
    for (const [s, stage] of this.layers.entries()) {
      for (const [l, position] of stage.entries()) sortLayerChannels(position.mbconv, this.maxGeometry.stages[s].layers[l], options);
    }
  }

  dispose(): void {
    for (const v of this.parameters.values()) v.dispose();
    for (const v of this.buffers.values()) v.dispose();
  }
}
