// `ofa report DIR` (issue 14 item 2): regenerates DIR/report.html from DIR/deploy.json (which `ofa deploy`
// writes, with the report, at its end). Self-contained: inline SVG plots, no script, no network.
import { OfaError } from '../lib/errors.ts';
import { writeReport } from '../deploy/index.ts';
import { helpText, out, parseArgs, type CommandSpec } from './args.ts';

export const REPORT_SPEC: CommandSpec = {
  name: 'report',
  summary: "the deploy folder's HTML report: per device the front, the picks as predicted and as measured, the budgets; a table of the picks",
  usage: 'ofa report DIR',
  flags: {},
  positionals: ['DIR'],
  examples: ['ofa report deploy/'],
};

export async function run(argv: string[]): Promise<number> {
  const { positionals, help } = parseArgs(REPORT_SPEC, argv);
  if (help) {
    out(helpText(REPORT_SPEC));
    return 0;
  }
  if (positionals.length !== 1) throw new OfaError('E_ARGS', `ofa report: expected one deploy folder, got ${positionals.length} arguments`, { hint: 'run `ofa report --help`' });
  out(`wrote ${await writeReport(positionals[0])}`);
  return 0;
}
