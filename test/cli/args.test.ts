// The argument parser (cli/args.ts): typed flags, and refusals that name the flag and what to use.
import test from 'ava';
import { OfaError } from '../../lib/errors.ts';
import { parseArgs, type CommandSpec } from '../../cli/args.ts';

const SPEC: CommandSpec = {
  name: 'demo',
  summary: 'a command for the parser tests',
  usage: 'ofa demo [options]',
  flags: {
    subnets: { type: 'int', description: 'how many subnets', default: 3, placeholder: 'N', formerly: ['n', 'samples'] },
    seed: { type: 'int', description: 'seed', placeholder: 'S' },
    out: { type: 'string', alias: 'o', description: 'output', placeholder: 'PATH', formerly: ['output'] },
    json: { type: 'boolean', description: 'print JSON' },
    kind: { type: 'string', description: 'which', choices: ['min', 'max'], placeholder: 'KIND' },
  },
};
const WITH_FILE: CommandSpec = { ...SPEC, name: 'demo file', positionals: ['FILE'] };

function refusal(argv: string[], spec = SPEC): OfaError {
  const error = (() => {
    try {
      parseArgs(spec, argv);
    } catch (caught) {
      return caught;
    }
    throw new Error(`${argv.join(' ')} was accepted`);
  })();
  if (!(error instanceof OfaError)) throw error;
  return error;
}

test('flags, aliases, defaults, --no-, inline values and positionals where declared', (t) => {
  t.deepEqual(parseArgs(SPEC, ['--subnets', '5', '-o', 'x.onnx', '--json']).flags, { subnets: 5, out: 'x.onnx', json: true });
  t.deepEqual(parseArgs(SPEC, ['--subnets=7', '--out=-', '--no-json']).flags, { subnets: 7, out: '-', json: false });
  t.deepEqual(parseArgs(SPEC, ['--json=false']).flags, { subnets: 3, json: false });
  t.deepEqual(parseArgs(WITH_FILE, ['cfg.json', '--kind', 'max']).positionals, ['cfg.json']);
  t.deepEqual(parseArgs(WITH_FILE, ['-']).positionals, ['-']);
  t.true(parseArgs(SPEC, ['--help']).help);
});

test('every refusal is E_ARGS (exit 2) naming the flag and what to use instead', (t) => {
  const renamed = refusal(['--n', '5']);
  t.is(renamed.code, 'E_ARGS');
  t.is(renamed.kind, 'bad-input');
  t.regex(renamed.message, /^ofa demo: unknown flag "--n"; it is now --subnets \(allowed: --subnets, --seed, --out, --json, --kind\)$/);
  t.is(renamed.hint, 'run `ofa demo --help`');
  t.regex(refusal(['--samples', '5']).message, /"--samples"; it is now --subnets/);
  t.regex(refusal(['--output', 'a']).message, /"--output"; it is now --out/);
  t.regex(refusal(['--sede', '1']).message, /unknown flag "--sede"; did you mean --seed\?/);
  t.regex(refusal(['--jsn']).message, /did you mean --json\?/);
  t.regex(refusal(['--bogus']).message, /unknown flag "--bogus" \(allowed:/);
  // A single dash is for aliases only.
  t.regex(refusal(['-json']).message, /unknown flag "-json"; did you mean --json\?/);
  // A missing value, also when the next token is another flag.
  t.regex(refusal(['--out']).message, /flag --out needs a value \(PATH\)$/);
  t.regex(refusal(['--out', '--json']).message, /flag --out needs a value \(PATH\); got the flag "--json"/);
  t.regex(refusal(['--subnets', 'x']).message, /--subnets "x" is not valid; allowed: an integer/);
  t.regex(refusal(['--kind', 'mid']).message, /--kind "mid" is not valid; allowed: min, max/);
  t.regex(refusal(['--json=maybe']).message, /--json=maybe is not valid; allowed: true, false/);
  // Arguments where the command takes none; they are not silently dropped.
  t.regex(refusal(['5']).message, /^ofa demo: unexpected argument "5"; this command takes flags only$/);
});

test('issue 18: extra positional arguments, malformed booleans and numbers out of range are refused per flag, with its name', (t) => {
  const ranged: CommandSpec = {
    ...WITH_FILE,
    flags: {
      ...SPEC.flags,
      subnets: { type: 'int', description: 'how many', default: 1, min: 1, max: 1000, placeholder: 'N' },
      alpha: { type: 'number', description: 'level', min: 0, max: 0.5, placeholder: 'A' },
    },
  };
  const extra = refusal(['a.json', 'b.json'], ranged);
  t.is(extra.code, 'E_ARGS');
  t.regex(extra.message, /^ofa demo file: unexpected argument "b\.json"; this command takes one FILE$/);
  t.deepEqual(parseArgs({ ...ranged, positionals: ['FILE...'] }, ['a', 'b', 'c']).positionals, ['a', 'b', 'c']);
  for (const value of ['maybe', '', 'TRUE', '2']) t.regex(refusal([`--json=${value}`]).message, new RegExp(`--json=${value} is not valid; allowed: true, false`));
  t.regex(refusal(['--subnets', '1000000000000'], ranged).message, /^ofa demo file: --subnets 1000000000000 is out of range; allowed: an integer from 1 to 1000$/);
  t.regex(refusal(['--subnets', '0'], ranged).message, /--subnets 0 is out of range; allowed: an integer from 1 to 1000/);
  t.regex(refusal(['--alpha', '0.9'], ranged).message, /--alpha 0\.9 is out of range; allowed: a number from 0 to 0\.5/);
  t.regex(refusal(['--alpha', 'Infinity'], ranged).message, /--alpha "Infinity" is not valid; allowed: a number/);
  // Without a declared range, int flags are 0 .. 2^32-1 (counts and 32-bit seeds): no negative or unsafe integers.
  t.regex(refusal(['--seed', '-1']).message, /--seed -1 is out of range; allowed: an integer from 0 to 4294967295/);
  t.regex(refusal(['--seed', '99999999999999999999']).message, /--seed 99999999999999999999 is out of range/);
  t.is(parseArgs(SPEC, ['--seed', '4294967295']).flags.seed, 4294967295);
});
