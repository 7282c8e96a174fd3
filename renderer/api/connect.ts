/**
 * Picks the transport at startup. In Electron the preload exposes `window.atelier` (one function per
 * API method plus `onEvent`); in server mode we reach the same API over a WebSocket at /api/ws.
 * Nothing else in the renderer knows which transport is in use: it only sees an AtelierClient.
 */
import {
  type ApiMethodName,
  type ApiResult,
  type AtelierClient,
  type AtelierEvent,
} from '../../common/api/contract';
import { createApiClient, type ApiTransport } from '../../common/api/client';
import { createReconnectingTransport } from '../../common/api/ws-client';

/** Shape of the Electron preload bridge (see preload/). */
export type AtelierBridge = { [K in ApiMethodName]: (payload?: unknown) => Promise<ApiResult> } & {
  onEvent(listener: (event: AtelierEvent) => void): () => void;
};

declare global {
  interface Window {
    atelier?: AtelierBridge;
  }
}

export function createBridgeTransport(bridge: AtelierBridge): ApiTransport {
  return {
    call(method, payload) {
      const fn = bridge[method];
      if (typeof fn !== 'function') {
        return Promise.resolve({
          ok: false,
          error: { code: 'unknown_method', message: `The preload bridge has no method "${method}"` },
        });
      }
      return fn(payload);
    },
    onEvent: (listener) => bridge.onEvent(listener),
  };
}

/** ws(s)://host/api/ws, forwarding `?token=` from the page URL when the server was started with one. */
export function webSocketUrl(loc: Pick<Location, 'protocol' | 'host' | 'search'>): string {
  const token = new URLSearchParams(loc.search).get('token');
  const tokenQuery = token ? `?token=${encodeURIComponent(token)}` : '';
  return (loc.protocol === 'https:' ? 'wss://' : 'ws://') + loc.host + '/api/ws' + tokenQuery;
}

/** Dispatched on `window` when the server-mode WebSocket closes (the server stopped or restarted). */
export const DISCONNECTED_EVENT = 'atelier:disconnected';
/** Dispatched on `window` when the WebSocket is back (the page resyncs its state). */
export const RECONNECTED_EVENT = 'atelier:reconnected';

export function connect(): AtelierClient {
  const bridge = window.atelier;
  // In Electron always use the bridge: a method it lacks fails loudly rather than silently
  // falling back to a WebSocket that does not exist there.
  if (bridge) {
    return createApiClient(createBridgeTransport(bridge));
  }
  const url = webSocketUrl(window.location);
  // The UI shows a "reconnecting" banner (App) while the server is away, and resyncs when it is back.
  const transport = createReconnectingTransport({
    open: () => new WebSocket(url),
    onStatus: (status) => window.dispatchEvent(new Event(status === 'connected' ? RECONNECTED_EVENT : DISCONNECTED_EVENT)),
  });
  return createApiClient(transport);
}
