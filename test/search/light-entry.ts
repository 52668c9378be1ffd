// The process test/search/cli.test.ts inspects for heavy modules (through test/profile/module-log/): it
// loads the `ofa search` command's module and runs a whole search from files, as the command does:
// OFA_SEARCH (JSON {predictor, devicesDir, device, generations}) names them; the result goes to OFA_SEARCH_OUT.
import { writeFileSync } from 'node:fs';
import '../../cli/search.ts';
import { loadAccuracyPredictor, loadSearchDevice, searchDevices } from '../../search/index.ts';

export async function run(): Promise<void> {
  const job = JSON.parse(process.env.OFA_SEARCH as string) as { predictor: string; devicesDir: string; device: string; generations: number };
  const accuracy = loadAccuracyPredictor(job.predictor);
  const space = { preset: accuracy.preset, variant: accuracy.variant };
  const device = loadSearchDevice(job.device, space, { devicesDir: job.devicesDir });
  const [result] = searchDevices(space, accuracy, [device], { nsga2: { generations: job.generations } });
  writeFileSync(process.env.OFA_SEARCH_OUT as string, JSON.stringify(result.picks));
}
