/**
 * The compatibility port follows the studio's access rules (main/server/auth.ts): loopback only
 * answers loopback Host names and its own Origin; with a token, every request — HTTP and
 * WebSocket — must present it as Bearer, HTTP Basic password (A1111 `--api-auth` clients),
 * `?token=` (which sets the cookie) or the `atelier_token` cookie. Refusals come in each API's own
 * error shape. `a1111: false` / `comfy: false` (`--no-a1111`, `--no-comfy`) turn either API off.
 */
import { request as httpRequest } from 'node:http';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCompat, within, type CompatHarness } from './helpers';

const TOKEN = 'compat-secret-token';
const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

describe('with a token', () => {
  let h: CompatHarness;
  beforeAll(async () => {
    h = await startCompat({ token: TOKEN });
  });
  afterAll(async () => {
    await h?.close();
  });

  it('refuses A1111 requests without the right token, in A1111’s error shape', async () => {
    const attempts: Record<string, string>[] = [{}, { authorization: basic('user', 'wrong-password') }, { authorization: 'Bearer wrong-token-value' }, { authorization: '' }, { cookie: 'atelier_token=nope' }];
    for (const headers of attempts) {
      const res = await fetch(`${h.base}/sdapi/v1/options`, { headers });
      expect(res.status, JSON.stringify(headers)).toBe(401);
      expect(res.headers.get('www-authenticate')).toMatch(/^Basic/);
      expect(await res.json()).toMatchObject({ error: 'HTTPException', detail: 'Missing or wrong token', body: '', errors: expect.any(String) });
    }
    const txt2img = await fetch(`${h.base}/sdapi/v1/txt2img`, { method: 'POST', body: JSON.stringify({ prompt: 'x', steps: 2 }) });
    expect(txt2img.status).toBe(401);
    expect((await h.client.queryHistory({ limit: 10 })).items).toHaveLength(0);
  });

  it('accepts the token as Basic password (A1111 --api-auth), Bearer, ?token= (setting the cookie) or the cookie', async () => {
    expect((await fetch(`${h.base}/sdapi/v1/options`, { headers: { authorization: basic('anyone', TOKEN) } })).status).toBe(200);
    expect((await fetch(`${h.base}/sdapi/v1/options`, { headers: { authorization: `Basic ${Buffer.from(TOKEN).toString('base64')}` } })).status).toBe(200);
    expect((await fetch(`${h.base}/sdapi/v1/options`, { headers: { authorization: `Bearer ${TOKEN}` } })).status).toBe(200);
    const viaQuery = await fetch(`${h.base}/prompt?token=${TOKEN}`);
    expect(viaQuery.status).toBe(200);
    expect(viaQuery.headers.get('set-cookie')).toMatch(new RegExp(`^atelier_token=${TOKEN}; HttpOnly; SameSite=Strict; Path=/`));
    expect((await fetch(`${h.base}/object_info/KSampler`, { headers: { cookie: `other=1; atelier_token=${TOKEN}` } })).status).toBe(200);
    // Open WebUI sends `Bearer ` with no ComfyUI key: the query token still counts.
    expect((await fetch(`${h.base}/system_stats?token=${TOKEN}`, { headers: { authorization: 'Bearer ' } })).status).toBe(200);
  });

  it('refuses ComfyUI requests and sockets without the token, in ComfyUI’s error shape', async () => {
    const res = await fetch(`${h.base}/prompt`, { method: 'POST', body: JSON.stringify({ prompt: {} }) });
    expect(res.status).toBe(401);
    expect(await res.json()).toEqual({ error: { type: 'unauthorized', message: 'Missing or wrong token', details: '', extra_info: {} }, node_errors: {} });
    const refused = await wsStatus(`${h.base.replace('http', 'ws')}/ws?clientId=a`);
    expect(refused).toBe(401);
    expect(await wsStatus(`${h.base.replace('http', 'ws')}/ws?clientId=a&token=${TOKEN}`)).toBe('open');
    expect(await wsStatus(`${h.base.replace('http', 'ws')}/ws?clientId=a`, { authorization: `Bearer ${TOKEN}` })).toBe('open');
  });
});

describe('on loopback without a token', () => {
  let h: CompatHarness;
  beforeAll(async () => {
    h = await startCompat();
  });
  afterAll(async () => {
    await h?.close();
  });

  it('refuses foreign Host names (DNS rebinding) and other sites’ pages', async () => {
    expect(await rawGet(h.base, '/sdapi/v1/options', { host: 'evil.example:7860' })).toBe(403);
    expect(await rawGet(h.base, '/prompt', { host: 'evil.example' })).toBe(403);
    expect((await fetch(`${h.base}/sdapi/v1/options`, { headers: { origin: 'http://evil.example' } })).status).toBe(403);
    expect((await fetch(`${h.base}/prompt`, { headers: { 'sec-fetch-site': 'cross-site' } })).status).toBe(403);
    expect(await wsStatus(`${h.base.replace('http', 'ws')}/ws`, { origin: 'http://evil.example' })).toBe(403);
    // Server-side clients (Open WebUI, SillyTavern, scripts) send no Origin and are served.
    expect((await fetch(`${h.base}/sdapi/v1/options`, { headers: { authorization: '' } })).status).toBe(200);
  });
});

describe('turning either API off', () => {
  it('a1111: false serves only ComfyUI; comfy: false serves only A1111', async () => {
    const comfyOnly = await startCompat({ a1111: false });
    try {
      expect((await fetch(`${comfyOnly.base}/sdapi/v1/options`)).status).toBe(404);
      expect((await fetch(`${comfyOnly.base}/prompt`)).status).toBe(200);
    } finally {
      await comfyOnly.close();
    }
    const a1111Only = await startCompat({ comfy: false });
    try {
      expect((await fetch(`${a1111Only.base}/sdapi/v1/options`)).status).toBe(200);
      expect((await fetch(`${a1111Only.base}/prompt`)).status).toBe(404);
      expect(await wsStatus(`${a1111Only.base.replace('http', 'ws')}/ws`)).toBe(404);
    } finally {
      await a1111Only.close();
    }
  });
});

/** 'open', or the HTTP status the handshake was refused with. */
function wsStatus(url: string, headers: Record<string, string> = {}): Promise<'open' | number> {
  return within(
    10_000,
    `WebSocket ${url}`,
    new Promise((resolve) => {
      const ws = new WebSocket(url, { headers });
      ws.on('open', () => {
        ws.close();
        resolve('open');
      });
      ws.on('unexpected-response', (_req, res) => {
        resolve(res.statusCode ?? 0);
        ws.terminate();
      });
      ws.on('error', () => undefined);
    }),
  );
}

function rawGet(base: string, path: string, headers: Record<string, string>): Promise<number> {
  const url = new URL(path, base);
  return within(
    10_000,
    `GET ${path}`,
    new Promise((resolve, reject) => {
      const req = httpRequest({ host: url.hostname, port: url.port, path: url.pathname, headers }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      req.end();
    }),
  );
}
