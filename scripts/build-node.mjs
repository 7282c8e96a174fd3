// Bundles the Node side (CLI/server, engine worker), the Electron main process and the preload
// with esbuild. npm packages stay external (native modules must load from node_modules).
import { build } from 'esbuild';

const common = { bundle: true, platform: 'node', target: 'node20', sourcemap: true, logLevel: 'warning' };

await Promise.all([
  build({
    ...common,
    entryPoints: { cli: 'main/cli/index.ts', 'engine-worker': 'main/engine-host/worker.ts' },
    outdir: 'dist/main',
    format: 'esm',
    outExtension: { '.js': '.mjs' },
    packages: 'external',
  }),
  build({
    ...common,
    entryPoints: { electron: 'main/electron/main.ts' },
    outdir: 'dist/main',
    format: 'cjs',
    outExtension: { '.js': '.cjs' },
    packages: 'external',
  }),
  // The sandboxed preload can only require('electron'): bundle everything else into one file.
  build({
    ...common,
    entryPoints: { preload: 'preload/index.ts' },
    outdir: 'dist/preload',
    format: 'cjs',
    outExtension: { '.js': '.cjs' },
    external: ['electron'],
  }),
]);
console.log('built dist/main and dist/preload');
