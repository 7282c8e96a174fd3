/**
 * A real backend (engine worker, SQLite library, bundled demo model) behind the real compatibility
 * server on loopback, port 0 — what `atelier serve` runs, in-process. Each suite gets a fresh user
 * data folder inside the repo's ignored `.cache/` (tests read nothing outside the repository).
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createApiClient } from '../../common/api/client';
import type { AtelierClient, AtelierEvent, GenerationRecord } from '../../common/api/contract';
import { createDispatcher } from '../../main/api/dispatch';
import type { AtelierBackend } from '../../main/app/backend';
import { createBackend } from '../../main/app/create-backend';
import { startCompatServer, type CompatServerOptions, type RunningCompatServer } from '../../main/compat/server';

export const REPO_ROOT = resolve(__dirname, '..', '..');
/** A prompt the demo model draws well; it has 64×64 defaults (DDIM, 20 steps, CFG 1.3). */
export const DEMO_PROMPT = 'a small yellow circle at the top on a purple background';
export const DEMO_MODEL = 'atelier-demo';

export interface CompatHarness {
  backend: AtelierBackend;
  server: RunningCompatServer;
  /** http://127.0.0.1:<port> */
  base: string;
  /** The studio's view of the same backend (typed API + events). */
  client: AtelierClient;
  /** Every event the backend published since start (what each studio window receives). */
  events: AtelierEvent[];
  home: string;
  close(): Promise<void>;
}

export async function startCompat(opts: Partial<Omit<CompatServerOptions, 'backend'>> = {}): Promise<CompatHarness> {
  const parent = join(REPO_ROOT, '.cache', 'compat-tests');
  mkdirSync(parent, { recursive: true });
  const home = mkdtempSync(join(parent, 'home-'));
  const backend = await createBackend({ userDataDir: home, imageUrlBase: '/' });
  const events: AtelierEvent[] = [];
  const off = backend.onEvent((e) => events.push(e));
  const server = await startCompatServer({ backend, host: '127.0.0.1', port: 0, token: null, ...opts });
  const dispatch = createDispatcher(backend.api);
  const client = createApiClient({ call: (m, p) => dispatch(m, p), onEvent: (l) => backend.onEvent(l) });
  return {
    backend,
    server,
    base: server.baseUrl,
    client,
    events,
    home,
    async close() {
      off();
      await server.close();
      await backend.close();
      rmSync(home, { recursive: true, force: true });
    },
  };
}

/** Generations of the current project carrying `tag`, newest first. */
export async function taggedGenerations(client: AtelierClient, tag: string): Promise<GenerationRecord[]> {
  return (await client.queryHistory({ tag, limit: 500 })).items;
}

/** Rejects after `ms` (a bounded wait for work that should end by itself). */
export function within<T>(ms: number, what: string, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what}: not done within ${ms} ms`)), ms);
    }),
  ]);
}

/** Resolves with the first backend event matching `pred` (published from now on), bounded in time. */
export function nextEvent<T extends AtelierEvent>(backend: AtelierBackend, pred: (e: AtelierEvent) => e is T, ms = 60_000): Promise<T> {
  let off = () => {};
  const p = new Promise<T>((resolve) => {
    off = backend.onEvent((e) => {
      if (pred(e)) {
        off();
        resolve(e);
      }
    });
  });
  return within(ms, 'waiting for an event', p).finally(() => off());
}

/** PNG text chunks by keyword (tEXt / iTXt, uncompressed), enough to read `parameters`. */
export function pngTextChunks(png: Buffer): Record<string, string> {
  const out: Record<string, string> = {};
  let at = 8;
  while (at + 8 <= png.length) {
    const len = png.readUInt32BE(at);
    const type = png.toString('latin1', at + 4, at + 8);
    const data = png.subarray(at + 8, at + 8 + len);
    if (type === 'tEXt') {
      const zero = data.indexOf(0);
      out[data.toString('latin1', 0, zero)] = data.toString('latin1', zero + 1);
    } else if (type === 'iTXt') {
      const zero = data.indexOf(0);
      const key = data.toString('latin1', 0, zero);
      if (data[zero + 1] === 0) {
        let p = zero + 3;
        p = data.indexOf(0, p) + 1; // language tag
        p = data.indexOf(0, p) + 1; // translated keyword
        out[key] = data.toString('utf8', p);
      }
    }
    if (type === 'IEND') break;
    at += 12 + len;
  }
  return out;
}

export function isPng(bytes: Buffer): boolean {
  return bytes.length > 8 && bytes.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
}
