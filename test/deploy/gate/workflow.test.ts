// examples/ci/latency-gate.yml: every `ofa gate` line in it parses with the command's own flags, uses the
// CI outputs, and the subnet config it exports is valid; the exit-code handling names 3 (inconclusive).
import test from 'ava';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from '../../../cli/args.ts';
import { GATE_SPEC } from '../../../cli/gate.ts';
import { parseJson, validateConfig } from '../../../space/index.ts';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const workflow = readFileSync(`${ROOT}/examples/ci/latency-gate.yml`, 'utf8');

/** The `node bin/ofa.js gate ...` commands, continuation lines joined, shell quoting of "$VAR" dropped. */
function gateCommands(): string[][] {
  const joined = workflow.replace(/\\\n\s*/g, '');
  return [...joined.matchAll(/node bin\/ofa\.js gate ([^\n]+)/g)].map((match) => match[1].replace(/"/g, '').split(/\s+/).filter(Boolean));
}

test('every ofa gate command of the example workflow parses with the gate\'s flags', (t) => {
  const commands = gateCommands();
  t.is(commands.length, 2);
  for (const args of commands) {
    const parsed = parseArgs(GATE_SPEC, args);
    t.truthy(parsed.flags.baseline);
    t.truthy(parsed.flags.candidate);
  }
  const [pullRequest] = commands.map((args) => parseArgs(GATE_SPEC, args).flags);
  for (const flag of ['out', 'markdown', 'junit', 'benchmark-json']) t.truthy(pullRequest[flag], `--${flag}`);
  t.regex(workflow, /tool: customSmallerIsBetter/);
  t.regex(workflow, /"\$status" -eq 3/);
  t.regex(workflow, /GITHUB_STEP_SUMMARY/);
});

test('the subnet the example exports is a valid config', (t) => {
  const file = `${ROOT}/examples/ci/subnet.json`;
  t.notThrows(() => validateConfig(parseJson(readFileSync(file, 'utf8'), file), { input: file }));
  t.regex(workflow, /--subnet examples\/ci\/subnet\.json/);
});
