// The process test/profile/predict.test.ts inspects: imports OFA_ENTRY (a path from the checkout root);
// with OFA_PREDICT (JSON {devicesDir, device, config}) it loads that device's predictor and predicts the
// config; with OFA_CALL it calls that export with no arguments. Prints {exports, cjs, prediction} as JSON;
// `cjs` lists the CommonJS modules loaded by require() (createRequire), which ESM hooks do not see.
import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const entry = await import(pathToFileURL(resolve(process.env.OFA_ENTRY)).href);
let prediction;
if (process.env.OFA_PREDICT) {
  const { devicesDir, device, config } = JSON.parse(process.env.OFA_PREDICT);
  const profile = entry.loadDevice(device, { devicesDir });
  prediction = entry.loadPredictor(profile, config.preset, config.variant, { devicesDir }).predict(config);
}
if (process.env.OFA_CALL) await entry[process.env.OFA_CALL]();
const cjs = Object.keys(createRequire(pathToFileURL(resolve('package.json')).href).cache);
process.stdout.write(JSON.stringify({ exports: Object.keys(entry).sort(), cjs, prediction }));
