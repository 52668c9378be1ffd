// The run's event log (`log.jsonl` in the run folder): one JSON object per line, appended.
import { appendFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';

export const RUN_LOG = 'log.jsonl';

export class RunLog {
  readonly path: string;
  constructor(outDir: string) {
    this.path = join(outDir, RUN_LOG);
  }
  record(entry: Record<string, unknown>): void {
    appendFileSync(this.path, `${JSON.stringify({ time: new Date().toISOString(), ...entry })}\n`);
  }
}

export function runLogPath(outDir: string): string | undefined {
  const path = join(outDir, RUN_LOG);
  return existsSync(path) ? path : undefined;
}
