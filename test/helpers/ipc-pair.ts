/**
 * An in-memory stand-in for Electron's ipcMain/ipcRenderer pair, so the IPC transport (main-side
 * handlers + preload bridge) runs in tests without Electron. Payloads cross through
 * structuredClone, as Electron's structured-clone IPC does.
 */
import type { IpcMainLike, IpcInvokeEventLike } from '../../main/electron/ipc';
import type { IpcRendererLike } from '../../preload/bridge';
import { APP_ENTRY_URL } from '../../main/electron/policy';

export function createIpcPair(senderUrl = APP_ENTRY_URL) {
  const handlers = new Map<string, (e: IpcInvokeEventLike, p: unknown) => Promise<unknown>>();
  const listeners = new Map<string, Set<(e: unknown, p: unknown) => void>>();
  const ipcMain: IpcMainLike = {
    handle: (channel, handler) => {
      if (handlers.has(channel)) throw new Error(`second handler for ${channel}`);
      handlers.set(channel, handler);
    },
    removeHandler: (channel) => handlers.delete(channel),
  };
  const ipcRenderer: IpcRendererLike = {
    async invoke(channel, payload) {
      const h = handlers.get(channel);
      if (!h) throw new Error(`No handler registered for '${channel}'`);
      return structuredClone(await h({ senderFrame: { url: senderUrl } }, structuredClone(payload)));
    },
    on(channel, listener) {
      if (!listeners.has(channel)) listeners.set(channel, new Set());
      listeners.get(channel)!.add(listener);
    },
    removeListener(channel, listener) {
      listeners.get(channel)?.delete(listener);
    },
  };
  /** What webContents.send does in the main process. */
  const send = (channel: string, payload: unknown) => {
    for (const l of listeners.get(channel) ?? []) l({ sender: 'not-exposed' }, structuredClone(payload));
  };
  return { ipcMain, ipcRenderer, send, handlers };
}
