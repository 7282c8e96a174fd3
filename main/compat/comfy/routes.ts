/**
 * ComfyUI's HTTP API and `/ws` (server.py) on the compatibility port, at the root and again under
 * `/api/…` as ComfyUI serves them: what scripts, bots and apps built on @saintno/comfyui-sdk or
 * @stable-canvas/comfyui-client, Open WebUI and SillyTavern call.
 */
import { INVALID_JSON, parseJsonBody } from '../body';
import { freemem, totalmem } from 'node:os';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { SystemInfo } from '../../../common/api/contract';
import type { CompatContext } from '../context';
import { ImageInputError, inspectImage, MAX_IMAGE_BYTES } from '../images';
import { objectInfoEntry } from './node-defs';
import type { ComfyQueue } from './queue';
import { imageContentType } from './uploads';

/** The ComfyUI API level these routes follow (server.py / execution.py of ComfyUI 0.3). */
const COMFY_API_VERSION = '0.3.0';

export function registerComfy(app: FastifyInstance, ctx: CompatContext, queue: ComfyQueue): void {
  for (const base of ['', '/api']) {
    const at = (path: string) => `${base}${path}`;
    registerWebSocket(app, queue, at);
    registerPromptQueueRoutes(app, queue, at);
    registerHistoryRoutes(app, queue, at);
    registerExecutionRoutes(app, queue, at);
    registerFileRoutes(app, queue, at);
    registerObjectInfoRoutes(app, queue, at);
    registerSystemRoutes(app, ctx, at);
  }
}

/** A route path under one of the bases ComfyUI serves its API at ('' and '/api'). */
type At = (path: string) => string;

function registerWebSocket(app: FastifyInstance, queue: ComfyQueue, at: At): void {
  app.get(at('/ws'), { websocket: true }, (socket, req) => {
    const clientId = (req.query as Record<string, unknown>)?.clientId;
    queue.connect(socket, typeof clientId === 'string' ? clientId : null);
  });
}

function registerPromptQueueRoutes(app: FastifyInstance, queue: ComfyQueue, at: At): void {
  app.get(at('/prompt'), async (_req, reply) => json(reply, 200, { exec_info: { queue_remaining: queue.queueRemaining() } }));
  app.post(at('/prompt'), async (req, reply) => {
    const body = parseJsonBody(req);
    if (body === INVALID_JSON) return json(reply, 400, { error: { type: 'invalid_prompt', message: 'The request body is not valid JSON', details: '', extra_info: {} }, node_errors: {} });
    const result = await queue.enqueue(body);
    return json(reply, result.ok ? 200 : result.status, result.body);
  });

  app.get(at('/queue'), async (_req, reply) => json(reply, 200, queue.queueView()));
  app.post(at('/queue'), async (req, reply) => {
    const body = parseJsonBody(req);
    await queue.manageQueue(isObject(body) ? body : {});
    return reply.code(200).send();
  });
}

function registerHistoryRoutes(app: FastifyInstance, queue: ComfyQueue, at: At): void {
  app.get(at('/history'), async (req, reply) => {
    const q = req.query as Record<string, string | undefined>;
    const max = q.max_items !== undefined && /^\d+$/.test(q.max_items) ? Number(q.max_items) : null;
    const offset = q.offset !== undefined && /^-?\d+$/.test(q.offset) ? Number(q.offset) : -1;
    return json(reply, 200, queue.historyView(max, offset));
  });
  app.get(at('/history/:promptId'), async (req, reply) => json(reply, 200, queue.historyItem((req.params as { promptId: string }).promptId)));
  app.post(at('/history'), async (req, reply) => {
    const body = parseJsonBody(req);
    queue.manageHistory(isObject(body) ? body : {});
    return reply.code(200).send();
  });
}

function registerExecutionRoutes(app: FastifyInstance, queue: ComfyQueue, at: At): void {
  app.post(at('/interrupt'), async (req, reply) => {
    const body = parseJsonBody(req);
    const promptId = isObject(body) && typeof body.prompt_id === 'string' ? body.prompt_id : null;
    await queue.interrupt(promptId);
    return reply.code(200).send();
  });
  // Models load on demand and stay loaded; nothing to free on request.
  app.post(at('/free'), async (_req, reply) => reply.code(200).send());
}

function registerFileRoutes(app: FastifyInstance, queue: ComfyQueue, at: At): void {
  app.get(at('/view'), async (req, reply) => viewImage(queue, req, reply));
  app.post(at('/upload/image'), async (req, reply) => uploadImage(queue, req, reply));
}

/** GET /view: an uploaded input (type=input) or a generated image, by ComfyUI's filename/subfolder/type. */
async function viewImage(queue: ComfyQueue, req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
  const q = req.query as Record<string, string | undefined>;
  const filename = q.filename ?? '';
  const subfolder = q.subfolder ?? '';
  const type = q.type ?? 'output';
  if (!filename) return reply.code(400).send('filename is required');
  if (type === 'input') {
    const bytes = await queue.inputs.read(filename, subfolder);
    if (!bytes) return reply.code(404).send('Not found');
    return sendImage(reply, imageContentType(filename), filename, bytes);
  }
  const png = await queue.outputImage(filename, subfolder, type);
  if (!png) return reply.code(404).send('Not found');
  return sendImage(reply, 'image/png', filename, png);
}

function sendImage(reply: FastifyReply, contentType: string, filename: string, bytes: Buffer): FastifyReply {
  return reply.code(200).header('content-type', contentType).header('content-disposition', `filename="${filename.replace(/["\\\r\n]/g, '_')}"`).send(bytes);
}

/** POST /upload/image: one multipart "image" file, checked to be an image, saved to the input folder. */
async function uploadImage(queue: ComfyQueue, req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
  if (!req.isMultipart()) return reply.code(400).send('Expected multipart/form-data with an "image" file');
  let file: { name: string; bytes: Buffer } | null = null;
  const fields: Record<string, string> = {};
  try {
    for await (const part of req.parts({ limits: { fileSize: MAX_IMAGE_BYTES, files: 1, fields: 20 } })) {
      if (part.type === 'file') {
        const bytes = await part.toBuffer();
        if (part.fieldname === 'image') file = { name: part.filename || 'image.png', bytes };
      } else fields[part.fieldname] = String(part.value);
    }
  } catch (err) {
    return reply.code(413).send(`Upload refused: ${(err as Error).message}`);
  }
  if (!file) return reply.code(400).send('No "image" file in the upload');
  try {
    await inspectImage(file.bytes, 'image');
  } catch (err) {
    if (err instanceof ImageInputError) return reply.code(400).send(err.message);
    throw err;
  }
  const subfolder = fields.subfolder ?? '';
  const overwrite = fields.overwrite === 'true' || fields.overwrite === '1';
  const name = await queue.inputs.save(file.name, subfolder, file.bytes, overwrite);
  if (!name) return reply.code(400).send('Invalid file name or subfolder');
  // Every upload is kept in the input folder, whatever `type` asked for: LoadImage reads it from there.
  return json(reply, 200, { name, subfolder, type: 'input' });
}

function registerObjectInfoRoutes(app: FastifyInstance, queue: ComfyQueue, at: At): void {
  app.get(at('/object_info'), async (_req, reply) => {
    const defs = await queue.definitions();
    return json(reply, 200, Object.fromEntries(Object.entries(defs).map(([name, def]) => [name, objectInfoEntry(name, def)])));
  });
  app.get(at('/object_info/:nodeClass'), async (req, reply) => {
    const name = (req.params as { nodeClass: string }).nodeClass;
    const defs = await queue.definitions();
    // Unknown class → {} (the SDK probes extension classes this way).
    return json(reply, 200, Object.prototype.hasOwnProperty.call(defs, name) ? { [name]: objectInfoEntry(name, defs[name]) } : {});
  });
}

function registerSystemRoutes(app: FastifyInstance, ctx: CompatContext, at: At): void {
  app.get(at('/system_stats'), async (_req, reply) => json(reply, 200, await systemStats(ctx)));
  app.get(at('/embeddings'), async (_req, reply) => json(reply, 200, []));
  app.get(at('/extensions'), async (_req, reply) => json(reply, 200, []));
  app.get(at('/features'), async (_req, reply) => json(reply, 200, { supports_preview_metadata: false }));
}

/** ComfyUI's system_stats: Python and torch fields stay empty; the one device is the ONNX Runtime provider in use. */
async function systemStats(ctx: CompatContext) {
  const info = await ctx.dispatch('getSystemInfo', {});
  const system = info.ok ? (info.value as SystemInfo) : null;
  const provider = system?.loadedModel?.provider ?? 'cpu';
  return {
    system: {
      os: process.platform === 'win32' ? 'nt' : 'posix',
      ram_total: totalmem(),
      ram_free: freemem(),
      comfyui_version: COMFY_API_VERSION,
      atelier_version: ctx.appVersion,
      python_version: '',
      pytorch_version: '',
      embedded_python: false,
      argv: [],
    },
    devices: [{ name: `Atelier ONNX Runtime (${provider})`, type: provider, index: 0, vram_total: 0, vram_free: 0, torch_vram_total: 0, torch_vram_free: 0 }],
  };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function json(reply: FastifyReply, status: number, value: unknown): FastifyReply {
  return reply.code(status).header('content-type', 'application/json; charset=utf-8').send(JSON.stringify(value));
}
