/**
 * Where Atelier keeps its data. Electron's app.getPath('userData') resolves to the same folder, so
 * the desktop app and server mode share projects, settings and models.
 */
import { homedir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export function defaultUserDataDir(env: NodeJS.ProcessEnv = process.env, platform = process.platform): string {
  if (env.ATELIER_HOME) return resolve(env.ATELIER_HOME);
  if (platform === 'win32') return join(env.APPDATA ?? join(homedir(), 'AppData', 'Roaming'), 'Atelier');
  if (platform === 'darwin') return join(homedir(), 'Library', 'Application Support', 'Atelier');
  return join(env.XDG_CONFIG_HOME ?? join(homedir(), '.config'), 'Atelier');
}

/** The repository / app root: the folder holding package.json, from source or from dist/. */
let appRootOverride: string | null = null;

/** Electron's CommonJS bundle has no import.meta.url: it passes app.getAppPath() here. */
export function setAppRoot(dir: string): void {
  appRootOverride = dir;
}

export function appRoot(): string {
  if (appRootOverride) return appRootOverride;
  if (process.env.ATELIER_APP_ROOT) return resolve(process.env.ATELIER_APP_ROOT);
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    dir = dirname(dir);
  }
  throw new Error('Could not locate the Atelier app root (package.json)');
}

export function bundledDemoModelDir(root = appRoot()): string {
  return join(root, 'models', 'demo');
}

export function rendererDistDir(root = appRoot()): string {
  return join(root, 'dist', 'renderer');
}
