/**
 * The Electron shell's security decisions as plain functions (no electron import), so they are
 * unit-tested here even though Electron itself cannot run on CI.
 */
import { join, normalize, resolve, sep } from 'node:path';
import { IMAGE_ID_PATTERN } from '../app/backend';
import { CONTENT_SECURITY_POLICY } from '../server/server';

export const APP_SCHEME = 'atelier';
export const APP_ORIGIN = `${APP_SCHEME}://app`;
export const APP_ENTRY_URL = `${APP_ORIGIN}/index.html`;
export { CONTENT_SECURITY_POLICY };
/** The server's policy, with images also from atelier:// (the protocol serves them by id). */
export const APP_CONTENT_SECURITY_POLICY = CONTENT_SECURITY_POLICY.replace("img-src 'self'", `img-src 'self' ${APP_SCHEME}:`);

/** Headers on every atelier:// response. */
export function appResponseHeaders(headers: Headers): Headers {
  const out = new Headers(headers);
  out.set('Content-Security-Policy', APP_CONTENT_SECURITY_POLICY);
  out.set('X-Content-Type-Options', 'nosniff');
  return out;
}

/** The part of Electron's WebContents the hardening uses (so it is unit-tested without Electron). */
export interface WebContentsLike {
  setWindowOpenHandler(handler: (details: { url: string }) => { action: 'deny' }): void;
  on(event: string, listener: (event: NavigationEventLike, url?: string) => void): unknown;
}

/** Electron's navigation events carry the URL on the event (newer) and/or as the second argument. */
export interface NavigationEventLike {
  preventDefault(): void;
  url?: string;
}

/**
 * Locks a window's contents down: no new windows (window.open, target=_blank), no navigation or
 * redirect away from the app (the app is single-page), no <webview>.
 */
export function hardenWebContents(wc: WebContentsLike): void {
  wc.setWindowOpenHandler(() => ({ action: 'deny' }));
  const stayInApp = (event: NavigationEventLike, url?: string) => {
    const target = typeof url === 'string' ? url : event.url;
    if (!target || !isAllowedNavigation(target)) event.preventDefault();
  };
  wc.on('will-navigate', stayInApp);
  wc.on('will-frame-navigate', stayInApp);
  wc.on('will-redirect', stayInApp);
  wc.on('will-attach-webview', (event) => event.preventDefault());
}

/** No permission (camera, notifications, geolocation, …) is ever granted. */
export function denyPermission(_webContents: unknown, _permission: string, callback: (granted: boolean) => void): void {
  callback(false);
}

export function buildWebPreferences(preloadPath: string) {
  return {
    preload: preloadPath,
    sandbox: true,
    contextIsolation: true,
    nodeIntegration: false,
    nodeIntegrationInWorker: false,
    nodeIntegrationInSubFrames: false,
    webSecurity: true,
    allowRunningInsecureContent: false,
    webviewTag: false,
    spellcheck: false,
  } as const;
}

export function buildWindowOptions(preloadPath: string) {
  return {
    width: 1440,
    height: 900,
    minWidth: 960,
    minHeight: 600,
    title: 'Atelier',
    backgroundColor: '#121214',
    show: false,
    webPreferences: buildWebPreferences(preloadPath),
  };
}

/** Only our own app pages may call the API. */
export function isTrustedSenderUrl(url: string | undefined): boolean {
  if (!url) return false;
  try {
    const u = new URL(url);
    return u.protocol === `${APP_SCHEME}:` && u.host === 'app';
  } catch {
    return false;
  }
}

/** Navigation away from the app is always denied (links open nowhere; the app is single-page). */
export function isAllowedNavigation(url: string): boolean {
  return isTrustedSenderUrl(url);
}

export type AtelierUrlTarget =
  | { kind: 'app'; file: string }
  | { kind: 'image' | 'thumb'; id: string }
  | { kind: 'invalid'; reason: string };

/** Resolves `atelier://app/<asset>` into the renderer folder and `atelier://image/<id>` to an id. */
export function resolveAtelierUrl(rawUrl: string, rendererDir: string): AtelierUrlTarget {
  let u: URL;
  try {
    u = new URL(rawUrl);
  } catch {
    return { kind: 'invalid', reason: 'unparsable URL' };
  }
  if (u.protocol !== `${APP_SCHEME}:`) return { kind: 'invalid', reason: 'wrong scheme' };
  if (u.host === 'image' || u.host === 'thumb') {
    const id = decodeURIComponent(u.pathname.replace(/^\//, ''));
    if (!IMAGE_ID_PATTERN.test(id)) return { kind: 'invalid', reason: 'bad image id' };
    return { kind: u.host, id };
  }
  if (u.host !== 'app') return { kind: 'invalid', reason: `unknown host ${u.host}` };
  let path: string;
  try {
    path = decodeURIComponent(u.pathname);
  } catch {
    return { kind: 'invalid', reason: 'bad escape' };
  }
  if (path.split(/[\\/]/).includes('..')) return { kind: 'invalid', reason: 'path escapes the app folder' };
  if (path === '/' || path === '') path = '/index.html';
  const root = resolve(rendererDir);
  const file = resolve(join(root, normalize(path)));
  if (path.includes('\0') || !file.startsWith(root + sep)) return { kind: 'invalid', reason: 'path escapes the app folder' };
  return { kind: 'app', file };
}
