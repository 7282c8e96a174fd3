/**
 * `atelier worker --farm`: one GPU (or CPU) machine of the render farm. It announces itself (name,
 * providers, free memory, models by content hash), listens on the BullMQ queue of every model it
 * holds, runs each task on its own engine process (the same EngineHost the studio uses), reports
 * progress, and returns the pixels as the job's result. It never writes a library: the coordinator
 * saves, so every image gets the studio's record, C2PA manifest and infotext.
 *
 * One job at a time per machine: a job that arrives on a second model queue while one runs is
 * handed straight back (moved to delayed for a moment) for another machine to take.
 */
import { freemem, hostname, totalmem } from 'node:os';
import { DelayedError, UnrecoverableError, Worker, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import type { Runtime } from '../app/runtime';
import { listExecutionProviders, parseProviderChoice } from '../engine';
import { CANCEL_CHANNEL, decodePipeline, encodeOutcome, FARM_PREFIX, HEARTBEAT_MS, MAX_RESULT_CHARS, queueNameFor, shrinkPreview, type FarmModelRef, type FarmProgress, type FarmTaskData, type FarmTaskResult, type FarmWorkerInfo } from './protocol';
import { bullConnection, checkReachable, type FarmRedis } from './redis-url';
import { closeWithin } from './coordinator';
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
  log?: (msg: string) => void;
}

/** Errors that would fail the same way on every machine: no retry. */
const DETERMINISTIC = new Set(['PipelineInputError', 'PromptSyntaxError', 'ModelLoadError', 'SessionCreateError', 'MemoryLimitError', 'CancelledError']);

export class FarmWorker {
  readonly name: string;
  private readonly workers: Worker[] = [];
  private models: FarmModelRef[] = [];
  private readonly folders = new Map<string, string>();
  private busy = false;
  private jobId: string | null = null;
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
    await this.subscriber.subscribe(CANCEL_CHANNEL);
    this.subscriber.on('message', (_channel, jobId: string) => {
      if (jobId === this.jobId) runtime.engine.cancelCurrent();
    });
    await this.announce();
    this.heartbeat = setInterval(() => void this.announce().catch(() => undefined), HEARTBEAT_MS);
    const lockDuration = this.opts.lockDurationMs ?? 30_000;
    for (const model of this.models) {
      const w = new Worker<FarmTaskData, FarmTaskResult>(queueNameFor(model.hash), (job, token) => this.process(job, token), {
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
      freeMemoryBytes: freemem(),
      totalMemoryBytes: totalmem(),
      models: this.models,
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

  private async process(job: Job<FarmTaskData, FarmTaskResult>, token: string | undefined): Promise<FarmTaskResult> {
    if (this.busy) {
      // Another of this machine's model queues already runs a job: give this one back at once.
      await job.moveToDelayed(Date.now() + 200, token);
      throw new DelayedError();
    }
    const data = job.data;
    const folder = this.folders.get(data.model.hash);
    if (data.v !== 1 || !folder) throw new UnrecoverableError(`Error: worker ${this.name} cannot read this task (model ${data.model?.id ?? '?'}, version ${String(data.v)})`);
    this.busy = true;
    this.jobId = data.jobId;
    this.log(`farm worker ${this.name}: running ${data.jobId} (${data.model.id}, attempt ${job.attemptsMade + 1})`);
    void this.announce().catch(() => undefined);
    const { engine } = this.opts.runtime;
    try {
      const report = (p: Omit<FarmProgress, 'worker'>) => job.updateProgress({ worker: this.name, ...p } as unknown as number).catch(() => undefined);
      await report({ step: 0, total: 0, elapsedMs: 0 });
      if (engine.loadedModel?.folder !== folder) await engine.load(folder, parseProviderChoice(data.provider ?? this.provider), data.lowMemory);
      const loaded = engine.loadedModel!;
      const pipeline = decodePipeline(data.pipeline);
      // At most ~5 writes a second into Redis (plus the last step); the newest preview rides along
      // with the next one, so a preview never costs a write of its own.
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
      const outcome = await engine.generate(pipeline, data.previewEvery ?? 0, {
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
      const result = encodeOutcome(this.name, loaded, outcome);
      const chars = result.images.reduce((n, img) => n + img.rgb.length, 0);
      if (chars > MAX_RESULT_CHARS) throw new UnrecoverableError(`Error: the result (${Math.round(chars / 1e6)} MB) is larger than a farm result may be (${MAX_RESULT_CHARS / 1e6} MB); generate smaller images or in smaller batches`);
      const denoiseMs = outcome.timings.denoiseMs ?? 0;
      this.itPerSec = denoiseMs > 0 ? Math.round((pipeline.params.steps / (denoiseMs / 1000)) * 100) / 100 : 0;
      this.jobsDone++;
      this.log(`farm worker ${this.name}: finished ${data.jobId} (${Math.round(outcome.timings.totalMs ?? 0)} ms in the engine)`);
      return result;
    } catch (err) {
      if (err instanceof UnrecoverableError || err instanceof DelayedError) throw err;
      const e = err as Error;
      const reason = `${e?.name ?? 'Error'}: ${e?.message ?? String(err)}`;
      this.log(`farm worker ${this.name}: job ${data.jobId} failed: ${reason}`);
      throw DETERMINISTIC.has(e?.name) ? new UnrecoverableError(reason) : new Error(reason);
    } finally {
      this.busy = false;
      this.jobId = null;
      void this.announce().catch(() => undefined);
    }
  }

  /** Stops taking jobs, lets the running one finish (or not, with force), withdraws the announcement. */
  async close(force = false): Promise<void> {
    if (this.heartbeat) clearInterval(this.heartbeat);
    // Bounded: the running job gets a while to finish; with Redis gone nothing would ever confirm it.
    const graceful = !force && this.redis.status === 'ready';
    await closeWithin(graceful ? 30_000 : 2000, this.workers.map((w) => w.close(!graceful)));
    if (this.redis.status === 'ready') await closeWithin(2000, [withdrawWorker(this.redis, this.name)]);
    for (const w of this.workers) void w.disconnect().catch(() => undefined);
    this.subscriber.disconnect();
    this.redis.disconnect();
  }
}
