// The speed reference: one fixed whole subnet per space, measured in every interleaved chunk of a table
// build, a calibration and a validation. These machines are shared: measured here, the same model ran
// up to 2x slower for minutes at a time while another tenant was busy, with nothing visible in `ps`
// or in /proc/stat's steal time. Entries measured in different minutes are then not comparable. The
// reference, measured interleaved with each chunk, sees the same slowdown as the chunk; dividing by it
// puts every figure on one speed scale: "milliseconds at the speed the table was built at".
// (pipeline.md: "compare by ratios measured in one run, interleaved".)
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { encodeModel, exportSubnet, randomInitSource, randomStaticSubnet } from '../export/index.ts';
import { writeFileAtomic } from '../lib/atomic.ts';
import { configId, resolveDimensions, sampleUniform, type SubnetConfig } from '../space/index.ts';

/** The weight seed of the reference model (latency does not depend on weight values). */
export const REFERENCE_SEED = 0;

const middle = (values: readonly number[]) => values[Math.floor((values.length - 1) / 2)];

/**
 * The reference subnet of a space: the middle value of every dimension (fashion: kernel 5, expand 4,
 * depth 3, resolution 24), the last exit, every branch. Mid-sized on purpose: its latency is in the
 * range of the subnets whose speed it tracks.
 */
export function referenceConfig(preset: string, variant: string): SubnetConfig {
  const dims = resolveDimensions({ preset, variant });
  return sampleUniform(
    { preset, variant },
    {
      kernel: middle(dims.kernelSizes),
      expand: middle(dims.expandRatios),
      depth: middle(dims.depths),
      resolution: middle(dims.resolutions),
      exit: dims.exits[dims.exits.length - 1],
      branches: dims.branchMasks[dims.branchMasks.length - 1],
    },
  );
}

/** The whole subnet as ONNX bytes, with random weights (latency does not depend on trained values). */
export function subnetModel(config: SubnetConfig, seed: number): Uint8Array {
  return encodeModel(exportSubnet(randomStaticSubnet(config, seed), { source: randomInitSource(seed) }));
}

/**
 * A hash of the code a cached model depends on (the exporter, the space's geometry, the static subnet's
 * forward that calibrates random BN statistics): a changed exporter never reuses models cached by an
 * older one. Only a cache key: .ts files here, .js once compiled.
 */
let exporterHash: string | undefined;
function exporterVersion(): string {
  if (exporterHash === undefined) {
    const root = join(dirname(fileURLToPath(import.meta.url)), '..');
    const hash = createHash('sha256');
    for (const folder of ['export', 'space', 'subnet']) {
      const dir = join(root, folder);
      if (!existsSync(dir)) continue;
      for (const file of readdirSync(dir).filter((f) => /\.(ts|js)$/.test(f)).sort()) hash.update(`${folder}/${file}`).update(readFileSync(join(dir, file)));
    }
    exporterHash = hash.digest('hex').slice(0, 12);
  }
  return exporterHash;
}

/**
 * Exported subnets are cached by (config id, weight seed, exporter version) in the OS temp folder:
 * exporting takes about a second per subnet, and the same subnets are measured on every device.
 */
export function cachedSubnetModel(config: SubnetConfig, seed: number): Uint8Array {
  const dir = join(tmpdir(), 'ofav2-subnet-models');
  const file = join(dir, `${config.preset}-${config.variant}-${configId(config)}-${seed}-${exporterVersion()}.onnx`);
  if (existsSync(file)) return new Uint8Array(readFileSync(file));
  const bytes = subnetModel(config, seed);
  mkdirSync(dir, { recursive: true });
  writeFileAtomic(file, bytes);
  return bytes;
}

export function referenceModel(preset: string, variant: string): Uint8Array {
  return cachedSubnetModel(referenceConfig(preset, variant), REFERENCE_SEED);
}
