/**
 * Server mode: the built renderer, the API over WebSocket (`/api/ws`) and images by id
 * (`/image/<id>`, `/thumb/<id>`) on one HTTP port. Loopback by default; a token guards everything
 * when set (and is mandatory off loopback).
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import type { WsCall, WsServerMessage } from '../../common/api/ws-protocol';
import { createDispatcher } from '../api/dispatch';
import { IMAGE_ID_PATTERN, type AtelierBackend } from '../app/backend';
import { checkAccess, parseRequestUrl, TOKEN_COOKIE } from './auth';
import { contentTypeFor, createReadStream, findStaticFile } from './static-files';

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

/**
 * The coordinator's upload folder as the server sees it: `PUT /api/farm/results/<id>` with
 * `Authorization: Bearer <farm token>`. The farm token, not the studio's: workers never learn the
 * token that opens the studio. The server's Host and Origin rules still apply to the route.
 */
export interface FarmResultReceiver {
  readonly maxBytes: number;
  acceptsToken(presented: string | null): boolean;
  /** Resolves once stored; rejects with `status` (400, 413) for a refused upload. */
  receive(id: string, body: IncomingMessage, sha256?: string): Promise<unknown>;
}

export interface RunningServer {
  url: string;
  port: number;
  close(): Promise<void>;
}

export const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data: blob:",
  "connect-src 'self' ws: wss:",
  "object-src 'none'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
].join('; ');

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
  const { backend, token } = opts;
  const log = opts.log ?? (() => {});
  const dispatch = createDispatcher(backend.api, (err) => log(`API error: ${(err as Error)?.stack ?? err}`));
  const sockets = new Set<WebSocket>();
  const maxMessage = opts.maxMessageBytes ?? MAX_WS_MESSAGE;
  const wss = new WebSocketServer({ noServer: true, maxPayload: maxMessage });

  const unsubscribe = backend.onEvent((event) => {
    const data = JSON.stringify({ event } satisfies WsServerMessage);
    for (const s of sockets) if (s.readyState === s.OPEN) s.send(data);
  });

  wss.on('connection', (socket: WebSocket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    // ws closes the socket itself (1009) when a message exceeds maxPayload, before buffering it.
    socket.on('error', (err) => {
      const tooBig = (err as { code?: string }).code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH';
      log(tooBig ? `WebSocket message refused: larger than ${Math.round(maxMessage / 1e6)} MB (closed with 1009)` : `WebSocket error: ${err.message}`);
    });
    socket.on('message', (raw) => {
      handleMessage(socket, raw.toString()).catch((err) => {
        // dispatch() never throws; this is the last line of defence (e.g. a reply that cannot be serialised).
        log(`WebSocket message error: ${(err as Error)?.stack ?? err}`);
        if (socket.readyState === socket.OPEN) socket.send(JSON.stringify({ id: -1, result: { ok: false, error: { code: 'internal', message: 'The reply could not be sent' } } }));
      });
    });
  });

  async function handleMessage(socket: WebSocket, text: string): Promise<void> {
    let call: WsCall;
    try {
      call = JSON.parse(text) as WsCall;
      // Ids are echoed back: only ids that survive JSON round-trip exactly (not 1e309 → null).
      if (typeof call !== 'object' || call === null || !Number.isSafeInteger(call.id)) throw new Error('bad envelope');
    } catch {
      socket.send(JSON.stringify({ id: -1, result: { ok: false, error: { code: 'invalid_request', message: 'Malformed message: expected {id, method, payload} JSON with an integer id' } } }));
      return;
    }
    const result = await dispatch(call.method, call.payload);
    if (socket.readyState === socket.OPEN) socket.send(JSON.stringify({ id: call.id, result } satisfies WsServerMessage));
  }

  const server = createServer((req, res) => {
    handleHttp(req, res).catch((err) => {
      log(`HTTP error: ${(err as Error)?.stack ?? err}`);
      if (!res.headersSent) sendText(res, 500, 'Internal error');
      else res.destroy();
    });
  });

  async function handleHttp(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = parseRequestUrl(req.url);
    if (!url) return sendText(res, 400, 'Bad request target');
    const upload = /^\/api\/farm\/results\/([^/]+)$/.exec(url.pathname);
    if (upload && opts.farmResults) return receiveFarmResult(req, res, url, upload[1], opts.farmResults);
    const access = checkAccess(req, url, token, opts.host);
    if (!access.ok) return sendText(res, access.status, access.reason);
    if (access.setCookie && token) {
      res.setHeader('Set-Cookie', `${TOKEN_COOKIE}=${encodeURIComponent(token)}; HttpOnly; SameSite=Strict; Path=/`);
    }
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Referrer-Policy', 'no-referrer');
    if (req.method !== 'GET' && req.method !== 'HEAD') return sendText(res, 405, 'Method not allowed');

    if (url.pathname === '/api/health') {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ ok: true }));
      return;
    }
    const imageMatch = /^\/(image|thumb)\/([^/]+)$/.exec(url.pathname);
    if (imageMatch) {
      const [, kind, id] = imageMatch;
      if (!IMAGE_ID_PATTERN.test(id)) return sendText(res, 400, 'Bad image id');
      const file = await backend.resolveImage(id, kind as 'image' | 'thumb');
      if (!file) return sendText(res, 404, 'No such image');
      return streamFile(res, file, 'private, max-age=31536000, immutable');
    }
    const exportMatch = /^\/export\/([^/]+)$/.exec(url.pathname);
    if (exportMatch) {
      // An export zip prepared by prepareExportDownload: a download, never shown inline.
      const prepared = backend.resolveExport?.(exportMatch[1]) ?? null;
      if (!prepared) return sendText(res, 404, 'No such export (it may have expired: export again)');
      res.setHeader('Content-Disposition', `attachment; filename="${prepared.fileName.replace(/[^\x20-\x7e]|["\\]/g, '_')}"; filename*=UTF-8''${encodeURIComponent(prepared.fileName)}`);
      return streamFile(res, prepared.path, 'no-store');
    }
    const file = await findStaticFile(opts.rendererDir, url.pathname);
    if (!file) return sendText(res, 404, `Not found${url.pathname === '/' ? ' (renderer not built: run npm run build)' : ''}`);
    res.setHeader('Content-Security-Policy', CONTENT_SECURITY_POLICY);
    return streamFile(res, file, file.endsWith('.html') ? 'no-cache' : 'public, max-age=3600');
  }

  async function receiveFarmResult(req: IncomingMessage, res: ServerResponse, url: URL, id: string, receiver: FarmResultReceiver): Promise<void> {
    // Refusals close the connection: the worker's body is not read, and not left to drain.
    const refuse = (status: number, text: string) => {
      res.setHeader('Connection', 'close');
      sendText(res, status, text);
    };
    const access = checkAccess(req, url, null, opts.host);
    if (!access.ok) return refuse(access.status, access.reason);
    if (req.method !== 'PUT') return refuse(405, 'Method not allowed');
    const auth = req.headers.authorization;
    if (!receiver.acceptsToken(auth?.startsWith('Bearer ') ? auth.slice(7).trim() : null)) return refuse(401, 'Missing or wrong farm token');
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > receiver.maxBytes) return refuse(413, `Upload larger than ${Math.round(receiver.maxBytes / 1e6)} MB`);
    const sha = req.headers['x-content-sha256'];
    try {
      await receiver.receive(id, req, typeof sha === 'string' ? sha : undefined);
    } catch (err) {
      const status = (err as { status?: number }).status;
      if (typeof status === 'number') return refuse(status, (err as Error).message);
      throw err;
    }
    sendText(res, 201, 'Stored');
  }

  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => socket.destroy());
    try {
      const url = parseRequestUrl(req.url);
      if (!url) return refuseUpgrade(socket, 400);
      const access = checkAccess(req, url, token, opts.host);
      if (!access.ok) return refuseUpgrade(socket, access.status);
      if (url.pathname !== '/api/ws') return refuseUpgrade(socket, 404);
      wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
    } catch (err) {
      log(`WebSocket upgrade error: ${(err as Error)?.stack ?? err}`);
      refuseUpgrade(socket, 400);
    }
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const hostForUrl = opts.host.includes(':') ? `[${opts.host}]` : opts.host;
  const url = `http://${hostForUrl}:${port}/${token ? `?token=${token}` : ''}`;

  return {
    url,
    port,
    async close() {
      unsubscribe();
      for (const s of sockets) s.terminate();
      wss.close();
      server.closeAllConnections?.();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

const STATUS_TEXT: Record<number, string> = { 400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found' };

function refuseUpgrade(socket: Duplex, status: 400 | 401 | 403 | 404): void {
  socket.end(`HTTP/1.1 ${status} ${STATUS_TEXT[status]}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
}

function sendText(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8' });
  res.end(text);
}

function streamFile(res: ServerResponse, file: string, cacheControl: string): void {
  res.writeHead(200, { 'Content-Type': contentTypeFor(file), 'Cache-Control': cacheControl });
  createReadStream(file).on('error', () => res.destroy()).pipe(res);
}
