// Worker entry in plain JavaScript: it registers tsx in the worker thread, then loads the
// TypeScript projector (a worker's --import flags are not applied to its entry module on Node 20).
import { register } from 'tsx/esm/api';

register();
await import('./worker.ts');
