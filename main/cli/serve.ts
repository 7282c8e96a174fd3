/** `atelier serve`: the studio in a browser, API over WebSocket, loopback unless a token is set. */
import { spawn } from 'node:child_process';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { AtelierBackend } from '../app/backend';
import { createBackend } from '../app/create-backend';
import { defaultUserDataDir, rendererDistDir } from '../app/paths';
import { startCompatServer, type RunningCompatServer } from '../compat/server';
import { resolveToken } from '../server/auth';
import { startServer, type RunningServer } from '../server/server';
import { createRuntime, type Runtime } from '../app/runtime';
import { FarmCoordinator, FarmWorker, parseFarmUrl, type FarmRedis } from '../farm';
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
  const options = parseServeArgs(args);
  if (!options) {
    console.log(SERVE_USAGE);
    return 0;
  }
  const farm = await startFarm(options);
  const { coordinator, localWorker, localRuntime } = farm;
  // A failed start must not leave Redis connections (and so the process) alive.
  const fail = async (err: unknown): Promise<never> => {
    await Promise.allSettled([coordinator?.close(), localWorker?.close().then(() => localRuntime?.close())]);
    throw err;
  };
  keepServingOnStrayErrors();
  const backend = await createBackend({ userDataDir: options.userDataDir, imageUrlBase: '/', transport: 'websocket', ...(coordinator ? { executor: coordinator, farm: coordinator } : {}) });
  const server = await startStudioServer(options, backend, coordinator, fail);
  const compat = await startCompatApis(options, backend, server, fail);
  printServing(options, server, compat);
  if (coordinator && options.farm) await resumeFarmJobs(options.farm, coordinator, backend, options.coordinatorUrl ?? reachableUrl(options.host, server.port));
  if (options.open) openBrowser(server.url);

  await untilStopSignal(
    // Close the server first so no new work arrives, then the backend (cancel + close library).
    () =>
      server
        .close()
        .then(() => compat?.close())
        .then(() => backend.close())
        .then(() => coordinator?.close())
        .then(() => localWorker?.close())
        .then(() => localRuntime?.close()),
    // With a farm: a reconnect timer to a Redis that is gone must not keep the process alive.
    Boolean(coordinator),
  );
  return 0;
}

/** `atelier serve`'s flags, checked: every mistake is refused here, before Redis or a port is touched. */
interface ServeOptions {
  host: string;
  port: number;
  explicitPort: boolean;
  compatPort: number;
  explicitCompatPort: boolean;
  a1111: boolean;
  comfy: boolean;
  token: string | null;
  generatedToken: boolean;
  userDataDir: string;
  farm: FarmRedis | null;
  localWorker: boolean;
  farmToken: string | undefined;
  coordinatorUrl: string | null;
  open: boolean;
}

/** The checked flags, or null for --help. */
function parseServeArgs(args: string[]): ServeOptions | null {
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
  if (values.help) return null;
  const explicitPort = values.port !== undefined;
  const port = explicitPort ? Number(values.port) : DEFAULT_PORT;
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`--port must be 0..65535, got ${values.port}`);
  const explicitCompatPort = values['compat-port'] !== undefined;
  const compatPort = explicitCompatPort ? Number(values['compat-port']) : DEFAULT_COMPAT_PORT;
  if (!Number.isInteger(compatPort) || compatPort < 0 || compatPort > 65535) throw new Error(`--compat-port must be 0..65535, got ${values['compat-port']}`);
  const host = values.host!;
  const { token, generated } = resolveToken(host, values.token);
  const userDataDir = values.home ?? defaultUserDataDir();
  // The farm URL is checked (and Redis reached, bounded) before anything else starts.
  const farm = values.farm ? parseFarmUrl(values.farm) : null;
  if (values['local-worker'] && !farm) throw new Error('--local-worker needs --farm redis://…');
  if ((values['farm-token'] !== undefined || values['coordinator-url'] !== undefined) && !farm) throw new Error('--farm-token and --coordinator-url need --farm redis://…');
  const coordinatorUrl = values['coordinator-url'] === undefined ? null : checkHttpUrl(values['coordinator-url'], '--coordinator-url');
  return {
    host,
    port,
    explicitPort,
    compatPort,
    explicitCompatPort,
    a1111: !values['no-a1111'],
    comfy: !values['no-comfy'],
    token,
    generatedToken: generated,
    userDataDir,
    farm,
    localWorker: values['local-worker']!,
    farmToken: values['farm-token'],
    coordinatorUrl,
    open: values.open!,
  };
}

/** With --farm: the coordinator on Redis and, with --local-worker, this machine's engine as one more worker. */
async function startFarm(options: ServeOptions): Promise<{ coordinator: FarmCoordinator | null; localRuntime: Runtime | null; localWorker: FarmWorker | null }> {
  const { farm, userDataDir } = options;
  const coordinator = farm ? await FarmCoordinator.connect({ farm, resultsDir: join(userDataDir, 'farm-results'), ...(options.farmToken !== undefined ? { farmToken: options.farmToken } : {}) }) : null;
  // The studio's machine as one more worker: an engine process of its own, taking jobs like any other.
  const localRuntime = farm && options.localWorker ? createRuntime({ userDataDir }) : null;
  const localWorker = farm && localRuntime ? await FarmWorker.start({ farm, runtime: localRuntime, name: `${hostname()}-studio`, ...farmWorkerEnv() }) : null;
  return { coordinator, localRuntime, localWorker };
}

/** The studio on --port; when the default port is busy (another Atelier, or another tool), on the next free one. */
async function startStudioServer(options: ServeOptions, backend: AtelierBackend, coordinator: FarmCoordinator | null, fail: (err: unknown) => Promise<never>): Promise<RunningServer> {
  const start = (p: number) =>
    startServer({ backend, host: options.host, port: p, token: options.token, rendererDir: rendererDistDir(), log: (m) => console.error(m), ...(coordinator?.results ? { farmResults: coordinator.results } : {}) });
  try {
    return await start(options.port);
  } catch (err) {
    const inUse = (err as NodeJS.ErrnoException).code === 'EADDRINUSE';
    if (!inUse) return fail(err);
    if (options.explicitPort) return fail(new Error(`Port ${options.port} is already in use: choose another with --port, or --port 0 for any free one`));
    return startOnNextFreePort(start, options.port + 1);
  }
}

/** The A1111 / ComfyUI compatibility APIs, on their own port (same host, token and backend); null when both are off. */
async function startCompatApis(options: ServeOptions, backend: AtelierBackend, server: RunningServer, fail: (err: unknown) => Promise<never>): Promise<RunningCompatServer | null> {
  const { a1111, comfy, compatPort } = options;
  if (!a1111 && !comfy) return null;
  const startCompat = (p: number) => startCompatServer({ backend, host: options.host, port: p, token: options.token, a1111, comfy, log: (m) => console.error(m) });
  try {
    try {
      return await startCompat(compatPort);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err;
      if (options.explicitCompatPort) throw new Error(`Port ${compatPort} is already in use: choose another with --compat-port, or --compat-port 0 for any free one`);
      return await startOnNextFreePort(startCompat, compatPort + 1);
    }
  } catch (err) {
    // Do not leave the studio serving (and the process alive) after a failed start.
    await server.close().then(() => backend.close(), () => backend.close());
    return fail(err);
  }
}

function printServing(options: ServeOptions, server: RunningServer, compat: RunningCompatServer | null): void {
  const { a1111, comfy, token } = options;
  if (options.generatedToken) console.log(`No --token given for non-loopback host ${options.host}: generated one.`);
  console.log(`Atelier is serving at ${server.url}`);
  if (compat) {
    const apis = [a1111 ? `AUTOMATIC1111 API ${compat.baseUrl}/sdapi/v1` : '', comfy ? `ComfyUI API ${compat.baseUrl} (WebSocket /ws)` : ''].filter(Boolean);
    console.log(`${apis.join(' · ')}${token ? ' — token required (Bearer, Basic password or ?token=)' : ''}`);
  }
  console.log(`Data folder: ${options.userDataDir}`);
}

/**
 * Publishes where workers upload results too large for Redis (with the farm token) before any job runs,
 * then queues again at once the jobs a crashed coordinator left behind. Those whose tasks finished (or
 * still run) in Redis meanwhile are adopted by the coordinator, so their results are saved, not recomputed.
 */
async function resumeFarmJobs(farm: FarmRedis, coordinator: FarmCoordinator, backend: AtelierBackend, uploadUrl: string): Promise<void> {
  await coordinator.publishEndpoint(uploadUrl);
  let resumed = 0;
  for (const job of await backend.api.listJobs()) {
    if (job.state !== 'interrupted') continue;
    await backend.api.retryJob({ jobId: job.jobId }).then(() => resumed++, (err: Error) => console.error(`Could not resume ${job.jobId}: ${err.message}`));
  }
  console.log(`Render farm: jobs go to ${farm.display} (${coordinator.listWorkers().length} workers now; start more with atelier worker --farm)${resumed ? `; resumed ${resumed} interrupted jobs` : ''}`);
}

/**
 * Serves until SIGINT or SIGTERM, then runs `closeAll` once (a second signal is ignored). With
 * `exitSoon`, the process exits 2 s after closing even if a timer (a Redis reconnect) is still pending.
 */
function untilStopSignal(closeAll: () => Promise<unknown>, exitSoon: boolean): Promise<void> {
  return new Promise<void>((resolve) => {
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) return;
      stopping = true;
      console.log(`\n${signal}: cancelling the running job and closing the library…`);
      closeAll()
        .catch((err) => console.error(err))
        .finally(() => {
          if (exitSoon) setTimeout(() => process.exit(process.exitCode ?? 0), 2000).unref();
          resolve();
        });
    };
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
  });
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
