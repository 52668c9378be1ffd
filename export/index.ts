// Public API of the exporter (pipeline.md: export/ turns a subnet's static weights into an ONNX file,
// and single blocks into models for the profiler): the names the profiler and the CLI use.
export { exportSubnet, randomInitSource, type ExportOptions } from './subnet.ts';
// What a block is (its spec, key and cost) lives in space/blocks.ts; the exporter emits it.
export { exportBlock, type BlockExportOptions } from './blocks.ts';
export { randomStaticSubnet } from './random.ts';
export { summarizeModel, decodeModelFile, type ModelSummary } from './inspect.ts';
export { readSubnetConfigFile, readSubnetListFile, writeModel, readModelBytes } from './files.ts';
export { checkpointWeights, randomInitWeights, type WeightSource } from './source.ts';
export { encodeModel, type ModelProto } from './onnx.ts';
export { checkOnnxModel, type OnnxCheckerResult } from './checker.ts';
