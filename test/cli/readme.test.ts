// Every `ofa` command shown in README.md, run as a user runs it: its own process (`node bin/ofa.js`),
// in a fresh folder (a temp dir holding a copy of devices/, as a checkout does), in an order where each
// finds the files the ones before it wrote (sample -> export -> inspect, train -> eval -> export).
// Heavy commands run with tiny sizes: PLAN below maps each README command to the runs that stand for it.
// A README command missing from PLAN fails the test, and so does a PLAN entry whose command the README
// no longer shows; a run may use only the flags its README command shows plus the entry's size flags,
// so a flag renamed in the code but not in the README (or the reverse) fails too.
import test from 'ava';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const OFA = join(ROOT, 'bin', 'ofa.js');

/** One process: a command line as in the README (`ofa ...`, optional `< in` and `> out`), its exit status. */
interface Run {
  command: string;
  status?: number;
}

interface Entry {
  /** The README command this entry stands for (as extracted: comment dropped, spaces collapsed); none for a setup step. */
  readme?: string;
  /** Concrete instances (placeholders such as `[--json]` or `min|max` resolved); default: the README command itself. */
  runs?: (string | Run)[];
  /** Size flags for every run: replace the README's value of the same flag, or are added. */
  tiny?: string;
  /** Flags a run may use beyond the README command's and the size flags (for `ofa train ... --resume`). */
  alsoFlags?: string[];
  /** Files the runs need that no command writes. */
  before?: (dir: string) => void;
}

// Tiny training: 64 images, 2 steps of 32, a 100-image validation split evaluated on 32 images.
const TINY_TRAIN = '--epochs 1 --max-train-images 64 --batch-size 32 --validation-size 100 --eval-images 32';
const TINY_EVAL = '--max-images 100 --recalibration-images 64';
// Tiny deploys: one budget's worth of images and rounds (the budgets generous: a loaded machine must meet them).
const TINY_DEPLOY = '--test-images 32 --recalibration-images 32 --gate-rounds 0 --budgets-ms 50';
// Tiny measurements: a few timed runs, no minimum time.
const TINY_TIMING = '--runs 2 --min-time 0 --warmup 0';

const PLAN: Entry[] = [
  // Search space.
  { readme: 'ofa space info [--preset P] [--variant V] [--json]', runs: ['ofa space info', 'ofa space info --preset tiny-imagenet --variant ee-d-p --json'] },
  { readme: 'ofa space sample --subnets 5 --seed 1 --json' },
  {
    readme: 'ofa space sample --kind min|max|uniform [--kernel K --expand E --depth D] --json',
    runs: ['ofa space sample --kind min --json', 'ofa space sample --kind max --json', 'ofa space sample --kind uniform --kernel 5 --expand 4 --depth 3 --json > cfg.json'],
  },
  {
    readme: 'ofa space validate cfg.json [--preset P] [--variant V]',
    before: (dir) => writeFileSync(join(dir, 'bad.json'), JSON.stringify({ preset: 'fashion', variant: 'ofa', resolution: 30, stages: [] })),
    runs: ['ofa space validate cfg.json', 'ofa space validate cfg.json --preset fashion --variant ee-d', 'ofa space validate - < cfg.json', { command: 'ofa space validate bad.json', status: 2 }],
  },
  { readme: 'ofa space stats --subnets 1000 --json', tiny: '--subnets 50' },

  // Training: the README's first command, resumed, then a second phase from a run of the default variant.
  { readme: 'ofa train --preset fashion --variant ofa --phase full --epochs 4 --out runs/fashion-ofa-full', tiny: TINY_TRAIN },
  {
    readme: 'ofa train ... --out runs/fashion-ofa-full --resume',
    runs: ['ofa train --preset fashion --variant ofa --phase full --out runs/fashion-ofa-full --resume'],
    alsoFlags: ['--preset', '--variant', '--phase'],
    tiny: TINY_TRAIN,
  },
  { runs: ['ofa train --variant ee-d --phase full --out runs/fashion-ee-d-full --workers 1'], tiny: TINY_TRAIN },
  { readme: 'ofa train --phase kernel --epochs 3 --init runs/fashion-ee-d-full --teacher runs/fashion-ee-d-full --out runs/fashion-ee-d-kernel', tiny: `${TINY_TRAIN} --workers 1` },
  // The whole EPS schedule: 10 phases of 1 epoch on 64 images, 2 validation subnets per epoch.
  { readme: 'ofa train eps --preset fashion --variant ee-d --teacher pet --scale 0.02 --out runs/eps-ee-d-pet', tiny: '--scale 0.001 --max-train-images 64 --batch-size 32 --validation-size 100 --eval-images 32 --validation-subnets 2 --recalibration-images 32' },

  // Export (max.json first: eval's --subnet uses it, a config of the trained variant).
  { readme: 'ofa space sample --kind max --variant ofa --json > max.json' },
  { readme: 'ofa eval --checkpoint runs/fashion-ofa-full [--subnet cfg.json] [--json]', runs: ['ofa eval --checkpoint runs/fashion-ofa-full', 'ofa eval --checkpoint runs/fashion-ofa-full --subnet max.json --json'], tiny: TINY_EVAL },
  { readme: 'ofa export --checkpoint runs/fashion-ofa-full --subnet max.json -o max.onnx' },
  { runs: ['ofa space sample --subnets 3 --seed 2 --json > list.json'] },
  { readme: 'ofa eval --checkpoint runs/eps-ee-d-pet --grid --json --out grid.json', tiny: '--max-images 32 --recalibration-images 32' },
  { runs: ['ofa space sample --variant ofa --subnets 2 --seed 3 --json > ofa-list.json'] },
  { readme: 'ofa eval --checkpoint runs/fashion-ofa-full --subnet-list list.json', runs: ['ofa eval --checkpoint runs/fashion-ofa-full --subnet-list ofa-list.json'], tiny: TINY_EVAL },
  { readme: 'ofa export --random-init --seed 1 --subnet-list list.json -o models/', before: (dir) => mkdirSync(join(dir, 'models')) },
  { readme: 'ofa export inspect max.onnx [--json]', runs: ['ofa export inspect max.onnx', 'ofa export inspect max.onnx --json'] },

  // Profiling, on the copy of devices/ in the temp folder.
  { readme: 'ofa profile devices' },
  {
    readme: 'ofa profile model max.onnx --device cpu-1t [--dim batch=1] [--runs 64] [--out m.json] [--json]',
    runs: ['ofa profile model max.onnx --device cpu-1t', 'ofa profile model max.onnx --device cpu-1t --dim batch=1 --runs 64 --out m.json --json'],
    tiny: TINY_TIMING,
  },
  // --save writes into the temp folder's devices/cpu-1t/, where calibrate and validate read the table.
  { readme: 'ofa profile lut --device cpu-1t --preset fashion --variant ee-d --save', tiny: '--runs 1 --min-time 0 --warmup 0' },
  { readme: 'ofa profile calibrate --device cpu-1t --preset fashion --variant ee-d --subnets 60 --save', tiny: `${TINY_TIMING} --subnets 3` },
  {
    readme: 'ofa profile validate --device cpu-1t --preset fashion --variant ee-d --subnets 100 [--save | --out FILE] [--json]',
    runs: [
      'ofa profile validate --device cpu-1t --preset fashion --variant ee-d --subnets 100',
      'ofa profile validate --device cpu-1t --preset fashion --variant ee-d --subnets 100 --save --json',
      'ofa profile validate --device cpu-1t --preset fashion --variant ee-d --subnets 100 --out validation.json',
    ],
    tiny: `${TINY_TIMING} --subnets 3`,
  },
  { readme: 'ofa profile predict max.json --device cpu-1t' },
  { readme: 'ofa profile device --device cpu-1t --preset fashion --variant ee-d --out profiled/', tiny: '--preset micro --subnets 3 --held-out 2 --sessions 1 --runs 1 --block-time 0 --subnet-time 0 --warmup 0 --quiet' },

  // Search, on the EPS run above (fashion ee-d) and the devices' tables and calibrations.
  { readme: 'ofa search dataset --checkpoint runs/eps-ee-d-pet --subnets 1000 --out accuracy.jsonl', tiny: '--subnets 10 --max-images 32 --recalibration-images 32' },
  { readme: 'ofa search fit --data accuracy.jsonl --out predictor.json [--json]', runs: ['ofa search fit --data accuracy.jsonl --out predictor.json', 'ofa search fit --data accuracy.jsonl --out predictor.json --json'], tiny: '--epochs 5' },
  {
    readme: 'ofa search --predictor predictor.json --checkpoint runs/eps-ee-d-pet --devices cpu-1t,cpu-2t,wasm-node [--budgets-ms 0.2,0.3] [--seed S] [--json] [--out FILE]',
    runs: [
      'ofa search --predictor predictor.json --checkpoint runs/eps-ee-d-pet --devices cpu-1t,cpu-2t,wasm-node',
      'ofa search --predictor predictor.json --checkpoint runs/eps-ee-d-pet --devices cpu-1t,cpu-2t,wasm-node --budgets-ms 0.2,0.3 --seed 2 --json --out search.json',
      { command: 'ofa search --predictor predictor.json --checkpoint runs/eps-ee-d-pet --devices cpu-1t --budgets-ms 0.001', status: 2 },
    ],
    tiny: '--generations 5',
  },
  { readme: 'ofa search --predictor predictor.json --devices cpu-1t --algorithm evolution', tiny: '--generations 3' },

  // The CI gate on random-init exports: main.onnx and pr.onnx the same small subnet, next.onnx about 6x its work.
  {
    runs: [
      'ofa space sample --kind uniform --kernel 3 --expand 3 --depth 2 --json > gate-small.json',
      'ofa space sample --kind uniform --kernel 7 --expand 6 --depth 4 --json > gate-heavy.json',
      'ofa export --random-init --seed 1 --subnet gate-small.json -o main.onnx',
      'ofa export --random-init --seed 1 --subnet gate-small.json -o pr.onnx',
      'ofa export --random-init --seed 1 --subnet gate-heavy.json -o next.onnx',
    ],
  },
  // The README's first command: the shipped supernet and its predictor (copied as a checkout has them), every device that starts here.
  {
    readme: 'ofa deploy',
    before: (dir) => cpSync(join(ROOT, 'supernets', 'fashion-ee-d'), join(dir, 'supernets', 'fashion-ee-d'), { recursive: true }),
    tiny: TINY_DEPLOY,
  },
  // Deploy: the tiny supernet and predictor above.
  {
    readme: 'ofa deploy --checkpoint runs/eps-ee-d-pet --predictor predictor.json --devices cpu-1t,wasm-node --budgets-ms 2,4 --out deploy/ [--json]',
    runs: ['ofa deploy --checkpoint runs/eps-ee-d-pet --predictor predictor.json --devices cpu-1t,wasm-node --budgets-ms 2,4 --out deploy/', 'ofa deploy --checkpoint runs/eps-ee-d-pet --predictor predictor.json --devices cpu-1t,wasm-node --budgets-ms 2,4 --out deploy/ --json'],
    tiny: TINY_DEPLOY,
  },
  { readme: 'ofa report deploy/' },
  {
    readme: 'ofa gate --device cpu-1t --baseline main.onnx --candidate pr.onnx [--threshold 5%] [--max-time 60s] [--json] [--out gate.json]',
    runs: ['ofa gate --device cpu-1t --baseline main.onnx --candidate pr.onnx', 'ofa gate --device cpu-1t --baseline main.onnx --candidate pr.onnx --threshold 5% --max-time 60s --json --out gate.json'],
    // alpha 0.001: a false alarm of this A/A check fails the test with probability 0.1%.
    tiny: '--max-time 10s --alpha 0.001',
  },
  { readme: 'ofa gate --device cpu-1t --baseline pr.onnx --candidate pr.onnx --rounds 300 --out baseline.json', tiny: '--max-time 30s --alpha 0.001' },
  {
    readme: 'ofa gate --device cpu-1t --baseline baseline.json --candidate next.onnx --markdown gate.md --junit gate.xml --benchmark-json bench.json',
    runs: [{ command: 'ofa gate --device cpu-1t --baseline baseline.json --candidate next.onnx --markdown gate.md --junit gate.xml --benchmark-json bench.json', status: 1 }],
    tiny: '--max-time 10s',
  },
];

/** The `ofa` commands of README.md's code blocks: `node bin/ofa.js` read as `ofa`, `&&` chains split, comments dropped. */
function readmeCommands(markdown: string): string[] {
  const commands: string[] = [];
  for (const block of markdown.matchAll(/^```[^\n]*\n([\s\S]*?)^```/gm)) {
    for (const line of block[1].split('\n')) {
      for (const part of line.split('&&')) {
        const command = part.replace(/\s#\s.*$/, '').replace(/^\s*node bin\/ofa\.js\s/, 'ofa ').trim().replace(/\s+/g, ' ');
        if (command.startsWith('ofa ') && !commands.includes(command)) commands.push(command);
      }
    }
  }
  return commands;
}

/** The flags a command line shows, placeholders' brackets aside: `[--dim batch=1]` shows --dim. */
const flagsOf = (command: string) => [...command.matchAll(/(?:^|[\s[|])(--?[a-z][a-z0-9-]*)/g)].map((match) => match[1]);

/** `--flag value` and `--switch` tokens of the size flags, as [flag, value | undefined]. */
function flagPairs(text: string): [string, string | undefined][] {
  const tokens = text.split(' ').filter(Boolean);
  const pairs: [string, string | undefined][] = [];
  for (let i = 0; i < tokens.length; i++) {
    const next = tokens[i + 1];
    if (next !== undefined && !next.startsWith('--')) pairs.push([tokens[i], tokens[++i]]);
    else pairs.push([tokens[i], undefined]);
  }
  return pairs;
}

/** The run's arguments with the size flags applied: a flag the README gives keeps its place, its value replaced. */
function applyTiny(args: string[], tiny: string | undefined): string[] {
  const result = [...args];
  for (const [flag, value] of flagPairs(tiny ?? '')) {
    const at = result.indexOf(flag);
    if (at < 0) result.push(flag, ...(value === undefined ? [] : [value]));
    else if (value !== undefined) result[at + 1] = value;
  }
  return result;
}

/** Splits `ofa a b < in > out` into the arguments and the redirections. */
function parseCommand(command: string): { args: string[]; stdin?: string; stdout?: string } {
  const tokens = command.split(' ').filter(Boolean);
  if (tokens[0] !== 'ofa') throw new Error(`not an ofa command: ${command}`);
  const args: string[] = [];
  let stdin: string | undefined;
  let stdout: string | undefined;
  for (let i = 1; i < tokens.length; i++) {
    if (tokens[i] === '<') stdin = tokens[++i];
    else if (tokens[i] === '>') stdout = tokens[++i];
    else args.push(tokens[i]);
  }
  return { args, stdin, stdout };
}

const dir = mkdtempSync(join(tmpdir(), 'ofa-readme-'));
test.before(() => cpSync(join(ROOT, 'devices'), join(dir, 'devices'), { recursive: true }));
test.after.always(() => rmSync(dir, { recursive: true, force: true }));

function ofa(args: string[], stdin?: string): SpawnSyncReturns<string> {
  return spawnSync(process.execPath, [OFA, ...args], {
    cwd: dir,
    encoding: 'utf8',
    input: stdin === undefined ? undefined : readFileSync(join(dir, stdin)),
    maxBuffer: 64 * 1024 * 1024,
    timeout: 10 * 60 * 1000,
  });
}

test.serial('every README command has an entry in PLAN, and every PLAN entry a README command', (t) => {
  const commands = readmeCommands(readFileSync(join(ROOT, 'README.md'), 'utf8'));
  t.true(commands.length >= 20, `found ${commands.length} commands`);
  const planned = PLAN.flatMap((entry) => (entry.readme ? [entry.readme] : []));
  const missing = commands.filter((command) => !planned.includes(command));
  t.deepEqual(missing, [], 'README commands without a tiny equivalent in PLAN (test/cli/readme.test.ts): add one');
  const stale = planned.filter((command) => !commands.includes(command));
  t.deepEqual(stale, [], 'PLAN entries whose command README.md no longer shows: update them');
  for (const entry of PLAN) {
    if (!entry.readme) continue;
    const allowed = new Set([...flagsOf(entry.readme), ...flagPairs(entry.tiny ?? '').map(([flag]) => flag), ...(entry.alsoFlags ?? [])]);
    for (const run of entry.runs ?? []) {
      const command = typeof run === 'string' ? run : run.command;
      const extra = flagsOf(command).filter((flag) => !allowed.has(flag));
      t.deepEqual(extra, [], `${JSON.stringify(command)} uses flags its README command ${JSON.stringify(entry.readme)} does not show`);
    }
  }
});

for (const entry of PLAN) {
  const runs = (entry.runs ?? [entry.readme!]).map((run) => (typeof run === 'string' ? { command: run } : run));
  test.serial(entry.readme ? `README: ${entry.readme}` : `setup: ${runs.map((r) => r.command).join('; ')}`, (t) => {
    entry.before?.(dir);
    for (const run of runs) {
      const { args: readmeArgs, stdin, stdout } = parseCommand(run.command);
      const args = applyTiny(readmeArgs, entry.tiny);
      const shown = `ofa ${args.join(' ')}${stdin ? ` < ${stdin}` : ''}${stdout ? ` > ${stdout}` : ''}`;
      const started = performance.now();
      const result = ofa(args, stdin);
      const seconds = ((performance.now() - started) / 1000).toFixed(1);
      t.log(`${shown}: exit ${result.status} in ${seconds} s`);
      const expected = run.status ?? 0;
      t.is(result.status, expected, `${shown}\n${result.stderr}`);
      t.notRegex(result.stderr, /unexpected failure|^\s+at .*:\d+:\d+\)?$/m, `${shown}: no stack trace`);
      if (stdout) writeFileSync(join(dir, stdout), result.stdout);
      if (expected !== 0) {
        t.regex(result.stderr, /\S/, `${shown}: a refusal says why`);
        continue;
      }
      t.regex(result.stdout + result.stderr, /\S/, `${shown}: prints something`);
      if (args.includes('--json')) t.notThrows(() => JSON.parse(result.stdout), `${shown}: --json prints JSON`);
      // Files the command was told to write are there and not empty.
      for (const flag of ['-o', '--out']) {
        const at = args.indexOf(flag);
        if (at < 0) continue;
        const target = join(dir, args[at + 1]);
        t.true(existsSync(target) && (statSync(target).isDirectory() || statSync(target).size > 0), `${shown}: wrote ${args[at + 1]}`);
      }
    }
  });
}
