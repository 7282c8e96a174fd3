// Locates the Electron executable WITHOUT requiring the electron package: since Electron 36 its
// index.js starts a download when the binary is missing, which must not happen on `npm start`.
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

export function electronPackageDir() {
  try {
    return dirname(createRequire(import.meta.url).resolve('electron/package.json'));
  } catch {
    return null;
  }
}

/** Absolute path of the installed Electron executable, or null when it is not installed. */
export function electronBinaryPath(dir = electronPackageDir()) {
  if (!dir) return null;
  const pathFile = join(dir, 'path.txt');
  if (!existsSync(pathFile)) return null;
  const full = join(dir, 'dist', readFileSync(pathFile, 'utf8').trim());
  return existsSync(full) ? full : null;
}
