/** `atelier serve`: the studio in a browser, API over WebSocket, loopback unless a token is set. */
import { spawn } from 'node:child_process';
import { parseArgs } from 'node:util';
import { createBackend } from '../app/create-backend';
import { defaultUserDataDir, rendererDistDir } from '../app/paths';
import { resolveToken } from '../server/auth';
import { startServer } from '../server/server';

export const SERVE_USAGE = `atelier serve [--host 127.0.0.1] [--port 7865] [--token T] [--open] [--home DIR]
  --host    address to bind (default 127.0.0.1; any non-loopback host requires a token, generated if absent)
  --port    port (default 7865, or the next free port; 0 picks any free one)
  --token   require this token on every request (?token=…, Bearer header, or the cookie set by the first visit)
  --open    open the default browser when a display is available
  --home    user data folder (default: the platform's app data folder, or $ATELIER_HOME)`;

export async function runServe(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      host: { type: 'string', default: '127.0.0.1' },
      port: { type: 'string' },
      token: { type: 'string' },
      open: { type: 'boolean', default: false },
      home: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (values.help) {
    console.log(SERVE_USAGE);
    return 0;
  }
  const explicitPort = values.port !== undefined;
  const port = explicitPort ? Number(values.port) : DEFAULT_PORT;
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`--port must be 0..65535, got ${values.port}`);
  const { token, generated } = resolveToken(values.host!, values.token);
  const userDataDir = values.home ?? defaultUserDataDir();
  keepServingOnStrayErrors();
  const backend = await createBackend({ userDataDir, imageUrlBase: '/', transport: 'websocket' });
  const start = (p: number) =>
    startServer({ backend, host: values.host!, port: p, token, rendererDir: rendererDistDir(), log: (m) => console.error(m) });
  let server;
  try {
    server = await start(port);
  } catch (err) {
    const inUse = (err as NodeJS.ErrnoException).code === 'EADDRINUSE';
    if (!inUse) throw err;
    if (explicitPort) throw new Error(`Port ${port} is already in use: choose another with --port, or --port 0 for any free one`);
    // The default port is busy (another Atelier, or another tool): take the next free one.
    server = await startOnNextFreePort(start, port + 1);
  }
  if (generated) console.log(`No --token given for non-loopback host ${values.host}: generated one.`);
  console.log(`Atelier is serving at ${server.url}`);
  console.log(`Data folder: ${userDataDir}`);
  if (values.open) openBrowser(server.url);

  await new Promise<void>((resolve) => {
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) return;
      stopping = true;
      console.log(`\n${signal}: cancelling the running job and closing the library…`);
      // Close the server first so no new work arrives, then the backend (cancel + close library).
      server
        .close()
        .then(() => backend.close())
        .catch((err) => console.error(err))
        .finally(resolve);
    };
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
  });
  return 0;
}

export const DEFAULT_PORT = 7865;

/**
 * Last line of defence: every request path ends in a typed error, but a stray rejection or throw
 * somewhere async must not end the server with every client and the running job. Logged, not fatal.
 */
function keepServingOnStrayErrors(): void {
  const describe = (err: unknown) => {
    try {
      return err instanceof Error ? (err.stack ?? err.message) : String(err);
    } catch {
      return typeof err;
    }
  };
  process.on('unhandledRejection', (reason) => console.error(`Unhandled rejection (still serving): ${describe(reason)}`));
  process.on('uncaughtException', (err) => console.error(`Uncaught exception (still serving): ${describe(err)}`));
}

async function startOnNextFreePort<T>(start: (port: number) => Promise<T>, from: number): Promise<T> {
  for (let p = from; p < from + 20; p++) {
    try {
      return await start(p);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err;
    }
  }
  return start(0);
}

function openBrowser(url: string): void {
  const hasDisplay = process.platform !== 'linux' || Boolean(process.env.DISPLAY || process.env.WAYLAND_DISPLAY);
  if (!hasDisplay) return;
  const cmd = process.platform === 'darwin' ? 'open' : process.platform === 'win32' ? 'cmd' : 'xdg-open';
  const args = process.platform === 'win32' ? ['/c', 'start', '', url] : [url];
  try {
    const child = spawn(cmd, args, { stdio: 'ignore', detached: true });
    child.on('error', () => undefined);
    child.unref();
  } catch {
    /* no browser: the URL is printed above */
  }
}
