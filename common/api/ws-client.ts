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
