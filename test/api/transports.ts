/**
 * The two ways a renderer reaches the one backend, set up for tests: Electron IPC (over an
 * in-memory ipcMain/ipcRenderer pair, through the real preload bridge) and WebSocket (a real
 * server on loopback). The contract suite runs identically against both.
 */
import WebSocket from 'ws';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createApiClient, createBridgeTransport, type ApiTransport } from '../../common/api/client';
import type { AtelierClient } from '../../common/api/contract';
import { createWebSocketTransport } from '../../common/api/ws-client';
import type { WebSocketLike } from '../../common/api/ws-protocol';
import { EVENT_CHANNEL } from '../../common/api/ipc-channels';
import { createDispatcher } from '../../main/api/dispatch';
import type { AtelierBackend } from '../../main/app/backend';
import { createBackend } from '../../main/app/create-backend';
import { registerIpcHandlers } from '../../main/electron/ipc';
import { isTrustedSenderUrl } from '../../main/electron/policy';
import { startServer } from '../../main/server/server';
import { createBridge } from '../../preload/bridge';
import { createIpcPair } from '../helpers/ipc-pair';

export interface Harness {
  client: AtelierClient;
  /** Raw transport, for calls the typed client would not let us make (unknown methods, bad payloads). */
  transport: ApiTransport;
  backend: AtelierBackend;
  home: string;
  /** Fetches an image URL from the client's point of view. */
  fetchImage(url: string): Promise<{ status: number; contentType: string; bytes: Buffer }>;
  close(): Promise<void>;
}

export type TransportName = 'ipc' | 'websocket';

export async function createHarness(kind: TransportName): Promise<Harness> {
  const home = mkdtempSync(join(tmpdir(), `atelier-contract-${kind}-`));
  if (kind === 'ipc') {
    const backend = await createBackend({ userDataDir: home, imageUrlBase: 'atelier://', transport: 'ipc', demoModelDir: process.env.ATELIER_TEST_DEMO_DIR });
    const pair = createIpcPair();
    const unregister = registerIpcHandlers(pair.ipcMain, createDispatcher(backend.api), isTrustedSenderUrl);
    const unsubscribe = backend.onEvent((e) => pair.send(EVENT_CHANNEL, e));
    const transport = createBridgeTransport(createBridge(pair.ipcRenderer));
    return {
      client: createApiClient(transport),
      transport,
      backend,
      home,
      async fetchImage(url) {
        const m = /^atelier:\/\/(image|thumb)\/(.+)$/.exec(url);
        if (!m) return { status: 400, contentType: '', bytes: Buffer.alloc(0) };
        const file = await backend.resolveImage(m[2], m[1] as 'image' | 'thumb');
        if (!file) return { status: 404, contentType: '', bytes: Buffer.alloc(0) };
        const { readFileSync } = await import('node:fs');
        return { status: 200, contentType: file.endsWith('.png') ? 'image/png' : 'image/webp', bytes: readFileSync(file) };
      },
      async close() {
        unsubscribe();
        unregister();
        await backend.close();
      },
    };
  }
  const backend = await createBackend({ userDataDir: home, imageUrlBase: '/', transport: 'websocket', demoModelDir: process.env.ATELIER_TEST_DEMO_DIR });
  const server = await startServer({ backend, host: '127.0.0.1', port: 0, token: null, rendererDir: join(home, 'no-renderer') });
  const base = `http://127.0.0.1:${server.port}`;
  const socket = new WebSocket(`ws://127.0.0.1:${server.port}/api/ws`);
  const transport = createWebSocketTransport(socket as unknown as WebSocketLike);
  return {
    client: createApiClient(transport),
    transport,
    backend,
    home,
    async fetchImage(url) {
      const res = await fetch(new URL(url, base));
      return { status: res.status, contentType: res.headers.get('content-type') ?? '', bytes: Buffer.from(await res.arrayBuffer()) };
    },
    async close() {
      transport.close();
      await server.close();
      await backend.close();
    },
  };
}
