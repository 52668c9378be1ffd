// Module-resolution hooks (node:module register) for register.mjs: runs in the loader's thread.
import { appendFileSync } from 'node:fs';

let log;

export function initialize(data) {
  log = data.log;
}

export async function resolve(specifier, context, nextResolve) {
  const result = await nextResolve(specifier, context);
  // Written before the resolution returns, so the file is complete once the importing code resumes.
  if (log) appendFileSync(log, `${result.url}\n`);
  return result;
}
