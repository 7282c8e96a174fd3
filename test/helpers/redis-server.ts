/**
 * A redis-server of a test's own (Debian's, `.ci/run` installs it): a free loopback port, a folder of
 * its own, an append-only file with fsync on every write so a restart keeps what was acknowledged.
 * Shared by the render-farm tests (test/farm/helpers.ts) and the studio's Farm e2e spec. Every wait is
 * bounded and waits on what the server prints or on its exit, never on time alone.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const REDIS_SERVER = process.env.ATELIER_REDIS_SERVER ?? '/usr/bin/redis-server';

export async function freeLoopbackPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

export interface RedisServer {
  port: number;
  /** `redis://127.0.0.1:PORT` (with `--requirepass` the caller adds the password). */
  url: string;
  dir: string;
  /** The running redis-server (a new one after restart()). */
  child: ChildProcess;
  /** What the current redis-server printed so far. */
  output(): string;
  /** SIGTERM (Redis writes its append-only file and exits) and wait for the exit. */
  stop(): Promise<void>;
  /** Start again on the same port and folder. */
  restart(): Promise<void>;
  /** SIGKILL if still running, wait for the exit, and remove the folder when this module made it. */
  dispose(): Promise<void>;
}

function bounded<T>(ms: number, what: string, p: Promise<T>): Promise<T> {
  let timer: ReturnType<typeof setTimeout>;
  return Promise.race([p, new Promise<T>((_, reject) => (timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms)))]).finally(() => clearTimeout(timer));
}

function running(child: ChildProcess): boolean {
  return child.exitCode === null && child.signalCode === null;
}

function exitOf(child: ChildProcess): Promise<void> {
  return running(child) ? new Promise((r) => child.once('exit', () => r())) : Promise.resolve();
}

/**
 * Starts redis-server and resolves once it accepts connections (bounded by `readyMs`).
 * `dir`: the data folder (the caller owns and removes it); without one a temp folder is made and
 * dispose() removes it.
 */
export async function startRedisServer(opts: { extraArgs?: string[]; dir?: string; readyMs?: number } = {}): Promise<RedisServer> {
  const port = await freeLoopbackPort();
  const ownDir = opts.dir === undefined;
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'atelier-redis-'));
  const readyMs = opts.readyMs ?? 15_000;
  let out = '';
  const launch = async (): Promise<ChildProcess> => {
    out = '';
    const child = spawn(REDIS_SERVER, ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'yes', '--appendfsync', 'always', ...(opts.extraArgs ?? [])], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    await bounded(
      readyMs,
      `redis-server on port ${port} is ready\n${out}`,
      new Promise<void>((resolve, reject) => {
        const onData = (d: Buffer) => {
          out += d.toString();
          if (/Ready to accept connections/.test(out)) resolve();
        };
        child.stdout!.on('data', onData);
        child.stderr!.on('data', onData);
        child.once('error', reject);
        child.once('exit', (code, signal) => reject(new Error(`redis-server exited (${code ?? signal}) before it was ready:\n${out}`)));
      }),
    ).catch((e: unknown) => {
      if (running(child)) child.kill('SIGKILL');
      throw e;
    });
    return child;
  };
  const server: RedisServer = {
    port,
    url: `redis://127.0.0.1:${port}`,
    dir,
    child: await launch().catch((e: unknown) => {
      if (ownDir) rmSync(dir, { recursive: true, force: true });
      throw e;
    }),
    output: () => out,
    async stop() {
      const exited = exitOf(server.child);
      server.child.kill('SIGTERM');
      await bounded(15_000, 'redis-server stops', exited);
    },
    async restart() {
      server.child = await launch();
    },
    async dispose() {
      if (running(server.child)) {
        const exited = exitOf(server.child);
        server.child.kill('SIGKILL');
        await bounded(10_000, 'redis-server exits', exited).catch(() => undefined);
      }
      if (ownDir) rmSync(dir, { recursive: true, force: true });
    },
  };
  return server;
}
