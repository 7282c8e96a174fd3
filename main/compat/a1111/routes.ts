/**
 * AUTOMATIC1111's `/sdapi/v1` subset (modules/api/api.py) on the compatibility port: what Open
 * WebUI, SillyTavern and other A1111 clients call. Generation goes through the one AtelierApi
 * (`generate`), one request at a time as A1111's queue_lock does; every image lands in the current
 * project's library (tagged `api:a1111`) and the studio shows it live.
 */
import { INVALID_JSON, parseJsonBody } from '../body';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { CatalogModel, GenerationRecord, LoraSummary, ModelSummary } from '../../../common/api/contract';
import { parseInfotext } from '../../../common/infotext';
import { SCHEDULER_TABLE, schedulerToA1111 } from '../../../common/schedulers';
import { readImageMetadata } from '../../library';
import { generationPng, type CompatContext } from '../context';
import { decodeBase64Image, ImageInputError } from '../images';
import { shortHash } from '../models';
import { A1111Error, fromApiError } from './errors';
import { seed32 } from '../jobs';
import { objectBody, planA1111, type A1111Kind, type A1111Plan } from './request';
import { upscaleSingleImage } from './upscale';
import { installedControlNets, registerControlNetRoutes } from './controlnet';

/** The A1111 request running now (A1111's `shared.state`), for `/progress` and `/interrupt`. */
interface ActiveRequest {
  nIter: number;
  jobNo: number;
  step: number;
  total: number;
  startedAt: number;
  timestamp: string;
  preview: Buffer | null;
  jobId: string | null;
  interrupted: boolean;
  skipped: boolean;
}

/** What the `/sdapi/v1` routes share for the life of the server. */
interface A1111Shared {
  readonly ctx: CompatContext;
  active: ActiveRequest | null;
  /** Options clients posted that Atelier has no setting for: kept and echoed, as A1111 keeps them. */
  readonly optionOverlay: Record<string, unknown>;
  /** One generation request at a time (A1111's queue_lock); the job queue still orders them with the studio's. */
  readonly serialised: <T>(fn: () => Promise<T>) => Promise<T>;
}

/** Adds one `/sdapi/v1/<path>` route; the handler's value (or error) is sent as A1111 sends it. */
type AddRoute = (method: 'GET' | 'POST', path: string, handler: (req: FastifyRequest) => Promise<unknown>) => void;

export function registerA1111(app: FastifyInstance, ctx: CompatContext): void {
  const shared = a1111Shared(ctx);
  const route = a1111Router(app, ctx);
  registerControlNetRoutes(app, ctx);
  registerOptionRoutes(route, shared);
  registerListRoutes(route, ctx);
  registerGenerationRoutes(route, shared);
  registerProgressRoutes(route, shared);
  registerImageToolRoutes(route, shared);
}

function a1111Shared(ctx: CompatContext): A1111Shared {
  let queue: Promise<unknown> = Promise.resolve();
  return {
    ctx,
    active: null,
    optionOverlay: {},
    serialised: <T>(fn: () => Promise<T>): Promise<T> => {
      const run = queue.then(fn, fn);
      queue = run.catch(() => undefined);
      return run;
    },
  };
}

function a1111Router(app: FastifyInstance, ctx: CompatContext): AddRoute {
  return (method, path, handler) => {
    app.route({
      method,
      url: `/sdapi/v1/${path}`,
      handler: async (req, reply) => {
        try {
          const value = await handler(req);
          return sendJson(reply, 200, value === undefined ? null : value);
        } catch (err) {
          const e = err instanceof A1111Error ? err : err instanceof ImageInputError ? new A1111Error(422, err.message, 'RequestValidationError') : internal(err, ctx);
          return sendJson(reply, e.status, e.body());
        }
      },
    });
  };
}

/** `options`: read and set A1111's settings; the checkpoint is the studio's default model. */
function registerOptionRoutes(route: AddRoute, shared: A1111Shared): void {
  const { ctx } = shared;
  route('GET', 'options', async () => options(shared));
  route('POST', 'options', async (req) => {
    const { sd_model_checkpoint: checkpoint, ...rest } = objectBody(jsonBody(req));
    if (checkpoint !== undefined && checkpoint !== null) await switchCheckpoint(ctx, checkpoint);
    for (const [k, v] of Object.entries(rest)) if (!OWN_OPTIONS.has(k)) shared.optionOverlay[k] = v;
    return null;
  });
}

/** A1111's options: the current checkpoint (the studio's default model), plus what clients posted. */
async function options(shared: A1111Shared): Promise<Record<string, unknown>> {
  const model = await shared.ctx.models.current();
  const hash = model ? await shared.ctx.models.hashOf(model.id) : null;
  return {
    samples_format: 'png',
    CLIP_stop_at_last_layers: 1,
    sd_vae: 'Automatic',
    ...shared.optionOverlay,
    sd_model_checkpoint: model?.id ?? null,
    sd_checkpoint_hash: hash,
  };
}

/** POST options' `sd_model_checkpoint`: makes that model the studio's default. */
async function switchCheckpoint(ctx: CompatContext, checkpoint: unknown): Promise<void> {
  const model = typeof checkpoint === 'string' ? await ctx.models.find(checkpoint) : null;
  // A1111 set_config: `raise RuntimeError(f"model {checkpoint_name!r} not found")` → 500.
  if (!model) throw new A1111Error(500, `model ${JSON.stringify(checkpoint)} not found`, 'RuntimeError');
  const current = await ctx.models.current();
  if (current?.id !== model.id) {
    const r = await ctx.dispatch('updateSettings', { defaultModelId: model.id });
    if (!r.ok) throw fromApiError(r.error);
  }
}

/** What clients list to fill their menus: models, samplers, upscalers, LoRAs, and the lists Atelier keeps empty. */
function registerListRoutes(route: AddRoute, ctx: CompatContext): void {
  route('GET', 'sd-models', async () => Promise.all((await ctx.models.list()).map((m) => sdModel(ctx, m))));
  route('POST', 'refresh-checkpoints', async () => null);
  route('GET', 'samplers', async () =>
    SCHEDULER_TABLE.map((e) => ({ name: e.a1111[0], aliases: [...e.a1111.slice(1), ...(e.comfy ? [e.comfy] : []), e.className], options: {} })),
  );
  route('GET', 'schedulers', async () => [
    { name: 'automatic', label: 'Automatic', aliases: null, default_rho: -1, need_inner_model: false },
    { name: 'karras', label: 'Karras', aliases: null, default_rho: 7, need_inner_model: false },
  ]);
  route('GET', 'upscalers', async () => upscalers(ctx));
  // Atelier has no latent upscaling and no separate VAEs (each model carries its own).
  route('GET', 'latent-upscale-modes', async () => []);
  route('GET', 'sd-vae', async () => []);
  route('GET', 'sd-modules', async () => []);
  route('GET', 'loras', async () => {
    const r = await ctx.dispatch('listLoras', {});
    if (!r.ok) throw fromApiError(r.error);
    return (r.value as LoraSummary[]).map(a1111Lora);
  });
  route('GET', 'prompt-styles', async () => []);
  route('GET', 'embeddings', async () => ({ loaded: {}, skipped: {} }));
  route('GET', 'scripts', async () => ({ txt2img: [], img2img: [] }));
}

/** A1111's upscaler list: its built-in None and Lanczos, then the installed upscaler models. */
async function upscalers(ctx: CompatContext) {
  const catalog = await ctx.dispatch('listCatalog', {});
  const installed = catalog.ok ? (catalog.value as CatalogModel[]).filter((m) => m.kind === 'upscaler' && m.installed) : [];
  const entry = (name: string, model: string | null) => ({ name, model_name: model, model_path: null, model_url: null, scale: 4 });
  return [entry('None', null), entry('Lanczos', null), ...installed.map((m) => entry(m.id, m.name))];
}

function registerGenerationRoutes(route: AddRoute, shared: A1111Shared): void {
  route('POST', 'txt2img', async (req) => generate(shared, 'txt2img', jsonBody(req)));
  route('POST', 'img2img', async (req) => generate(shared, 'img2img', jsonBody(req)));
}

/** `progress`, `interrupt` and `skip`: watch and stop the running request, as A1111's web UI does. */
function registerProgressRoutes(route: AddRoute, shared: A1111Shared): void {
  const { ctx } = shared;
  route('GET', 'progress', async (req) => {
    const skipImage = ['true', '1', 'True'].includes(String((req.query as Record<string, unknown>)?.skip_current_image ?? ''));
    return progress(shared, skipImage);
  });
  route('POST', 'interrupt', async () => {
    const active = shared.active;
    if (active) {
      active.interrupted = true;
      if (active.jobId) await ctx.dispatch('cancel', { jobId: active.jobId });
    }
    return {};
  });
  route('POST', 'skip', async () => {
    const active = shared.active;
    if (active?.jobId) {
      active.skipped = true;
      await ctx.dispatch('cancel', { jobId: active.jobId });
    }
    return {};
  });
}

/** `png-info` (read an image's parameters) and `extra-single-image` (upscale one image). */
function registerImageToolRoutes(route: AddRoute, shared: A1111Shared): void {
  route('POST', 'png-info', async (req) => pngInfo(jsonBody(req)));
  route('POST', 'extra-single-image', async (req) => shared.serialised(() => upscaleSingleImage(shared.ctx, jsonBody(req))));
}

async function pngInfo(raw: unknown) {
  const body = raw as Record<string, unknown> | null;
  if (!body || typeof body !== 'object' || !body.image) throw new A1111Error(404, 'Image not found');
  const image = await decodeBase64Image(body.image, 'image');
  const meta = readImageMetadata(image.bytes);
  const { parameters: info = '', ...items } = meta.raw;
  if (!info) return { info: '', items, parameters: {} };
  const parsed = parseInfotext(info);
  return { info, items, parameters: { Prompt: parsed.prompt, 'Negative prompt': parsed.negativePrompt, ...parsed.params } };
}

/** The body is checked before the request waits its turn, so a bad one is refused at once. */
async function generate(shared: A1111Shared, kind: A1111Kind, body: unknown) {
  const plan = await planA1111(kind, body, shared.ctx.models, () => installedControlNets(shared.ctx));
  return shared.serialised(async () => {
    const { records, interrupted } = await runPlan(shared, plan);
    return respond(shared.ctx, plan, records, interrupted);
  });
}

/** Queues the plan's iterations one after another, tracking each as the active request for `/progress`. */
async function runPlan(shared: A1111Shared, plan: A1111Plan): Promise<{ records: GenerationRecord[]; interrupted: boolean }> {
  const state = newActiveRequest(plan);
  shared.active = state;
  const records: GenerationRecord[] = [];
  try {
    for (let i = 0; i < plan.nIter && !state.interrupted; i++) {
      state.jobNo = i;
      state.step = 0;
      state.skipped = false;
      records.push(...(await runIteration(shared.ctx, plan, state, i)));
    }
    return { records, interrupted: state.interrupted };
  } finally {
    if (shared.active === state) shared.active = null;
  }
}

function newActiveRequest(plan: A1111Plan): ActiveRequest {
  const now = new Date();
  return {
    nIter: plan.nIter,
    jobNo: 0,
    step: 0,
    total: Number(plan.request.steps ?? 0),
    startedAt: now.getTime(),
    timestamp: a1111Timestamp(now),
    preview: null,
    jobId: null,
    interrupted: false,
    skipped: false,
  };
}

/** One generate job (iteration i of n_iter); a cancel counts as interrupt unless `/skip` asked for it. */
async function runIteration(ctx: CompatContext, plan: A1111Plan, state: ActiveRequest, i: number): Promise<GenerationRecord[]> {
  const submitted = await ctx.jobs.submit(
    { method: 'generate', request: { ...plan.request, seed: seed32(plan.seed + i * plan.batchSize) } },
    {
      onProgress: (step, total) => {
        state.step = step;
        state.total = total;
      },
      onPreview: (png) => (state.preview = png),
    },
  );
  if (!submitted.ok) throw fromApiError(submitted.error);
  state.jobId = submitted.jobId;
  const outcome = await submitted.done;
  state.jobId = null;
  if (outcome.kind === 'done') {
    for (const g of outcome.generations) ctx.models.remember(g.modelId, g.modelHash);
    return outcome.generations;
  }
  if (outcome.kind === 'cancelled') {
    if (!state.skipped) state.interrupted = true;
    return [];
  }
  throw fromApiError(outcome.error);
}

/** A1111's txt2img/img2img response: `images` (base64 PNGs), `parameters` (the echo) and `info` (a JSON string). */
async function respond(ctx: CompatContext, plan: A1111Plan, records: GenerationRecord[], interrupted: boolean) {
  const images: string[] = [];
  const infotexts: string[] = [];
  for (const r of records) {
    const png = await generationPng(ctx, r);
    if (!png) continue;
    if (plan.sendImages) images.push(png.toString('base64'));
    infotexts.push(readImageMetadata(png).raw.parameters ?? '');
  }
  const info = await generationInfo(ctx, plan, records, infotexts, interrupted);
  return { images, parameters: plan.echo, info: JSON.stringify(info) };
}

/** A1111's `info` (Processed.js()): what actually ran, from the first record where there is one. */
async function generationInfo(ctx: CompatContext, plan: A1111Plan, records: GenerationRecord[], infotexts: string[], interrupted: boolean) {
  const first = records[0];
  const ran = first ? schedulerToA1111(first.scheduler) : { sampler: String(plan.echo.sampler_name ?? ''), scheduleType: undefined };
  const req = plan.request;
  const notes = [...plan.notes, ...(interrupted ? ['Interrupted: the images finished before the interrupt are returned'] : [])];
  return {
    prompt: req.prompt,
    all_prompts: records.map(() => req.prompt),
    negative_prompt: req.negativePrompt ?? '',
    all_negative_prompts: records.map(() => req.negativePrompt ?? ''),
    seed: first?.seed ?? plan.seed,
    all_seeds: records.map((r) => r.seed),
    subseed: -1,
    all_subseeds: records.map(() => -1),
    subseed_strength: 0,
    width: first?.width ?? req.width,
    height: first?.height ?? req.height,
    sampler_name: ran.sampler,
    cfg_scale: first?.guidanceScale ?? req.guidanceScale,
    steps: first?.steps ?? req.steps,
    batch_size: plan.batchSize,
    restore_faces: false,
    face_restoration_model: null,
    sd_model_name: first?.modelId ?? plan.model.id,
    sd_model_hash: shortHash(first?.modelHash ?? (await ctx.models.hashOf(plan.model.id))),
    sd_vae_name: null,
    sd_vae_hash: null,
    seed_resize_from_w: -1,
    seed_resize_from_h: -1,
    denoising_strength: plan.kind === 'img2img' ? (req.strength ?? null) : null,
    extra_generation_params: { 'Schedule type': ran.scheduleType ?? 'Automatic' },
    index_of_first_image: 0,
    infotexts,
    styles: [],
    job_timestamp: a1111Timestamp(new Date()),
    clip_skip: first?.clipSkip ?? 1,
    is_using_inpainting_conditioning: false,
    version: `Atelier ${ctx.appVersion}`,
    // Atelier's additions: what it could not do as asked, and where the images are in the library.
    atelier_notes: notes,
    atelier_generation_ids: records.map((r) => r.id),
  };
}

/** The idle answer, when neither an A1111 request nor any studio job is running. */
function idleProgress() {
  return {
    progress: 0,
    eta_relative: 0,
    state: { skipped: false, interrupted: false, stopping_generation: false, job: '', job_count: 0, job_timestamp: '0', job_no: 0, sampling_step: 0, sampling_steps: 0 },
    current_image: null,
    textinfo: null,
  };
}

/** The running A1111 request's progress, else the studio's running job's (clients poll this while anything generates). */
function progress(shared: A1111Shared, skipImage: boolean) {
  const { ctx } = shared;
  const a = shared.active;
  const jobs = ctx.activity.jobs();
  if (!a && jobs.length === 0) return idleProgress();
  // A1111's formula (modules/api/api.py progressapi): 0.01 + job_no/job_count + step/steps/job_count.
  const running = ctx.activity.running();
  const count = a ? a.nIter : jobs.length;
  const jobNo = a ? a.jobNo : 0;
  const step = a ? a.step : (running?.step ?? 0);
  const total = a ? a.total : (running?.total ?? 0);
  const fraction = Math.min(1, 0.01 + jobNo / count + (total > 0 ? step / total / count : 0));
  const startedAt = a ? a.startedAt : (running?.startedAt ?? Date.now());
  const elapsed = Math.max(0, (Date.now() - startedAt) / 1000);
  const preview = a ? a.preview : (running?.preview ?? null);
  return {
    progress: fraction,
    eta_relative: fraction > 0.01 ? elapsed / fraction - elapsed : 0,
    state: {
      skipped: a?.skipped ?? false,
      interrupted: a?.interrupted ?? false,
      stopping_generation: false,
      job: a ? `Batch ${jobNo + 1} out of ${count}` : running ? running.jobId : '',
      job_count: count,
      job_timestamp: a?.timestamp ?? a1111Timestamp(new Date(startedAt)),
      job_no: jobNo,
      sampling_step: step,
      sampling_steps: total,
    },
    current_image: skipImage || !preview ? null : preview.toString('base64'),
    textinfo: null,
  };
}

/** Options Atelier answers itself (GET options); everything else a client posts is kept as given. */
const OWN_OPTIONS = new Set(['sd_model_checkpoint', 'sd_checkpoint_hash']);

async function sdModel(ctx: CompatContext, m: ModelSummary) {
  const sha256 = await ctx.models.hashOf(m.id);
  return { title: m.id, model_name: m.id, hash: shortHash(sha256), sha256, filename: m.id, config: null };
}

/** The request body as JSON, whatever the Content-Type (bodies arrive as raw bytes, see server.ts). */
export function jsonBody(req: FastifyRequest): unknown {
  const body = parseJsonBody(req);
  if (body === INVALID_JSON) {
    throw new A1111Error(422, 'The request body is not valid JSON', 'RequestValidationError', [{ loc: ['body'], msg: 'invalid JSON', type: 'value_error.jsondecode' }]);
  }
  return body;
}

function sendJson(reply: FastifyReply, status: number, value: unknown): FastifyReply {
  return reply.code(status).header('content-type', 'application/json; charset=utf-8').send(JSON.stringify(value));
}

function internal(err: unknown, ctx: CompatContext): A1111Error {
  ctx.log(`A1111 API error: ${(err as Error)?.stack ?? String(err)}`);
  return new A1111Error(500, (err as Error)?.message ?? 'Internal error', (err as Error)?.name ?? 'Exception');
}

/** A1111's job timestamp: `datetime.now().strftime("%Y%m%d%H%M%S")`. */
function a1111Timestamp(d: Date): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}${p(d.getMonth() + 1)}${p(d.getDate())}${p(d.getHours())}${p(d.getMinutes())}${p(d.getSeconds())}`;
}

/**
 * A1111's `/sdapi/v1/loras` entry (extensions-builtin/Lora `create_lora_json`): `{name, alias,
 * path, metadata}`. The alias is the name (the only thing `<lora:…>` resolves here); the path is
 * relative to the models folder (clients never see server paths); metadata carries the kohya keys
 * Atelier reads from the file, as the strings safetensors metadata holds.
 */
function a1111Lora(l: LoraSummary): { name: string; alias: string; path: string; metadata: Record<string, string> } {
  return {
    name: l.name,
    alias: l.name,
    path: `loras/${l.name}.safetensors`,
    metadata: l.rank !== undefined ? { ss_network_dim: String(l.rank) } : {},
  };
}
