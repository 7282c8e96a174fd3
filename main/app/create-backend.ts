/**
 * The one Node-side implementation of AtelierApi. Both transports (Electron IPC, WebSocket) and the
 * in-process contract tests call exactly this object.
 */
import { createHash, randomInt } from 'node:crypto';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { CancelledError, inspectModel, listExecutionProviders, type MaskImage, type RgbImage } from '../engine';
import { applyOutpaint, generationRecord, planGeneration, type ImageInputs } from './generation-plan';
import { decodeMask, decodeRgb } from './image-inputs';
import { installedUpscalers, LANCZOS, upscaledRecord, upscaleJobRequest, upscaleNote } from './upscale-job';
import { upscaleInWorker } from './upscale-host';
import { MAX_UPSCALED_PIXELS, type UpscaleFactor } from '../engine';
import { ModelManager } from '../models/manager';
import {
  AtelierApiError,
  type AtelierApi,
  type AtelierEvent,
  type GenerationRecord,
  type LoadedModelInfo,
  type ProjectSummary,
} from '../../common/api/contract';
import type { GenerateParams } from '../../common/api/schemas';
import { toApiError } from '../api/dispatch';
import { EngineHost } from '../engine-host/engine-host';
import { readImageMetadata, type ProjectLibrary } from '../library';
import type { AtelierBackend } from './backend';
import { JobQueue, type JobContext, type JobRunResult, type JobRunner } from './job-queue';
import { assertSizeFits, ModelRegistry, type ModelEntry } from './model-registry';
import { appRoot, bundledDemoModelDir } from './paths';
import { choosePreviewDecoder, previewDataUrl } from './preview-image';
import { ProjectSession } from './project-session';
import { SettingsStore } from './settings-store';
import { setSqliteNativeBinding } from '../library';

export interface BackendOptions {
  userDataDir: string;
  /** Prefix of image URLs handed to clients: '/' in server mode, 'atelier://' in Electron. */
  imageUrlBase: string;
  transport?: 'ipc' | 'websocket' | 'in-process';
  demoModelDir?: string;
  /** Hugging Face compatible endpoint (mirrors, tests); default $HF_ENDPOINT or huggingface.co. */
  hubEndpoint?: string;
  /** Electron-ABI better-sqlite3 binary (packaged desktop app); Node uses node_modules' build. */
  sqliteNativeBinding?: string;
}

export const APP_VERSION = '0.1.0';

export async function createBackend(opts: BackendOptions): Promise<AtelierBackend> {
  mkdirSync(opts.userDataDir, { recursive: true });
  if (opts.sqliteNativeBinding && existsSync(opts.sqliteNativeBinding)) setSqliteNativeBinding(opts.sqliteNativeBinding);
  const listeners = new Set<(e: AtelierEvent) => void>();
  const emit = (event: AtelierEvent) => {
    for (const l of listeners) {
      try {
        l(event);
      } catch {
        /* a failing listener must not break the others */
      }
    }
  };
  const settings = new SettingsStore(join(opts.userDataDir, 'settings.json'), opts.userDataDir);
  const modelManager = new ModelManager({
    modelsDir: () => settings.get().modelsDir,
    demoModelDir: opts.demoModelDir ?? bundledDemoModelDir(appRoot()),
    endpoint: opts.hubEndpoint ?? process.env.HF_ENDPOINT,
    token: process.env.HF_TOKEN,
    // A model is installed only once the engine's own loader accepts the folder.
    validate: async (folder) => {
      inspectModel(folder);
    },
  });
  modelManager.on('download-progress', (p) => emit({ type: 'model:download-progress', ...p }));
  modelManager.on('download-finished', ({ modelId }) => emit({ type: 'model:download-finished', modelId }));
  modelManager.on('download-failed', ({ modelId, code, message, resumable }) =>
    emit({
      type: 'model:download-failed',
      modelId,
      resumable,
      // A user's cancel keeps its own code, so clients can drop the row instead of showing a failure.
      error: code === 'cancelled' ? { code: 'cancelled', message } : toApiError(Object.assign(new Error(message), { name: 'DownloadError', code })).toShape(),
    }),
  );
  modelManager.on('changed', () => emit({ type: 'models:changed' }));
  const models = new ModelRegistry(modelManager);
  const projects = await ProjectSession.open(opts.userDataDir, opts.imageUrlBase);
  const engine = new EngineHost();

  let loadedModel: LoadedModelInfo | null = null;
  async function loadEntry(entry: ModelEntry, provider: string): Promise<LoadedModelInfo> {
    const info = await engine.load(entry.folder, provider, settings.get().lowMemory);
    loadedModel = { modelId: entry.id, family: info.family, provider: info.provider, fallbacks: info.fallbacks, scheduler: info.scheduler, loadMs: info.loadMs };
    emit({ type: 'model:loaded', model: loadedModel });
    return loadedModel;
  }

  async function ensureModel(modelId: string) {
    const entry = await models.resolve(modelId);
    const loaded = engine.loadedModel;
    if (!loaded || loaded.folder !== entry.folder) await loadEntry(entry, settings.get().provider);
    return { entry, info: engine.loadedModel! };
  }

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

  /** upscaleImage jobs: a generation → a new, larger generation under it (no diffusion model needed). */
  async function runUpscale(ctx: JobContext): Promise<JobRunResult> {
    const job = ctx.upscale!;
    const library = projects.libraryFor(ctx.projectId);
    const source = library.get(job.generationId);
    const file = source ? await projects.resolveImageFile(job.generationId, 'image', library) : null;
    if (!source || !file) throw new AtelierApiError('not_found', `upscaleImage: no generation ${job.generationId} in this project`);
    const image = await decodeRgb(file, 'generationId');
    if (ctx.isCancelled()) throw new CancelledError(0);
    const started = performance.now();
    const { images, ms, label, provider } = await upscaleInWorker(
      { images: [image], factor: job.factor, candidates: await installedUpscalers(modelManager), choice: job.upscaler, provider: settings.get().provider },
      { isCancelled: ctx.isCancelled, onTile: (d, t) => ctx.progress(d, t, performance.now() - started) },
    );
    const added = await library.addGeneration({ image: images[0], params: upscaledRecord(source, images[0], job.factor, provider, ms, APP_VERSION) });
    library.setNotes(added.id, upscaleNote(job.factor, label, source.id));
    const generation = projects.toRecord(library.get(added.id)!, library);
    return { generations: [generation], provider, timings: { upscaleMs: Math.round(ms) } };
  }

  /** `upscale: 2 | 4` on a generate request: every result is upscaled before it is saved. */
  async function upscaleResults<T extends RgbImage>(ctx: JobContext, factor: UpscaleFactor, images: T[], timings: Record<string, number>): Promise<T[]> {
    const started = performance.now();
    const out = await upscaleInWorker(
      { images, factor, candidates: await installedUpscalers(modelManager), choice: ctx.request.upscaler, provider: settings.get().provider },
      { isCancelled: ctx.isCancelled, onTile: (d, t) => ctx.progress(d, t, performance.now() - started) },
    );
    timings.upscaleMs = Math.round(out.ms);
    timings.upscaleFactor = factor;
    return images.map((img, i) => ({ ...img, width: out.images[i].width, height: out.images[i].height, rgb: out.images[i].rgb }));
  }

  const runner: JobRunner = {
    cancelRunning: () => engine.cancelCurrent(),
    async run(ctx) {
      if (ctx.upscale) return runUpscale(ctx);
      const req = ctx.request;
      // The project the job came from, even if another one has been opened since.
      const library = projects.libraryFor(ctx.projectId);
      const { entry, info } = await ensureModel(req.modelId ?? settings.get().defaultModelId);
      const inputs = applyOutpaint(req, await resolveImageInputs(req, library), req.seed, entry.sizeMultiple);
      // Cancelled while the model loaded or the inputs decoded: stop before any UNet work.
      if (ctx.isCancelled()) throw new CancelledError(0);
      const plan = planGeneration(req, req.seed, inputs);
      await applyPreviewDecoder(entry, info.family);
      const outcome = await engine.generate(
        plan.pipeline,
        settings.get().previewEvery,
        {
          onProgress: (p) => ctx.progress(p.step, p.total, p.elapsedMs),
          onPreview: (p) => {
            previewDataUrl(p.rgb, p.width, p.height)
              .then((dataUrl) => ctx.emit({ type: 'job:preview', jobId: ctx.jobId, step: p.step, width: p.width, height: p.height, dataUrl }))
              .catch(() => undefined);
          },
        },
      );
      const record = { req, plan, inputs, outcome, model: { id: entry.id, hash: models.fingerprint(entry.folder), family: info.family }, appVersion: APP_VERSION };
      const generations: GenerationRecord[] = [];
      const images = req.upscale ? await upscaleResults(ctx, req.upscale, outcome.images, outcome.timings) : outcome.images;
      for (const [i, img] of images.entries()) generations.push(await projects.addGeneration(img, generationRecord(record, img, i), library));
      return { generations, provider: outcome.provider, timings: outcome.timings };
    },
  };
  const queue = new JobQueue(runner, emit, (err) => toApiError(err).toShape());

  async function resolveImageInputs(req: GenerateParams, library: ProjectLibrary): Promise<ImageInputs> {
    let initImage: RgbImage | null = null;
    let initRef: string | null = null;
    let initGenerationId: string | null = null;
    if (req.initImage && 'generationId' in req.initImage) {
      const file = await projects.resolveImageFile(req.initImage.generationId, 'image', library);
      if (!file) throw new AtelierApiError('not_found', `initImage: no generation ${req.initImage.generationId} in this project`);
      initImage = await decodeRgb(file);
      initRef = initGenerationId = req.initImage.generationId;
    } else if (req.initImage) {
      const bytes = Buffer.from(req.initImage.base64, 'base64');
      initImage = await decodeRgb(bytes);
      initRef = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
    }
    const mask: MaskImage | null = req.mask ? await decodeMask(Buffer.from(req.mask.base64, 'base64')) : null;
    return { initImage, initRef, initGenerationId, mask, maskRef: mask ? `sha256:${createHash('sha256').update(req.mask!.base64).digest('hex')}` : null };
  }

  const api: AtelierApi = {
    async getSystemInfo() {
      return {
        appVersion: APP_VERSION,
        platform: process.platform,
        arch: process.arch,
        executionProviders: listExecutionProviders(),
        transport: opts.transport ?? 'in-process',
        userDataDir: opts.userDataDir,
        loadedModel: engine.loadedModel ? loadedModel : null,
      };
    },
    async listModels() {
      return (await models.list()).map(({ folder: _f, ...summary }) => summary);
    },
    async loadModel(req) {
      return loadEntry(await models.resolve(req.modelId), req.provider ?? settings.get().provider);
    },
    async unloadModel() {
      const had = engine.loadedModel !== null;
      await engine.unload();
      return { unloaded: had };
    },
    async listCatalog() {
      return modelManager.listCatalog();
    },
    async pullModel(req) {
      const { modelId, plan } = await modelManager.pull(req.source, { revision: req.revision, id: req.id, token: req.token });
      const bytesTotal = plan.request.files.reduce((sum, f) => sum + (f.size ?? f.sizeHint ?? 0), 0);
      return { modelId, bytesTotal };
    },
    async pauseDownload(req) {
      modelManager.pause(req.modelId);
      return { ok: true };
    },
    async resumeDownload(req) {
      modelManager.resume(req.modelId);
      return { ok: true };
    },
    async cancelDownload(req) {
      modelManager.cancel(req.modelId);
      return { ok: true };
    },
    async listDownloads() {
      return modelManager.downloads().map((p) => ({
        modelId: p.id,
        state: p.state,
        bytesDone: p.bytesDone,
        bytesTotal: p.bytesTotal,
        rateBps: Math.round(p.rate),
        etaMs: p.etaSeconds === undefined ? -1 : Math.round(p.etaSeconds * 1000),
      }));
    },
    async importModel(req) {
      const installed = await modelManager.importFolder(req.folder, { mode: req.mode, id: req.id, name: req.name });
      const { folder: _f, ...summary } = await models.resolve(installed.id);
      return summary;
    },
    async removeModel(req) {
      if (engine.loadedModel && engine.loadedModel.folder === (await models.resolve(req.modelId)).folder) await engine.unload();
      await modelManager.remove(req.modelId);
      return { removed: true };
    },
    async generate(req) {
      const params = req as GenerateParams;
      // Fail fast on an unknown model or a size its UNet cannot take.
      assertSizeFits(await models.resolve(params.modelId ?? settings.get().defaultModelId), params.width, params.height);
      if (params.upscale && params.width * params.height * params.upscale ** 2 > MAX_UPSCALED_PIXELS) {
        throw new AtelierApiError('invalid_request', `upscale: ${params.width}×${params.height} at ${params.upscale}× is more than ${MAX_UPSCALED_PIXELS / 1e6 | 0} MP; use a smaller size or factor`, [{ path: 'upscale', message: 'result too large' }]);
      }
      const seed = params.seed === -1 ? randomInt(0, 2 ** 32 - 1) : params.seed;
      const jobId = queue.enqueue({ ...params, seed }, { project: projects.hold() });
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
      const jobId = queue.enqueue(upscaleJobRequest(source, req.factor, req.upscaler), { upscale, project: projects.hold() });
      return { jobId };
    },
    async cancel(req) {
      return { cancelled: queue.cancel(req.jobId) };
    },
    async moveJob(req) {
      return { moved: queue.move(req.jobId, req.position) };
    },
    async listJobs() {
      return queue.list();
    },
    async listProjects() {
      return projects.list();
    },
    async createProject(req) {
      const p = await projects.create(req.name);
      emit({ type: 'project:changed', project: p });
      return p;
    },
    async openProject(req) {
      const p = await projects.open(req.projectId);
      emit({ type: 'project:changed', project: p });
      return p;
    },
    async renameProject(req): Promise<ProjectSummary> {
      return projects.rename(req.projectId, req.name);
    },
    async queryHistory(req) {
      return projects.queryHistory(req);
    },
    async getGeneration(req) {
      return projects.getGeneration(req.id);
    },
    async updateGeneration(req) {
      return projects.updateGeneration(req);
    },
    async deleteGeneration(req) {
      return { deleted: projects.trash(req.id) };
    },
    async restoreGeneration(req) {
      return projects.restore(req.id);
    },
    async emptyTrash() {
      return projects.current().emptyTrash();
    },
    async getLineage(req) {
      return projects.lineage(req.id);
    },
    async listBoards() {
      return projects.boards();
    },
    async createBoard(req) {
      const b = projects.current().createBoard(req.name);
      return { id: b.id, name: b.name, itemCount: b.itemCount };
    },
    async renameBoard(req) {
      projects.board(req.boardId);
      projects.current().renameBoard(req.boardId, req.name);
      return projects.board(req.boardId);
    },
    async deleteBoard(req) {
      projects.board(req.boardId);
      projects.current().deleteBoard(req.boardId);
      return { deleted: true };
    },
    async setBoardMembership(req) {
      projects.board(req.boardId);
      for (const id of req.ids) projects.getGeneration(id); // unknown ids → not_found before any change
      if (req.member) projects.current().addToBoard(req.boardId, req.ids);
      else projects.current().removeFromBoard(req.boardId, req.ids);
      return projects.board(req.boardId);
    },
    async exportGenerations(req) {
      const r = await projects.current().exportGenerations({ ids: req.ids, boardId: req.boardId, to: req.to, format: req.format, quality: req.quality });
      return { path: r.path, count: r.count };
    },
    async importImages(req) {
      return projects.importImages(req.paths);
    },
    async readImageMetadata(req) {
      const buf = Buffer.from(req.base64, 'base64');
      const meta = await readImageMetadata(buf);
      const g = (meta.generation ?? {}) as Record<string, unknown>;
      const params: Record<string, string | number> = {};
      for (const [k, v] of Object.entries(g)) {
        if ((typeof v === 'string' || typeof v === 'number') && k !== 'prompt' && k !== 'negativePrompt') params[k] = v;
      }
      return {
        source: meta.source,
        ...(typeof g.prompt === 'string' ? { prompt: g.prompt } : {}),
        ...(typeof g.negativePrompt === 'string' ? { negativePrompt: g.negativePrompt } : {}),
        params,
        warnings: meta.warnings,
      };
    },
    async getSettings() {
      return settings.get();
    },
    async updateSettings(req) {
      if (req.defaultModelId) await models.resolve(req.defaultModelId);
      return settings.update(req);
    },
  };

  return {
    api,
    onEvent(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    async resolveImage(id, kind) {
      return projects.resolveImageFile(id, kind);
    },
    async close() {
      await modelManager.close();
      await queue.cancelAll();
      await engine.close();
      projects.close();
    },
  };
}

export function notFound(what: string): AtelierApiError {
  return new AtelierApiError('not_found', what);
}
