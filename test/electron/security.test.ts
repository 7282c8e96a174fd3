/**
 * Issue 15: the Electron shell's security decisions, tested as the pure functions main.ts wires in
 * (Electron itself cannot run on CI): window options, the CSP on atelier:// responses, denial of
 * navigation, redirects, new windows, <webview> and permissions, the IPC sender-frame check for every
 * API method, the atelier:// path resolution against 100+ traversal variants, and the engine's
 * utilityProcess launcher.
 */
import { EventEmitter } from 'node:events';
import { resolve, sep } from 'node:path';
import { describe, expect, it } from 'vitest';
import { API_METHOD_NAMES } from '../../common/api/contract';
import { channelFor } from '../../common/api/ipc-channels';
import { utilityProcessLauncher, type UtilityProcessLike } from '../../main/electron/engine-launcher';
import { registerIpcHandlers, type IpcInvokeEventLike } from '../../main/electron/ipc';
import {
  APP_CONTENT_SECURITY_POLICY,
  APP_ENTRY_URL,
  appResponseHeaders,
  buildWebPreferences,
  buildWindowOptions,
  denyPermission,
  hardenWebContents,
  isAllowedNavigation,
  isTrustedSenderUrl,
  resolveAtelierUrl,
  type NavigationEventLike,
} from '../../main/electron/policy';

function directives(csp: string): Map<string, string[]> {
  return new Map(csp.split(';').map((d) => d.trim().split(/\s+/)).filter((d) => d[0]).map(([name, ...values]) => [name, values]));
}

describe('window options', () => {
  it('turn on every renderer isolation and turn off every Node/insecure feature', () => {
    expect(buildWebPreferences('/abs/preload.cjs')).toEqual({
      preload: '/abs/preload.cjs',
      sandbox: true,
      contextIsolation: true,
      nodeIntegration: false,
      nodeIntegrationInWorker: false,
      nodeIntegrationInSubFrames: false,
      webSecurity: true,
      allowRunningInsecureContent: false,
      webviewTag: false,
      spellcheck: false,
    });
    const w = buildWindowOptions('/abs/preload.cjs');
    expect(w.show).toBe(false); // shown on ready-to-show: no flash of an unstyled, half-loaded page
    expect(w.webPreferences).toEqual(buildWebPreferences('/abs/preload.cjs'));
    expect(Object.keys(w.webPreferences)).not.toEqual(expect.arrayContaining(['enableRemoteModule', 'experimentalFeatures', 'enableBlinkFeatures']));
  });
});

describe('Content-Security-Policy of atelier:// responses', () => {
  const d = directives(APP_CONTENT_SECURITY_POLICY);
  it('allows only the app itself to run code, and nothing to embed it', () => {
    expect(d.get('default-src')).toEqual(["'self'"]);
    expect(d.get('script-src')).toEqual(["'self'"]); // no 'unsafe-inline', no 'unsafe-eval', no remote hosts
    expect(d.get('object-src')).toEqual(["'none'"]);
    expect(d.get('base-uri')).toEqual(["'none'"]);
    expect(d.get('frame-ancestors')).toEqual(["'none'"]);
    for (const [name, values] of d) {
      expect(values, name).not.toContain("'unsafe-eval'");
      expect(values.some((v) => v === '*' || v.startsWith('http:') || v.startsWith('https:')), name).toBe(false);
    }
  });
  it('lets images come from atelier:// (images by id) besides the app', () => {
    expect(d.get('img-src')).toEqual(expect.arrayContaining(["'self'", 'atelier:']));
  });
  it('is set, with nosniff, on every response, replacing whatever the file response carried', () => {
    const h = appResponseHeaders(new Headers({ 'Content-Type': 'text/html', 'Content-Security-Policy': "default-src *" }));
    expect(h.get('Content-Security-Policy')).toBe(APP_CONTENT_SECURITY_POLICY);
    expect(h.get('X-Content-Type-Options')).toBe('nosniff');
    expect(h.get('Content-Type')).toBe('text/html');
  });
});

describe('navigation, redirects, new windows, <webview>, permissions', () => {
  function fakeContents() {
    const handlers = new Map<string, (e: NavigationEventLike, url?: string) => void>();
    let openHandler: ((d: { url: string }) => { action: string }) | null = null;
    const wc = {
      setWindowOpenHandler: (h: (d: { url: string }) => { action: 'deny' }) => void (openHandler = h),
      on: (event: string, listener: (e: NavigationEventLike, url?: string) => void) => void handlers.set(event, listener),
    };
    hardenWebContents(wc);
    const fire = (event: string, url?: string, onEvent = false): boolean => {
      let prevented = false;
      const e: NavigationEventLike = { preventDefault: () => void (prevented = true), ...(onEvent ? { url } : {}) };
      handlers.get(event)!(e, onEvent ? undefined : url);
      return prevented;
    };
    return { handlers, fire, open: (url: string) => openHandler!({ url }) };
  }

  const FOREIGN = ['https://evil.example/', 'http://127.0.0.1:7865/', 'file:///etc/passwd', 'javascript:alert(1)', 'data:text/html,<script>1</script>', 'atelier://image/01ABC', 'atelier://app.evil/', 'atelier://evil/app', 'about:blank', 'chrome://settings', 'devtools://devtools/bundled/x.html', ''];

  it('denies every new window', () => {
    const { open } = fakeContents();
    for (const url of [APP_ENTRY_URL, ...FOREIGN]) expect(open(url)).toEqual({ action: 'deny' });
  });

  it('keeps navigation, frame navigation and redirects inside the app', () => {
    const { handlers, fire } = fakeContents();
    expect([...handlers.keys()].sort()).toEqual(['will-attach-webview', 'will-frame-navigate', 'will-navigate', 'will-redirect']);
    for (const event of ['will-navigate', 'will-frame-navigate', 'will-redirect']) {
      for (const onEvent of [false, true]) {
        expect(fire(event, APP_ENTRY_URL, onEvent), `${event} to the app`).toBe(false);
        expect(fire(event, 'atelier://app/#/compare', onEvent)).toBe(false);
        for (const url of FOREIGN) expect(fire(event, url, onEvent), `${event} → ${url}`).toBe(true);
      }
      expect(fire(event, undefined), `${event} without a URL`).toBe(true);
    }
  });

  it('never attaches a <webview> and grants no permission', () => {
    const { fire } = fakeContents();
    expect(fire('will-attach-webview', APP_ENTRY_URL)).toBe(true);
    for (const perm of ['media', 'geolocation', 'notifications', 'clipboard-read', 'openExternal']) {
      let granted: boolean | null = null;
      denyPermission({}, perm, (g) => (granted = g));
      expect(granted, perm).toBe(false);
    }
  });

  it('allows navigation only to the app origin', () => {
    expect(isAllowedNavigation(APP_ENTRY_URL)).toBe(true);
    for (const url of FOREIGN) expect(isAllowedNavigation(url), url).toBe(false);
  });
});

describe('IPC sender-frame check', () => {
  const UNTRUSTED: (string | undefined | null)[] = [undefined, null, '', 'https://evil.example/', 'atelier://image/x', 'atelier://app.evil/', 'atelier://evil/', 'file:///app/index.html', 'http://localhost/', 'about:blank', 'data:text/html,x', 'not a url'];

  it('refuses every method from an untrusted or missing frame before the payload is looked at, and serves the app', async () => {
    const handlers = new Map<string, (e: IpcInvokeEventLike, p: unknown) => Promise<unknown>>();
    const dispatched: string[] = [];
    registerIpcHandlers(
      { handle: (c, h) => handlers.set(c, h), removeHandler: (c) => handlers.delete(c) },
      async (method) => {
        dispatched.push(String(method));
        return { ok: true, value: null };
      },
      isTrustedSenderUrl,
    );
    const hostile = new Proxy({}, { get: () => { throw new Error('payload touched'); } });
    for (const method of API_METHOD_NAMES) {
      const h = handlers.get(channelFor(method))!;
      for (const url of UNTRUSTED) {
        const frame = url === null ? null : url === undefined ? undefined : { url };
        expect(await h({ senderFrame: frame }, hostile), `${method} from ${String(url)}`).toMatchObject({ ok: false, error: { code: 'unauthorized' } });
      }
      expect(await h({ senderFrame: { url: APP_ENTRY_URL } }, undefined)).toEqual({ ok: true, value: null });
    }
    expect(dispatched).toEqual([...API_METHOD_NAMES]);
  });
});

describe('atelier:// path resolution', () => {
  const root = resolve('/opt/atelier/dist/renderer');
  const SEGMENTS = ['..', '%2e%2e', '%2E%2E', '.%2e', '%2e.', '..%2f..', '..%5c..', '%252e%252e', '..\\..', '%2e%2e%5c', '%c0%ae%c0%ae', '..%00', '%00', '....//', '..;', '.. ', '%2e%2e%2f%2e%2e'];
  const TAILS = ['etc/passwd', 'secret', 'C:/Windows/win.ini', '%2fetc%2fpasswd', '..%2f..%2f..%2fetc%2fpasswd'];
  const variants: string[] = [];
  for (const seg of SEGMENTS) for (const tail of TAILS) variants.push(`atelier://app/${seg}/${tail}`, `atelier://app/assets/${seg}/${seg}/${tail}`);
  variants.push('atelier://app//etc/passwd', 'atelier://app/%2f%2fetc/passwd', 'atelier://app/\\\\server\\share', 'atelier://app/%5c%5cserver%5cshare');

  it(`keeps ${variants.length} traversal variants inside the renderer folder (or refuses them)`, () => {
    expect(variants.length).toBeGreaterThan(100);
    for (const url of variants) {
      const r = resolveAtelierUrl(url, root);
      if (r.kind === 'app') expect(r.file.startsWith(root + sep), `${url} → ${r.file}`).toBe(true);
      else expect(r.kind, url).toBe('invalid');
      if (r.kind === 'app') expect(r.file.includes('\0'), url).toBe(false);
    }
  });

  it('resolves image ids only by their pattern', () => {
    for (const id of ['..%2F..%2Fetc%2Fpasswd', '%00', 'a/b', 'a%2Fb', '.', '..', '%2e%2e', 'x'.repeat(300), 'ab cd', '<script>']) {
      expect(resolveAtelierUrl(`atelier://image/${id}`, root).kind, id).toBe('invalid');
      expect(resolveAtelierUrl(`atelier://thumb/${id}`, root).kind, id).toBe('invalid');
    }
  });
});

describe('engine launcher (utilityProcess)', () => {
  class FakeUtility extends EventEmitter implements UtilityProcessLike {
    pid: number | undefined = 4242;
    stderr = new EventEmitter() as unknown as NodeJS.ReadableStream;
    posted: unknown[] = [];
    killedPlain = 0;
    postMessage(m: unknown) {
      this.posted.push(m);
    }
    kill() {
      this.killedPlain++;
      return true;
    }
  }

  it('forks the engine script as a named utility process and relays messages, stderr, exit and SIGKILL', () => {
    const forks: { path: string; options: unknown }[] = [];
    const fake = new FakeUtility();
    const kills: [number, string][] = [];
    const launch = utilityProcessLauncher(
      {
        fork: (path, _args, options) => {
          forks.push({ path, options });
          return fake;
        },
      },
      (pid, signal) => void kills.push([pid, signal]),
    );
    const child = launch({ file: '/app/dist/main/engine-worker.mjs', execArgv: [], serviceName: 'Atelier engine' });
    expect(forks).toEqual([{ path: '/app/dist/main/engine-worker.mjs', options: expect.objectContaining({ serviceName: 'Atelier engine' }) }]);
    expect(child.pid).toBe(4242);

    const got: unknown[] = [];
    const errs: string[] = [];
    const exits: [number | null, string | null][] = [];
    child.onMessage((m) => got.push(m));
    child.onStderr((t) => errs.push(t));
    child.onExit((code, signal) => exits.push([code, signal]));
    child.send({ type: 'cancel', requestId: 1 });
    expect(fake.posted).toEqual([{ type: 'cancel', requestId: 1 }]);
    fake.emit('message', { type: 'memory', rss: 1, peak: 1 });
    (fake.stderr as unknown as EventEmitter).emit('data', Buffer.from('terminate called'));
    expect(got).toEqual([{ type: 'memory', rss: 1, peak: 1 }]);
    expect(errs).toEqual(['terminate called']);

    child.kill();
    expect(kills).toEqual([[4242, 'SIGKILL']]); // not utilityProcess.kill()'s SIGTERM: a graph may be running
    fake.emit('exit', 9);
    expect(exits).toEqual([[9, null]]);
    child.send({ type: 'cancel', requestId: 2 }); // gone: dropped, no throw
    child.kill();
    expect(fake.posted).toHaveLength(1);
    expect(kills).toHaveLength(1);
  });
});
