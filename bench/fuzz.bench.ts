// The fuzz suite at full size (issue 18 item 5): 10,000 cases per reader (OFA_FUZZ_CASES) of
// test/fuzz/readers.ts, each reader in a worker thread with a watchdog: a case that takes longer than
// OFA_FUZZ_HANG_MS (default 20 s) is a hang, a worker that dies is a crash; both restart the worker at the
// next case. Prints per reader: cases, clear errors (exit 2 / exit 1), accepted valid files, unexpected
// failures, crashes, hangs and garbage accepted, then examples of anything bad. CPU-heavy: run it niced,
// `nice -n 19 npm run bench -- fuzz`; OFA_FUZZ_READER=name runs one reader, OFA_FUZZ_SEED another seed.
// Exits non-zero (process.exitCode 1) when any case is bad.
import { Worker } from 'node:worker_threads';
import { OUTCOMES, BAD_OUTCOMES, type Outcome } from '../test/fuzz/readers.ts';

const READERS = [
  'subnet config', 'device profile', 'latency table', 'calibration', 'validation', 'accuracy predictor', 'accuracy data set', 'gate result (baseline)',
  'deploy.json (baseline)', 'checkpoint manifest', 'safetensors', 'eps state', 'ONNX model', 'CIFAR-10 batch', 'Tiny ImageNet JPEG', 'command line (ofa train)',
];

interface Tally {
  counts: Record<Outcome, number>;
  examples: string[];
  slowestMs: number;
  seconds: number;
}

/** Runs cases [0, cases) of one reader, restarting its worker after a hang or a crash. */
async function fuzzReader(reader: string, cases: number, seed: number, hangMs: number): Promise<Tally> {
  const tally: Tally = { counts: Object.fromEntries(OUTCOMES.map((o) => [o, 0])) as Record<Outcome, number>, examples: [], slowestMs: 0, seconds: 0 };
  const started = performance.now();
  const note = (outcome: Outcome, i: number, text: string) => {
    tally.counts[outcome]++;
    if (BAD_OUTCOMES.has(outcome) && tally.examples.length < 5) tally.examples.push(`#${i} ${outcome}: ${text}`);
  };
  let next = 0;
  while (next < cases) {
    next = await new Promise<number>((resolve) => {
      const worker = new Worker(new URL('./fuzz/worker.js', import.meta.url), { workerData: { reader, seed, from: next, to: cases }, resourceLimits: { maxOldGenerationSizeMb: 4096 } });
      let current: { i: number; since: number } | undefined;
      let finished = next;
      let settled = false;
      const settle = (at: number) => {
        if (settled) return;
        settled = true;
        clearInterval(watchdog);
        resolve(at);
      };
      const watchdog = setInterval(() => {
        if (current && performance.now() - current.since > hangMs) {
          note('hang', current.i, `no answer within ${hangMs} ms`);
          const at = current.i + 1;
          current = undefined;
          void worker.terminate();
          settle(at);
        }
      }, 250);
      worker.on('message', (message: { type: string; i: number; outcome: Outcome; detail: string; how: string; ms: number }) => {
        if (message.type === 'start') current = { i: message.i, since: performance.now() };
        else if (message.type === 'done') {
          current = undefined;
          finished = message.i + 1;
          tally.slowestMs = Math.max(tally.slowestMs, message.ms);
          note(message.outcome, message.i, `${message.how}: ${message.detail}`);
        } else if (message.type === 'end') settle(cases);
      });
      worker.on('error', (error) => {
        if (current) note('crash', current.i, `worker died: ${(error as Error).message}`);
        settle(current ? current.i + 1 : finished);
      });
      worker.on('exit', () => settle(current ? current.i + 1 : finished));
    });
  }
  tally.seconds = (performance.now() - started) / 1000;
  return tally;
}

export async function run(): Promise<void> {
  const cases = Number(process.env.OFA_FUZZ_CASES ?? 10_000);
  const seed = Number(process.env.OFA_FUZZ_SEED ?? 1_000_018);
  const hangMs = Number(process.env.OFA_FUZZ_HANG_MS ?? 20_000);
  const only = process.env.OFA_FUZZ_READER;
  const readers = only ? READERS.filter((name) => name.includes(only)) : READERS;
  console.log(`fuzz: ${cases} cases per reader, seed ${seed}, hang limit ${hangMs} ms, ${readers.length} readers`);
  const header = ['reader', 'cases', 'clear (exit 2)', 'clear (exit 1)', 'accepted valid', 'unexpected', 'crashes', 'hangs', 'garbage accepted', 'slowest ms', 's'];
  console.log(header.join(' | '));
  let bad = 0;
  const examples: string[] = [];
  for (const reader of readers) {
    const t = await fuzzReader(reader, cases, seed, hangMs);
    const c = t.counts;
    console.log([reader, cases, c.clear, c['clear-failure'], c.accepted, c.unexpected, c.crash, c.hang, c.garbage, t.slowestMs.toFixed(0), t.seconds.toFixed(0)].join(' | '));
    bad += c.unexpected + c.crash + c.hang + c.garbage;
    examples.push(...t.examples.map((e) => `${reader} ${e}`));
  }
  if (examples.length > 0) console.log(`\nbad cases (first few per reader):\n${examples.join('\n')}`);
  console.log(`\nfuzz: ${bad === 0 ? 'no' : bad} unexpected failures, crashes, hangs or garbage accepted`);
  if (bad > 0) process.exitCode = 1;
}
