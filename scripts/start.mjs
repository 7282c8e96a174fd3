// `npm start`: builds only when a source changed since the last build, then opens the desktop app
// when the Electron binary is installed, else serves the studio in the browser (server mode).
// `npm start -- --rebuild` builds regardless.
import { spawn, spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { electronBinaryPath } from './electron-binary.mjs';

/** What `npm run build` writes (scripts/build-node.mjs entry points, vite's index.html). */
export const BUILD_OUTPUTS = Object.freeze([
  'dist/renderer/index.html',
  'dist/main/cli.mjs',
  'dist/main/engine-worker.mjs',
  'dist/main/upscale-worker.mjs',
  'dist/main/signer-worker.mjs',
  'dist/main/electron.cjs',
  'dist/preload/preload.cjs',
]);

/** What the build reads: a change to any file under these makes dist/ stale. */
export const BUILD_SOURCES = Object.freeze(['renderer', 'main', 'common', 'preload', 'package.json', 'scripts/build-node.mjs']);

/** Newest modification time (ms) of a file or of every file below a folder; -Infinity when absent. */
export function newestMtime(path) {
  let s;
  try {
    s = statSync(path);
  } catch {
    return -Infinity;
  }
  if (!s.isDirectory()) return s.mtimeMs;
  let newest = -Infinity;
  for (const name of readdirSync(path)) {
    if (name === 'node_modules' || name.startsWith('.')) continue;
    newest = Math.max(newest, newestMtime(join(path, name)));
  }
  return newest;
}

/**
 * True when every build output exists and the oldest of them is newer than every source file
 * (renderer/, main/, common/, preload/, package.json, the build script), so `npm start` can skip
 * the build (about 7 s).
 */
export function buildIsFresh(root) {
  let oldestOutput = Infinity;
  for (const rel of BUILD_OUTPUTS) {
    try {
      oldestOutput = Math.min(oldestOutput, statSync(join(root, rel)).mtimeMs);
    } catch {
      return false;
    }
  }
  const newestSource = Math.max(...BUILD_SOURCES.map((rel) => newestMtime(join(root, rel))));
  return newestSource < oldestOutput;
}

function runBuild(root) {
  // Under `npm start`, npm_execpath is npm's own CLI script: run it with this Node.
  const npmCli = process.env.npm_execpath;
  const r = npmCli
    ? spawnSync(process.execPath, [npmCli, 'run', 'build'], { cwd: root, stdio: 'inherit' })
    : spawnSync(process.platform === 'win32' ? 'npm.cmd' : 'npm', ['run', 'build'], { cwd: root, stdio: 'inherit', shell: process.platform === 'win32' });
  if (r.status !== 0) process.exit(r.status ?? 1);
}

function main() {
  const root = fileURLToPath(new URL('..', import.meta.url));
  const argv = process.argv.slice(2);
  const rebuild = argv.includes('--rebuild');
  const args = argv.filter((a) => a !== '--rebuild');
  if (!rebuild && buildIsFresh(root)) console.log('dist/ is newer than every source file: skipping the build (npm start -- --rebuild forces it).');
  else runBuild(root);

  const electronPath = electronBinaryPath();
  const child = electronPath
    ? spawn(electronPath, ['.', ...args], { stdio: 'inherit', cwd: root })
    : spawn(process.execPath, ['bin/atelier.mjs', 'serve', '--open', ...args], { stdio: 'inherit', cwd: root });
  if (!electronPath) console.log('Electron binary unavailable — serving the studio in your browser instead.');
  for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => child.kill(sig));
  child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
}

if (process.argv[1] && pathToFileURL(resolve(process.argv[1])).href === import.meta.url) main();
