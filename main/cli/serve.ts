/** `atelier serve`: the studio in a browser, API over WebSocket, loopback unless a token is set. */
import { spawn } from 'node:child_process';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createBackend } from '../app/create-backend';
import { defaultUserDataDir, rendererDistDir } from '../app/paths';
import { startCompatServer } from '../compat/server';
import { resolveToken } from '../server/auth';
import { startServer } from '../server/server';
import { createRuntime } from '../app/runtime';
import { FarmCoordinator, FarmWorker, parseFarmUrl } from '../farm';
import { checkHttpUrl, farmWorkerEnv } from './worker';

export const SERVE_USAGE = `atelier serve [--host 127.0.0.1] [--port 7865] [--token T] [--open] [--home DIR]
              [--compat-port 7860] [--no-a1111] [--no-comfy]
              [--farm redis://HOST:6379[/DB] [--local-worker] [--farm-token T] [--coordinator-url URL]]
  --host    address to bind (default 127.0.0.1; any non-loopback host requires a token, generated if absent)
  --port    port (default 7865, or the next free port; 0 picks any free one)
  --token   require this token on every request (?token=…, Bearer header, or the cookie set by the first visit)
  --open    open the default browser when a display is available
  --home    user data folder (default: the platform's app data folder, or $ATELIER_HOME)
  --compat-port  port of the AUTOMATIC1111 (/sdapi/v1) and ComfyUI APIs (default 7860, or the next free port; 0 any)
  --no-a1111     do not serve the AUTOMATIC1111 API
  --no-comfy     do not serve the ComfyUI API
  --farm         coordinate a render farm: jobs go into BullMQ on this Redis (rediss:// for TLS,
                 redis://:PASSWORD@host for a password) and run on \`atelier worker --farm\` machines;
                 results are saved here, into each job's project
  --local-worker with --farm: this machine's engine works as one of the farm's workers too
  --farm-token   with --farm: the secret workers upload large results with (default: a random one,
                 published to the workers through the farm's Redis)
  --coordinator-url  with --farm: this server's URL as the workers reach it, for those uploads
                 (default: the address it serves at; the machine's name when bound to 0.0.0.0 or ::)`;

export async function runServe(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      host: { type: 'string', default: '127.0.0.1' },
      port: { type: 'string' },
      token: { type: 'string' },
      open: { type: 'boolean', default: false },
      home: { type: 'string' },
      'compat-port': { type: 'string' },
      'no-a1111': { type: 'boolean', default: false },
      'no-comfy': { type: 'boolean', default: false },
      farm: { type: 'string' },
      'local-worker': { type: 'boolean', default: false },
      'farm-token': { type: 'string' },
      'coordinator-url': { type: 'string' },
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
  const explicitCompatPort = values['compat-port'] !== undefined;
  const compatPort = explicitCompatPort ? Number(values['compat-port']) : DEFAULT_COMPAT_PORT;
  if (!Number.isInteger(compatPort) || compatPort < 0 || compatPort > 65535) throw new Error(`--compat-port must be 0..65535, got ${values['compat-port']}`);
  const a1111 = !values['no-a1111'];
  const comfy = !values['no-comfy'];
  const { token, generated } = resolveToken(values.host!, values.token);
  const userDataDir = values.home ?? defaultUserDataDir();
  // The farm URL is checked (and Redis reached, bounded) before anything else starts.
  const farm = values.farm ? parseFarmUrl(values.farm) : null;
  if (values['local-worker'] && !farm) throw new Error('--local-worker needs --farm redis://…');
  if ((values['farm-token'] !== undefined || values['coordinator-url'] !== undefined) && !farm) throw new Error('--farm-token and --coordinator-url need --farm redis://…');
  const coordinatorUrl = values['coordinator-url'] === undefined ? null : checkHttpUrl(values['coordinator-url'], '--coordinator-url');
  const coordinator = farm ? await FarmCoordinator.connect({ farm, resultsDir: join(userDataDir, 'farm-results'), ...(values['farm-token'] !== undefined ? { farmToken: values['farm-token'] } : {}) }) : null;
  // The studio's machine as one more worker: an engine process of its own, taking jobs like any other.
  const localRuntime = farm && values['local-worker'] ? createRuntime({ userDataDir }) : null;
  const localWorker = farm && localRuntime ? await FarmWorker.start({ farm, runtime: localRuntime, name: `${hostname()}-studio`, ...farmWorkerEnv() }) : null;
  // A failed start must not leave Redis connections (and so the process) alive.
  const fail = async (err: unknown): Promise<never> => {
    await Promise.allSettled([coordinator?.close(), localWorker?.close().then(() => localRuntime?.close())]);
    throw err;
  };
  keepServingOnStrayErrors();
  const backend = await createBackend({ userDataDir, imageUrlBase: '/', transport: 'websocket', ...(coordinator ? { executor: coordinator, farm: coordinator } : {}) });
  const start = (p: number) =>
    startServer({ backend, host: values.host!, port: p, token, rendererDir: rendererDistDir(), log: (m) => console.error(m), ...(coordinator?.results ? { farmResults: coordinator.results } : {}) });
  let server;
  try {
    server = await start(port);
  } catch (err) {
    const inUse = (err as NodeJS.ErrnoException).code === 'EADDRINUSE';
    if (!inUse) return fail(err);
    if (explicitPort) return fail(new Error(`Port ${port} is already in use: choose another with --port, or --port 0 for any free one`));
    // The default port is busy (another Atelier, or another tool): take the next free one.
    server = await startOnNextFreePort(start, port + 1);
  }
  // The A1111 / ComfyUI compatibility APIs, on their own port (same host, token and backend).
  let compat: Awaited<ReturnType<typeof startCompatServer>> | null = null;
  if (a1111 || comfy) {
    const startCompat = (p: number) => startCompatServer({ backend, host: values.host!, port: p, token, a1111, comfy, log: (m) => console.error(m) });
    try {
      try {
        compat = await startCompat(compatPort);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err;
        if (explicitCompatPort) throw new Error(`Port ${compatPort} is already in use: choose another with --compat-port, or --compat-port 0 for any free one`);
        compat = await startOnNextFreePort(startCompat, compatPort + 1);
      }
    } catch (err) {
      // Do not leave the studio serving (and the process alive) after a failed start.
      await server.close().then(() => backend.close(), () => backend.close());
      return fail(err);
    }
  }
  if (generated) console.log(`No --token given for non-loopback host ${values.host}: generated one.`);
  console.log(`Atelier is serving at ${server.url}`);
  if (compat) {
    const apis = [a1111 ? `AUTOMATIC1111 API ${compat.baseUrl}/sdapi/v1` : '', comfy ? `ComfyUI API ${compat.baseUrl} (WebSocket /ws)` : ''].filter(Boolean);
    console.log(`${apis.join(' · ')}${token ? ' — token required (Bearer, Basic password or ?token=)' : ''}`);
  }
  console.log(`Data folder: ${userDataDir}`);
  if (coordinator && farm) {
    // Where workers upload results too large for Redis (with the farm token), published before any job runs.
    await coordinator.publishEndpoint(coordinatorUrl ?? reachableUrl(values.host!, server.port));
    // Jobs a crashed coordinator left behind: queued again at once. Those whose tasks finished (or still
    // run) in Redis meanwhile are adopted by the coordinator, so their results are saved, not recomputed.
    let resumed = 0;
    for (const job of await backend.api.listJobs()) {
      if (job.state !== 'interrupted') continue;
      await backend.api.retryJob({ jobId: job.jobId }).then(() => resumed++, (err: Error) => console.error(`Could not resume ${job.jobId}: ${err.message}`));
    }
    console.log(`Render farm: jobs go to ${farm.display} (${coordinator.listWorkers().length} workers now; start more with atelier worker --farm)${resumed ? `; resumed ${resumed} interrupted jobs` : ''}`);
  }
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
        .then(() => compat?.close())
        .then(() => backend.close())
        .then(() => coordinator?.close())
        .then(() => localWorker?.close())
        .then(() => localRuntime?.close())
        .catch((err) => console.error(err))
        .finally(() => {
          // With a farm: a reconnect timer to a Redis that is gone must not keep the process alive.
          if (coordinator) setTimeout(() => process.exit(process.exitCode ?? 0), 2000).unref();
          resolve();
        });
    };
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
  });
  return 0;
}

export const DEFAULT_PORT = 7865;

/** This server as other machines reach it: a wildcard bind is reached by the machine's name. */
function reachableUrl(host: string, port: number): string {
  const h = host === '0.0.0.0' || host === '::' || host === '' ? hostname() : host;
  return `http://${h.includes(':') ? `[${h}]` : h}:${port}/`;
}
/** A1111's own default port, so its clients' default base URL finds Atelier. */
export const DEFAULT_COMPAT_PORT = 7860;

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
