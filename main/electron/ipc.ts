/**
 * Main-process side of the Electron transport: one ipcMain handler per API method. Every message's
 * sender frame is checked before the payload is even looked at; the dispatcher validates payloads.
 */
import { API_METHOD_NAMES } from '../../common/api/contract';
import { channelFor } from '../../common/api/ipc-channels';
import type { Dispatcher } from '../api/dispatch';

export interface IpcMainLike {
  handle(channel: string, handler: (event: IpcInvokeEventLike, payload: unknown) => Promise<unknown>): void;
  removeHandler(channel: string): void;
}
export interface IpcInvokeEventLike {
  senderFrame?: { url: string } | null;
}

export function registerIpcHandlers(
  ipc: IpcMainLike,
  dispatch: Dispatcher,
  isTrustedSender: (url: string | undefined) => boolean,
): () => void {
  for (const method of API_METHOD_NAMES) {
    ipc.handle(channelFor(method), async (event, payload) => {
      if (!isTrustedSender(event.senderFrame?.url)) {
        return { ok: false, error: { code: 'unauthorized', message: 'IPC call from an untrusted frame refused' } };
      }
      return dispatch(method, payload);
    });
  }
  return () => {
    for (const method of API_METHOD_NAMES) ipc.removeHandler(channelFor(method));
  };
}
