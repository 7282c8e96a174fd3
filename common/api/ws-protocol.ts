/** Wire format of the WebSocket transport (server mode). */
import type { ApiMethodName, ApiResult, AtelierEvent } from './contract';

export interface WsCall {
  id: number;
  method: ApiMethodName;
  payload?: unknown;
}
export type WsServerMessage = { id: number; result: ApiResult } | { event: AtelierEvent };

/** The subset of the WebSocket API we use; satisfied by the browser's WebSocket and by `ws`. */
export interface WebSocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  addEventListener(type: 'message', listener: (ev: { data: unknown }) => void): void;
  addEventListener(type: 'open' | 'close' | 'error', listener: (ev: unknown) => void): void;
}
