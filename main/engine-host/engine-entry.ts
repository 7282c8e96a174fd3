/**
 * Where the engine's script is: the bundled `engine-worker.mjs` next to the built CLI / Electron main
 * (unpacked from the asar in packaged builds), or the TypeScript source entry under tsx/vitest. The
 * same script is the engine process (started by the host) and the engine thread inside it.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join, sep } from 'node:path';

export interface EngineEntry {
  /** The script to run, as a process or as a worker thread. */
  file: string;
  /** Node flags for it (none today: the source entry registers tsx itself). */
  execArgv: string[];
}

export function resolveWorkerEntry(): EngineEntry {
  const here = dirname(fileURLToPath(import.meta.url));
  const bundled = join(here, 'engine-worker.mjs');
  if (existsSync(bundled)) {
    // Packaged Electron: worker threads cannot read inside app.asar; the script is unpacked beside it.
    const unpacked = bundled.replace(`app.asar${sep}`, `app.asar.unpacked${sep}`);
    return { file: existsSync(unpacked) ? unpacked : bundled, execArgv: [] };
  }
  const source = join(here, 'worker-source-entry.mjs');
  if (existsSync(source)) return { file: source, execArgv: [] };
  throw new Error(`Engine worker not found next to ${here}; run npm run build`);
}
