// `node --import tsx --import ./register.mjs ...`: records every module URL the ESM loader resolves,
// one per line, into the file named by OFA_MODULE_LOG (test/profile/predict.test.ts). Registered after
// tsx, so this hook runs first and sees the URL tsx's resolver settles on.
import { register } from 'node:module';

register('./hooks.mjs', import.meta.url, { data: { log: process.env.OFA_MODULE_LOG } });
