// Our postinstall. npm 11's allowScripts skips the download scripts of electron, onnxruntime-node
// and @contentauth/c2pa-node (they need GitHub / NuGet); here we try them ourselves and, offline or failing,
// print one clear line per component and exit 0 so `npm install` always succeeds.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { electronBinaryPath } from './electron-binary.mjs';

const require = createRequire(import.meta.url);
const TIMEOUT_MS = Number(process.env.ATELIER_POSTINSTALL_TIMEOUT_MS ?? 180_000);

function packageDir(name) {
  try {
    return dirname(require.resolve(`${name}/package.json`));
  } catch {
    return null;
  }
}

function runInstaller(dir, script, env) {
  const r = spawnSync(process.execPath, [join(dir, script)], {
    cwd: dir,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: TIMEOUT_MS,
    encoding: 'utf8',
  });
  return r.status === 0 && !r.error;
}

function electronBinaryPresent(dir) {
  return electronBinaryPath(dir) !== null;
}

function ensureElectron() {
  const dir = packageDir('electron');
  if (!dir) return console.log('atelier: electron not installed — `npm start` will serve the studio in your browser');
  if (electronBinaryPresent(dir)) return console.log('atelier: Electron binary present — `npm start` opens the desktop app');
  if (process.env.ELECTRON_SKIP_BINARY_DOWNLOAD) {
    return console.log('atelier: Electron binary unavailable (ELECTRON_SKIP_BINARY_DOWNLOAD set) — `npm start` will serve the studio in your browser');
  }
  if (runInstaller(dir, 'install.js', {}) && electronBinaryPresent(dir)) {
    return console.log('atelier: Electron binary installed — `npm start` opens the desktop app');
  }
  console.log('atelier: Electron binary unavailable — `npm start` will serve the studio in your browser');
}

function hasNvidiaGpu() {
  if (existsSync('/proc/driver/nvidia/version')) return true;
  const r = spawnSync('nvidia-smi', ['-L'], { stdio: 'ignore', timeout: 10_000 });
  return r.status === 0;
}

function ensureCudaProvider() {
  if (process.platform !== 'linux' || process.arch !== 'x64') return; // other platforms bundle their GPU providers
  const dir = packageDir('onnxruntime-node');
  if (!dir) return;
  const lib = join(dir, 'bin', 'napi-v6', 'linux', 'x64', 'libonnxruntime_providers_cuda.so');
  if (existsSync(lib)) return console.log('atelier: CUDA provider present — GPU inference available');
  if (process.env.ONNXRUNTIME_NODE_INSTALL === 'skip') {
    return console.log('atelier: CUDA provider unavailable (ONNXRUNTIME_NODE_INSTALL=skip) — CPU inference');
  }
  if (!hasNvidiaGpu()) return console.log('atelier: CUDA provider not needed (no NVIDIA GPU found) — CPU/WebGPU inference');
  if (runInstaller(dir, join('script', 'install.js'), { ONNXRUNTIME_NODE_INSTALL: 'cuda12' }) && existsSync(lib)) {
    return console.log('atelier: CUDA provider installed — GPU inference available');
  }
  console.log('atelier: CUDA provider unavailable — CPU inference');
}

// @contentauth/c2pa-node (content credentials) ships a Linux x64 binary in its npm package; its own
// install script (skipped by allowScripts: offline it crashes the install) fetches the binary of
// other platforms from GitHub releases. Run it here where that binary is needed.
function ensureC2pa() {
  const dir = packageDir('@contentauth/c2pa-node');
  if (!dir) return;
  if (process.platform === 'linux' && process.arch === 'x64') return console.log('atelier: C2PA library present — images are signed with content credentials');
  if (process.env.SKIP_RUST_BUILD || process.env.SKIP_BINARY_DOWNLOAD) {
    return console.log(`atelier: C2PA library for ${process.platform}-${process.arch} not fetched (SKIP_RUST_BUILD set) — images are saved without content credentials`);
  }
  if (runInstaller(dir, join('scripts', 'postinstall.cjs'), {})) return console.log('atelier: C2PA library installed — images are signed with content credentials');
  console.log(`atelier: C2PA library for ${process.platform}-${process.arch} unavailable — images are saved without content credentials`);
}

try {
  ensureElectron();
  ensureCudaProvider();
  ensureC2pa();
} catch (err) {
  console.log(`atelier: optional component setup skipped (${err?.message ?? err})`);
}
process.exit(0);
