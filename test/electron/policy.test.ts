import { describe, expect, it } from 'vitest';
import { join, resolve } from 'node:path';
import {
  APP_ENTRY_URL,
  buildWindowOptions,
  isAllowedNavigation,
  isTrustedSenderUrl,
  resolveAtelierUrl,
} from '../../main/electron/policy';
import { registerIpcHandlers, type IpcInvokeEventLike } from '../../main/electron/ipc';
import { API_METHOD_NAMES } from '../../common/api/contract';

describe('Electron window policy', () => {
  it('locks the renderer down', () => {
    const w = buildWindowOptions('/app/preload.cjs').webPreferences;
    expect(w).toMatchObject({ sandbox: true, contextIsolation: true, nodeIntegration: false, webSecurity: true, webviewTag: false });
    expect(w.preload).toBe('/app/preload.cjs');
  });

  it('trusts only frames of the app origin', () => {
    expect(isTrustedSenderUrl(APP_ENTRY_URL)).toBe(true);
    expect(isTrustedSenderUrl('atelier://app/some/route')).toBe(true);
    expect(isTrustedSenderUrl('atelier://image/abc')).toBe(false);
    expect(isTrustedSenderUrl('https://example.com')).toBe(false);
    expect(isTrustedSenderUrl('file:///etc/passwd')).toBe(false);
    expect(isTrustedSenderUrl(undefined)).toBe(false);
    expect(isTrustedSenderUrl('not a url')).toBe(false);
    expect(isAllowedNavigation('https://evil.example/')).toBe(false);
  });
});

describe('atelier:// protocol resolution', () => {
  const root = resolve('/opt/atelier/dist/renderer');
  it('maps app assets inside the renderer folder', () => {
    expect(resolveAtelierUrl('atelier://app/', root)).toEqual({ kind: 'app', file: join(root, 'index.html') });
    expect(resolveAtelierUrl('atelier://app/assets/main.js', root)).toEqual({ kind: 'app', file: join(root, 'assets', 'main.js') });
  });
  it('refuses paths escaping the folder', () => {
    expect(resolveAtelierUrl('atelier://app/..%2f..%2fetc/passwd', root).kind).toBe('invalid');
    // The URL parser itself collapses dot segments, so this one stays inside the folder.
    expect(resolveAtelierUrl('atelier://app/%2e%2e/%2e%2e/secret', root)).toEqual({ kind: 'app', file: join(root, 'secret') });
  });
  it('resolves images by id only', () => {
    expect(resolveAtelierUrl('atelier://image/01HXYZABC', root)).toEqual({ kind: 'image', id: '01HXYZABC' });
    expect(resolveAtelierUrl('atelier://thumb/01HXYZABC', root)).toEqual({ kind: 'thumb', id: '01HXYZABC' });
    expect(resolveAtelierUrl('atelier://image/..%2Fetc%2Fpasswd', root).kind).toBe('invalid');
    expect(resolveAtelierUrl('atelier://image//tmp/x.png', root).kind).toBe('invalid');
    expect(resolveAtelierUrl('atelier://other/x', root).kind).toBe('invalid');
    expect(resolveAtelierUrl('https://app/index.html', root).kind).toBe('invalid');
  });
});

describe('IPC handlers', () => {
  it('register one channel per method and refuse untrusted senders before dispatching', async () => {
    const handlers = new Map<string, (e: IpcInvokeEventLike, p: unknown) => Promise<unknown>>();
    const dispatched: unknown[] = [];
    registerIpcHandlers(
      { handle: (c, h) => handlers.set(c, h), removeHandler: (c) => handlers.delete(c) },
      async (method, payload) => {
        dispatched.push([method, payload]);
        return { ok: true, value: 'fine' };
      },
      isTrustedSenderUrl,
    );
    expect(handlers.size).toBe(API_METHOD_NAMES.length);
    const h = handlers.get('atelier:call:listModels')!;
    const refused = (await h({ senderFrame: { url: 'https://evil.example' } }, undefined)) as { ok: boolean; error: { code: string } };
    expect(refused).toMatchObject({ ok: false, error: { code: 'unauthorized' } });
    expect(await h({ senderFrame: null }, undefined)).toMatchObject({ ok: false });
    expect(dispatched).toEqual([]);
    expect(await h({ senderFrame: { url: APP_ENTRY_URL } }, undefined)).toEqual({ ok: true, value: 'fine' });
    expect(dispatched).toEqual([['listModels', undefined]]);
  });
});
