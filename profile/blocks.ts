// The blocks of the space, for the lookup tables (ofav2.md s5; pipeline.md: an entry is keyed by
// everything that changes a block's cost). What a block is, its key and its ONNX model belong to the
// exporter (export/blocks.ts); this file enumerates every distinct block a space can produce.
import { blockKey, blocksOfConfig, exportBlock, type BlockSpec } from '../export/blocks.ts';
import { encodeModel } from '../export/onnx.ts';
import { resolveDimensions, sampleUniform, type SpaceRef, type SubnetConfig } from '../space/index.ts';

export type { BlockSpec };
export { blockKey, blocksOfConfig };

/** The keys of a subnet's blocks, in network order (a key appears once per block that uses it). */
export function blockKeysOf(config: SubnetConfig): string[] {
  return blocksOfConfig(config).map((spec) => blockKey(spec));
}

/**
 * Every distinct block of the space, keyed. A block's geometry depends only on the resolution, its
 * stage and position, its own layer choice (kernel, expand, branch mask), the stage depth (dense
 * stage sums) and the exit, never on the choices of other layers. So the uniform configurations over
 * resolution x exit x depth x (kernel, expand, mask) produce every block; the tests check the claim
 * against 1000 random subnets.
 */
export function enumerateBlocks(space: SpaceRef): Map<string, BlockSpec> {
  const dims = resolveDimensions(space);
  const blocks = new Map<string, BlockSpec>();
  for (const resolution of dims.resolutions)
    for (const exit of dims.exits)
      for (const depth of dims.depths)
        for (const kernel of dims.kernelSizes)
          for (const expand of dims.expandRatios)
            for (const branches of dims.branchMasks) {
              const config = sampleUniform(space, { kernel, expand, depth, resolution, exit, branches });
              for (const spec of blocksOfConfig(config)) {
                const key = blockKey(spec);
                if (!blocks.has(key)) blocks.set(key, spec);
              }
            }
  return blocks;
}

/** The block as ONNX bytes (random weights: latency does not depend on trained values). */
export function blockModel(spec: BlockSpec, seed = 1): Uint8Array {
  return encodeModel(exportBlock(spec, { seed }));
}
