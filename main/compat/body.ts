/** Request bodies of both compatibility APIs: JSON whatever the Content-Type (bodies arrive as raw bytes, see server.ts). */
import type { FastifyRequest } from 'fastify';

export const INVALID_JSON = Symbol('invalid JSON');

/** The body parsed as JSON; `{}` when empty; INVALID_JSON when it does not parse (each API answers in its own error shape). */
export function parseJsonBody(req: FastifyRequest): unknown {
  const raw = req.body;
  if (raw === undefined || raw === null) return {};
  if (!Buffer.isBuffer(raw)) return raw;
  const text = raw.toString('utf8').trim();
  if (text === '') return {};
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return INVALID_JSON;
  }
}
