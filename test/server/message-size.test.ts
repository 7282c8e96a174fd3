/**
 * Issue 15, item 5: the WebSocket message cap matches what the schemas accept (one generate with an
 * init image and a mask at their largest base64 size) and a larger message ends in a clear error for
 * the caller — and the server keeps serving.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createApiClient } from '../../common/api/client';
import { GenerateRequest, ReadMetadataRequest } from '../../common/api/schemas';
import { createWebSocketTransport } from '../../common/api/ws-client';
import type { WebSocketLike } from '../../common/api/ws-protocol';
import type { AtelierBackend } from '../../main/app/backend';
import { createBackend } from '../../main/app/create-backend';
import { MAX_IMAGE_BASE64, MAX_WS_MESSAGE, startServer, type RunningServer } from '../../main/server/server';

const CAP = 256 * 1024;
let backend: AtelierBackend;
let server: RunningServer;
const logs: string[] = [];

beforeAll(async () => {
  const home = mkdtempSync(join(tmpdir(), 'atelier-msg-size-'));
  backend = await createBackend({ userDataDir: home, imageUrlBase: '/', transport: 'websocket' });
  server = await startServer({ backend, host: '127.0.0.1', port: 0, token: null, rendererDir: join(home, 'no-renderer'), maxMessageBytes: CAP, log: (m) => logs.push(m) });
});
afterAll(async () => {
  await server?.close();
  await backend?.close();
});

async function connectClient() {
  const socket = new WebSocket(`ws://127.0.0.1:${server.port}/api/ws`);
  const transport = createWebSocketTransport(socket as unknown as WebSocketLike);
  return { client: createApiClient(transport), transport, socket };
}

describe('WebSocket message size', () => {
  it('the default cap fits the largest request the schemas accept, and nothing much larger', () => {
    const atMax = 'A'.repeat(MAX_IMAGE_BASE64);
    // The server's idea of the largest image is the schemas' own.
    expect(GenerateRequest.safeParse({ prompt: 'x', initImage: { base64: atMax }, mask: { base64: atMax } }).success).toBe(true);
    expect(ReadMetadataRequest.safeParse({ base64: atMax }).success).toBe(true);
    const over = atMax + 'A';
    expect(GenerateRequest.safeParse({ prompt: 'x', initImage: { base64: over } }).success).toBe(false);
    expect(GenerateRequest.safeParse({ prompt: 'x', initImage: { base64: 'QQ==' }, mask: { base64: over } }).success).toBe(false);
    expect(ReadMetadataRequest.safeParse({ base64: over }).success).toBe(false);
    // Both images at their maximum, with room for the envelope and the other fields.
    expect(MAX_WS_MESSAGE).toBeGreaterThanOrEqual(2 * MAX_IMAGE_BASE64 + 100_000);
    expect(MAX_WS_MESSAGE).toBeLessThanOrEqual(2 * MAX_IMAGE_BASE64 + 4 * 1024 * 1024);
  });

  it('a message over the cap fails its call with a clear error instead of a silent disconnect, and the server keeps serving', async () => {
    const { client, transport } = await connectClient();
    await client.listJobs(); // connected
    const result = await transport.call('readImageMetadata', { base64: 'A'.repeat(CAP + 1) });
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.error.code).toBe('invalid_request');
      expect(result.error.message).toMatch(/larger than the Atelier server accepts/);
    }
    // Bounded wait for the server's log line (the socket error is reported asynchronously).
    for (let i = 0; i < 100 && !logs.some((l) => /WebSocket message refused: larger than/.test(l)); i++) await new Promise((r) => setTimeout(r, 20));
    expect(logs.some((l) => /WebSocket message refused: larger than/.test(l))).toBe(true);

    // A new connection works, and a message under the cap goes through to the schema.
    const again = await connectClient();
    const under = await again.transport.call('readImageMetadata', { base64: 'A'.repeat(1000) });
    expect(under.ok ? '' : under.error.message).not.toMatch(/larger than the Atelier server accepts|closed/);
    expect((await again.client.listJobs()).length).toBeGreaterThanOrEqual(0);
    again.transport.close();
  });
});
