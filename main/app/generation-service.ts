/**
 * The one place that turns a request into images: resolve the model, decode the image inputs,
 * draw the seed, plan, run the engine host (or the upscaler), upscale when asked, and hand every
 * image with its reproducible record to the caller's target (a project library, PNG files).
 * The studio's job queue, `atelier generate` and every API adapter call `run()`; none of them
 * talks to the engine host on its own.
 */
import { createHash, randomInt, randomUUID } from 'node:crypto';
import type { LoadedModelInfo } from '../../common/api/contract';
import { AtelierApiError } from '../../common/api/contract';
import type { GenerateParams, Settings } from '../../common/api/schemas';
import { formatSchedulerName } from '../../common/api/scheduler-names';
import { CancelledError, parseProviderChoice, type GeneratedImage, type MaskImage, type RgbImage, type UpscaleFactor } from '../engine';
import type { EngineHost, EngineLoraLoad, GenerateOutcome, LoadedLora, PipelineRequest } from '../engine-host';
import { sameLoras } from '../engine-host';
import { loraHashesOf, resolvePromptLoras } from './lora-resolve';
import { resolveControlNets } from './controlnet-resolve';
import type { GenerationParamsInput, GenerationRecord as LibraryRecord } from '../library';
import { applyOutpaint, generationRecord, planBatchMember, planGeneration, type GenerationPlan, type ImageInputs } from './generation-plan';
import { decodeMask, decodeRgb } from './image-inputs';
import type { ModelEntry, ModelRegistry } from './model-registry';
import { upscaleInWorker } from './upscale-host';
import { executeTask, type ExecutorHooks, type ExecutorJob, type ExecutorTask, type ExecutorTicket, type GenerationExecutor } from './executor';
import { upscaledRecord, upscaleNote, type InstalledUpscaler } from './upscale-job';
import type { ProviderChoiceName } from '../../common/providers';

/** What to make. Tagged so new kinds (reproduce, variants) join without fake generate requests. */
export type JobRequest =
  | {
      kind: 'generate';
      params: GenerateParams;
      /** A model the caller already resolved (the CLI accepts folders); else params.modelId or the default. */
      model?: ModelEntry;
      /** Execution provider for this run; default: settings. */
      provider?: ProviderChoiceName;
      /** Provenance of file inputs (the CLI records the paths it read); default: content hashes. */
      inputRefs?: { init?: string; mask?: string };
      /** Make only image `index` of the batch of `of` (= params.batchSize), exactly as the batch made it (reproduce). */
      batchMember?: { index: number; of: number };
    }
  | { kind: 'upscale'; generationId: string; factor: UpscaleFactor; upscaler?: string };

/** Where results go and where referenced generations come from. */
export type { ExecutorHooks, ExecutorJob, ExecutorResult, ExecutorTask, ExecutorTicket, GenerationExecutor } from './executor';

export interface GenerationTarget<T> {
  /** The stored image file of a generation (init image by id, upscale source), or null. */
  imageFile(generationId: string): Promise<string | null>;
  /** A generation's library row (the upscale source), or null. */
  record(generationId: string): LibraryRecord | null;
  save(image: RgbImage, params: GenerationParamsInput, notes?: string): Promise<T>;
  /** Keeps a ControlNet control image with the results (a project) and returns its `sha256:` reference; absent: only the hash is recorded. */
  storeControlImage?(bytes: Buffer): Promise<string>;
  /** The file of a control image the project keeps, by its `sha256:` reference, or null. */
  controlImageFile?(ref: string): Promise<string | null>;
}

export interface RunHooks extends ExecutorHooks {
  /** Decode a preview every N steps (0 = none). */
  previewEvery?: number;
  /** Called before the diffusion starts (the studio picks the preview decoder here). */
  beforeDiffusion?(entry: ModelEntry, family: string): Promise<void>;
  /** The queue job this run belongs to (an executor such as the render farm schedules by it). */
  job?: { id: string; projectId?: string };
}

export interface GenerationResult<T> {
  saved: T[];
  provider: string;
  timings: Record<string, number>;
  /** Per image, in order: its seed and size. */
  images: { seed: number; width: number; height: number }[];
  model: { id: string; family: string; fallbacks: LoadedModelInfo['fallbacks'] };
  /** Scheduler as recorded ("DPMSolverMultistepScheduler+karras"). */
  scheduler: string;
  truncatedPrompt: boolean;
}

export interface GenerationServiceDeps {
  engine: EngineHost;
  models: ModelRegistry;
  settings(): Settings;
  upscalers(): Promise<InstalledUpscaler[]>;
  appVersion: string;
  /** Told about every model load (the studio publishes `model:loaded`). */
  onModelLoaded?(model: LoadedModelInfo): void;
  /** Runs the diffusion elsewhere (the render farm); absent: this process's engine host. */
  executor?: GenerationExecutor;
}

/** -1 (or absent) → a fresh random seed; anything else is kept, so a retried job is identical. */
export function drawSeed(seed: number | undefined): number {
  return seed === undefined || seed === -1 ? randomInt(0, 2 ** 32 - 1) : seed;
}

export class GenerationService {
  private loaded: LoadedModelInfo | null = null;
  /** LoRAs merged into the held model (`<lora:…>` in the prompt); another set means another load. */
  private heldLoras: EngineLoraLoad | undefined;

  constructor(private readonly deps: GenerationServiceDeps) {}

  /** The executor diffusions run on instead of the local engine (the render farm), if any. */
  get executor(): GenerationExecutor | undefined {
    return this.deps.executor;
  }

  /** The model the engine holds, as last loaded through this service (null when none is). */
  get loadedModel(): LoadedModelInfo | null {
    return this.deps.engine.loadedModel ? this.loaded : null;
  }

  async loadModel(entry: ModelEntry, provider: ProviderChoiceName = this.deps.settings().provider, loras?: EngineLoraLoad): Promise<LoadedModelInfo> {
    const info = await this.deps.engine.load(entry.folder, provider, this.deps.settings().lowMemory, loras);
    this.heldLoras = loras;
    this.loaded = { modelId: entry.id, family: info.family, provider: info.provider, fallbacks: info.fallbacks, scheduler: info.scheduler, loadMs: info.loadMs, ...(info.deviceId !== undefined ? { deviceId: info.deviceId } : {}) };
    this.deps.onModelLoaded?.(this.loaded);
    return this.loaded;
  }

  run<T>(request: JobRequest, target: GenerationTarget<T>, hooks: RunHooks = {}): Promise<GenerationResult<T>> {
    return request.kind === 'upscale' ? this.upscale(request, target, hooks) : this.generate(request, target, hooks);
  }

  /**
   * Loads the entry unless the engine already holds that folder with these LoRAs on the chosen GPU
   * (the provider applies to a new load; a GPU-index change in settings moves the model to that GPU).
   */
  private async ensureModel(entry: ModelEntry, provider: ProviderChoiceName | undefined, loras?: EngineLoraLoad) {
    const held = this.deps.engine.loadedModel;
    const gpuMoved = held?.deviceId !== undefined && held.deviceId !== (this.deps.settings().gpuDeviceId ?? 0);
    if (!held || held.folder !== entry.folder || !sameLoras(this.heldLoras, loras) || gpuMoved) await this.loadModel(entry, provider ?? this.deps.settings().provider, loras);
    return this.deps.engine.loadedModel!;
  }

  private async generate<T>(request: Extract<JobRequest, { kind: 'generate' }>, target: GenerationTarget<T>, hooks: RunHooks): Promise<GenerationResult<T>> {
    // Before any await: an executor hands results back in the order jobs started.
    const executor = this.deps.executor;
    // Runs outside the queue (a studio reproduction) still need an id of their own on the executor.
    const job: ExecutorJob = { id: hooks.job?.id ?? `direct-${randomUUID()}`, ...(hooks.job?.projectId ? { projectId: hooks.job.projectId } : {}), interactive: !request.params.source };
    const ticket = executor?.admit(job);
    try {
      return await this.generateWith(request, target, hooks, executor && ticket ? { executor, ticket, job } : null);
    } finally {
      ticket?.settle();
    }
  }

  private async generateWith<T>(request: Extract<JobRequest, { kind: 'generate' }>, target: GenerationTarget<T>, hooks: RunHooks, remote: { executor: GenerationExecutor; ticket: ExecutorTicket; job: ExecutorJob } | null): Promise<GenerationResult<T>> {
    // 1. Model and inputs (with an executor the model is loaded where the diffusion runs, not here).
    const params = { ...request.params, seed: drawSeed(request.params.seed) };
    const entry = request.model ?? (await this.deps.models.resolve(params.modelId ?? this.deps.settings().defaultModelId));
    // `<lora:name:w>` tags: merged into the model at load; the text encoder sees the prompt without them.
    const loras = await resolvePromptLoras(params.prompt, this.deps.settings().modelsDir, params.loraHashes);
    // ControlNet units: installed names → graphs, control images decoded and kept with the project (before any model load).
    const control = await resolveControlNets(params.controlNets, this.deps.settings().modelsDir, {
      imageFile: (id) => target.imageFile(id),
      ...(target.storeControlImage ? { storeControlImage: (bytes: Buffer) => target.storeControlImage!(bytes) } : {}),
      ...(target.controlImageFile ? { controlImageFile: (ref: string) => target.controlImageFile!(ref) } : {}),
    });
    const loaded = remote ? null : await this.ensureModel(entry, request.provider, loras.load);
    const inputs = { ...applyOutpaint(params, await this.resolveInputs(params, target, request.inputRefs), params.seed, entry.sizeMultiple), ...(control.units ? { controlNets: control.units, annotatorsDir: control.annotatorsDir } : {}) };
    // Cancelled while the model loaded or the inputs decoded: stop before any UNet work.
    if (hooks.isCancelled?.()) throw new CancelledError(0);

    // 2. Plan and denoise.
    const plan: GenerationPlan = planBatchMember(planGeneration({ ...params, prompt: loras.prompt }, params.seed, inputs), request.batchMember);
    let outcome: GenerateOutcome;
    let engineModel: { family: string; fallbacks: LoadedModelInfo['fallbacks']; loras?: LoadedLora[] };
    if (remote) {
      const task: ExecutorTask = {
        job: remote.job,
        model: { id: entry.id, name: entry.name, hash: this.deps.models.fingerprint(entry.folder) },
        pipeline: plan.pipeline,
        ...(request.provider ? { provider: request.provider } : {}),
        lowMemory: this.deps.settings().lowMemory,
        ...(hooks.previewEvery ? { previewEvery: hooks.previewEvery } : {}),
        ...(loras.load ? { loras: loras.load } : {}),
        ...(control.records.length ? { controlNets: control.records.map((r) => ({ name: r.model, hash: r.modelHash })) } : {}),
      };
      const result = await executeTask(remote.executor, remote.ticket, task, { isCancelled: hooks.isCancelled, onProgress: hooks.onProgress, onPreview: hooks.onPreview });
      outcome = result.outcome;
      engineModel = { family: result.family, fallbacks: result.fallbacks, loras: result.loras };
    } else {
      await hooks.beforeDiffusion?.(entry, loaded!.family);
      outcome = await this.deps.engine.generate(plan.pipeline, hooks.previewEvery ?? 0, {
        onProgress: (p) => hooks.onProgress?.(p.step, p.total, p.elapsedMs, 'denoise'),
        onPreview: (p) => hooks.onPreview?.(p),
      });
      engineModel = loaded!;
    }

    // 3. Optional upscale of every result, then save each with its record.
    const images = params.upscale ? await this.upscaleResults(outcome.images, params.upscale, params.upscaler, outcome.timings, hooks, request.provider) : outcome.images;
    const loraHashes = loras.load ? loraHashesOf(remote ? engineModel.loras : this.deps.engine.loadedModel?.loras) : [];
    // The GPU index is known for local sessions only (a farm worker's own settings choose its GPU).
    const deviceId = remote ? undefined : this.deps.engine.loadedModel?.deviceId;
    const record = { req: params, plan, inputs, outcome, model: { id: entry.id, hash: this.deps.models.fingerprint(entry.folder), family: engineModel.family }, appVersion: this.deps.appVersion, loraHashes, controlNets: control.records, ...(deviceId !== undefined ? { deviceId } : {}) };
    const saved: T[] = [];
    for (const [i, img] of images.entries()) saved.push(await target.save(img, generationRecord(record, img, request.batchMember?.index ?? i)));
    return {
      saved,
      provider: outcome.provider,
      timings: outcome.timings,
      images: images.map((img) => ({ seed: img.seed, width: img.width, height: img.height })),
      model: { id: entry.id, family: engineModel.family, fallbacks: engineModel.fallbacks },
      scheduler: formatSchedulerName(outcome.scheduler, plan.schedulerOptions),
      truncatedPrompt: outcome.truncatedPrompt,
    };
  }

  /** upscale jobs: a stored generation → a new, larger generation under it (no diffusion model needed). */
  private async upscale<T>(request: Extract<JobRequest, { kind: 'upscale' }>, target: GenerationTarget<T>, hooks: RunHooks): Promise<GenerationResult<T>> {
    const source = target.record(request.generationId);
    const file = source ? await target.imageFile(request.generationId) : null;
    if (!source || !file) throw new AtelierApiError('not_found', `upscaleImage: no generation ${request.generationId} in this project`);
    const image = await decodeRgb(file, 'generationId');
    if (hooks.isCancelled?.()) throw new CancelledError(0);
    const started = performance.now();
    const { images, ms, label, provider } = await upscaleInWorker(
      { images: [image], factor: request.factor, candidates: await this.deps.upscalers(), choice: request.upscaler, provider: this.deps.settings().provider, deviceId: this.deps.settings().gpuDeviceId },
      { isCancelled: hooks.isCancelled, onTile: (d, t) => hooks.onProgress?.(d, t, performance.now() - started, 'upscale') },
    );
    const big = images[0];
    const saved = await target.save(big, upscaledRecord(source, big, request.factor, provider, ms, this.deps.appVersion), upscaleNote(request.factor, label, source.id));
    return {
      saved: [saved],
      provider,
      timings: { upscaleMs: Math.round(ms) },
      images: [{ seed: source.seed, width: big.width, height: big.height }],
      model: { id: source.modelId, family: source.modelFamily, fallbacks: [] },
      scheduler: source.scheduler,
      truncatedPrompt: false,
    };
  }

  /** `upscale: 2 | 4` on a generate request: every result is upscaled before it is saved. */
  private async upscaleResults(images: GeneratedImage[], factor: UpscaleFactor, choice: string | undefined, timings: Record<string, number>, hooks: RunHooks, provider: string | undefined): Promise<GeneratedImage[]> {
    const started = performance.now();
    const out = await upscaleInWorker(
      { images, factor, candidates: await this.deps.upscalers(), choice, provider: parseProviderChoice(provider ?? this.deps.settings().provider), deviceId: this.deps.settings().gpuDeviceId },
      { isCancelled: hooks.isCancelled, onTile: (d, t) => hooks.onProgress?.(d, t, performance.now() - started, 'upscale') },
    );
    timings.upscaleMs = Math.round(out.ms);
    timings.upscaleFactor = factor;
    return images.map((img, i) => ({ ...img, width: out.images[i].width, height: out.images[i].height, rgb: out.images[i].rgb }));
  }

  /** The request's init image (a stored generation or bytes) and mask, decoded, with their provenance. */
  private async resolveInputs<T>(req: GenerateParams, target: GenerationTarget<T>, refs: { init?: string; mask?: string } = {}): Promise<ImageInputs> {
    let initImage: RgbImage | null = null;
    let initRef: string | null = null;
    let initGenerationId: string | null = null;
    if (req.initImage && 'generationId' in req.initImage) {
      const file = await target.imageFile(req.initImage.generationId);
      if (!file) throw new AtelierApiError('not_found', `initImage: no generation ${req.initImage.generationId} in this project`);
      initImage = await decodeRgb(file);
      initRef = initGenerationId = req.initImage.generationId;
    } else if (req.initImage) {
      const bytes = Buffer.from(req.initImage.base64, 'base64');
      initImage = await decodeRgb(bytes, refs.init ? '--init' : 'initImage');
      initRef = refs.init ?? `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
    }
    const mask: MaskImage | null = req.mask ? await decodeMask(Buffer.from(req.mask.base64, 'base64'), refs.mask ? '--mask' : 'mask') : null;
    const maskRef = mask ? (refs.mask ?? `sha256:${createHash('sha256').update(req.mask!.base64).digest('hex')}`) : null;
    return { initImage, initRef, initGenerationId, mask, maskRef };
  }
}
