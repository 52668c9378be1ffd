// Exporter benchmark (issue 5): export time per model, and for the `fashion` max subnet the
// onnxruntime-node CPU latency (1 thread) of our export (BN folded) against the same network exported
// with explicit BatchNormalization nodes, as ratios measured in one run, interleaved (pipeline.md: the
// machines are shared and noisy).
//
// Run: `flock /tmp/ofav2-heavy.lock npm run bench -- export`
import * as ort from 'onnxruntime-node';
import { encodeModel, exportBlock, exportSubnet, randomStaticSubnet } from '../export/index.ts';
import { createRng } from '../lib/rng.ts';
import { configId, sampleMax, sampleMin, sampleRandom, subnetCost, type SubnetConfig } from '../space/index.ts';
import { blocksOfConfig } from '../space/blocks.ts';

const ms = (start: bigint) => Number(process.hrtime.bigint() - start) / 1e6;

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
}

async function exportTimes(): Promise<void> {
  console.log('export time per model (fashion; random init = weights + BN calibration on tfjs cpu; export = ONNX graph + encode):');
  const configs: [string, SubnetConfig][] = [
    ['ofa min', sampleMin({ preset: 'fashion', variant: 'ofa' })],
    ['ofa max', sampleMax({ preset: 'fashion', variant: 'ofa' })],
    ['ee-d max', sampleMax({ preset: 'fashion', variant: 'ee-d' })],
    ['ee-d-p max', sampleMax({ preset: 'fashion', variant: 'ee-d-p' })],
    ...[0, 1, 2].map((seed): [string, SubnetConfig] => [`ee-d random ${seed}`, sampleRandom({ preset: 'fashion', variant: 'ee-d' }, createRng(seed))]),
  ];
  for (const [name, config] of configs) {
    let start = process.hrtime.bigint();
    const subnet = randomStaticSubnet(config, 1);
    const initMs = ms(start);
    const exportMs: number[] = [];
    let bytes = 0;
    for (let i = 0; i < 5; i++) {
      start = process.hrtime.bigint();
      bytes = encodeModel(exportSubnet(subnet, { source: 'bench' })).length;
      exportMs.push(ms(start));
    }
    const cost = subnetCost(config);
    console.log(
      `  ${name.padEnd(16)} ${configId(config)}  ${(cost.macs / 1e6).toFixed(2).padStart(6)} MMACs  ${(bytes / 1024).toFixed(0).padStart(5)} KiB  ` +
        `random init ${initMs.toFixed(0).padStart(5)} ms  export median ${median(exportMs).toFixed(1).padStart(6)} ms`,
    );
  }
  const blocks = blocksOfConfig(sampleMax({ preset: 'fashion', variant: 'ee-d-p' }));
  const start = process.hrtime.bigint();
  for (const [i, block] of blocks.entries()) encodeModel(exportBlock(block, { seed: i }));
  console.log(`  single blocks (fashion ee-d-p max, ${blocks.length} blocks): ${(ms(start) / blocks.length).toFixed(1)} ms per block`);
}

async function foldingLatency(optimization: 'all' | 'disabled', folded: Uint8Array, explicit: Uint8Array, resolution: number): Promise<void> {
  const options: ort.InferenceSession.SessionOptions = {
    executionProviders: ['cpu'],
    intraOpNumThreads: 1,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: optimization,
  };
  const sessions = { folded: await ort.InferenceSession.create(folded, options), explicit: await ort.InferenceSession.create(explicit, options) };
  const rng = createRng(7);
  const input = new ort.Tensor('float32', Float32Array.from({ length: resolution * resolution }, () => rng.normal()), [1, 1, resolution, resolution]);
  const outputs = { folded: (await sessions.folded.run({ input })).logits.data as Float32Array, explicit: (await sessions.explicit.run({ input })).logits.data as Float32Array };
  let diff = 0;
  for (let i = 0; i < outputs.folded.length; i++) diff = Math.max(diff, Math.abs(outputs.folded[i] - outputs.explicit[i]));
  for (let i = 0; i < 20; i++) {
    await sessions.folded.run({ input });
    await sessions.explicit.run({ input });
  }
  // Interleaved single runs (ABBA order per round), until >= 200 rounds and >= 2 s.
  const samples = { folded: [] as number[], explicit: [] as number[] };
  const started = process.hrtime.bigint();
  const timeOne = async (which: 'folded' | 'explicit') => {
    const start = process.hrtime.bigint();
    await sessions[which].run({ input });
    samples[which].push(ms(start));
  };
  for (let round = 0; round < 200 || ms(started) < 2000; round++) {
    const order: ('folded' | 'explicit')[] = round % 2 ? ['folded', 'explicit'] : ['explicit', 'folded'];
    for (const which of order) await timeOne(which);
  }
  const f = median(samples.folded);
  const e = median(samples.explicit);
  const fMin = Math.min(...samples.folded);
  const eMin = Math.min(...samples.explicit);
  console.log(
    `  ORT optimisation '${optimization}': folded median ${f.toFixed(3)} ms (p90 ${percentile(samples.folded, 0.9).toFixed(3)}, fastest ${fMin.toFixed(3)}), ` +
      `explicit BN median ${e.toFixed(3)} ms (p90 ${percentile(samples.explicit, 0.9).toFixed(3)}, fastest ${eMin.toFixed(3)}), ratio explicit/folded ${(e / f).toFixed(3)} (fastest runs ${(eMin / fMin).toFixed(3)}) ` +
      `(${samples.folded.length} runs each; outputs agree to ${diff.toExponential(1)})`,
  );
  await sessions.folded.release();
  await sessions.explicit.release();
}

export async function run(): Promise<void> {
  await exportTimes();
  for (const variant of ['ofa', 'ee-d']) {
    const config = sampleMax({ preset: 'fashion', variant });
    const subnet = randomStaticSubnet(config, 1);
    const folded = encodeModel(exportSubnet(subnet, { source: 'bench' }));
    const explicit = encodeModel(exportSubnet(subnet, { source: 'bench', foldBatchNorm: false }));
    console.log(
      `fashion max subnet (${variant}, ${configId(config)}, ${(subnetCost(config).macs / 1e6).toFixed(2)} MMACs), onnxruntime-node ${ort.env.versions.common} cpu EP, ` +
        '1 intra-op thread, batch 1: BN folded (our export) vs explicit BatchNormalization nodes',
    );
    // 'all' is the deployment setting (ORT fuses Conv+BN itself); 'disabled' shows the cost of unfused BN.
    for (const optimization of ['all', 'disabled'] as const) await foldingLatency(optimization, folded, explicit, config.resolution);
  }
}
