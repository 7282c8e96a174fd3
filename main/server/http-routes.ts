/**
 * The HTTP side of server mode: access checks and the headers every answer carries, then the
 * routes — health, images by id, export downloads, render-farm uploads and the built renderer.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { IMAGE_ID_PATTERN, type AtelierBackend } from '../app/backend';
import { checkAccess, parseRequestUrl, TOKEN_COOKIE } from './auth';
import { contentTypeFor, createReadStream, findStaticFile } from './static-files';

export const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data: blob:",
  "connect-src 'self' ws: wss:",
  "object-src 'none'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
].join('; ');

/**
 * The coordinator's upload folder as the server sees it: `PUT /api/farm/results/<id>` with
 * `Authorization: Bearer <farm token>`. The farm token, not the studio's: workers never learn the
 * token that opens the studio. The server's Host and Origin rules still apply to the route.
 */
export interface FarmResultReceiver {
  readonly maxBytes: number;
  acceptsToken(presented: string | null): boolean;
  /** Resolves once stored; rejects with `status` (400, 413) for a refused upload. */
  receive(id: string, body: IncomingMessage, sha256?: string): Promise<unknown>;
}

export interface HttpRoutesOptions {
  backend: AtelierBackend;
  /** The bound host: the Host and Origin checks compare against it. */
  host: string;
  token: string | null;
  rendererDir: string;
  farmResults?: FarmResultReceiver;
  log: (msg: string) => void;
}

/** The request listener. A route that fails ends in a 500 (or a cut connection once headers are out), never a crash. */
export function createHttpHandler(opts: HttpRoutesOptions): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    handleHttp(opts, req, res).catch((err) => {
      opts.log(`HTTP error: ${(err as Error)?.stack ?? err}`);
      if (!res.headersSent) sendText(res, 500, 'Internal error');
      else res.destroy();
    });
  };
}

async function handleHttp(opts: HttpRoutesOptions, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = parseRequestUrl(req.url);
  if (!url) return sendText(res, 400, 'Bad request target');
  const upload = /^\/api\/farm\/results\/([^/]+)$/.exec(url.pathname);
  if (upload && opts.farmResults) return receiveFarmResult(req, res, url, upload[1], opts.farmResults, opts.host);
  if (!admitRequest(opts, req, res, url)) return;

  if (url.pathname === '/api/health') {
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify({ ok: true }));
    return;
  }
  const imageMatch = /^\/(image|thumb)\/([^/]+)$/.exec(url.pathname);
  if (imageMatch) return serveImage(opts.backend, res, imageMatch[1] as 'image' | 'thumb', imageMatch[2]);
  const exportMatch = /^\/export\/([^/]+)$/.exec(url.pathname);
  if (exportMatch) return serveExport(opts.backend, res, exportMatch[1]);
  return serveRenderer(opts.rendererDir, res, url.pathname);
}

/**
 * The token and Origin checks, the token cookie and the headers every answer carries. False when the
 * request was refused (and already answered): a wrong token, a foreign origin, a method other than GET/HEAD.
 */
function admitRequest(opts: HttpRoutesOptions, req: IncomingMessage, res: ServerResponse, url: URL): boolean {
  const access = checkAccess(req, url, opts.token, opts.host);
  if (!access.ok) {
    sendText(res, access.status, access.reason);
    return false;
  }
  if (access.setCookie && opts.token) {
    res.setHeader('Set-Cookie', `${TOKEN_COOKIE}=${encodeURIComponent(opts.token)}; HttpOnly; SameSite=Strict; Path=/`);
  }
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('Referrer-Policy', 'no-referrer');
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    sendText(res, 405, 'Method not allowed');
    return false;
  }
  return true;
}

/** `/image/<id>`, `/thumb/<id>`: by id only, never by path; an id never changes its bytes, so cached for good. */
async function serveImage(backend: AtelierBackend, res: ServerResponse, kind: 'image' | 'thumb', id: string): Promise<void> {
  if (!IMAGE_ID_PATTERN.test(id)) return sendText(res, 400, 'Bad image id');
  const file = await backend.resolveImage(id, kind);
  if (!file) return sendText(res, 404, 'No such image');
  return streamFile(res, file, 'private, max-age=31536000, immutable');
}

/** `/export/<id>`: an export zip prepared by prepareExportDownload: a download, never shown inline. */
function serveExport(backend: AtelierBackend, res: ServerResponse, id: string): void {
  const prepared = backend.resolveExport?.(id) ?? null;
  if (!prepared) return sendText(res, 404, 'No such export (it may have expired: export again)');
  res.setHeader('Content-Disposition', `attachment; filename="${prepared.fileName.replace(/[^\x20-\x7e]|["\\]/g, '_')}"; filename*=UTF-8''${encodeURIComponent(prepared.fileName)}`);
  return streamFile(res, prepared.path, 'no-store');
}

/** The built renderer, under its Content-Security-Policy; the HTML revalidated so a new build is picked up. */
async function serveRenderer(rendererDir: string, res: ServerResponse, pathname: string): Promise<void> {
  const file = await findStaticFile(rendererDir, pathname);
  if (!file) return sendText(res, 404, `Not found${pathname === '/' ? ' (renderer not built: run npm run build)' : ''}`);
  res.setHeader('Content-Security-Policy', CONTENT_SECURITY_POLICY);
  return streamFile(res, file, file.endsWith('.html') ? 'no-cache' : 'public, max-age=3600');
}

/** `PUT /api/farm/results/<id>`: a worker's upload, with the farm token instead of the studio's. */
async function receiveFarmResult(req: IncomingMessage, res: ServerResponse, url: URL, id: string, receiver: FarmResultReceiver, boundHost: string): Promise<void> {
  // Refusals close the connection: the worker's body is not read, and not left to drain.
  const refuse = (status: number, text: string) => {
    res.setHeader('Connection', 'close');
    sendText(res, status, text);
  };
  const access = checkAccess(req, url, null, boundHost);
  if (!access.ok) return refuse(access.status, access.reason);
  if (req.method !== 'PUT') return refuse(405, 'Method not allowed');
  const auth = req.headers.authorization;
  if (!receiver.acceptsToken(auth?.startsWith('Bearer ') ? auth.slice(7).trim() : null)) return refuse(401, 'Missing or wrong farm token');
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > receiver.maxBytes) return refuse(413, `Upload larger than ${Math.round(receiver.maxBytes / 1e6)} MB`);
  const sha = req.headers['x-content-sha256'];
  try {
    await receiver.receive(id, req, typeof sha === 'string' ? sha : undefined);
  } catch (err) {
    const status = (err as { status?: number }).status;
    if (typeof status === 'number') return refuse(status, (err as Error).message);
    throw err;
  }
  sendText(res, 201, 'Stored');
}

function sendText(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8' });
  res.end(text);
}

function streamFile(res: ServerResponse, file: string, cacheControl: string): void {
  res.writeHead(200, { 'Content-Type': contentTypeFor(file), 'Cache-Control': cacheControl });
  createReadStream(file).on('error', () => res.destroy()).pipe(res);
}
