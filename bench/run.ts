// Runs every bench/*.bench.ts (each exports `run(): Promise<void>` printing its figures), or only those
// whose name contains one of the arguments: `node --import tsx bench/run.ts profile`.
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const dir = dirname(fileURLToPath(import.meta.url));
const filters = process.argv.slice(2);
const files = readdirSync(dir)
  .filter((f) => f.endsWith('.bench.ts'))
  .filter((f) => filters.length === 0 || filters.some((name) => f.includes(name)))
  .sort();
for (const file of files) {
  console.log(`\n== ${file}`);
  const started = process.hrtime.bigint();
  const module = (await import(pathToFileURL(join(dir, file)).href)) as { run?: () => Promise<void> };
  if (typeof module.run !== 'function') {
    console.log(`(skipped: ${file} exports no run())`);
    continue;
  }
  await module.run();
  console.log(`== ${file}: ${(Number(process.hrtime.bigint() - started) / 1e9).toFixed(1)} s`);
}
