// Building latency lookup tables (ofav2.md s5, pipeline.md "Measuring latency"): every distinct block of a
// space measured on one device, with the host facts. What a table holds and how it is read is
// profile/table.ts. Built incrementally: the file is rewritten atomically after every chunk, so a crash
// loses at most the chunk in flight and a re-run measures only what is missing.
import { existsSync } from 'node:fs';
import { encodeModel, exportBlock } from '../export/index.ts';
import { writeJsonAtomic } from '../lib/atomic.ts';
import { OfaError } from '../lib/errors.ts';
import { ProgressBar } from '../lib/progress.ts';
import { configId, enumerateBlocks, getPreset, getVariant, type BlockSpec } from '../space/index.ts';
import { deviceKnobs, type DeviceProfile } from './device.ts';
import { hostFacts } from './host.ts';
import { measureInterleaved, resolveProtocol, type MeasureOptions } from './measure.ts';
import { referenceConfig, referenceModel } from './reference.ts';
import { getRuntime } from './runtimes/index.ts';
import { median } from './stats.ts';
import { emptyTable, readTable, type LatencyTable, type LutRun, type ReferenceRecord } from './table.ts';

/** The block as ONNX bytes (random weights: latency does not depend on trained values). */
export function blockModel(spec: BlockSpec, seed = 1): Uint8Array {
  return encodeModel(exportBlock(spec, { seed }));
}

/** The median over every chunk of the reference's median and fastest run, over all build sessions. */
function referenceOf(table: LatencyTable, id: string): ReferenceRecord | undefined {
  const medians = table.runs.flatMap((run) => run.referenceMs ?? []);
  const minima = table.runs.flatMap((run) => run.referenceMinMs ?? []);
  if (medians.length === 0) return undefined;
  return { configId: id, medianMs: median(medians), ...(minima.length > 0 ? { minMs: median(minima) } : {}) };
}

export interface BuildTableOptions {
  device: DeviceProfile;
  preset: string;
  variant: string;
  /** Per-entry protocol (defaults: 10 warm-up runs, 64 samples, 750 ms). */
  protocol?: Pick<MeasureOptions, 'warmupRuns' | 'minSamples' | 'minTimeMs'>;
  /** Start from an empty table. */
  fresh?: boolean;
  quiet?: boolean;
  /**
   * The table file: read and resumed when it exists, rewritten after every chunk. Where the user asked
   * (`--out FILE`), or tablePath(device, ...) for `--save`: nothing is written anywhere else.
   */
  file: string;
  /** Stop after measuring this many new entries (tests of resumption). */
  limit?: number;
  /** Blocks measured interleaved per chunk (default 16); the file is written after each chunk. */
  chunkSize?: number;
}

export interface BuildTableResult {
  file: string;
  table: LatencyTable;
  entries: number;
  measured: number;
  skipped: number;
  seconds: number;
}

function sameKnobs(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

export async function buildTable(options: BuildTableOptions): Promise<BuildTableResult> {
  const started = process.hrtime.bigint();
  const { device, preset, variant } = options;
  getPreset(preset, '--preset');
  getVariant(variant, '--variant');
  const protocol = resolveProtocol({ minTimeMs: 750, ...options.protocol });
  const runtime = getRuntime(device.runtime);
  await runtime.check(device);
  const runtimeVersion = (await runtime.info(device)).version;
  const file = options.file;
  const blocks = enumerateBlocks({ preset, variant });
  const knobs = deviceKnobs(device);
  const host = hostFacts();
  const referenceId = configId(referenceConfig(preset, variant));

  let table: LatencyTable | undefined;
  if (!options.fresh && existsSync(file)) {
    table = readTable(file);
    // A table mixes entries only from one device setting, runtime and CPU: anything else is a new table.
    let mismatch =
      table.preset !== preset || table.variant !== variant
        ? `it is for ${table.preset}/${table.variant}`
        : !sameKnobs(table.device, knobs)
          ? 'the device settings changed'
          : table.runtime !== runtimeVersion
            ? `it was measured with ${table.runtime}, this is ${runtimeVersion}`
            : table.runs.some((r) => r.host.cpuModel !== host.cpuModel || r.host.logicalCores !== host.logicalCores)
              ? `it was measured on ${table.runs[0].host.cpuModel} (${table.runs[0].host.logicalCores} cores)`
              : undefined;
    if (!mismatch && Object.keys(table.entries).length > 0 && table.reference?.configId !== referenceId) {
      mismatch = 'it was built without the speed reference this version measures in every chunk';
    }
    if (mismatch) {
      throw new OfaError('E_LUT_MISMATCH', `latency table ${file} cannot be resumed: ${mismatch}`, { hint: 'rebuild it with --fresh (or move the old table away)' });
    }
  }
  table ??= emptyTable({ preset, variant, device: knobs, runtime: runtimeVersion, expectedEntries: blocks.size });
  table.expectedEntries = blocks.size;
  const todo = [...blocks.entries()].filter(([key]) => !(key in table.entries));
  const skipped = blocks.size - todo.length;
  const run = table.runs.length;
  const runRecord: LutRun = { startedAt: host.date, host, protocol, measured: 0, referenceMs: [], referenceMinMs: [] };
  if (todo.length > 0) table.runs.push(runRecord);

  const reference = todo.length > 0 ? referenceModel(preset, variant) : new Uint8Array();
  const bar = new ProgressBar({ label: `lut ${device.name} ${preset}/${variant}`, total: todo.length, unit: 'blocks', quiet: options.quiet || todo.length === 0 });
  let measured = 0;
  const chunkSize = options.chunkSize ?? 16;
  const limit = options.limit ?? Infinity;
  // Blocks are measured interleaved in chunks (measure.ts), and the table is written after each chunk.
  for (let start = 0; start < todo.length && measured < limit; start += chunkSize) {
    const chunk = todo.slice(start, Math.min(start + chunkSize, start + (limit - measured)));
    const results = await measureInterleaved([...chunk.map(([, spec]) => blockModel(spec)), reference], device, protocol);
    const referenceMs = results[chunk.length].stats.medianMs;
    const referenceMinMs = results[chunk.length].stats.minMs;
    runRecord.referenceMs!.push(referenceMs);
    runRecord.referenceMinMs!.push(referenceMinMs);
    chunk.forEach(([key, spec], i) => {
      const result = results[i];
      table.entries[key] = {
        medianMs: result.stats.medianMs,
        minMs: result.stats.minMs,
        referenceMs,
        referenceMinMs,
        p90Ms: result.stats.p90Ms,
        madMs: result.stats.madMs,
        samples: result.stats.count,
        sessionCreateMs: result.sessionCreateMs,
        firstRunMs: result.firstRunMs,
        run,
        block: spec,
      };
    });
    measured += chunk.length;
    table.reference = referenceOf(table, referenceId);
    runRecord.measured = measured;
    runRecord.seconds = Number(process.hrtime.bigint() - started) / 1e9;
    table.complete = Object.keys(table.entries).length >= blocks.size;
    writeJsonAtomic(file, table, { createParents: true });
    bar.tick(chunk.length, { last: `${results[results.length - 1].stats.medianMs.toFixed(3)}ms` });
  }
  table.complete = [...blocks.keys()].every((key) => key in table.entries);
  if (measured === 0) writeJsonAtomic(file, table, { createParents: true });
  return { file, table, entries: Object.keys(table.entries).length, measured, skipped, seconds: Number(process.hrtime.bigint() - started) / 1e9 };
}
