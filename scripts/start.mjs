// `npm start`: the desktop app when the Electron binary is installed, else server mode in the browser.
import { spawn } from 'node:child_process';
import { electronBinaryPath } from './electron-binary.mjs';

const electronPath = electronBinaryPath();

const args = process.argv.slice(2);
const child = electronPath
  ? spawn(electronPath, ['.', ...args], { stdio: 'inherit' })
  : spawn(process.execPath, ['bin/atelier.mjs', 'serve', '--open', ...args], { stdio: 'inherit' });
if (!electronPath) console.log('Electron binary unavailable — serving the studio in your browser instead.');
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => child.kill(sig));
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
