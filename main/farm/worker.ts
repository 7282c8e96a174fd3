/**
 * `atelier worker --farm`: one GPU (or CPU) machine of the render farm. It announces itself (name,
 * providers, free memory, models by content hash), listens on the BullMQ queue of every model it
 * holds, runs each task on its own engine process (the same EngineHost the studio uses), reports
 * progress, and returns the pixels as the job's result. It never writes a library: the coordinator
 * saves, so every image gets the studio's record, C2PA manifest and infotext.
 *
 * One job at a time per machine: a job that arrives on a second model queue while one runs is
 * handed straight back (moved to delayed for a moment) for another machine to take. So is a job the
 * engine host's memory guard says does not fit this machine's free memory; the worker notes why in
 * Redis (refusedKey), so the coordinator can tell "no worker has enough memory" apart from waiting.
 *
 * A result larger than Redis should carry (REDIS_RESULT_MAX_CHARS) is uploaded to the coordinator
 * over HTTP with the farm token (result-upload.ts); only a reference goes back through BullMQ.
 */
import { randomBytes } from 'node:crypto';
import { freemem, hostname, totalmem } from 'node:os';
import { DelayedError, UnrecoverableError, Worker, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import { annotatorsDirOf, openControlNetStore } from '../app/controlnet-resolve';
import { loraCacheDir } from '../app/lora-resolve';
import { engineMemoryCapBytes, engineMemoryCapLabel, type Runtime } from '../app/runtime';
import { LoraStore } from '../models/lora-store';
import { listExecutionProviders, parseProviderChoice } from '../engine';
import { checkGenerationMemory, MemoryLimitError, sameLoras, type EngineLoraLoad, type GenerateOutcome, type LoadedInfo, type PipelineRequest } from '../engine-host';
import { CANCEL_CHANNEL, COORDINATOR_KEY, decodePipeline, encodeOutcome, FARM_PREFIX, HEARTBEAT_MS, MAX_UPLOAD_BYTES, queueNameFor, REDIS_RESULT_MAX_CHARS, refusedKey, shrinkPreview, type FarmCoordinatorEndpoint, type FarmModelRef, type FarmProgress, type FarmRefusal, type FarmResultRef, type FarmTaskData, type FarmTaskResult, type FarmWorkerInfo } from './protocol';
import { bullConnection, checkReachable, type FarmRedis } from './redis-url';
import { closeWithin } from './coordinator';
import { FarmUploadError, uploadResult } from './result-upload';
import { announceWorker, withdrawWorker } from './worker-registry';

export interface FarmWorkerOptions {
  farm: FarmRedis;
  runtime: Runtime;
  /** Shown in the studio's Farm panel; default hostname-pid. */
  name?: string;
  /** Execution provider for this machine (default: the worker's settings, normally auto). */
  provider?: string;
  /**
   * How long a job stays locked without the worker renewing it (BullMQ lockDuration), and how often
   * workers look for jobs whose lock ran out (stalledInterval): together the bound on how long a
   * killed worker's job waits before another machine takes it. Defaults 30 s / 15 s.
   */
  lockDurationMs?: number;
  stalledIntervalMs?: number;
  /** Results above this many characters go over HTTP to the coordinator (default REDIS_RESULT_MAX_CHARS; 0: all). */
  redisResultMaxChars?: number;
  /** The coordinator's URL and farm token for uploads; default: what the coordinator publishes in Redis. */
  coordinatorUrl?: string;
  farmToken?: string;
  /** The free-memory figure to announce and fit jobs against, instead of the system's (tests, shared machines). */
  freeMemoryBytes?: number;
  log?: (msg: string) => void;
}

/** Writes one progress report into the job (a failed write is dropped: progress is best-effort). */
type ProgressReport = (p: Omit<FarmProgress, 'worker'>) => Promise<unknown>;

/** A job left for another worker: moved back to delayed for this long (then any worker may take it). */
const LEAVE_FOR_MS = 1000;

/** Errors that would fail the same way on every machine: no retry. */
const DETERMINISTIC = new Set(['PipelineInputError', 'PromptSyntaxError', 'ModelLoadError', 'SessionCreateError', 'MemoryLimitError', 'CancelledError']);

export class FarmWorker {
  readonly name: string;
  private readonly workers: Worker[] = [];
  private models: FarmModelRef[] = [];
  private readonly folders = new Map<string, string>();
  /** LoRA files in this machine's models folder, by addnet hash (what jobs name them by). */
  private readonly loraFiles = new Map<string, { name: string; file: string }>();
  /** The BullMQ id of the running job (what a cancel names). */
  private bullId: string | null = null;
  /** ControlNet graphs this machine holds (its models folder and the bundled ones), by sha256. */
  private readonly controlNetFiles = new Map<string, { name: string; file: string }>();
  /** The LoRAs merged into the engine's model by the last load. */
  private heldLoras: EngineLoraLoad | undefined;
  private busy = false;
  private jobId: string | null = null;
  /** Jobs this worker left for lack of memory (their refusedKey), so each is logged and cleared once. */
  private readonly refusedJobs = new Set<string>();
  private jobsDone = 0;
  private itPerSec = 0;
  private readonly startedAt = Date.now();
  private heartbeat: ReturnType<typeof setInterval> | null = null;
  private readonly provider: string;
  private readonly log: (msg: string) => void;

  private constructor(
    private readonly opts: FarmWorkerOptions,
    private readonly redis: Redis,
    private readonly subscriber: Redis,
  ) {
    this.name = opts.name ?? `${hostname()}-${process.pid}`;
    this.provider = parseProviderChoice(opts.provider ?? opts.runtime.settings.get().provider);
    this.log = opts.log ?? ((m) => console.error(m));
  }

  static async start(opts: FarmWorkerOptions): Promise<FarmWorker> {
    if (opts.name !== undefined && !/^[A-Za-z0-9._-]{1,64}$/.test(opts.name)) throw new Error(`--name must be 1-64 letters, digits, dots, dashes or underscores, got "${opts.name}"`);
    await checkReachable(opts.farm);
    const redis = new Redis({ ...opts.farm.options, connectionName: 'atelier-worker' });
    const subscriber = new Redis({ ...opts.farm.options, connectionName: 'atelier-worker-cancel' });
    for (const r of [redis, subscriber]) r.on('error', () => undefined); // they reconnect by themselves
    const worker = new FarmWorker(opts, redis, subscriber);
    await worker.begin();
    return worker;
  }

  private async begin(): Promise<void> {
    const { runtime } = this.opts;
    for (const entry of await runtime.models.list()) {
      const hash = runtime.models.fingerprint(entry.folder);
      if (this.folders.has(hash)) continue;
      this.folders.set(hash, entry.folder);
      this.models.push({ id: entry.id, name: entry.name, hash });
    }
    if (this.models.length === 0) throw new Error('This worker has no models: install one (atelier models pull …) or pass --models DIR');
    const { loras, problems } = await new LoraStore(runtime.settings.get().modelsDir).list();
    for (const l of loras) if (!this.loraFiles.has(l.hash)) this.loraFiles.set(l.hash, { name: l.name, file: l.file });
    for (const p of problems) this.log(`farm worker: LoRA skipped: ${p}`);
    const cn = await openControlNetStore(runtime.settings.get().modelsDir).list();
    for (const c of cn.controlNets) if (!this.controlNetFiles.has(c.hash)) this.controlNetFiles.set(c.hash, { name: c.name, file: c.file });
    for (const p of cn.problems) this.log(`farm worker: ControlNet skipped: ${p}`);
    await this.subscriber.subscribe(CANCEL_CHANNEL);
    this.subscriber.on('message', (_channel, jobId: string) => {
      // The coordinator names the BullMQ job (a split batch's run is `<job>.<first image>`).
      if (jobId === this.bullId) runtime.engine.cancelCurrent();
    });
    await this.announce();
    this.heartbeat = setInterval(() => void this.announce().catch(() => undefined), HEARTBEAT_MS);
    const lockDuration = this.opts.lockDurationMs ?? 30_000;
    for (const model of this.models) {
      const w = new Worker<FarmTaskData, FarmTaskResult | FarmResultRef>(queueNameFor(model.hash), (job, token) => this.process(job, token), {
        connection: bullConnection(this.opts.farm),
        prefix: FARM_PREFIX,
        concurrency: 1,
        lockDuration,
        stalledInterval: this.opts.stalledIntervalMs ?? Math.max(1000, Math.floor(lockDuration / 2)),
        // A job whose worker died twice is failed rather than passed around forever.
        maxStalledCount: 2,
        // Kept until the coordinator has read them; it removes them (coordinator.ts finish()).
        removeOnComplete: { age: 24 * 3600 },
        removeOnFail: { age: 7 * 24 * 3600 },
      });
      w.on('error', (err) => this.log(`farm worker ${this.name}: ${err.message}`));
      this.workers.push(w);
    }
    this.log(`Farm worker ${this.name} serving ${this.models.map((m) => m.id).join(', ')} (provider ${this.provider})`);
  }

  info(): FarmWorkerInfo {
    let providers: string[] = [];
    try {
      providers = listExecutionProviders().map((p) => p.name);
    } catch {
      providers = ['cpu'];
    }
    return {
      name: this.name,
      providers,
      provider: this.provider,
      freeMemoryBytes: this.freeMemory(),
      totalMemoryBytes: totalmem(),
      models: this.models,
      loras: [...this.loraFiles].map(([hash, l]) => ({ name: l.name, hash })),
      controlNets: [...this.controlNetFiles].map(([hash, c]) => ({ name: c.name, hash })),
      busy: this.busy,
      jobId: this.jobId,
      jobsDone: this.jobsDone,
      itPerSec: this.itPerSec,
      startedAt: this.startedAt,
      seenAt: Date.now(),
    };
  }

  private announce(): Promise<void> {
    return announceWorker(this.redis, this.info());
  }

  private freeMemory(): number {
    return this.opts.freeMemoryBytes ?? freemem();
  }

  /**
   * The engine host's memory guard, asked before the job is taken: null when it fits this machine
   * (its free memory plus what the engine already holds, within the engine's cap), else why not.
   */
  private memoryRefusal(folder: string, pipeline: PipelineRequest, lowMemory: boolean): string | null {
    const { engine, settings } = this.opts.runtime;
    const s = settings.get();
    const p = pipeline.params;
    try {
      checkGenerationMemory(folder, { width: p.width, height: p.height, batchSize: p.batchSize, guidanceScale: p.guidanceScale, initImage: pipeline.mode === 'txt2img' ? undefined : true }, {
        lowMemory,
        loaded: engine.loadedModel,
        engineRss: engine.engineRss,
        capBytes: engineMemoryCapBytes(s),
        capLabel: engineMemoryCapLabel(s),
        availableBytes: this.freeMemory(),
      });
      return null;
    } catch (err) {
      if (err instanceof MemoryLimitError) return err.message;
      throw err;
    }
  }

  /** The job's LoRAs as this machine's files (all held: process() checked). */
  private loraLoad(data: FarmTaskData): EngineLoraLoad | undefined {
    if (!data.loras?.length) return undefined;
    const specs = data.loras.map((l) => ({ path: this.loraFiles.get(l.hash)!.file, weight: l.weight, ...(l.unetWeight !== undefined ? { unetWeight: l.unetWeight } : {}) }));
    return { specs, cacheDir: loraCacheDir(this.opts.runtime.settings.get().modelsDir) };
  }

  /** The LoRA files or ControlNet graphs of the job this machine does not hold (null: it holds all). */
  private lacks(data: FarmTaskData): Pick<FarmRefusal, 'kind' | 'reason'> | null {
    const list = (refs: Array<{ name: string; hash: string }>) => refs.map((r) => `${r.name} (${r.hash.slice(0, 12)}…)`).join(', ');
    const loras = (data.loras ?? []).filter((l) => !this.loraFiles.has(l.hash));
    if (loras.length) return { kind: 'lora', reason: `it does not hold LoRA ${list(loras)}` };
    const controlNets = (data.controlNets ?? []).filter((c) => !this.controlNetFiles.has(c.hash));
    if (controlNets.length) return { kind: 'controlnet', reason: `it does not hold ControlNet ${list(controlNets)}` };
    return null;
  }

  /**
   * The coordinator's ControlNet units point at its own files: run this machine's copies (all held:
   * process() checked) and its own annotators folder.
   */
  private localControlNets(pipeline: PipelineRequest, data: FarmTaskData): PipelineRequest {
    const units = pipeline.params.controlNets;
    if (!units?.length) return pipeline;
    const refs = data.controlNets ?? [];
    if (refs.length !== units.length) throw new UnrecoverableError(`Error: the task names ${refs.length} ControlNet graphs for ${units.length} units`);
    const controlNets = units.map((u, i) => ({ ...u, model: this.controlNetFiles.get(refs[i].hash)!.file }));
    const annotatorsDir = annotatorsDirOf(this.opts.runtime.settings.get().modelsDir);
    return { ...pipeline, params: { ...pipeline.params, controlNets, annotatorsDir } } as PipelineRequest;
  }

  /** Gives the job back for another worker (a moment in delayed) without counting an attempt. */
  private async leave(job: Job, token: string | undefined, ms: number): Promise<never> {
    await job.moveToDelayed(Date.now() + ms, token);
    throw new DelayedError();
  }

  private async process(job: Job<FarmTaskData, FarmTaskResult | FarmResultRef>, token: string | undefined): Promise<FarmTaskResult | FarmResultRef> {
    // Another of this machine's model queues already runs a job: give this one back at once.
    if (this.busy) return this.leave(job, token, 200);
    const data = job.data;
    const folder = this.folders.get(data.model.hash);
    if (data.v !== 1 || !folder) throw new UnrecoverableError(`Error: worker ${this.name} cannot read this task (model ${data.model?.id ?? '?'}, version ${String(data.v)})`);
    const pipeline = decodePipeline(data.pipeline);
    const refused = this.lacks(data) ?? ((reason) => (reason ? { kind: 'memory' as const, reason } : null))(this.memoryRefusal(folder, pipeline, data.lowMemory));
    const refusals = refusedKey(job.id ?? data.jobId);
    if (refused) return this.leaveRefused(job, token, refusals, refused);
    // It fits now (memory was freed): the coordinator must not count an old refusal of ours.
    if (this.refusedJobs.delete(refusals)) void this.redis.hdel(refusals, this.name).catch(() => undefined);
    this.markRunning(job);
    try {
      return await this.runTask(job, folder, pipeline);
    } catch (err) {
      throw this.jobFailure(err, data.jobId);
    } finally {
      this.markIdle();
    }
  }

  /** Notes in Redis why this machine left the job (logged once per job), then gives it back for another worker. */
  private async leaveRefused(job: Job<FarmTaskData>, token: string | undefined, refusals: string, refused: Pick<FarmRefusal, 'kind' | 'reason'>): Promise<never> {
    const note: FarmRefusal = { worker: this.name, ...refused, at: Date.now() };
    await this.redis.multi().hset(refusals, this.name, JSON.stringify(note)).pexpire(refusals, 3600_000).exec().catch(() => undefined);
    // Said once per job: the job comes back every LEAVE_FOR_MS until some worker takes it.
    if (!this.refusedJobs.has(refusals)) this.log(`farm worker ${this.name}: leaves ${job.data.jobId} for another worker: ${refused.reason}`);
    if (this.refusedJobs.size > 1000) this.refusedJobs.clear();
    this.refusedJobs.add(refusals);
    return this.leave(job, token, LEAVE_FOR_MS);
  }

  /** Busy with this job from now on: what a cancel names, what the announcement shows. */
  private markRunning(job: Job<FarmTaskData>): void {
    const data = job.data;
    this.busy = true;
    this.jobId = data.jobId;
    this.bullId = job.id ?? data.jobId;
    this.log(`farm worker ${this.name}: running ${data.jobId} (${data.model.id}, attempt ${job.attemptsMade + 1})`);
    void this.announce().catch(() => undefined);
  }

  /** Free for the next job (whatever became of this one), announced at once. */
  private markIdle(): void {
    this.busy = false;
    this.jobId = null;
    this.bullId = null;
    void this.announce().catch(() => undefined);
  }

  /** Loads the model, generates with progress, and returns the result (or its upload's reference); counts the job. */
  private async runTask(job: Job<FarmTaskData>, folder: string, pipeline: PipelineRequest): Promise<FarmTaskResult | FarmResultRef> {
    const data = job.data;
    const report: ProgressReport = (p) => job.updateProgress({ worker: this.name, ...p } as unknown as number).catch(() => undefined);
    await report({ step: 0, total: 0, elapsedMs: 0 });
    const loaded = await this.ensureModel(folder, data);
    const outcome = await this.generateReporting(this.localControlNets(pipeline, data), data.previewEvery ?? 0, report);
    const result = encodeOutcome(this.name, loaded, outcome);
    const chars = result.images.reduce((n, img) => n + img.rgb.length, 0);
    const returned = chars > (this.opts.redisResultMaxChars ?? REDIS_RESULT_MAX_CHARS) ? await this.upload(job.id ?? data.jobId, result) : result;
    const denoiseMs = outcome.timings.denoiseMs ?? 0;
    this.itPerSec = denoiseMs > 0 ? Math.round((pipeline.params.steps / (denoiseMs / 1000)) * 100) / 100 : 0;
    this.jobsDone++;
    this.log(`farm worker ${this.name}: finished ${data.jobId} (${Math.round(outcome.timings.totalMs ?? 0)} ms in the engine)`);
    return returned;
  }

  /** Loaded again only for another model or another LoRA set (as GenerationService.ensureModel does). */
  private async ensureModel(folder: string, data: FarmTaskData): Promise<LoadedInfo> {
    const { engine } = this.opts.runtime;
    const loras = this.loraLoad(data);
    if (engine.loadedModel?.folder !== folder || !sameLoras(this.heldLoras, loras)) {
      this.heldLoras = undefined;
      await engine.load(folder, parseProviderChoice(data.provider ?? this.provider), data.lowMemory, loras);
      this.heldLoras = loras;
    }
    return engine.loadedModel!;
  }

  /**
   * Runs the pipeline on the engine and reports its progress: at most ~5 writes a second into Redis
   * (plus the last step); the newest preview rides along with the next one, so a preview never costs
   * a write of its own.
   */
  private generateReporting(pipeline: PipelineRequest, previewEvery: number, report: ProgressReport): Promise<GenerateOutcome> {
    let lastReport = 0;
    let progress: Omit<FarmProgress, 'worker' | 'preview'> = { step: 0, total: 0, elapsedMs: 0 };
    let preview: FarmProgress['preview'];
    const flush = (force: boolean) => {
      const now = Date.now();
      if (!force && now - lastReport < 200) return;
      lastReport = now;
      void report({ ...progress, ...(preview ? { preview } : {}) });
      preview = undefined;
    };
    return this.opts.runtime.engine.generate(pipeline, previewEvery, {
      onProgress: (p) => {
        progress = { step: p.step, total: p.total, elapsedMs: p.elapsedMs };
        flush(p.step >= p.total);
      },
      onPreview: (p) => {
        const small = shrinkPreview(p);
        preview = { step: p.step, width: small.width, height: small.height, rgb: Buffer.from(small.rgb.buffer, small.rgb.byteOffset, small.rgb.byteLength).toString('base64') };
        flush(false);
      },
    });
  }

  /**
   * The error a failed job ends with (logged here): one that would fail the same way on every machine
   * is unrecoverable, the rest are worth a retry. BullMQ's own signals pass through untouched.
   */
  private jobFailure(err: unknown, jobId: string): Error {
    if (err instanceof UnrecoverableError || err instanceof DelayedError) return err;
    // Another worker would upload to the same coordinator: only a transient failure is worth a retry.
    if (err instanceof FarmUploadError) {
      this.log(`farm worker ${this.name}: job ${jobId} failed: ${err.message}`);
      return err.retryable ? new Error(`FarmUploadError: ${err.message}`) : new UnrecoverableError(`FarmUploadError: ${err.message}`);
    }
    const e = err as Error;
    const reason = `${e?.name ?? 'Error'}: ${e?.message ?? String(err)}`;
    this.log(`farm worker ${this.name}: job ${jobId} failed: ${reason}`);
    return DETERMINISTIC.has(e?.name) ? new UnrecoverableError(reason) : new Error(reason);
  }

  /** Where uploads go: --coordinator-url / --farm-token, else what the coordinator published in Redis. */
  private async endpoint(): Promise<FarmCoordinatorEndpoint> {
    let published: Partial<FarmCoordinatorEndpoint> = {};
    if (!this.opts.coordinatorUrl || !this.opts.farmToken) {
      try {
        published = JSON.parse((await this.redis.get(COORDINATOR_KEY)) ?? '{}') as Partial<FarmCoordinatorEndpoint>;
      } catch {
        published = {};
      }
    }
    const url = this.opts.coordinatorUrl ?? published.url;
    const token = this.opts.farmToken ?? published.token;
    if (!url || !token) throw new FarmUploadError(`this result is too large for Redis and the coordinator has not published where to upload it (an older Atelier?); start this worker with --coordinator-url and --farm-token`, false);
    return { url, token };
  }

  /** Uploads the result to the coordinator; what goes back through Redis is only its reference. */
  private async upload(bullId: string, result: FarmTaskResult): Promise<FarmResultRef> {
    const body = Buffer.from(JSON.stringify(result));
    if (body.length > MAX_UPLOAD_BYTES) throw new FarmUploadError(`the result (${Math.round(body.length / 1e6)} MB) is larger than a farm result may be (${MAX_UPLOAD_BYTES / 1e6} MB); generate smaller images or smaller batches`, false);
    const id = `${bullId.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 120)}-${randomBytes(6).toString('hex')}`;
    const started = Date.now();
    const upload = await uploadResult(() => this.endpoint(), id, body, { log: (m) => this.log(`farm worker ${this.name}: ${m}`) });
    this.log(`farm worker ${this.name}: uploaded ${upload.bytes} bytes for ${bullId} to the coordinator in ${Date.now() - started} ms`);
    return { v: 1, worker: this.name, upload };
  }

  /** Stops taking jobs, lets the running one finish (or not, with force), withdraws the announcement. */
  async close(force = false): Promise<void> {
    if (this.heartbeat) clearInterval(this.heartbeat);
    // Bounded: a running job gets a while to finish, but only while Redis can still confirm it. An idle
    // worker has nothing to wait for (and a Redis that just went away may still read 'ready' here).
    const graceful = !force && this.busy && this.redis.status === 'ready';
    const closing = Promise.allSettled(this.workers.map((w) => w.close(!graceful)));
    const redisGone = new Promise<void>((gone) => this.redis.once('close', () => setTimeout(gone, 2000)));
    await closeWithin(graceful ? 30_000 : 2000, [Promise.race([closing, redisGone])]);
    if (this.redis.status === 'ready') await closeWithin(2000, [withdrawWorker(this.redis, this.name)]);
    for (const w of this.workers) void w.disconnect().catch(() => undefined);
    this.subscriber.disconnect();
    this.redis.disconnect();
  }
}
