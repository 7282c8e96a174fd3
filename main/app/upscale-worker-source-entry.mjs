// Source-checkout entry of the upscale worker (tests, `npx atelier` without a build): registers
// tsx in this worker thread, then runs the TypeScript worker. Built apps use dist/main/upscale-worker.mjs.
import { register } from 'tsx/esm/api';

register();
await import('./upscale-worker.ts');
