/**
 * Client side of the WebSocket transport. Works with the browser's WebSocket or the `ws` package
 * (tests), given a connected-or-connecting socket.
 */
import type { ApiMethodName, ApiResult, AtelierEvent } from './contract';
import type { ApiTransport } from './client';
import type { WebSocketLike, WsServerMessage } from './ws-protocol';

const OPEN = 1;

export function createWebSocketTransport(socket: WebSocketLike): ApiTransport & { close(): void } {
  let nextId = 1;
  const pending = new Map<number, (result: ApiResult) => void>();
  const listeners = new Set<(event: AtelierEvent) => void>();
  const ready: Promise<void> =
    socket.readyState === OPEN
      ? Promise.resolve()
      : new Promise((resolve, reject) => {
          socket.addEventListener('open', () => resolve());
          socket.addEventListener('error', () => reject(new Error('Could not connect to the Atelier server')));
        });
  ready.catch(() => undefined);

  socket.addEventListener('message', (ev) => {
    let msg: WsServerMessage;
    try {
      msg = JSON.parse(String(ev.data)) as WsServerMessage;
    } catch {
      return;
    }
    if ('event' in msg) {
      for (const l of listeners) l(msg.event);
    } else {
      const resolve = pending.get(msg.id);
      pending.delete(msg.id);
      resolve?.(msg.result);
    }
  });
  socket.addEventListener('close', (ev) => {
    // 1009 (Message Too Big): the server refused a request larger than it accepts.
    const tooBig = (ev as { code?: unknown } | null)?.code === 1009;
    const error = tooBig
      ? { code: 'invalid_request' as const, message: 'The request was larger than the Atelier server accepts (WebSocket message too big); the connection closed. Send smaller images.' }
      : { code: 'internal' as const, message: 'Connection to the Atelier server closed' };
    for (const resolve of pending.values()) {
      resolve({ ok: false, error });
    }
    pending.clear();
  });

  return {
    async call(method: ApiMethodName, payload: unknown) {
      await ready;
      // Once the socket is gone a request would wait forever: fail it now, in words.
      if (socket.readyState !== OPEN) return { ok: false, error: { code: 'internal', message: 'Connection to the Atelier server closed' } };
      const id = nextId++;
      return new Promise<ApiResult>((resolve) => {
        pending.set(id, resolve);
        socket.send(JSON.stringify({ id, method, payload }));
      });
    },
    onEvent(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    close() {
      socket.close();
    },
  };
}

export type ConnectionStatus = 'connected' | 'disconnected';

export interface ReconnectingOptions {
  /** Opens a new socket to the server (called at start and for every reconnect attempt). */
  open(): WebSocketLike;
  /** Told when the connection drops and when it is back. */
  onStatus?(status: ConnectionStatus): void;
  /** Waits between attempts; the last one repeats (default 0.5 s, 1 s, 2 s, then every 3 s). */
  delaysMs?: readonly number[];
}

/**
 * A WebSocket transport that reconnects by itself when the server goes away and comes back (a
 * restart, a sleep): event listeners stay subscribed across sockets, calls made while it is down
 * fail at once with a readable error, and `onStatus` lets the UI say so and resync when it is back.
 */
export function createReconnectingTransport(opts: ReconnectingOptions): ApiTransport & { close(): void } {
  const delays = opts.delaysMs?.length ? opts.delaysMs : [500, 1000, 2000, 3000];
  const listeners = new Set<(event: AtelierEvent) => void>();
  let closed = false;
  let attempt = 0;
  let timer: ReturnType<typeof setTimeout> | null = null;

  const attach = (socket: WebSocketLike) => {
    const transport = createWebSocketTransport(socket);
    transport.onEvent((e) => {
      for (const l of listeners) l(e);
    });
    socket.addEventListener('close', () => {
      if (current !== transport || closed) return;
      opts.onStatus?.('disconnected');
      schedule();
    });
    return transport;
  };

  const schedule = () => {
    if (closed || timer) return;
    const wait = delays[Math.min(attempt, delays.length - 1)];
    attempt++;
    timer = setTimeout(() => {
      timer = null;
      if (closed) return;
      let socket: WebSocketLike;
      try {
        socket = opts.open();
      } catch {
        schedule();
        return;
      }
      let opened = false;
      socket.addEventListener('open', () => {
        opened = true;
        if (closed) return socket.close();
        attempt = 0;
        current = attach(socket);
        opts.onStatus?.('connected');
      });
      // A failed attempt: try again later (the close event follows an error).
      socket.addEventListener('close', () => {
        if (!opened) schedule();
      });
    }, wait);
  };

  let current = attach(opts.open());

  return {
    call: (method, payload) => current.call(method, payload),
    onEvent(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    close() {
      closed = true;
      if (timer) clearTimeout(timer);
      current.close();
    },
  };
}
