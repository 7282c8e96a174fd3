/**
 * The studio's access rules (main/server/auth.ts) for the compatibility port, plus the one way of
 * presenting the token those clients know: A1111 clients send it as the password of HTTP Basic
 * auth (A1111's `--api-auth user:password`; SillyTavern's "auth" field, Open WebUI's "API auth").
 * The rules themselves are not copied: the request is handed to checkAccess() with the Basic
 * password presented as a Bearer token.
 */
import type { IncomingMessage } from 'node:http';
import { checkAccess, parseRequestUrl, type AccessDecision } from '../server/auth';

/** The password of an `Authorization: Basic` header (the whole decoded text when it has no colon). */
export function basicPassword(header: string | undefined): string | null {
  const m = /^Basic\s+(\S*)\s*$/i.exec(header ?? '');
  if (!m) return null;
  let decoded: string;
  try {
    decoded = Buffer.from(m[1], 'base64').toString('utf8');
  } catch {
    return null;
  }
  const colon = decoded.indexOf(':');
  return colon >= 0 ? decoded.slice(colon + 1) : decoded;
}

/**
 * The request as checkAccess() should see it: a Basic password becomes a Bearer token, and an
 * empty credential (Open WebUI sends `authorization: ''`, `Basic ` or `Bearer ` when none is
 * configured) is dropped so that `?token=` or the cookie still count.
 */
function withNormalisedAuthorization(req: IncomingMessage): IncomingMessage {
  const raw = req.headers.authorization;
  if (raw === undefined) return req;
  const headers = { ...req.headers };
  delete headers.authorization;
  const bearer = /^Bearer\s+(.*)$/i.exec(raw);
  const presented = bearer ? bearer[1].trim() : basicPassword(raw);
  if (presented) headers.authorization = `Bearer ${presented}`;
  return { headers } as IncomingMessage;
}

export type CompatAccess = { ok: true; url: URL; setCookie: boolean } | { ok: false; status: 400 | 401 | 403; reason: string };

/** The studio's decision for this request (loopback/Host/Origin rules, then the token). */
export function compatAccess(req: IncomingMessage, token: string | null, boundHost: string): CompatAccess {
  const url = parseRequestUrl(req.url);
  if (!url) return { ok: false, status: 400, reason: 'Bad request target' };
  const decision: AccessDecision = checkAccess(withNormalisedAuthorization(req), url, token, boundHost);
  return decision.ok ? { ok: true, url, setCookie: decision.setCookie } : decision;
}
