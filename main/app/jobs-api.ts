/**
 * The job slice of the API: generate / upscaleImage queue work, the queue runs each job through
 * the generation service into the project it was submitted from, and reports progress as events.
 */
import { readFile } from 'node:fs/promises';
import type { AtelierApi } from '../../common/api/contract';
import { AtelierApiError } from '../../common/api/contract';
import type { GenerateParams, UpscaleImageParams } from '../../common/api/schemas';
import { MAX_UPSCALED_PIXELS } from '../engine';
import { checkGenerationMemory, MemoryLimitError } from '../engine-host';
import { toApiError } from './api-errors';
import type { EventBus } from './event-bus';
import { reproduceImage } from './reproduce';
import { assertControlNetsInstalled } from './controlnet-resolve';
import { controlImageFile, storeControlImage } from '../library';
import { drawSeed, type GenerationTarget, type JobRequest } from './generation-service';
import { FileJobJournal } from './job-journal';
import { JobQueue, type JobContext, type JobRunResult } from './job-queue';
import { assertSizeFits } from './model-registry';
import { choosePreviewDecoder, previewDataUrl } from './preview-image';
import type { ProjectHold, ProjectSession } from './project-session';
import { engineMemoryCapBytes, engineMemoryCapLabel, type Runtime } from './runtime';
import { installedUpscalers, LANCZOS } from './upscale-job';
import { upscaleJobDisplay } from '../../common/params/upscale-job-display';
import type { GenerationRecord } from '../../common/api/contract';
import type { ModelEntry } from './model-registry';

export type JobsApi = Pick<AtelierApi, 'generate' | 'upscaleImage' | 'cancel' | 'retryJob' | 'moveJob' | 'listJobs' | 'reproduceGeneration'>;

/** The library tag of images queued through a compatibility API (GenerateRequest `source`). */
export const SOURCE_TAGS: Record<NonNullable<GenerateParams['source']>, string> = { a1111: 'api:a1111', comfyui: 'api:comfyui' };

export function createJobsApi(runtime: Runtime, projects: ProjectSession, bus: EventBus, opts: { journalDir?: string } = {}): { api: JobsApi; queue: JobQueue } {
  const { engine, generation } = runtime;
  const takeTurn = engineTurns(runtime);
  const run = jobRunner(runtime, projects, takeTurn);

  // Queued jobs are journalled: after a crash or restart they come back as `interrupted`.
  const journal = opts.journalDir ? new FileJobJournal(opts.journalDir) : undefined;
  // With an executor (the render farm) many jobs run at once, each cancelled where it runs.
  const executor = generation.executor;
  const queue = new JobQueue({ run, cancelRunning: (jobId) => (executor ? executor.cancel(jobId) : engine.cancelCurrent()) }, bus.emit, (err) => toApiError(err).toShape(), {
    journal,
    ...(executor ? { concurrency: executor.concurrency } : {}),
  });
  if (journal) queue.restoreInterrupted(journal.load());

  /** Holds the open project for the job; a refused enqueue (e.g. a full queue) lets go of it again. */
  function enqueueHeld(enqueue: (project: ProjectHold) => string): string {
    const project = projects.hold();
    try {
      return enqueue(project);
    } catch (err) {
      project.release();
      throw err;
    }
  }

  const api: JobsApi = {
    async generate(req) {
      const params = req as GenerateParams;
      await admitGenerate(runtime, projects, params);
      // Drawn now, so the caller knows it at once and a retry reuses it.
      const seed = drawSeed(params.seed);
      const jobId = enqueueHeld((project) => queue.enqueue({ ...params, seed }, { project }));
      return { jobId, seed };
    },
    async upscaleImage(req) {
      const source = await admitUpscale(runtime, projects, req);
      const upscale = { generationId: req.generationId, factor: req.factor, ...(req.upscaler ? { upscaler: req.upscaler } : {}) };
      const jobId = enqueueHeld((project) => queue.enqueue(upscaleJobDisplay(source, req.factor, req.upscaler), { upscale, project }));
      return { jobId };
    },
    async cancel(req) {
      return { cancelled: queue.cancel(req.jobId) };
    },
    async retryJob(req) {
      const old = queue.interrupted(req.jobId);
      if (!old) throw new AtelierApiError('not_found', `retryJob: no interrupted job ${req.jobId} (only jobs interrupted by a restart are kept for retry)`);
      const project = old.projectId ? await projects.holdProject(old.projectId) : projects.hold();
      let jobId: string;
      try {
        jobId = queue.enqueue(old.request, { ...(old.upscale ? { upscale: old.upscale } : {}), project });
      } catch (err) {
        project.release();
        throw err;
      }
      queue.dismissInterrupted(req.jobId);
      return { jobId, seed: old.request.seed };
    },
    async moveJob(req) {
      return { moved: queue.move(req.jobId, req.position) };
    },
    async listJobs() {
      return queue.list();
    },
    async reproduceGeneration(req) {
      return reproduceStored(runtime, projects, req.id, takeTurn);
    },
  };
  return { api, queue };
}

type TakeTurn = <T>(fn: () => Promise<T>) => Promise<T>;

/**
 * One turn at a time on the local engine: queued jobs and studio reproductions (reproduceGeneration)
 * never overlap on it. With the render farm's executor, jobs run elsewhere and in parallel: no turns.
 */
function engineTurns(runtime: Runtime): TakeTurn {
  let engineTurn: Promise<unknown> = Promise.resolve();
  return <T>(fn: () => Promise<T>): Promise<T> => {
    if (runtime.generation.executor) return fn();
    const mine = engineTurn.then(fn, fn);
    engineTurn = mine.catch(() => undefined);
    return mine;
  };
}

/** Runs a queued job through the generation service, with throttled live previews. */
function jobRunner(runtime: Runtime, projects: ProjectSession, takeTurn: TakeTurn): (ctx: JobContext) => Promise<JobRunResult> {
  return async (ctx) => {
    const previews = previewThrottle((p) => {
      previewDataUrl(p.rgb, p.width, p.height)
        .then((dataUrl) => ctx.emit({ type: 'job:preview', jobId: ctx.jobId, step: p.step, width: p.width, height: p.height, dataUrl }))
        .catch(() => undefined);
    });
    const request: JobRequest = ctx.upscale
      ? { kind: 'upscale', generationId: ctx.upscale.generationId, factor: ctx.upscale.factor, ...(ctx.upscale.upscaler ? { upscaler: ctx.upscale.upscaler } : {}) }
      : { kind: 'generate', params: ctx.request };
    try {
      const result = await takeTurn(() => runtime.generation.run(request, targetFor(projects, ctx), {
        job: { id: ctx.jobId, ...(ctx.projectId ? { projectId: ctx.projectId } : {}) },
        isCancelled: ctx.isCancelled,
        onProgress: ctx.progress,
        previewEvery: runtime.settings.get().previewEvery,
        beforeDiffusion: (entry, family) => applyPreviewDecoder(runtime, entry, family),
        onPreview: previews.push,
      }));
      return { generations: result.saved, provider: result.provider, timings: result.timings };
    } finally {
      previews.stop();
    }
  };
}

/** TAESD for this model's latent space when installed (settings.previewDecoder), else the approximation. */
async function applyPreviewDecoder(runtime: Runtime, entry: ModelEntry, family: string): Promise<void> {
  const s = runtime.settings.get();
  const spec = choosePreviewDecoder(s.previewDecoder ?? 'auto', { family, registryFamily: entry.family }, await runtime.modelManager.listInstalled(), s.provider, { lowMemory: s.lowMemory });
  try {
    await runtime.engine.setPreviewDecoder(spec);
  } catch (err) {
    // A broken TAESD download must not fail the generation: previews fall back to the approximation.
    console.error(`TAESD preview decoder unavailable (${err instanceof Error ? err.message : String(err)}); using the approximation.`);
    await runtime.engine.setPreviewDecoder({ kind: 'approx' }).catch(() => undefined);
  }
}

/** The job's own project library: saves land there whichever project is open now. */
function targetFor(projects: ProjectSession, ctx: JobContext): GenerationTarget<GenerationRecord> {
  const library = projects.libraryFor(ctx.projectId);
  return {
    imageFile: (id) => projects.resolveImageFile(id, 'image', library),
    record: (id) => library.get(id),
    // ControlNet control images stay in the project, so the record's `sha256:` reference can be replayed.
    storeControlImage: (bytes) => storeControlImage(library.dir, bytes),
    controlImageFile: (ref) => controlImageFile(library.dir, ref),
    async save(image, params, notes) {
      const row = await library.addGeneration({ image, params });
      if (notes) library.setNotes(row.id, notes);
      // Made through a compatibility API (A1111 / ComfyUI): the tag says which one.
      if (ctx.request.source) library.addTags(row.id, [SOURCE_TAGS[ctx.request.source]]);
      return projects.toRecord(notes ? library.get(row.id)! : row, library);
    },
  };
}

/** Refuses, before queueing, a generate request that cannot succeed: unknown model, size, missing generations, memory. */
async function admitGenerate(runtime: Runtime, projects: ProjectSession, params: GenerateParams): Promise<void> {
  const { settings, models, engine } = runtime;
  // Fail fast on an unknown model or a size its UNet cannot take.
  const entry = await models.resolve(params.modelId ?? settings.get().defaultModelId);
  assertSizeFits(entry, params.width, params.height);
  if (params.upscale && params.width * params.height * params.upscale ** 2 > MAX_UPSCALED_PIXELS) {
    throw new AtelierApiError('invalid_request', `upscale: ${params.width}×${params.height} at ${params.upscale}× is more than ${MAX_UPSCALED_PIXELS / 1e6 | 0} MP; use a smaller size or factor`, [{ path: 'upscale', message: 'result too large' }]);
  }
  // Generations it names must exist in the project it will save into (the open one), checked now,
  // not after the whole generation ran.
  const project = projects.current();
  for (const [path, id] of [['parentId', params.parentId], ['initImage', params.initImage && 'generationId' in params.initImage ? params.initImage.generationId : undefined]] as const) {
    const found = id === undefined ? true : project.get(id);
    if (!found) throw new AtelierApiError('not_found', `${path}: no generation ${id} in this project`, [{ path, message: 'no such generation in this project' }]);
  }
  // ControlNets by name, and their control images from this project, before queueing.
  await assertControlNetsInstalled(params.controlNets, settings.get().modelsDir, (id) => project.get(id) !== null, async (ref) => (await controlImageFile(project.dir, ref)) !== null);
  // The memory guard, before queueing: a job whose estimated peak cannot fit is refused now, saying what would.
  // (On the render farm the diffusion runs on another machine, whose engine guards its own memory.)
  if (runtime.generation.executor) return;
  const s = settings.get();
  try {
    checkGenerationMemory(entry.folder, params, { lowMemory: s.lowMemory, loaded: engine.loadedModel, engineRss: engine.engineRss, capBytes: engineMemoryCapBytes(s), capLabel: engineMemoryCapLabel(s) });
  } catch (err) {
    if (err instanceof MemoryLimitError) throw new AtelierApiError('invalid_request', err.message, [{ path: 'width', message: 'too large for the memory available' }]);
    throw err;
  }
}

/** The source of an upscaleImage request, once it is known to exist, fit, and have its upscaler installed. */
async function admitUpscale(runtime: Runtime, projects: ProjectSession, req: UpscaleImageParams) {
  const source = projects.current().get(req.generationId);
  if (!source || source.deletedAt !== null) throw new AtelierApiError('not_found', `upscaleImage: no generation ${req.generationId} in this project`);
  if (source.width * req.factor * source.height * req.factor > MAX_UPSCALED_PIXELS) {
    throw new AtelierApiError('invalid_request', `upscaleImage: ${source.width}×${source.height} at ${req.factor}× is more than ${MAX_UPSCALED_PIXELS / 1e6 | 0} MP; use factor 2 or a smaller image`);
  }
  if (req.upscaler && req.upscaler !== LANCZOS) {
    const installed = await installedUpscalers(runtime.modelManager);
    if (!installed.some((u) => u.id === req.upscaler)) {
      const known = [...installed.map((u) => u.id), LANCZOS].join(', ');
      throw new AtelierApiError('not_found', `No installed upscaler "${req.upscaler}". Choose one of: ${known}`, [{ path: 'upscaler', message: 'not installed' }]);
    }
  }
  return source;
}

/** Regenerates a stored image from its own file and keeps the receipt beside it. */
async function reproduceStored(runtime: Runtime, projects: ProjectSession, id: string, takeTurn: TakeTurn) {
  const library = projects.current();
  const record = library.get(id);
  if (!record || record.deletedAt !== null) throw new AtelierApiError('not_found', `reproduceGeneration: no generation ${id} in this project`);
  let bytes: Buffer;
  try {
    bytes = await readFile(record.imagePath);
  } catch {
    throw new AtelierApiError('not_found', `The image file of generation ${id} is missing`);
  }
  // The project holds the ControlNet control images its records point at.
  const project = { imageFile: (ref: string) => projects.resolveImageFile(ref, 'image', library), controlImageFile: (ref: string) => controlImageFile(library.dir, ref) };
  const { receipt } = await takeTurn(() => reproduceImage(runtime, bytes, { project }));
  library.saveReceipt(id, receipt);
  return receipt;
}

type PreviewFrame = { step: number; width: number; height: number; rgb: Uint8Array };

/** Live previews reach every client at most this often per job; the newest one always follows. */
export const PREVIEW_INTERVAL_MS = 150;

/**
 * At most one preview per PREVIEW_INTERVAL_MS: each is PNG-encoded and broadcast to every client,
 * and at small sizes the engine makes dozens a second — more than anyone sees, and enough encoding
 * to slow the API for everyone on a 2-core machine. The newest frame of a window is sent when the
 * window ends (so the last preview is the last step's); stop() drops what is pending when the job ends.
 */
export function previewThrottle(send: (p: PreviewFrame) => void): { push(p: PreviewFrame): void; stop(): void } {
  let last = -Infinity;
  let pending: PreviewFrame | null = null;
  let timer: ReturnType<typeof setTimeout> | null = null;
  const flush = () => {
    timer = null;
    if (!pending) return;
    last = Date.now();
    const p = pending;
    pending = null;
    send(p);
  };
  return {
    push(p) {
      pending = p;
      const wait = last + PREVIEW_INTERVAL_MS - Date.now();
      if (wait <= 0) flush();
      else timer ??= setTimeout(flush, wait);
    },
    stop() {
      if (timer) clearTimeout(timer);
      timer = null;
      pending = null;
    },
  };
}
