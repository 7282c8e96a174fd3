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

export function parseCookies(header: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of (header ?? '').split(';')) {
    const i = part.indexOf('=');
    if (i > 0) out[part.slice(0, i).trim()] = decodeURIComponent(part.slice(i + 1).trim());
  }
  return out;
}

/** The token a request presents, from the Authorization header, ?token= or our cookie. */
export function presentedToken(req: IncomingMessage, url: URL): string | null {
  const auth = req.headers.authorization;
  if (auth?.startsWith('Bearer ')) return auth.slice(7).trim();
  const q = url.searchParams.get('token');
  if (q) return q;
  return parseCookies(req.headers.cookie)[TOKEN_COOKIE] ?? null;
}

export type AccessDecision = { ok: true; setCookie: boolean } | { ok: false; status: 401 | 403; reason: string };

export function checkAccess(req: IncomingMessage, url: URL, token: string | null, boundHost: string): AccessDecision {
  const hostHeader = req.headers.host ?? '';
  const hostName = hostHeader.replace(/:\d+$/, '');
  if (!token && isLoopbackHost(boundHost) && !isLoopbackHost(hostName)) {
    return { ok: false, status: 403, reason: `Host "${hostHeader}" is not allowed (loopback server)` };
  }
  const origin = req.headers.origin;
  if (origin && origin !== 'null') {
    let originHost = '';
    try {
      originHost = new URL(origin).host;
    } catch {
      /* unparsable origin: rejected below */
    }
    if (originHost !== hostHeader) return { ok: false, status: 403, reason: `Cross-origin request from ${origin} refused` };
  }
  if (!token) return { ok: true, setCookie: false };
  const presented = presentedToken(req, url);
  if (presented && safeEqual(presented, token)) {
    return { ok: true, setCookie: url.searchParams.get('token') !== null };
  }
  return { ok: false, status: 401, reason: 'Missing or wrong token' };
}
