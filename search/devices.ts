// The devices a search is for: each device's profile, its latency table and its calibration for the
// space (profile/predict.ts, the pure predictor: no runtime is loaded), and its budgets. A search trusts a
// prediction only with both: a missing table or calibration is an error naming the file it looked for.
import { relative } from 'node:path';
import { OfaError } from '../lib/errors.ts';
import { calibrationPath, loadCalibration, loadDevice, loadTable, makePredictor, tablePath, type DevicesOptions } from '../profile/predict.ts';
import type { SpaceRef } from '../space/index.ts';
import type { SearchDevice } from './search.ts';

export interface SearchDeviceOptions extends DevicesOptions {
  /** Budgets for every device (default: each device's latencyBudgetsMs). */
  budgetsMs?: readonly number[];
}

const shown = (file: string) => (relative(process.cwd(), file).startsWith('..') ? file : relative(process.cwd(), file));

export function loadSearchDevice(name: string, space: SpaceRef, options: SearchDeviceOptions = {}): SearchDevice & { table: string; calibration: string } {
  const device = loadDevice(name, options);
  const tableFile = tablePath(device, space.preset, space.variant, options);
  const table = loadTable(device, space.preset, space.variant, options);
  if (table.preset !== space.preset || table.variant !== space.variant) {
    throw new OfaError('E_LUT', `latency table ${shown(tableFile)} is for ${table.preset}/${table.variant}; the search is for ${space.preset}/${space.variant}`, {
      hint: `rebuild it: ofa profile lut --device ${device.name} --preset ${space.preset} --variant ${space.variant} --save --fresh`,
    });
  }
  if (!table.complete) {
    throw new OfaError('E_LUT', `latency table ${shown(tableFile)} is incomplete: ${Object.keys(table.entries).length} of ${table.expectedEntries} blocks measured; a search would meet subnets it cannot predict`, {
      hint: `finish it: ofa profile lut --device ${device.name} --preset ${space.preset} --variant ${space.variant} --save (it resumes)`,
    });
  }
  const calibrationFile = calibrationPath(device, space.preset, space.variant, options);
  const calibration = loadCalibration(device, space.preset, space.variant, options);
  if (!calibration) {
    throw new OfaError('E_CALIBRATION_MISSING', `device ${device.name} has no calibration for ${space.preset}/${space.variant} (${shown(calibrationFile)}): its table sums alone miss fusion and per-run overhead (ofav2.md s5)`, {
      hint: `fit one: ofa profile calibrate --device ${device.name} --preset ${space.preset} --variant ${space.variant} --save`,
    });
  }
  return {
    name: device.name,
    latency: makePredictor(table, calibration, device.name, undefined, { table: `latency table ${tableFile}`, calibration: `calibration ${calibrationFile}` }),
    budgetsMs: options.budgetsMs ?? device.latencyBudgetsMs,
    table: tableFile,
    calibration: calibrationFile,
  };
}
