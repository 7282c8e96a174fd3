// `npm start`: the desktop app when the Electron binary is installed, else server mode in the browser.
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';

const require = createRequire(import.meta.url);
let electronPath = null;
try {
  const p = require('electron');
  if (typeof p === 'string' && existsSync(p)) electronPath = p;
} catch {
  /* electron package or binary missing */
}

const args = process.argv.slice(2);
const child = electronPath
  ? spawn(electronPath, ['.', ...args], { stdio: 'inherit' })
  : spawn(process.execPath, ['bin/atelier.mjs', 'serve', '--open', ...args], { stdio: 'inherit' });
if (!electronPath) console.log('Electron binary unavailable — serving the studio in your browser instead.');
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => child.kill(sig));
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
