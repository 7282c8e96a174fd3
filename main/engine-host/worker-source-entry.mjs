// Source-checkout entry of the engine worker (tests, `npx atelier` without a build): registers
// tsx in this worker thread, then runs the TypeScript worker. Built apps use dist/main/engine-worker.mjs.
import { register } from 'tsx/esm/api';

register();
await import('./worker.ts');
