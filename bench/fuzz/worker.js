// Entry of a fuzz worker thread (bench/fuzz.bench.ts): register the TypeScript loader, then run the cases.
import { register } from 'tsx/esm/api';

register();
await import('./worker_main.ts');
