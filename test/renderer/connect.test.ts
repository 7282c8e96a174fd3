import { afterEach, describe, expect, it } from 'vitest';
import { API_METHOD_NAMES } from '../../common/api/contract';
import { connect, type AtelierBridge } from '../../renderer/api/connect';

const g = globalThis as unknown as { window?: unknown; WebSocket?: unknown };
afterEach(() => {
  delete g.window;
  delete g.WebSocket;
});

describe('connect', () => {
  it('uses the Electron preload bridge when window.atelier exists', async () => {
    const calls: string[] = [];
    const bridge = Object.fromEntries(API_METHOD_NAMES.map((m) => [m, async () => (calls.push(m), { ok: true, value: [] })])) as unknown as AtelierBridge;
    bridge.onEvent = () => () => undefined;
    g.window = { atelier: bridge, location: { protocol: 'atelier:', host: '', search: '' } };
    const client = connect();
    expect(await client.listModels()).toEqual([]);
    expect(calls).toEqual(['listModels']);
  });

  it('opens a WebSocket to /api/ws on the page host otherwise, forwarding the token', () => {
    const opened: string[] = [];
    g.WebSocket = class {
      readyState = 0;
      constructor(url: string) {
        opened.push(url);
      }
      addEventListener() {}
      send() {}
      close() {}
    };
    g.window = { location: { protocol: 'http:', host: '127.0.0.1:4321', search: '?token=s3cret' } };
    connect();
    expect(opened).toEqual(['ws://127.0.0.1:4321/api/ws?token=s3cret']);
  });
});
