/**
 * The API over WebSocket (`/api/ws`): upgrades pass the same token, Host and Origin checks as HTTP;
 * calls go to the dispatcher and backend events are broadcast to every open socket.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import type { WsCall, WsServerMessage } from '../../common/api/ws-protocol';
import { createDispatcher, type Dispatcher } from '../api/dispatch';
import type { AtelierBackend } from '../app/backend';
import { checkAccess, parseRequestUrl } from './auth';

export interface WebSocketApiOptions {
  backend: AtelierBackend;
  /** The bound host: the Host and Origin checks compare against it. */
  host: string;
  token: string | null;
  /** Largest message accepted; a larger one closes the socket with 1009 before it is buffered. */
  maxMessageBytes: number;
  log: (msg: string) => void;
}

export interface WebSocketApi {
  /** The HTTP server's `upgrade` listener. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void;
  /** Stops the event broadcast, drops every socket and closes the WebSocket server. */
  close(): void;
}

export function createWebSocketApi(opts: WebSocketApiOptions): WebSocketApi {
  const { backend, log } = opts;
  const dispatch = createDispatcher(backend.api, (err) => log(`API error: ${(err as Error)?.stack ?? err}`));
  const sockets = new Set<WebSocket>();
  const wss = new WebSocketServer({ noServer: true, maxPayload: opts.maxMessageBytes });

  const unsubscribe = backend.onEvent((event) => {
    const data = JSON.stringify({ event } satisfies WsServerMessage);
    for (const s of sockets) if (s.readyState === s.OPEN) s.send(data);
  });

  wss.on('connection', (socket: WebSocket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    serveSocket(socket, dispatch, opts.maxMessageBytes, log);
  });

  return {
    handleUpgrade(req, socket, head) {
      socket.on('error', () => socket.destroy());
      try {
        const url = parseRequestUrl(req.url);
        if (!url) return refuseUpgrade(socket, 400);
        const access = checkAccess(req, url, opts.token, opts.host);
        if (!access.ok) return refuseUpgrade(socket, access.status);
        if (url.pathname !== '/api/ws') return refuseUpgrade(socket, 404);
        wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
      } catch (err) {
        log(`WebSocket upgrade error: ${(err as Error)?.stack ?? err}`);
        refuseUpgrade(socket, 400);
      }
    },
    close() {
      unsubscribe();
      for (const s of sockets) s.terminate();
      wss.close();
    },
  };
}

/** One client's calls: each message is a call, answered with its id. */
function serveSocket(socket: WebSocket, dispatch: Dispatcher, maxMessage: number, log: (msg: string) => void): void {
  // ws closes the socket itself (1009) when a message exceeds maxPayload, before buffering it.
  socket.on('error', (err) => {
    const tooBig = (err as { code?: string }).code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH';
    log(tooBig ? `WebSocket message refused: larger than ${Math.round(maxMessage / 1e6)} MB (closed with 1009)` : `WebSocket error: ${err.message}`);
  });
  socket.on('message', (raw) => {
    handleMessage(socket, dispatch, raw.toString()).catch((err) => {
      // dispatch() never throws; this is the last line of defence (e.g. a reply that cannot be serialised).
      log(`WebSocket message error: ${(err as Error)?.stack ?? err}`);
      if (socket.readyState === socket.OPEN) socket.send(JSON.stringify({ id: -1, result: { ok: false, error: { code: 'internal', message: 'The reply could not be sent' } } }));
    });
  });
}

async function handleMessage(socket: WebSocket, dispatch: Dispatcher, text: string): Promise<void> {
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

const STATUS_TEXT: Record<number, string> = { 400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found' };

function refuseUpgrade(socket: Duplex, status: 400 | 401 | 403 | 404): void {
  socket.end(`HTTP/1.1 ${status} ${STATUS_TEXT[status]}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
}
