/** Electron IPC channel names: one per API method, one for events. */
import type { ApiMethodName } from './contract';

export const EVENT_CHANNEL = 'atelier:event';
export const channelFor = (method: ApiMethodName): string => `atelier:call:${method}`;
