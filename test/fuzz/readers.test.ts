// The fuzz suite at CI size (issue 18 item 5): every reader of test/fuzz/readers.ts gets a few dozen
// fast-check cases (structure-aware mutations of a valid file, truncations, bit flips, deep nesting, huge
// sizes); none may be accepted as garbage, fail unexpectedly or crash. bench/fuzz.bench.ts runs 10,000+
// cases per reader with hang detection. OFA_FUZZ_RUNS and OFA_FUZZ_SEED change the size and the seed.
import test from 'ava';
import fc from 'fast-check';
import { BAD_OUTCOMES, classify, fuzzWorkspace } from './readers.ts';

const RUNS = Number(process.env.OFA_FUZZ_RUNS ?? 100);
const SEED = Number(process.env.OFA_FUZZ_SEED ?? 18);
const workspace = fuzzWorkspace();
test.after.always(() => workspace.close());

for (const reader of workspace.readers) {
  test.serial(`${reader.name}: ${RUNS} cases, each a clear error or a sound value`, (t) => {
    const tally = new Map<string, number>();
    fc.assert(
      fc.property(reader.cases, (fuzzCase) => {
        const { outcome, detail } = classify(reader, reader.dir, fuzzCase);
        tally.set(outcome, (tally.get(outcome) ?? 0) + 1);
        if (BAD_OUTCOMES.has(outcome)) throw new Error(`${outcome} (${fuzzCase.how}): ${detail}`);
      }),
      { numRuns: RUNS, seed: SEED, endOnFailure: true, includeErrorInReport: true },
    );
    t.log([...tally].map(([outcome, n]) => `${outcome} ${n}`).join(', '));
    t.pass();
  });
}
