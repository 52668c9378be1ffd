// Whole-subnet export (pipeline.md "ONNX model"): input `input` float32 NCHW [batch, C, R, R] with a
// symbolic batch dimension, output `logits` [batch, classes], BN folded, metadata_props describing the net.
import { canonicalJson, configId, subnetCost, validateConfig } from '../space/index.ts';
import type { StaticSubnet } from '../subnet/index.ts';
import { emitHead, emitStage, emitStem, type EmitContext } from './emit.ts';
import { GraphBuilder, type ModelProto } from './onnx.ts';

/** metadata_props keys (pipeline.md: the subnet config, preset, supernet checksum, MACs and params). */
export const METADATA_KEYS = {
  config: 'subnet_config',
  configId: 'config_id',
  preset: 'preset',
  variant: 'variant',
  source: 'supernet_checksum',
  macs: 'macs',
  params: 'params',
  batchNorm: 'batch_norm',
} as const;

export const INPUT_NAME = 'input';
export const OUTPUT_NAME = 'logits';
export const BATCH_DIM = 'batch';

export interface ExportOptions {
  /** Where the weights came from: the supernet checkpoint's sha256, or `random-init:seed=S`. */
  source: string;
  /** Fold BN into convolutions (default true). false keeps BatchNormalization nodes (benchmarks only). */
  foldBatchNorm?: boolean;
}

export function randomInitSource(seed: number): string {
  return `random-init:seed=${seed}`;
}

export function exportSubnet(subnet: StaticSubnet, options: ExportOptions): ModelProto {
  const config = validateConfig(subnet.config, { input: 'static subnet config' });
  const foldBatchNorm = options.foldBatchNorm ?? true;
  const graph = new GraphBuilder();
  const ctx: EmitContext = { graph, foldBatchNorm };
  let x = emitStem(ctx, { name: INPUT_NAME, size: subnet.resolution }, subnet.stem);
  for (const stage of subnet.stages) x = emitStage(ctx, x, stage);
  const logits = emitHead(ctx, `exit${subnet.head.geometry.exit}`, x, subnet.head);
  graph.renameLastOutput(logits, OUTPUT_NAME);
  const cost = subnetCost(config);
  const id = configId(config);
  return graph.build({
    graphName: `ofav2-${config.preset}-${config.variant}-${id}`,
    inputs: [{ name: INPUT_NAME, shape: [BATCH_DIM, subnet.inputChannels, subnet.resolution, subnet.resolution] }],
    outputs: [{ name: OUTPUT_NAME, shape: [BATCH_DIM, subnet.numClasses] }],
    docString: `OFAv2 subnet ${id} (${config.preset}, ${config.variant}), exported by ofav2`,
    metadata: {
      [METADATA_KEYS.config]: canonicalJson(config),
      [METADATA_KEYS.configId]: id,
      [METADATA_KEYS.preset]: config.preset,
      [METADATA_KEYS.variant]: config.variant,
      [METADATA_KEYS.source]: options.source,
      // space/cost.ts conventions; the deployed (BN-folded) parameter count is what the file stores.
      [METADATA_KEYS.macs]: String(cost.macs),
      [METADATA_KEYS.params]: String(cost.deployedParams),
      [METADATA_KEYS.batchNorm]: foldBatchNorm ? 'folded' : 'explicit',
    },
  });
}
