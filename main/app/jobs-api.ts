/**
 * The job slice of the API: generate / upscaleImage queue work, the queue runs each job through
 * the generation service into the project it was submitted from, and reports progress as events.
 */
import { readFile } from 'node:fs/promises';
import type { AtelierApi } from '../../common/api/contract';
import { AtelierApiError } from '../../common/api/contract';
import type { GenerateParams } from '../../common/api/schemas';
import { MAX_UPSCALED_PIXELS } from '../engine';
import { checkGenerationMemory, MemoryLimitError } from '../engine-host';
import { toApiError } from './api-errors';
import type { EventBus } from './event-bus';
import { reproduceImage } from './reproduce';
import { drawSeed, type GenerationTarget, type JobRequest } from './generation-service';
import { FileJobJournal } from './job-journal';
import { JobQueue, type JobContext, type JobRunResult } from './job-queue';
import { assertSizeFits } from './model-registry';
import { choosePreviewDecoder, previewDataUrl } from './preview-image';
import type { ProjectHold, ProjectSession } from './project-session';
import { engineMemoryCapBytes, engineMemoryCapLabel, type Runtime } from './runtime';
import { installedUpscalers, LANCZOS, upscaleJobRequest } from './upscale-job';
import type { GenerationRecord } from '../../common/api/contract';
import type { ModelEntry } from './model-registry';

export type JobsApi = Pick<AtelierApi, 'generate' | 'upscaleImage' | 'cancel' | 'retryJob' | 'moveJob' | 'listJobs' | 'reproduceGeneration'>;

/** The library tag of images queued through a compatibility API (GenerateRequest `source`). */
export const SOURCE_TAGS: Record<NonNullable<GenerateParams['source']>, string> = { a1111: 'api:a1111', comfyui: 'api:comfyui' };

export function createJobsApi(runtime: Runtime, projects: ProjectSession, bus: EventBus, opts: { journalDir?: string } = {}): { api: JobsApi; queue: JobQueue } {
  const { settings, modelManager, models, engine, generation } = runtime;

  /** TAESD for this model's latent space when installed (settings.previewDecoder), else the approximation. */
  async function applyPreviewDecoder(entry: ModelEntry, family: string): Promise<void> {
    const s = settings.get();
    const spec = choosePreviewDecoder(s.previewDecoder ?? 'auto', { family, registryFamily: entry.family }, await modelManager.listInstalled(), s.provider, { lowMemory: s.lowMemory });
    try {
      await engine.setPreviewDecoder(spec);
    } catch (err) {
      // A broken TAESD download must not fail the generation: previews fall back to the approximation.
      console.error(`TAESD preview decoder unavailable (${err instanceof Error ? err.message : String(err)}); using the approximation.`);
      await engine.setPreviewDecoder({ kind: 'approx' }).catch(() => undefined);
    }
  }

  /** The job's own project library: saves land there whichever project is open now. */
  function targetFor(ctx: JobContext): GenerationTarget<GenerationRecord> {
    const library = projects.libraryFor(ctx.projectId);
    return {
      imageFile: (id) => projects.resolveImageFile(id, 'image', library),
      record: (id) => library.get(id),
      async save(image, params, notes) {
        const row = await library.addGeneration({ image, params });
        if (notes) library.setNotes(row.id, notes);
        // Made through a compatibility API (A1111 / ComfyUI): the tag says which one.
        if (ctx.request.source) library.addTags(row.id, [SOURCE_TAGS[ctx.request.source]]);
        return projects.toRecord(notes ? library.get(row.id)! : row, library);
      },
    };
  }

  /**
   * One turn at a time on the local engine: queued jobs and studio reproductions (reproduceGeneration)
   * never overlap on it. With the render farm's executor, jobs run elsewhere and in parallel: no turns.
   */
  let engineTurn: Promise<unknown> = Promise.resolve();
  function takeTurn<T>(fn: () => Promise<T>): Promise<T> {
    if (generation.executor) return fn();
    const mine = engineTurn.then(fn, fn);
    engineTurn = mine.catch(() => undefined);
    return mine;
  }

  async function run(ctx: JobContext): Promise<JobRunResult> {
    const previews = previewThrottle((p) => {
      previewDataUrl(p.rgb, p.width, p.height)
        .then((dataUrl) => ctx.emit({ type: 'job:preview', jobId: ctx.jobId, step: p.step, width: p.width, height: p.height, dataUrl }))
        .catch(() => undefined);
    });
    try {
      return await runJob(ctx, previews.push);
    } finally {
      previews.stop();
    }
  }

  async function runJob(ctx: JobContext, onPreview: (p: PreviewFrame) => void): Promise<JobRunResult> {
    const request: JobRequest = ctx.upscale
      ? { kind: 'upscale', generationId: ctx.upscale.generationId, factor: ctx.upscale.factor, ...(ctx.upscale.upscaler ? { upscaler: ctx.upscale.upscaler } : {}) }
      : { kind: 'generate', params: ctx.request };
    const result = await takeTurn(() => generation.run(request, targetFor(ctx), {
      job: { id: ctx.jobId, ...(ctx.projectId ? { projectId: ctx.projectId } : {}) },
      isCancelled: ctx.isCancelled,
      onProgress: ctx.progress,
      previewEvery: settings.get().previewEvery,
      beforeDiffusion: applyPreviewDecoder,
      onPreview,
    }));
    return { generations: result.saved, provider: result.provider, timings: result.timings };
  }

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
      // The memory guard, before queueing: a job whose estimated peak cannot fit is refused now, saying what would.
      const s = settings.get();
      // (On the render farm the diffusion runs on another machine, whose engine guards its own memory.)
      if (!executor) try {
        checkGenerationMemory(entry.folder, params, { lowMemory: s.lowMemory, loaded: engine.loadedModel, engineRss: engine.engineRss, capBytes: engineMemoryCapBytes(s), capLabel: engineMemoryCapLabel(s) });
      } catch (err) {
        if (err instanceof MemoryLimitError) throw new AtelierApiError('invalid_request', err.message, [{ path: 'width', message: 'too large for the memory available' }]);
        throw err;
      }
      // Drawn now, so the caller knows it at once and a retry reuses it.
      const seed = drawSeed(params.seed);
      const jobId = enqueueHeld((project) => queue.enqueue({ ...params, seed }, { project }));
      return { jobId, seed };
    },
    async upscaleImage(req) {
      const source = projects.current().get(req.generationId);
      if (!source || source.deletedAt !== null) throw new AtelierApiError('not_found', `upscaleImage: no generation ${req.generationId} in this project`);
      if (source.width * req.factor * source.height * req.factor > MAX_UPSCALED_PIXELS) {
        throw new AtelierApiError('invalid_request', `upscaleImage: ${source.width}×${source.height} at ${req.factor}× is more than ${MAX_UPSCALED_PIXELS / 1e6 | 0} MP; use factor 2 or a smaller image`);
      }
      if (req.upscaler && req.upscaler !== LANCZOS && !(await installedUpscalers(modelManager)).some((u) => u.id === req.upscaler)) {
        const known = [...(await installedUpscalers(modelManager)).map((u) => u.id), LANCZOS].join(', ');
        throw new AtelierApiError('not_found', `No installed upscaler "${req.upscaler}". Choose one of: ${known}`, [{ path: 'upscaler', message: 'not installed' }]);
      }
      const upscale = { generationId: req.generationId, factor: req.factor, ...(req.upscaler ? { upscaler: req.upscaler } : {}) };
      const jobId = enqueueHeld((project) => queue.enqueue(upscaleJobRequest(source, req.factor, req.upscaler), { upscale, project }));
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
      const library = projects.current();
      const record = library.get(req.id);
      if (!record || record.deletedAt !== null) throw new AtelierApiError('not_found', `reproduceGeneration: no generation ${req.id} in this project`);
      let bytes: Buffer;
      try {
        bytes = await readFile(record.imagePath);
      } catch {
        throw new AtelierApiError('not_found', `The image file of generation ${req.id} is missing`);
      }
      const { receipt } = await takeTurn(() => reproduceImage(runtime, bytes));
      library.saveReceipt(req.id, receipt);
      return receipt;
    },
  };
  return { api, queue };
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
