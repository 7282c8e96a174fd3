/**
 * Issue 15 fuzz (seeded, bounded): the WebSocket transport's envelope, against a real `startServer`.
 * Random frames — well-formed calls with odd ids, methods and payloads, malformed JSON, wrong JSON
 * types, deep nesting, binary garbage — each get exactly one reply: `{id: -1}` with invalid_request for
 * a malformed envelope, else `{id, result}` with a typed result. The connection stays open and the
 * server keeps answering HTTP throughout.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { apiMethods, type ApiMethodName } from '../../common/api/contract';
import type { AtelierBackend } from '../../main/app/backend';
import { createBackend } from '../../main/app/create-backend';
import { startServer, type RunningServer } from '../../main/server/server';
import { budget, cases, FUZZ_SEED, Rng } from './fuzz-kit';
import { jsonSchemaOf, mutated, shaped } from './payload-gen';

const CODES = new Set(['invalid_request', 'unknown_method', 'not_found', 'model_error', 'cancelled', 'busy', 'unauthorized', 'internal']);
/** Methods without side effects outside the temporary home (the payload fuzz covers the rest). */
const READERS: ApiMethodName[] = ['getSystemInfo', 'listModels', 'listJobs', 'listProjects', 'getSettings', 'queryHistory', 'listBoards', 'listCatalog', 'listDownloads', 'getGeneration', 'getLineage', 'cancel', 'moveJob'];

let home: string;
let backend: AtelierBackend;
let server: RunningServer;
beforeAll(async () => {
  home = mkdtempSync(join(tmpdir(), 'atelier-fuzz-ws-'));
  backend = await createBackend({ userDataDir: home, imageUrlBase: '/', transport: 'websocket', hubEndpoint: 'http://127.0.0.1:9' });
  server = await startServer({ backend, host: '127.0.0.1', port: 0, token: null, rendererDir: join(home, 'no-renderer') });
});
afterAll(async () => {
  await server?.close();
  await backend?.close();
  rmSync(home, { recursive: true, force: true });
});

interface Reply {
  id: number;
  result: { ok: boolean; error?: { code: string; message: string } };
}

function frame(rng: Rng): { data: string | Buffer; expectId: number | null } {
  const id = rng.int(1, 1_000_000);
  switch (rng.int(0, 9)) {
    case 0:
      return { data: rng.pick(['', ' ', 'null', 'true', '1', '"x"', '[]', '{}', '{"id":1', '{"id":', 'NaN', '{"id":1e309,"method":"listJobs"}', '{"id":-0.5,"method":"listJobs"}', '{"id":"1","method":"listJobs"}', '{"id":9007199254740993,"method":"listJobs"}', '{"method":"listJobs"}']), expectId: null };
    case 1:
      return { data: Buffer.from(rng.bytes(rng.int(0, 512))), expectId: null };
    case 2: {
      const depth = rng.int(100, 50_000);
      return { data: rng.bool() ? '['.repeat(depth) + ']'.repeat(depth) : `{"id":${id},"method":"listJobs","payload":${'['.repeat(depth)}${']'.repeat(depth)}}`, expectId: null };
    }
    case 3:
      // A method that is not one, in every JSON shape.
      return { data: JSON.stringify({ id, method: rng.pick<unknown>([null, 1, [], {}, { toString: 'x' }, '', 'constructor', '__proto__', 'toString', 'GENERATE', 'x'.repeat(10_000)]), payload: {} }), expectId: id };
    default: {
      const method = rng.pick(READERS);
      const schema = jsonSchemaOf(apiMethods[method]);
      const payload = rng.bool(0.5) ? shaped(rng, schema) : mutated(rng, shaped(rng, schema));
      const text = JSON.stringify({ id, method, payload });
      return { data: text ?? '{}', expectId: text ? id : null };
    }
  }
}

describe(`WebSocket envelope fuzz (seed ${FUZZ_SEED})`, () => {
  it('every frame gets exactly one typed reply; the socket stays open; the server keeps serving', async () => {
    const ws = new WebSocket(server.url.replace(/^http/, 'ws').replace(/\/(\?.*)?$/, '/api/ws'), { headers: { Origin: new URL(server.url).origin } });
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    const replies: Reply[] = [];
    let waiting: (() => void) | null = null;
    ws.on('message', (raw) => {
      const msg = JSON.parse(raw.toString()) as Reply | { event: unknown };
      if ('event' in msg) return;
      replies.push(msg);
      waiting?.();
    });
    let closed = false;
    ws.on('close', () => (closed = true));
    const rng = new Rng(FUZZ_SEED ^ 0x3e5);
    const more = budget(15_000);
    let n = 0;
    for (let i = 0; i < cases(400) && more(); i++, n++) {
      const { data, expectId } = frame(rng);
      const where = `seed ${FUZZ_SEED} frame ${i} ${typeof data === 'string' ? JSON.stringify(data.slice(0, 200)) : `binary ${data.length} B`}`;
      const before = replies.length;
      const got = new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`${where}: no reply within 10 s`)), 10_000);
        waiting = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      ws.send(data);
      await got;
      expect(replies.length, `${where}: more than one reply`).toBe(before + 1);
      const reply = replies[replies.length - 1];
      expect(closed, where).toBe(false);
      if (expectId === null) {
        if (reply.id === -1) expect(reply.result.error?.code, where).toBe('invalid_request');
      } else {
        expect(reply.id, where).toBe(expectId);
      }
      expect(typeof reply.result.ok, where).toBe('boolean');
      if (!reply.result.ok) {
        expect(CODES.has(reply.result.error!.code), `${where}: ${reply.result.error!.code}`).toBe(true);
        expect(reply.result.error!.code, `${where}: ${reply.result.error!.message}`).not.toBe('internal');
      }
    }
    expect(n).toBeGreaterThan(10);
    ws.close();
    const health = await fetch(new URL('/api/health', server.url));
    expect(health.status).toBe(200);
  });
});
