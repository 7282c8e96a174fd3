/**
 * Server-mode access rules. Loopback without a token is allowed (like Jupyter's local default),
 * but only for requests whose Host is loopback (blocks DNS rebinding) and whose Origin, when a
 * browser sends one, is this server (blocks other sites' pages from driving the API).
 * Any non-loopback bind requires a token.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

export const TOKEN_COOKIE = 'atelier_token';

export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h === '::1' || /^127(\.\d{1,3}){3}$/.test(h);
}

export function generateToken(): string {
  return randomBytes(24).toString('hex');
}

/** Resolves the token policy for a bind address; throws on an unsafe combination. */
export function resolveToken(host: string, token: string | undefined): { token: string | null; generated: boolean } {
  if (token !== undefined && token !== '') {
    if (token.length < 8) throw new Error('--token must be at least 8 characters');
    return { token, generated: false };
  }
  if (isLoopbackHost(host)) return { token: null, generated: false };
  return { token: generateToken(), generated: true };
}

function safeEqual(a: string, b: string): boolean {
  const ab = Buffer.from(a);
  const bb = Buffer.from(b);
  return ab.length === bb.length && timingSafeEqual(ab, bb);
}

/**
 * Cookies by name, values as sent (never decoded here): browsers send other local apps' cookies to
 * 127.0.0.1, and one of them holding `%zz` must not break our requests. See cookieValue().
 */
export function parseCookies(header: string | undefined): Record<string, string> {
  const out: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const part of (header ?? '').split(';')) {
    const i = part.indexOf('=');
    if (i > 0) out[part.slice(0, i).trim()] = part.slice(i + 1).trim();
  }
  return out;
}

/** One cookie's percent-decoded value; null when absent or not valid percent-encoding. */
export function cookieValue(header: string | undefined, name: string): string | null {
  const raw = parseCookies(header)[name];
  if (raw === undefined) return null;
  try {
    return decodeURIComponent(raw);
  } catch {
    return null;
  }
}

/**
 * The request target as a URL, or null when it cannot be one (`//`, `//a:b@`, `http://[` …).
 * Only the path and query matter to us, so an origin-form target is parsed against a fixed base
 * and never as a protocol-relative URL.
 */
export function parseRequestUrl(target: string | undefined): URL | null {
  const raw = target ?? '/';
  try {
    return raw.startsWith('/') ? new URL(`http://localhost${raw}`) : new URL(raw);
  } catch {
    return null;
  }
}

/** The token a request presents, from the Authorization header, ?token= or our cookie. */
export function presentedToken(req: IncomingMessage, url: URL): string | null {
  const auth = req.headers.authorization;
  if (auth?.startsWith('Bearer ')) return auth.slice(7).trim();
  const q = url.searchParams.get('token');
  if (q) return q;
  return cookieValue(req.headers.cookie, TOKEN_COOKIE);
}

export type AccessDecision = { ok: true; setCookie: boolean } | { ok: false; status: 401 | 403; reason: string };

export function checkAccess(req: IncomingMessage, url: URL, token: string | null, boundHost: string): AccessDecision {
  const hostHeader = req.headers.host ?? '';
  const hostName = hostHeader.replace(/:\d+$/, '');
  if (!token && isLoopbackHost(boundHost) && !isLoopbackHost(hostName)) {
    return { ok: false, status: 403, reason: `Host "${hostHeader}" is not allowed (loopback server)` };
  }
  const origin = req.headers.origin;
  if (origin !== undefined) {
    // `Origin: null` comes from sandboxed iframes, file:// pages and redirects: never this studio.
    let originHost: string | null = null;
    try {
      const parsed = new URL(origin);
      if (parsed.protocol === 'http:' || parsed.protocol === 'https:') originHost = parsed.host;
    } catch {
      /* unparsable or opaque origin: refused below */
    }
    if (originHost === null || originHost !== hostHeader) return { ok: false, status: 403, reason: `Cross-origin request from ${String(origin).slice(0, 200)} refused` };
  } else {
    // A browser that leaves Origin out still says where the request comes from (Fetch Metadata):
    // only the studio's own pages and typed-in addresses ('none') may use it.
    const site = req.headers['sec-fetch-site'];
    if (typeof site === 'string' && site !== 'same-origin' && site !== 'none') {
      return { ok: false, status: 403, reason: `Cross-site request refused (Sec-Fetch-Site: ${site.slice(0, 50)})` };
    }
  }
  if (!token) return { ok: true, setCookie: false };
  const presented = presentedToken(req, url);
  if (presented && safeEqual(presented, token)) {
    return { ok: true, setCookie: url.searchParams.get('token') !== null };
  }
  return { ok: false, status: 401, reason: 'Missing or wrong token' };
}
