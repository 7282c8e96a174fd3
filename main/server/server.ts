/**
 * Server mode: the built renderer, the API over WebSocket (`/api/ws`) and images by id
 * (`/image/<id>`, `/thumb/<id>`) on one HTTP port. Loopback by default; a token guards everything
 * when set (and is mandatory off loopback).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { AtelierBackend } from '../app/backend';
import { createHttpHandler, type FarmResultReceiver } from './http-routes';
import { createWebSocketApi } from './websocket-api';

export { CONTENT_SECURITY_POLICY, type FarmResultReceiver } from './http-routes';

export interface ServerOptions {
  backend: AtelierBackend;
  host: string;
  port: number;
  token: string | null;
  rendererDir: string;
  log?: (msg: string) => void;
  /** Largest WebSocket message accepted (default MAX_WS_MESSAGE); tests lower it. */
  maxMessageBytes?: number;
  /** With `--farm`: where render-farm workers upload results too large for Redis (main/farm/result-store.ts). */
  farmResults?: FarmResultReceiver;
}

export interface RunningServer {
  url: string;
  port: number;
  close(): Promise<void>;
}

/** The most base64 characters the API schemas accept for one image (initImage, mask, readImageMetadata). */
export const MAX_IMAGE_BASE64 = 90_000_000;
/**
 * Largest WebSocket message: the largest valid call — a generate with an init image and a mask, each
 * at MAX_IMAGE_BASE64 — plus 1 MiB for the rest of the request. Nothing the schemas accept is cut
 * off by the transport; a larger message closes the socket with 1009 (Message Too Big), which the
 * client reports in words, before the server buffers it.
 */
export const MAX_WS_MESSAGE = 2 * MAX_IMAGE_BASE64 + 1024 * 1024;

export async function startServer(opts: ServerOptions): Promise<RunningServer> {
  const { backend, token, host } = opts;
  const log = opts.log ?? (() => {});
  const webSocketApi = createWebSocketApi({ backend, host, token, maxMessageBytes: opts.maxMessageBytes ?? MAX_WS_MESSAGE, log });
  const server = createServer(createHttpHandler({ backend, host, token, rendererDir: opts.rendererDir, log, ...(opts.farmResults ? { farmResults: opts.farmResults } : {}) }));
  server.on('upgrade', (req, socket, head) => webSocketApi.handleUpgrade(req, socket, head));

  try {
    await listen(server, opts.port, host);
  } catch (err) {
    // A busy port (serve tries the next one): this attempt's event subscription must not stay behind.
    webSocketApi.close();
    throw err;
  }
  const port = (server.address() as AddressInfo).port;
  const hostForUrl = host.includes(':') ? `[${host}]` : host;
  const url = `http://${hostForUrl}:${port}/${token ? `?token=${token}` : ''}`;

  return {
    url,
    port,
    async close() {
      webSocketApi.close();
      server.closeAllConnections?.();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
}
