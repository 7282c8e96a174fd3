// Builds the Electron-ABI copy of better-sqlite3 into native/electron/ (needs a connected machine:
// it fetches Electron's headers or a prebuilt binary). It works on a COPY of the package, so the
// Node-ABI build in node_modules — the one `npm test` uses — is never touched.
// onnxruntime-node and sharp are N-API modules: the same binaries load in Node and Electron.
import { cpSync, mkdirSync, mkdtempSync, copyFileSync, rmSync, existsSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { tmpdir } from 'node:os';

const require = createRequire(import.meta.url);
const electronVersion = require('electron/package.json').version;
const pkgDir = dirname(require.resolve('better-sqlite3/package.json'));
const work = mkdtempSync(join(tmpdir(), 'atelier-electron-native-'));
const copy = join(work, 'better-sqlite3');
cpSync(pkgDir, copy, { recursive: true, filter: (src) => !src.includes(`${pkgDir}/build`) });

const env = { ...process.env, npm_config_runtime: 'electron', npm_config_target: electronVersion, npm_config_disturl: 'https://electronjs.org/headers' };
try {
  execFileSync('npx', ['--yes', 'prebuild-install', '--runtime', 'electron', '--target', electronVersion], { cwd: copy, stdio: 'inherit', env });
} catch {
  console.log('No prebuilt binary; compiling against Electron headers…');
  execFileSync('npx', ['--yes', 'node-gyp', 'rebuild', '--release', `--target=${electronVersion}`, '--dist-url=https://electronjs.org/headers'], { cwd: copy, stdio: 'inherit', env });
}
const built = join(copy, 'build', 'Release', 'better_sqlite3.node');
if (!existsSync(built)) throw new Error('better_sqlite3.node was not produced');
mkdirSync('native/electron', { recursive: true });
copyFileSync(built, 'native/electron/better_sqlite3.node');
rmSync(work, { recursive: true, force: true });
console.log(`native/electron/better_sqlite3.node built for Electron ${electronVersion}`);
