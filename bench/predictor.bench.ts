// Latency predictor throughput (issue 11, item 2): predictions per second on one core (one JS thread) for
// the fashion ee-d table and calibration of devices/cpu-1t, through the predictor's own entry
// (profile/predict.ts, which loads no runtime). Random subnets are drawn first; the timed loop only
// predicts. Run: `node --import tsx bench/run.ts predictor`.
import { createRng } from '../lib/rng.ts';
import { sampleRandom, type SubnetConfig } from '../space/index.ts';
import { blockKeysOf, blocksOfConfig } from '../space/blocks.ts';
import { loadDevice, loadTable, makePredictor, loadCalibration, type LatencyTable } from '../profile/predict.ts';

const PRESET = 'fashion';
const VARIANT = 'ee-d';

/**
 * The committed table, or, when the space's blocks have changed since it was measured (a table to
 * rebuild), the same table with each missing key filled by a measured entry of the same kind: the
 * work per prediction (geometry, keys, lookups, costs) is the same, only the figures are not.
 */
function coveringTable(table: LatencyTable, configs: readonly SubnetConfig[]): { table: LatencyTable; filled: number } {
  const entries = { ...table.entries };
  const byKind = new Map(Object.values(table.entries).map((entry) => [entry.block.kind, entry]));
  let filled = 0;
  for (const config of configs) {
    const blocks = blocksOfConfig(config);
    blockKeysOf(config).forEach((key, i) => {
      if (entries[key]) return;
      const stand = byKind.get(blocks[i].kind) ?? Object.values(table.entries)[0];
      entries[key] = { ...stand, block: blocks[i] };
      filled++;
    });
  }
  return { table: { ...table, entries }, filled };
}

export async function run(): Promise<void> {
  const device = loadDevice('cpu-1t');
  const rng = createRng(1);
  const configs = Array.from({ length: 2000 }, () => sampleRandom({ preset: PRESET, variant: VARIANT }, rng));
  const committed = loadTable(device, PRESET, VARIANT);
  const { table, filled } = coveringTable(committed, configs);
  if (filled > 0) console.log(`note: the committed table lacks ${filled} block keys of the current space (to be rebuilt); stand-in entries of the same kind fill them`);
  const predictor = makePredictor(table, loadCalibration(device, PRESET, VARIANT), device.name);

  let sink = 0;
  for (let i = 0; i < 2000; i++) sink += predictor.predict(configs[i % configs.length]).latencyMs; // warm-up (JIT)
  const rounds: number[] = [];
  for (let round = 0; round < 5; round++) {
    let count = 0;
    const start = process.hrtime.bigint();
    let elapsedNs = 0n;
    while (elapsedNs < 400_000_000n) {
      for (let i = 0; i < 500; i++) sink += predictor.predict(configs[(count + i) % configs.length]).latencyMs;
      count += 500;
      elapsedNs = process.hrtime.bigint() - start;
    }
    rounds.push(count / (Number(elapsedNs) / 1e9));
  }
  rounds.sort((a, b) => a - b);
  const median = rounds[Math.floor(rounds.length / 2)];
  console.log(
    `predictor ${device.name} ${PRESET}/${VARIANT} (${Object.keys(committed.entries).length} table entries, calibrated): ` +
      `${Math.round(median).toLocaleString('en-US')} predictions/s on one core (median of 5 rounds of 0.4 s; range ${Math.round(rounds[0]).toLocaleString('en-US')}..${Math.round(rounds[rounds.length - 1]).toLocaleString('en-US')}), ` +
      `${(1e6 / median).toFixed(2)} us per prediction${Number.isFinite(sink) ? '' : ' (non-finite sum)'}`,
  );
}
