/**
 * Requests that once took the server down or in (issue 15, items 1–4 and 12), against a real
 * `startServer` on loopback: crafted upgrade targets, foreign cookies, hostile envelopes, opaque
 * origins. After each batch the server must still answer — a crash would end the test process.
 */
import { mkdtempSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { AtelierBackend } from '../../main/app/backend';
import { createBackend } from '../../main/app/create-backend';
import { startServer, type RunningServer } from '../../main/server/server';

const TOKEN = 'hardening-token-123';
let backend: AtelierBackend;
let open: RunningServer;
let guarded: RunningServer;

beforeAll(async () => {
  const home = mkdtempSync(join(tmpdir(), 'atelier-hardening-'));
  backend = await createBackend({ userDataDir: home, imageUrlBase: '/', transport: 'websocket' });
  const rendererDir = join(home, 'no-renderer');
  open = await startServer({ backend, host: '127.0.0.1', port: 0, token: null, rendererDir });
  guarded = await startServer({ backend, host: '127.0.0.1', port: 0, token: TOKEN, rendererDir });
});
afterAll(async () => {
  await open?.close();
  await guarded?.close();
  await backend?.close();
});

/** Sends raw bytes and returns the status code of the reply (0 if the socket closed without one). */
function rawRequest(port: number, text: string, timeoutMs = 5000): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let data = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no reply within ${timeoutMs} ms to ${JSON.stringify(text.slice(0, 80))}`));
    }, timeoutMs);
    socket.on('data', (c) => {
      data += c.toString('latin1');
      const m = /^HTTP\/1\.1 (\d{3})/.exec(data);
      if (m) {
        clearTimeout(timer);
        socket.destroy();
        resolve(Number(m[1]));
      }
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(Number(/^HTTP\/1\.1 (\d{3})/.exec(data)?.[1] ?? 0));
    });
    socket.write(text);
  });
}

const upgrade = (target: string, extra = '') =>
  `GET ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n${extra}\r\n`;
const get = (target: string, extra = '') => `GET ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n${extra}\r\n`;

async function health(server: RunningServer): Promise<number> {
  const res = await fetch(`http://127.0.0.1:${server.port}/api/health`, { headers: { authorization: `Bearer ${TOKEN}` } });
  return res.status;
}

/** A WebSocket to the open server; resolves each reply by its id. */
async function wsClient(server: RunningServer, query = ''): Promise<{ send(text: string): Promise<{ id: unknown; result: { ok: boolean; error?: { code: string; message: string } } }>; close(): void }> {
  const ws = new WebSocket(`ws://127.0.0.1:${server.port}/api/ws${query}`);
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  return {
    send(text) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('no reply')), 10_000);
        const onMessage = (raw: WebSocket.RawData) => {
          const msg = JSON.parse(raw.toString());
          if ('event' in msg) return;
          clearTimeout(timer);
          ws.off('message', onMessage);
          resolve(msg);
        };
        ws.on('message', onMessage);
        ws.send(text);
      });
    },
    close: () => ws.close(),
  };
}

describe('no request takes the server down', () => {
  const targets = ['//', '///', '//:', '//a:b@', 'http://[', '//[', 'http://', '//%zz', '/%', '*', 'x', '//a:b@/api/ws'];

  it('refuses unparsable WebSocket upgrade targets before any check, on both servers', async () => {
    for (const server of [open, guarded]) {
      for (const target of targets) {
        const status = await rawRequest(server.port, upgrade(target));
        expect([400, 401, 404], `upgrade ${target}`).toContain(status);
      }
      expect(await health(server)).toBe(200);
    }
  });

  it('answers unparsable HTTP targets with 400/404, never 500', async () => {
    for (const target of targets) {
      const status = await rawRequest(open.port, get(target));
      expect(status, `GET ${target}`).toBeGreaterThanOrEqual(400);
      expect(status, `GET ${target}`).toBeLessThan(500);
    }
    expect(await health(open)).toBe(200);
  });

  it('ignores malformed foreign cookies and still reads its own', async () => {
    const cookie = `other=%zz; broken=%E0%A4%A; atelier_token=${encodeURIComponent(TOKEN)}`;
    expect(await rawRequest(guarded.port, get('/api/health', `Cookie: ${cookie}\r\n`))).toBe(200);
    expect(await rawRequest(guarded.port, upgrade('/api/ws', `Cookie: ${cookie}\r\n`))).toBe(101);
    // Without our cookie the foreign ones are just ignored: 401, not 500 and not a crash.
    expect(await rawRequest(guarded.port, get('/api/health', 'Cookie: other=%zz\r\n'))).toBe(401);
    expect(await rawRequest(guarded.port, upgrade('/api/ws', 'Cookie: other=%zz\r\n'))).toBe(401);
    // Our own cookie, badly encoded, is a wrong token.
    expect(await rawRequest(guarded.port, get('/api/health', 'Cookie: atelier_token=%zz\r\n'))).toBe(401);
    expect(await health(guarded)).toBe(200);
  });

  it('answers hostile envelopes with typed errors and keeps serving', async () => {
    const ws = await wsClient(open);
    try {
      const objMethod = await ws.send('{"id":1,"method":{"toString":"x"}}');
      expect(objMethod).toMatchObject({ id: 1, result: { ok: false, error: { code: 'unknown_method' } } });
      const deep = '['.repeat(100_000) + ']'.repeat(100_000);
      const deepMethod = await ws.send(`{"id":2,"method":${deep}}`);
      expect(deepMethod).toMatchObject({ id: 2, result: { ok: false } });
      const deepPayload = await ws.send(`{"id":3,"method":"listJobs","payload":${deep}}`);
      expect(deepPayload).toMatchObject({ id: 3, result: { ok: false, error: { code: 'invalid_request' } } });
      const hugeId = await ws.send('{"id":1e309,"method":"listJobs"}');
      expect(hugeId).toMatchObject({ id: -1, result: { ok: false, error: { code: 'invalid_request' } } });
      for (const text of ['null', '[]', '"x"', '{"id":"1","method":"listJobs"}', '{"id":1.5,"method":"listJobs"}', '{', '{"id":4,"method":"__proto__"}', '{"id":5,"method":"constructor"}']) {
        const reply = await ws.send(text);
        expect(reply.result.ok, text).toBe(false);
      }
      // The same socket still works.
      expect((await ws.send('{"id":9,"method":"listJobs"}')).result.ok).toBe(true);
    } finally {
      ws.close();
    }
    expect(await health(open)).toBe(200);
  });
});

describe('no page on another origin gets in', () => {
  it('refuses Origin: null on HTTP and on the WebSocket', async () => {
    expect(await rawRequest(open.port, get('/api/health', 'Origin: null\r\n'))).toBe(403);
    expect(await rawRequest(open.port, upgrade('/api/ws', 'Origin: null\r\n'))).toBe(403);
    expect(await rawRequest(open.port, upgrade('/api/ws', 'Origin: file://\r\n'))).toBe(403);
    expect(await rawRequest(open.port, upgrade('/api/ws', 'Origin: chrome-extension://abc\r\n'))).toBe(403);
    expect(await rawRequest(open.port, upgrade('/api/ws', 'Origin: http://127.0.0.1.evil.example\r\n'))).toBe(403);
    // Even with the right token, a null origin is not the studio.
    expect(await rawRequest(guarded.port, upgrade(`/api/ws?token=${TOKEN}`, 'Origin: null\r\n'))).toBe(403);
  });

  it('refuses cross-site browser requests that carry no Origin (Fetch Metadata)', async () => {
    expect(await rawRequest(open.port, get('/api/health', 'Sec-Fetch-Site: cross-site\r\n'))).toBe(403);
    expect(await rawRequest(open.port, get('/api/health', 'Sec-Fetch-Site: same-site\r\n'))).toBe(403);
    expect(await rawRequest(open.port, get('/api/health', 'Sec-Fetch-Site: same-origin\r\n'))).toBe(200);
    expect(await rawRequest(open.port, get('/api/health', 'Sec-Fetch-Site: none\r\n'))).toBe(200);
  });

  it('still lets the studio itself in', async () => {
    expect(await rawRequest(open.port, upgrade('/api/ws', `Origin: http://127.0.0.1\r\n`))).toBe(101);
  });
});

describe('a port that is taken', () => {
  it('fails to start with EADDRINUSE and leaves no event subscription behind (serve tries the next port)', async () => {
    let subscribers = 0;
    const counting: AtelierBackend = {
      ...backend,
      onEvent(listener) {
        subscribers++;
        const off = backend.onEvent(listener);
        return () => {
          subscribers--;
          off();
        };
      },
    };
    await expect(startServer({ backend: counting, host: '127.0.0.1', port: open.port, token: null, rendererDir: tmpdir() })).rejects.toMatchObject({ code: 'EADDRINUSE' });
    expect(subscribers).toBe(0);
  });
});
