/**
 * Real pieces for render-farm tests: a redis-server of the test's own (free loopback port, temp dir,
 * append-only file so a restart keeps what was acknowledged), the built `atelier serve --farm`
 * coordinator and `atelier worker --farm` processes, and a WebSocket client of the coordinator.
 * Every wait is bounded and event-driven (a line printed, an API event), never a fixed sleep.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import sharp from 'sharp';
import { createApiClient } from '../../common/api/client';
import type { AtelierClient, AtelierEvent, GenerationRecord } from '../../common/api/contract';
import { createWebSocketTransport } from '../../common/api/ws-client';
import type { WebSocketLike } from '../../common/api/ws-protocol';
import { freeLoopbackPort, REDIS_SERVER, startRedisServer, type RedisServer } from '../helpers/redis-server';
import { GenerateRequest } from '../../common/api/schemas';
import type { Runtime } from '../../main/app/runtime';

export const REPO_ROOT = join(import.meta.dirname, '..', '..');
export { REDIS_SERVER };

const cleanups: (() => Promise<void> | void)[] = [];

/** Runs (in reverse order) everything the test started: processes killed, temp folders removed. */
/** A single-machine run of `request` (the local engine through the same GenerationService): each image's RGB bytes, in order. */
export async function localPixels(runtime: Runtime, request: Record<string, unknown>): Promise<Buffer[]> {
  const out: Buffer[] = [];
  await runtime.generation.run({ kind: 'generate', params: GenerateRequest.parse(request) }, { imageFile: async () => null, record: () => null, save: async (img) => void out.push(Buffer.from(img.rgb)) });
  return out;
}

export async function cleanupAll(): Promise<void> {
  for (const c of cleanups.splice(0).reverse()) await Promise.resolve(c()).catch(() => undefined);
}

export function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

export function within<T>(ms: number, what: string, p: Promise<T>): Promise<T> {
  let timer: ReturnType<typeof setTimeout>;
  return Promise.race([p, new Promise<T>((_, reject) => (timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms)))]).finally(() => clearTimeout(timer));
}

export const freePort = freeLoopbackPort;

/** A child process plus its output so far and a way to wait for a line. */
export interface Proc {
  child: ChildProcess;
  output(): string;
  /** Waits for `re` in the output printed after character `from` (default: all of it). */
  waitFor(re: RegExp, ms: number, from?: number): Promise<RegExpExecArray>;
  exited: Promise<number | null>;
}

function track(child: ChildProcess, label: string): Proc {
  let out = '';
  const waiters: { re: RegExp; from: number; resolve(m: RegExpExecArray): void }[] = [];
  const onData = (d: Buffer) => {
    out += d.toString();
    for (const w of [...waiters]) {
      const m = w.re.exec(out.slice(w.from));
      if (m) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(m);
      }
    }
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  cleanups.push(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await within(10_000, `${label} exits`, exited).catch(() => undefined);
    }
  });
  return {
    child,
    output: () => out,
    exited,
    waitFor(re, ms, from = 0) {
      const m = re.exec(out.slice(from));
      if (m) return Promise.resolve(m);
      const died = exited.then((code) => Promise.reject(new Error(`${label} exited (${code}) before printing ${re}:\n${out}`)));
      return within(ms, `${label} prints ${re}\n${out}`, Promise.race([new Promise<RegExpExecArray>((resolve) => waiters.push({ re, from, resolve })), died]));
    },
  };
}

/** The farm tests' Redis: test/helpers/redis-server.ts, in a temp folder cleanupAll() removes. */
export type RedisHandle = RedisServer;

export async function startRedis(extraArgs: string[] = []): Promise<RedisHandle> {
  const dir = tempDir('atelier-farm-redis-');
  const server = await startRedisServer({ dir, extraArgs });
  cleanups.push(() => server.dispose());
  return server;
}

function atelier(args: string[], env: Record<string, string>, label: string): Proc {
  const child = spawn(process.execPath, ['bin/atelier.mjs', ...args], { cwd: REPO_ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  return track(child, label);
}

export interface Coordinator {
  proc: Proc;
  url: string;
  home: string;
  client: AtelierClient;
  events: AtelierEvent[];
  /** Resolves with the job's done event, rejects on its failed event (bounded). */
  waitJob(jobId: string, ms: number): Promise<Extract<AtelierEvent, { type: 'job:done' }>>;
  /** The first event (already received or coming) that `match` accepts (bounded). */
  waitEvent<E extends AtelierEvent>(match: (e: AtelierEvent) => e is E, ms: number): Promise<E>;
  /** A stored image's pixels, RGB. */
  pixels(g: GenerationRecord): Promise<Buffer>;
}

/** `atelier serve --farm redisUrl`; with null, a plain studio on the local engine (the bench's baseline). */
export async function startCoordinator(redisUrl: string | null, opts: { env?: Record<string, string>; home?: string; args?: string[] } = {}): Promise<Coordinator> {
  const home = opts.home ?? tempDir('atelier-farm-coord-');
  const proc = atelier(['serve', '--port', '0', '--home', home, '--no-a1111', '--no-comfy', ...(redisUrl ? ['--farm', redisUrl] : []), ...(opts.args ?? [])], opts.env ?? {}, redisUrl ? 'coordinator' : 'studio');
  const url = (await proc.waitFor(/Atelier is serving at (http:\/\/\S+)/, 60_000))[1];
  if (redisUrl) await proc.waitFor(/Render farm: jobs go to/, 10_000);
  const socket = new WebSocket(`${url.replace(/^http/, 'ws').replace(/\/$/, '')}/api/ws`);
  await within(10_000, 'websocket opens', new Promise((resolve, reject) => (socket.once('open', resolve), socket.once('error', reject))));
  const transport = createWebSocketTransport(socket as unknown as WebSocketLike);
  cleanups.push(() => transport.close());
  const client = createApiClient(transport);
  const events: AtelierEvent[] = [];
  const listeners = new Set<(e: AtelierEvent) => void>();
  client.onEvent((e) => {
    events.push(e);
    for (const l of listeners) l(e);
  });
  return {
    proc,
    url,
    home,
    client,
    events,
    waitJob(jobId, ms) {
      const ended = (e: AtelierEvent) => (e.type === 'job:done' || e.type === 'job:failed' || e.type === 'job:cancelled') && e.jobId === jobId;
      return within(
        ms,
        `job ${jobId} ends`,
        new Promise((resolve, reject) => {
          const settle = (e: AtelierEvent) => {
            if (!ended(e)) return;
            listeners.delete(settle);
            if (e.type === 'job:done') resolve(e);
            else reject(Object.assign(new Error(e.type === 'job:failed' ? e.error.message : 'cancelled'), { event: e }));
          };
          listeners.add(settle);
          for (const e of events) settle(e);
        }),
      );
    },
    waitEvent(match, ms) {
      const seen = events.find(match);
      if (seen) return Promise.resolve(seen);
      return within(
        ms,
        'an event',
        new Promise((resolve) => {
          const l = (e: AtelierEvent) => {
            if (!match(e)) return;
            listeners.delete(l);
            resolve(e);
          };
          listeners.add(l);
        }),
      );
    },
    async pixels(g) {
      const res = await fetch(new URL(g.imageUrl, url));
      if (res.status !== 200) throw new Error(`GET ${g.imageUrl}: ${res.status}`);
      return sharp(Buffer.from(await res.arrayBuffer())).removeAlpha().raw().toBuffer();
    },
  };
}

export interface WorkerProc extends Proc {
  name: string;
}

export async function startWorker(redisUrl: string, name: string, opts: { env?: Record<string, string>; models?: string; args?: string[] } = {}): Promise<WorkerProc> {
  const home = tempDir(`atelier-farm-${name}-`);
  const args = ['worker', '--farm', redisUrl, '--name', name, '--home', home, '--provider', 'cpu', ...(opts.models ? ['--models', opts.models] : []), ...(opts.args ?? [])];
  const proc = atelier(args, opts.env ?? {}, `worker ${name}`);
  await proc.waitFor(new RegExp(`farm worker ${name} joined`), 60_000);
  return Object.assign(proc, { name });
}

/**
 * A models folder holding a second model: the demo weights plus one extra file, so its content hash
 * (ModelRegistry.fingerprint) differs from the bundled demo's — a model only some workers hold.
 */
export function secondModelFolder(id: string): string {
  const dir = tempDir('atelier-farm-models-');
  cpSync(join(REPO_ROOT, 'models', 'demo'), join(dir, id), { recursive: true });
  writeFileSync(join(dir, id, 'FARM-TEST.txt'), `a copy of the demo model named ${id}, with a content hash of its own\n`);
  return dir;
}
