// Host facts recorded with every measurement and table (pipeline.md: CPU model, cores, runtime version, date).
import { cpus, loadavg, totalmem, hostname, release } from 'node:os';

export interface HostFacts {
  cpuModel: string;
  logicalCores: number;
  platform: string;
  arch: string;
  osRelease: string;
  hostname: string;
  totalMemoryMiB: number;
  nodeVersion: string;
  /** 1-minute load average when the measurement started: a shared, noisy machine shows here. */
  loadAverage1m: number;
  date: string;
}

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
