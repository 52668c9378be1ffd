// Public API of the search space (pipeline.md: space/ imports nothing of the other stages): the names the
// other stages and the CLI use, and the types in their signatures. Tests import the rest from its module.
export {
  PRESET_NAMES,
  VARIANT_NAMES,
  DEFAULT_PRESET,
  DEFAULT_VARIANT,
  STAGE_COUNT,
  getPreset,
  getVariant,
  fullDimensions,
  midChannels,
  seChannels,
  convOutputSize,
  samePadding,
  type Activation,
  type Preset,
  type Variant,
  type Dimensions,
} from './presets.ts';
export {
  validateConfig,
  findFaults,
  formatFault,
  configContext,
  canonicalize,
  canonicalJson,
  configId,
  exitOf,
  parseJson,
  type SubnetConfig,
  type ValidateOptions,
} from './config.ts';
export type { Fault } from './schema.ts';
export {
  subnetGeometry,
  headGeometry,
  activeBranches,
  denseSkipTerms,
  type StemGeometry,
  type LayerGeometry,
  type HeadGeometry,
  type StageGeometry,
  type SubnetGeometry,
} from './geometry.ts';
export { subnetCost, geometryCost, type Cost } from './cost.ts';
export {
  sampleRandom,
  sampleMin,
  sampleMax,
  sampleUniform,
  resolveDimensions,
  subnetCount,
  type SpaceRef,
  type UniformChoice,
} from './sample.ts';
export { paperGrid } from './grid.ts';
// The predictor encoding of ofav2.md s4, for the accuracy predictor of search/ (the next issue).
export { encodeConfig, encodingLayout, type EncodingSegment } from './encoding.ts';
// A subnet's blocks: the lookup-table keys the exporter emits models for and the predictor sums.
export {
  blocksOfGeometry,
  enumerateBlocks,
  blockKey,
  blockCost,
  checkBlockSpec,
  blockStemGeometry,
  blockLayerGeometry,
  blockHeadGeometry,
  type BlockSpec,
  type StemBlockSpec,
  type LayerBlockSpec,
  type HeadBlockSpec,
} from './blocks.ts';
