// Host facts recorded with every measurement and table (pipeline.md: CPU model, cores, runtime version, date).
import { cpus, loadavg, totalmem, hostname, release } from 'node:os';
import { z } from '../lib/schema.ts';

export const HOST_FACTS_SCHEMA = z.strictObject({
  cpuModel: z.string(),
  logicalCores: z.int().min(1),
  platform: z.string(),
  arch: z.string(),
  osRelease: z.string(),
  hostname: z.string(),
  totalMemoryMiB: z.number().nonnegative(),
  nodeVersion: z.string(),
  /** 1-minute load average when the measurement started: a shared, noisy machine shows here. */
  loadAverage1m: z.number().nonnegative(),
  date: z.string(),
});
export type HostFacts = z.infer<typeof HOST_FACTS_SCHEMA>;

export function hostFacts(): HostFacts {
  const list = cpus();
  return {
    cpuModel: list[0]?.model.trim() ?? 'unknown',
    logicalCores: list.length,
    platform: process.platform,
    arch: process.arch,
    osRelease: release(),
    hostname: hostname(),
    totalMemoryMiB: Math.round(totalmem() / 2 ** 20),
    nodeVersion: process.version,
    loadAverage1m: Number(loadavg()[0].toFixed(2)),
    date: new Date().toISOString(),
  };
}
