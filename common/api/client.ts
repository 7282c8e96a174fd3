/**
 * Builds an AtelierClient from any transport. The renderer gets one of these at startup and cannot
 * tell whether calls travel over Electron IPC or a WebSocket.
 */
import {
  API_METHOD_NAMES,
  AtelierApiError,
  type ApiMethodName,
  type ApiResult,
  type AtelierClient,
  type AtelierEvent,
} from './contract';

export interface ApiTransport {
  call(method: ApiMethodName, payload: unknown): Promise<ApiResult>;
  onEvent(listener: (event: AtelierEvent) => void): () => void;
}

export function createApiClient(transport: ApiTransport): AtelierClient {
  const client: Record<string, unknown> = {
    onEvent: (listener: (event: AtelierEvent) => void) => transport.onEvent(listener),
  };
  for (const method of API_METHOD_NAMES) {
    client[method] = async (payload?: unknown) => {
      const result = await transport.call(method, payload);
      if (!result.ok) throw new AtelierApiError(result.error.code, result.error.message, result.error.issues);
      return result.value;
    };
  }
  return client as unknown as AtelierClient;
}

/** The shape the Electron preload exposes as `window.atelier` (see preload/bridge.ts). */
export type BridgeLike = { [K in ApiMethodName]: (payload?: unknown) => Promise<ApiResult> } & {
  onEvent(listener: (event: AtelierEvent) => void): () => void;
};

/** Transport over the preload bridge: the renderer's Electron path. */
export function createBridgeTransport(bridge: BridgeLike): ApiTransport {
  return {
    async call(method, payload) {
      const fn = (bridge as Partial<BridgeLike>)[method];
      if (typeof fn !== 'function') {
        return { ok: false, error: { code: 'unknown_method', message: `Unknown API method: ${String(method).slice(0, 100)}` } };
      }
      return fn(payload);
    },
    onEvent: (listener) => bridge.onEvent(listener),
  };
}
