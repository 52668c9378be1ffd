// Entry of a train/parallel worker thread: workers start without the parent's TypeScript loader
// hooks unless --import tsx was inherited, so register tsx here and then load the TypeScript module.
import { register } from 'tsx/esm/api';

register();
await import('./worker_main.ts');
