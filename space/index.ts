// Public API of the search space (pipeline.md: space/ imports nothing of the other stages).
export * from './presets.ts';
export * from './config.ts';
export * from './geometry.ts';
export * from './cost.ts';
export * from './sample.ts';
export * from './encoding.ts';
export { paperGrid } from './grid.ts';
export {
  blocksOfConfig,
  blocksOfGeometry,
  blockKey,
  blockKeysOf,
  enumerateBlocks,
  blockCost,
  sumCosts,
  checkBlockSpec,
  stemBlock,
  layerBlock,
  headBlock,
  blockStemGeometry,
  blockLayerGeometry,
  blockHeadGeometry,
  type BlockSpec,
  type StemBlockSpec,
  type LayerBlockSpec,
  type StageOutputBlockSpec,
  type HeadBlockSpec,
} from './blocks.ts';
export type { Fault } from './schema.ts';
