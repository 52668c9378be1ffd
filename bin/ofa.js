#!/usr/bin/env node
// Entry point of the `ofa` command: registers the TypeScript loader, then runs the CLI.
import { register } from 'tsx/esm/api';
register();
// A reader that closed its end (`ofa ... | head`) is not a failure of the command: stop quietly, as Unix
// tools do, instead of an unhandled EPIPE stack trace.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (error) => {
    if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw error;
  });
}
const { main } = await import('../cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
