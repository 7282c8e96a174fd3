// Source-checkout entry of the engine (tests, `npx atelier` without a build): registers tsx in this
// process or worker thread, then runs the TypeScript entry (worker.ts: engine process or engine
// thread). Built apps use dist/main/engine-worker.mjs.
import { register } from 'tsx/esm/api';

register();
await import('./worker.ts');
