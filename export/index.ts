// Public API of the exporter (pipeline.md: export/ turns a subnet's static weights into an ONNX file,
// and single blocks into models for the profiler).
export { exportSubnet, randomInitSource, METADATA_KEYS, INPUT_NAME, OUTPUT_NAME, BATCH_DIM, type ExportOptions } from './subnet.ts';
export {
  exportBlock,
  randomBlockWeights,
  type BlockWeights,
  blocksOfConfig,
  blockKey,
  blockCost,
  sumCosts,
  stemBlock,
  layerBlock,
  headBlock,
  BLOCK_OUTPUT_NAME,
  type BlockSpec,
  type StemBlockSpec,
  type LayerBlockSpec,
  type StageOutputBlockSpec,
  type HeadBlockSpec,
  type BlockExportOptions,
} from './blocks.ts';
export { randomStaticSubnet } from './random.ts';
export { summarizeModel, decodeModelFile, type ModelSummary } from './inspect.ts';
export { readSubnetConfigFile, readSubnetListFile, writeModel, readModelBytes } from './files.ts';
export { checkpointWeights, randomInitWeights, type WeightSource } from './source.ts';
export { encodeModel, decodeModel, OPSET_VERSION, IR_VERSION, type ModelProto } from './onnx.ts';
