// The `ofa` command: parses arguments and calls the stages' public APIs (pipeline.md). One file per
// sub-command group; each exports `run(argv)` returning an exit code.
import { OfaError, exitCodeOf, isOfaError } from '../lib/errors.ts';
import { log, out } from './args.ts';

interface CommandGroup {
  summary: string;
  load: () => Promise<{ run: (argv: string[]) => Promise<number> }>;
}

// Registry of sub-command groups (style.md: a registry of small config objects).
const COMMANDS: Record<string, CommandGroup> = {
  space: { summary: 'inspect the search space: info, sample, validate, stats', load: () => import('./space.ts') },
  train: { summary: 'train the supernet for one phase (resumable, both cores)', load: () => import('./train.ts') },
  eval: { summary: 'top-1 of subnets of a checkpoint on the test split (one, a list, or the paper grid)', load: () => import('./eval.ts') },
  export: { summary: 'export subnets to ONNX (BN folded, opset 17); inspect ONNX models', load: () => import('./export.ts') },
  profile: { summary: 'device profiles, latency measurement, lookup tables, latency predictor', load: () => import('./profile.ts') },
  gate: { summary: 'CI latency-regression gate: candidate vs baseline model (or a recorded baseline) on a device', load: () => import('./gate.ts') },
  search: { summary: 'per-device subnet search under latency budgets; its accuracy data set and predictor', load: () => import('./search.ts') },
  deploy: { summary: 'per device and budget: the search pick exported, verified, measured and scored; bundles and deploy.json', load: () => import('./deploy.ts') },
  report: { summary: "a deploy folder's HTML report (front, picks, budgets per device), from its deploy.json", load: () => import('./report.ts') },
};

function usage(): string {
  const lines = ['ofa: OFAv2 supernet training, ONNX export, device profiling and per-device subnet search', '', 'Usage: ofa <command> [options]', '', 'Commands:'];
  for (const [name, group] of Object.entries(COMMANDS)) lines.push(`  ${name.padEnd(10)} ${group.summary}`);
  lines.push('', 'Run `ofa <command> --help` for the options of a command.');
  return `${lines.join('\n')}\n`;
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    out(usage());
    return name ? 0 : 2;
  }
  if (name === '--version') {
    const { createRequire } = await import('node:module');
    out(createRequire(import.meta.url)('../package.json').version);
    return 0;
  }
  const group = COMMANDS[name];
  try {
    if (!group) {
      throw new OfaError('E_COMMAND', `ofa: unknown command ${JSON.stringify(name)}; allowed: ${Object.keys(COMMANDS).join(', ')}`, { hint: 'run `ofa --help`' });
    }
    return await (await group.load()).run(rest);
  } catch (error) {
    // The catalogue (lib/error-codes.ts) gives each code its kind and exit code: 2 bad input, 1 failure.
    if (isOfaError(error)) {
      log(`error [${error.code}]: ${error.message}${error.hint ? `\nhint: ${error.hint}` : ''}`);
      return exitCodeOf(error.code);
    }
    log(`ofa ${name}: unexpected failure: ${(error as Error)?.stack ?? String(error)}`);
    return 1;
  }
}
