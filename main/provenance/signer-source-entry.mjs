// Source-checkout entry of the signing process (tests, benches, `npx atelier` without a build):
// registers tsx in this process, then runs the TypeScript entry. Built apps run
// dist/main/signer-worker.mjs instead (scripts/build-node.mjs).
import { register } from 'tsx/esm/api';

register();
await import('./signer-worker.ts');
