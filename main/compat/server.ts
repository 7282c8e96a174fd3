/**
 * The compatibility port of `atelier serve`: AUTOMATIC1111's `/sdapi/v1` and ComfyUI's API
 * (root paths and `/api/…`, WebSocket `/ws`), so tools built for those servers use Atelier by
 * changing one base URL. Its own port (A1111's default, 7860), next to the studio's.
 *
 * Same access rules as the studio (main/server/auth.ts): loopback without a token; off loopback
 * (or with --token) every request needs the token — Bearer, HTTP Basic password, `?token=` or the
 * `atelier_token` cookie. Everything generates through the one AtelierApi (dispatcher-validated),
 * so images land in the current project's library and the studio shows them live.
 */
import { join } from 'node:path';
import multipart from '@fastify/multipart';
import websocket from '@fastify/websocket';
import Fastify, { type FastifyReply } from 'fastify';
import type { SystemInfo } from '../../common/api/contract';
import { createDispatcher } from '../api/dispatch';
import type { AtelierBackend } from '../app/backend';
import { TOKEN_COOKIE } from '../server/auth';
import { compatAccess } from './access';
import { trackActivity } from './activity';
import { A1111Error } from './a1111/errors';
import { registerA1111 } from './a1111/routes';
import { ComfyQueue } from './comfy/queue';
import { registerComfy } from './comfy/routes';
import { InputFiles } from './comfy/uploads';
import type { CompatContext } from './context';
import { MAX_IMAGE_BYTES } from './images';
import { createCompatJobs } from './jobs';
import { createCompatModels } from './models';

export interface CompatServerOptions {
  backend: AtelierBackend;
  host: string;
  port: number;
  token: string | null;
  /** Serve A1111's `/sdapi/v1` (default true). */
  a1111?: boolean;
  /** Serve ComfyUI's API (default true). */
  comfy?: boolean;
  /** Where ComfyUI uploads are kept; default `<user data>/comfyui/input`. */
  comfyInputDir?: string;
  log?: (message: string) => void;
}

export interface RunningCompatServer {
  /** Base URL (with `?token=` when one is required, like the studio's). */
  url: string;
  /** Base URL without the token. */
  baseUrl: string;
  port: number;
  close(): Promise<void>;
}

/** The largest request body: an img2img request with an init image and a mask, base64, plus the rest. */
const BODY_LIMIT = 2 * Math.ceil((MAX_IMAGE_BYTES * 4) / 3) + 1024 * 1024;

export async function startCompatServer(opts: CompatServerOptions): Promise<RunningCompatServer> {
  const { backend, token } = opts;
  const log = opts.log ?? (() => {});
  const dispatch = createDispatcher(backend.api, (err) => log(`API error: ${(err as Error)?.stack ?? String(err)}`));
  const info = await dispatch('getSystemInfo', {});
  const system = info.ok ? (info.value as SystemInfo) : null;
  const activity = await trackActivity(backend, dispatch);
  const models = createCompatModels(dispatch);
  const offModels = backend.onEvent((e) => {
    if (e.type === 'job:done') for (const g of e.generations) models.remember(g.modelId, g.modelHash);
  });
  const jobs = createCompatJobs(backend, dispatch);
  const ctx: CompatContext = { backend, dispatch, jobs, models, activity, appVersion: system?.appVersion ?? '0.0.0', log };

  const app = Fastify({ logger: false, bodyLimit: BODY_LIMIT, forceCloseConnections: true, routerOptions: { ignoreTrailingSlash: true } });
  // Bodies arrive as bytes and each API parses them itself: ComfyUI clients post JSON with any
  // Content-Type (or none), and each API answers a malformed body in its own error shape.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
  await app.register(websocket, { options: { maxPayload: 1024 * 1024 } });
  await app.register(multipart, { limits: { fileSize: MAX_IMAGE_BYTES, files: 1 } });

  app.addHook('onRequest', async (req, reply) => {
    const access = compatAccess(req.raw, token, opts.host);
    if (!access.ok) return refuse(reply, req.url, access.status, access.reason);
    if (access.setCookie && token) reply.header('set-cookie', `${TOKEN_COOKIE}=${encodeURIComponent(token)}; HttpOnly; SameSite=Strict; Path=/`);
    reply.header('x-content-type-options', 'nosniff');
    reply.header('referrer-policy', 'no-referrer');
  });

  let queue: ComfyQueue | null = null;
  if (opts.a1111 !== false) registerA1111(app, ctx);
  if (opts.comfy !== false) {
    const dir = opts.comfyInputDir ?? join(system?.userDataDir ?? '.', 'comfyui', 'input');
    queue = new ComfyQueue(ctx, new InputFiles(dir));
    registerComfy(app, ctx, queue);
  }

  app.setNotFoundHandler((req, reply) => {
    if (req.url.startsWith('/sdapi/')) return sendJson(reply, 404, new A1111Error(404, 'Not Found').body());
    return sendJson(reply, 404, { error: 'Not Found', path: req.url.split('?')[0].slice(0, 200) });
  });
  app.setErrorHandler((err: Error & { statusCode?: number; code?: string }, req, reply) => {
    const status = err.statusCode && err.statusCode >= 400 && err.statusCode < 600 ? err.statusCode : 500;
    if (status >= 500) log(`Compat API error on ${req.method} ${req.url.split('?')[0]}: ${err.stack ?? err.message}`);
    const message = status === 413 ? 'Request body too large' : status >= 500 ? 'Internal error' : err.message;
    if (req.url.startsWith('/sdapi/')) return sendJson(reply, status, new A1111Error(status, message, status >= 500 ? 'Exception' : 'HTTPException').body());
    return sendJson(reply, status, { error: { type: err.code ?? 'error', message, details: '', extra_info: {} }, node_errors: {} });
  });

  await app.listen({ port: opts.port, host: opts.host });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : opts.port;
  const hostForUrl = opts.host.includes(':') ? `[${opts.host}]` : opts.host;
  const baseUrl = `http://${hostForUrl}:${port}`;

  return {
    url: `${baseUrl}/${token ? `?token=${token}` : ''}`,
    baseUrl,
    port,
    async close() {
      queue?.close();
      jobs.closeAll();
      activity.close();
      offModels();
      await app.close();
    },
  };
}

function refuse(reply: FastifyReply, url: string, status: number, reason: string): FastifyReply {
  if (url.startsWith('/sdapi/')) {
    if (status === 401) reply.header('www-authenticate', 'Basic realm="Atelier"');
    return sendJson(reply, status, new A1111Error(status, reason).body());
  }
  return sendJson(reply, status, { error: { type: status === 401 ? 'unauthorized' : 'forbidden', message: reason, details: '', extra_info: {} }, node_errors: {} });
}

function sendJson(reply: FastifyReply, status: number, value: unknown): FastifyReply {
  return reply.code(status).header('content-type', 'application/json; charset=utf-8').send(JSON.stringify(value));
}
