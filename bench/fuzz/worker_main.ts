// A fuzz worker (bench/fuzz.bench.ts): builds the readers' seed files in its own temp folder, then runs
// the cases it is given, telling the main thread when each starts (its watchdog counts hangs) and how it
// ended. Case i of a reader is fast-check's sample of the reader's arbitrary for seed + i: the same on
// every run, and a restarted worker (after a hang or a crash) goes on at the next index.
import { parentPort, workerData } from 'node:worker_threads';
import fc from 'fast-check';
import { classify, fuzzWorkspace } from '../../test/fuzz/readers.ts';

const { reader: name, seed, from, to } = workerData as { reader: string; seed: number; from: number; to: number };
const workspace = fuzzWorkspace();
const reader = workspace.readers.find((r) => r.name === name);
if (!reader) throw new Error(`no reader ${name}`);
try {
  for (let i = from; i < to; i++) {
    const [fuzzCase] = fc.sample(reader.cases, { seed: seed + i, numRuns: 1 });
    parentPort!.postMessage({ type: 'start', i });
    const started = performance.now();
    const { outcome, detail } = classify(reader, reader.dir, fuzzCase);
    parentPort!.postMessage({ type: 'done', i, outcome, detail, how: fuzzCase.how.slice(0, 160), ms: performance.now() - started });
  }
} finally {
  workspace.close();
}
parentPort!.postMessage({ type: 'end' });
