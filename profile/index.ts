// Public API of the profiler (pipeline.md "Measuring latency", "Device profile"; ofav2.md s5).
export * from './device.ts';
export * from './measure.ts';
export * from './model.ts';
export * from './stats.ts';
export * from './host.ts';
export { checkDevice, probeModel } from './probe.ts';
export { getRuntime } from './runtimes/index.ts';
export type { Runtime, RuntimeSession, RuntimeInfo, ValueInfo } from './runtimes/index.ts';
export * from './lut.ts';
export * from './predictor.ts';
export { calibrateDevice, validatePredictor, predictorQuality, randomSubnets } from './calibrate.ts';
export { referenceConfig, referenceModel, subnetModel, REFERENCE_SEED } from './reference.ts';
export type { ReferenceRecord } from './reference.ts';
export type { CalibrateResult, ValidationResult, PredictorQuality, SubnetRunOptions } from './calibrate.ts';
export { enumerateBlocks, blockKeysOf, blockModel } from './blocks.ts';
