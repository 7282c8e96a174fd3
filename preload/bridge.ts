/**
 * The object the preload exposes to the renderer as `window.atelier`: exactly one function per API
 * method (each invoking its own IPC channel) plus onEvent. Never ipcRenderer itself, never a
 * generic invoke(channel) — the renderer can reach nothing but the API.
 */
import { API_METHOD_NAMES, type ApiMethodName, type ApiResult, type AtelierEvent } from '../common/api/contract';
import { EVENT_CHANNEL, channelFor } from '../common/api/ipc-channels';

/** The part of Electron's ipcRenderer the bridge uses (lets tests run it over an in-memory pair). */
export interface IpcRendererLike {
  invoke(channel: string, payload: unknown): Promise<unknown>;
  on(channel: string, listener: (event: unknown, payload: unknown) => void): unknown;
  removeListener(channel: string, listener: (event: unknown, payload: unknown) => void): unknown;
}

export type AtelierBridge = Record<ApiMethodName, (payload?: unknown) => Promise<ApiResult>> & {
  onEvent(listener: (event: AtelierEvent) => void): () => void;
};

export function createBridge(ipc: IpcRendererLike): AtelierBridge {
  const bridge: Record<string, unknown> = {};
  for (const method of API_METHOD_NAMES) {
    const channel = channelFor(method);
    bridge[method] = (payload?: unknown) => ipc.invoke(channel, payload) as Promise<ApiResult>;
  }
  bridge.onEvent = (listener: (event: AtelierEvent) => void) => {
    // Wrap so the renderer never receives Electron's event object (it carries `sender`).
    const wrapped = (_event: unknown, payload: unknown) => listener(payload as AtelierEvent);
    ipc.on(EVENT_CHANNEL, wrapped);
    return () => {
      ipc.removeListener(EVENT_CHANNEL, wrapped);
    };
  };
  return Object.freeze(bridge) as AtelierBridge;
}
