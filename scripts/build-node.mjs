// Bundles the Node side (CLI/server, engine worker), the Electron main process and the preload
// with esbuild. npm packages stay external (native modules must load from node_modules).
import { build } from 'esbuild';

// Native modules stay external (they load from node_modules, unpacked from the asar in packaged
// builds); everything else is bundled so the engine worker needs nothing from inside the asar.
const NATIVE = ['onnxruntime-node', 'sharp', 'better-sqlite3', 'electron', 'bufferutil', 'utf-8-validate', '@contentauth/c2pa-node'];
const common = { bundle: true, platform: 'node', target: 'node20', sourcemap: true, logLevel: 'warning', external: NATIVE };

await Promise.all([
  build({
    ...common,
    entryPoints: { cli: 'main/cli/index.ts', 'engine-worker': 'main/engine-host/worker.ts', 'upscale-worker': 'main/app/upscale-worker.ts', 'signer-worker': 'main/provenance/signer-worker.ts' },
    outdir: 'dist/main',
    format: 'esm',
    outExtension: { '.js': '.mjs' },
    // ESM output cannot `require`; give bundled CommonJS dependencies a real require.
    banner: { js: "import { createRequire as __atelierCreateRequire } from 'node:module'; const require = __atelierCreateRequire(import.meta.url);" },
  }),
  build({
    ...common,
    entryPoints: { electron: 'main/electron/main.ts' },
    outdir: 'dist/main',
    format: 'cjs',
    outExtension: { '.js': '.cjs' },
    // CommonJS has no import.meta: derive the URL from __filename.
    define: { 'import.meta.url': '__atelierImportMetaUrl' },
    banner: { js: "const __atelierImportMetaUrl = require('node:url').pathToFileURL(__filename).href;" },
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
