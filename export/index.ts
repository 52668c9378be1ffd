// Public API of the exporter (pipeline.md: export/ turns a subnet's static weights into an ONNX file,
// and single blocks into models for the profiler).
export { exportSubnet, randomInitSource, METADATA_KEYS, INPUT_NAME, OUTPUT_NAME, BATCH_DIM, type ExportOptions } from './subnet.ts';
// What a block is (its spec, key and cost) lives in space/blocks.ts; the exporter emits it.
export { exportBlock, randomBlockWeights, type BlockWeights, BLOCK_OUTPUT_NAME, type BlockExportOptions } from './blocks.ts';
export { randomStaticSubnet } from './random.ts';
export { summarizeModel, decodeModelFile, type ModelSummary } from './inspect.ts';
export { readSubnetConfigFile, readSubnetListFile, writeModel, readModelBytes } from './files.ts';
export { checkpointWeights, randomInitWeights, type WeightSource } from './source.ts';
export { encodeModel, decodeModel, OPSET_VERSION, IR_VERSION, type ModelProto } from './onnx.ts';
