/**
 * The generation queue: one job runs at a time (the engine owns one model and the cores), the rest
 * wait in order. Cancelling a queued job removes it; cancelling the running one asks the engine to
 * stop before its next UNet call. Waiting jobs can be reordered (moveJob). Every transition is
 * published as an AtelierEvent.
 *
 * Memory is bounded: at most MAX_WAITING_JOBS wait (and their inline images at most
 * MAX_WAITING_INLINE_BYTES), enqueue refuses more with a `busy` error; what the queue lists is a
 * summary without inline (base64) init images and masks, and a finished job keeps only that summary.
 */
import { AtelierApiError, type ApiErrorShape, type AtelierEvent, type GenerationRecord, type JobState, type JobSummary } from '../../common/api/contract';
import type { GenerateParams, UpscaleImageParams } from '../../common/api/schemas';
import type { JobJournal, JournalEntry } from './job-journal';

/** The project a job saves into (the one it was submitted from); released when the job ends. */
export interface JobProject {
  id: string;
  name: string;
  release(): void;
}

export interface EnqueueOptions {
  upscale?: UpscaleImageParams;
  project?: JobProject;
}

export interface JobContext {
  jobId: string;
  /** The project the job was submitted from (absent only for queues without projects, e.g. unit tests). */
  projectId?: string;
  request: GenerateParams;
  /** Set for upscaleImage jobs (the runner upscales instead of generating). */
  upscale?: UpscaleImageParams;
  /** True once the user cancelled this job; runners check it before starting engine work. */
  isCancelled(): boolean;
  progress(step: number, total: number, elapsedMs: number): void;
  emit(event: AtelierEvent): void;
}

export interface JobRunResult {
  generations: GenerationRecord[];
  provider: string;
  timings: Record<string, number>;
}

export interface JobRunner {
  run(ctx: JobContext): Promise<JobRunResult>;
  /** Stops a running job (with concurrency 1 there is only one; the render farm names which). */
  cancelRunning(jobId: string): void;
}

interface Job extends JobSummary {
  startedAt?: number;
  cancelRequested?: boolean;
  release?: () => void;
  /** The request as submitted, inline images included: kept only until the job ends. */
  input?: GenerateParams;
  /** Base64 characters of the inline images in `input` (counted against MAX_WAITING_INLINE_BYTES). */
  inlineChars: number;
}

const KEEP_FINISHED = 200;
/** How many jobs may wait behind the running one; enqueue refuses more with a `busy` error. */
export const MAX_WAITING_JOBS = 100;
/**
 * How many bytes of inline (base64) init images and masks the waiting jobs may hold together: a
 * couple of the largest requests the schema accepts, or some 25 jobs with 20 MB images.
 */
export const MAX_WAITING_INLINE_BYTES = 512 * 1024 * 1024;
/** How long cancelAll (shutdown) waits for the running job to stop before it gives up waiting. */
export const CANCEL_ALL_TIMEOUT_MS = 60_000;

export interface JobQueueLimits {
  maxWaiting?: number;
  maxWaitingInlineBytes?: number;
  /** Where queued jobs are written so a restart can offer them again (main/app/job-journal.ts). */
  journal?: JobJournal;
  /** Jobs run at once (default 1: the local engine holds one model and the cores; the render farm spreads them). */
  concurrency?: number;
}

/**
 * What a job lists as: the request without inline (base64) init image and mask — those can be tens
 * of megabytes, and a client already has them or can fetch the result — plus how big they were.
 * A generationId init image is a reference and stays.
 */
export function summarizeRequest(request: GenerateParams): { request: GenerateParams; omittedInputs?: JobSummary['omittedInputs'] } {
  const inlineInit = request.initImage && 'base64' in request.initImage ? request.initImage.base64 : null;
  const inlineMask = request.mask?.base64 ?? null;
  if (inlineInit === null && inlineMask === null) return { request };
  const { initImage, mask, ...rest } = request;
  const omittedInputs: NonNullable<JobSummary['omittedInputs']> = {};
  if (inlineInit !== null) omittedInputs.initImage = { bytes: base64Bytes(inlineInit) };
  if (inlineMask !== null) omittedInputs.mask = { bytes: base64Bytes(inlineMask) };
  return {
    request: { ...rest, ...(initImage && inlineInit === null ? { initImage } : {}), ...(mask && inlineMask === null ? { mask } : {}) },
    omittedInputs,
  };
}

/** Decoded size of a base64 string (without decoding it). */
function base64Bytes(b64: string): number {
  const padding = b64.endsWith('==') ? 2 : b64.endsWith('=') ? 1 : 0;
  return Math.max(0, Math.floor((b64.length * 3) / 4) - padding);
}

function inlineChars(request: GenerateParams): number {
  const init = request.initImage && 'base64' in request.initImage ? request.initImage.base64.length : 0;
  return init + (request.mask?.base64.length ?? 0);
}

export class JobQueue {
  private readonly jobs = new Map<string, Job>();
  private readonly waiting: string[] = [];
  /** Running job ids: at most `concurrency` (1 = the local engine; the render farm runs many). */
  private readonly running = new Set<string>();
  private readonly concurrency: number;
  private counter = 0;
  private idleWaiters: (() => void)[] = [];

  private readonly maxWaiting: number;
  private readonly maxWaitingInlineBytes: number;
  private readonly journal: JobJournal | undefined;
  private keepJournal = false;
  /** Inline image characters held by queued (not yet running) jobs. */
  private waitingInlineChars = 0;

  constructor(
    private readonly runner: JobRunner,
    private readonly emit: (event: AtelierEvent) => void,
    private readonly toError: (err: unknown) => ApiErrorShape,
    limits: JobQueueLimits = {},
  ) {
    this.maxWaiting = limits.maxWaiting ?? MAX_WAITING_JOBS;
    this.maxWaitingInlineBytes = limits.maxWaitingInlineBytes ?? MAX_WAITING_INLINE_BYTES;
    this.journal = limits.journal;
    this.concurrency = Math.max(1, limits.concurrency ?? 1);
  }

  /**
   * Jobs a previous run left queued or running (its journal): listed as `interrupted`, with their
   * full request kept for retryJob. Their journal entries stay until they are retried.
   */
  restoreInterrupted(entries: JournalEntry[]): void {
    for (const e of entries) {
      const summary = summarizeRequest(e.request);
      this.jobs.set(e.jobId, {
        jobId: e.jobId,
        state: 'interrupted',
        request: summary.request,
        ...(summary.omittedInputs ? { omittedInputs: summary.omittedInputs } : {}),
        ...(e.upscale ? { upscale: e.upscale } : {}),
        ...(e.projectId ? { projectId: e.projectId, projectName: e.projectName } : {}),
        step: 0,
        total: e.upscale ? 1 : e.request.steps,
        generationIds: [],
        error: { code: 'internal', message: 'Interrupted: Atelier stopped while this job was queued or running. Retry runs it again with the same parameters and seed.' },
        input: e.request,
        inlineChars: 0,
      });
    }
  }

  /** What retryJob needs of an interrupted job: its full request, upscale and project; null otherwise. */
  interrupted(jobId: string): { request: GenerateParams; upscale?: UpscaleImageParams; projectId?: string } | null {
    const job = this.jobs.get(jobId);
    if (!job || job.state !== 'interrupted' || !job.input) return null;
    return { request: job.input, ...(job.upscale ? { upscale: job.upscale } : {}), ...(job.projectId ? { projectId: job.projectId } : {}) };
  }

  /** Forgets an interrupted job once it has been queued again (its new job journals itself). */
  dismissInterrupted(jobId: string): void {
    const job = this.jobs.get(jobId);
    if (!job || job.state !== 'interrupted') return;
    this.jobs.delete(jobId);
    this.journal?.remove(jobId);
  }

  /**
   * Queues a job and returns its id. Throws AtelierApiError('busy') when the queue is full — before
   * taking `opts.project`, so the caller still holds (and releases) it.
   */
  enqueue(request: GenerateParams, opts: EnqueueOptions = {}): string {
    const { upscale, project } = opts;
    if (this.waiting.length >= this.maxWaiting) {
      throw new AtelierApiError('busy', `The queue is full: ${this.waiting.length} jobs are waiting (at most ${this.maxWaiting}). Wait for some to finish or cancel some, then queue again.`);
    }
    const chars = inlineChars(request);
    if (chars > 0 && this.waitingInlineChars + chars > this.maxWaitingInlineBytes) {
      const mb = (n: number) => `${Math.round(n / 1e6)} MB`;
      throw new AtelierApiError(
        'busy',
        `The queue is full: waiting jobs already hold ${mb(this.waitingInlineChars)} of init images and masks (at most ${mb(this.maxWaitingInlineBytes)}), and this job adds ${mb(chars)}. Wait for some to finish, or use images from the library (initImage.generationId).`,
      );
    }
    const jobId = `job-${Date.now().toString(36)}-${(++this.counter).toString(36)}`;
    const where = project ? { projectId: project.id, projectName: project.name } : {};
    const summary = summarizeRequest(request);
    // An upscale job's progress counts tiles; its total is known once it runs.
    this.jobs.set(jobId, {
      jobId,
      state: 'queued',
      request: summary.request,
      ...(summary.omittedInputs ? { omittedInputs: summary.omittedInputs } : {}),
      ...(upscale ? { upscale } : {}),
      ...where,
      step: 0,
      total: upscale ? 1 : request.steps,
      generationIds: [],
      release: project?.release,
      input: request,
      inlineChars: chars,
    });
    this.waitingInlineChars += chars;
    // Written before the caller hears of the job: a crash from here on leaves it to retry.
    this.journal?.record({ jobId, request, ...(upscale ? { upscale } : {}), ...where, queuedAt: Date.now() });
    this.waiting.push(jobId);
    this.emit({ type: 'job:queued', jobId, position: this.waiting.length - 1 + this.running.size, ...where });
    queueMicrotask(() => this.pump());
    return jobId;
  }

  /** Oldest first; the waiting jobs last, in the order they will run (a reload shows moves). */
  list(): JobSummary[] {
    const waiting = new Set(this.waiting);
    const ordered = [...[...this.jobs.values()].filter((j) => !waiting.has(j.jobId)), ...this.waiting.map((id) => this.jobs.get(id)!)];
    return ordered.map(toSummary);
  }

  get(jobId: string): JobSummary | undefined {
    const job = this.jobs.get(jobId);
    return job && toSummary(job);
  }

  cancel(jobId: string): boolean {
    const job = this.jobs.get(jobId);
    if (!job) return false;
    if (job.state === 'queued') {
      this.waiting.splice(this.waiting.indexOf(jobId), 1);
      this.waitingInlineChars -= job.inlineChars;
      this.finish(job, 'cancelled');
      this.emit({ type: 'job:cancelled', jobId });
      return true;
    }
    if (job.state === 'running') {
      job.cancelRequested = true;
      this.runner.cancelRunning(jobId);
      return true;
    }
    return false;
  }

  /**
   * Moves a waiting job to `position` among the waiting jobs (0 = runs next; clamped to the end).
   * Only queued jobs move: the running one already holds the engine, finished ones are history.
   * Every waiting job's new place is re-announced as `job:queued`, so all clients re-sort alike.
   */
  move(jobId: string, position: number): boolean {
    const from = this.waiting.indexOf(jobId);
    if (from < 0) return false;
    const to = Math.max(0, Math.min(this.waiting.length - 1, Math.trunc(position)));
    this.waiting.splice(from, 1);
    this.waiting.splice(to, 0, jobId);
    const ahead = this.running.size;
    this.waiting.forEach((id, i) => this.emit({ type: 'job:queued', jobId: id, position: i + ahead }));
    return true;
  }

  /** Waiting job ids in the order they will run. */
  waitingOrder(): string[] {
    return [...this.waiting];
  }

  /**
   * Cancels everything (shutdown). Resolves when nothing runs any more, or after `timeoutMs` at the
   * latest (a job stuck outside the engine's reach, e.g. loading a large model): the result says
   * which, and shutdown goes on either way.
   */
  async cancelAll(timeoutMs = CANCEL_ALL_TIMEOUT_MS, opts: { keepJournal?: boolean } = {}): Promise<boolean> {
    // Shutting down: the jobs stay journalled, so the next start offers them as `interrupted`.
    if (opts.keepJournal) this.keepJournal = true;
    for (const id of [...this.waiting]) this.cancel(id);
    for (const id of [...this.running]) this.cancel(id);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const stopped = await Promise.race([
      this.idle().then(() => true),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(false), timeoutMs);
        timer.unref?.();
      }),
    ]);
    clearTimeout(timer);
    return stopped;
  }

  idle(): Promise<void> {
    if (this.running.size === 0 && this.waiting.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private finish(job: Job, state: JobState): void {
    job.state = state;
    if (!this.keepJournal) this.journal?.remove(job.jobId);
    job.release?.();
    delete job.release;
    // Only the summary outlives the job: inline images would pin megabytes per finished job.
    delete job.input;
    // Bound memory: forget the oldest finished jobs.
    if (this.jobs.size > KEEP_FINISHED) {
      for (const [id, j] of this.jobs) {
        if (this.jobs.size <= KEEP_FINISHED) break;
        if (j.state !== 'queued' && j.state !== 'running') this.jobs.delete(id);
      }
    }
  }

  private pump(): void {
    // Started in queue order, synchronously: the render farm saves results in this order.
    while (this.running.size < this.concurrency && this.waiting.length > 0) void this.start(this.waiting.shift()!);
    if (this.running.size === 0 && this.waiting.length === 0) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      waiters.forEach((w) => w());
    }
  }

  private async start(jobId: string): Promise<void> {
    const job = this.jobs.get(jobId)!;
    this.running.add(jobId);
    this.waitingInlineChars -= job.inlineChars;
    job.state = 'running';
    job.startedAt = Date.now();
    const request = job.input ?? job.request;
    try {
      const result = await this.runner.run({
        jobId,
        ...(job.projectId ? { projectId: job.projectId } : {}),
        request,
        ...(job.upscale ? { upscale: job.upscale } : {}),
        isCancelled: () => job.cancelRequested === true,
        emit: this.emit,
        progress: (step, total, elapsedMs) => {
          job.step = step;
          job.total = total;
          const etaMs = step > 0 ? (elapsedMs / step) * (total - step) : 0;
          this.emit({ type: 'job:progress', jobId, step, total, elapsedMs, etaMs });
        },
      });
      job.generationIds = result.generations.map((g) => g.id);
      this.finish(job, 'done');
      this.emit({ type: 'job:done', jobId, generations: result.generations, provider: result.provider, timings: result.timings, ...(job.projectId ? { projectId: job.projectId } : {}) });
    } catch (err) {
      const error = this.toError(err);
      if (error.code === 'cancelled') {
        this.finish(job, 'cancelled');
        this.emit({ type: 'job:cancelled', jobId });
      } else {
        job.error = error;
        this.finish(job, 'failed');
        this.emit({ type: 'job:failed', jobId, error });
      }
    } finally {
      this.running.delete(jobId);
      this.pump();
    }
  }
}

function toSummary(job: Job): JobSummary {
  const { startedAt: _s, cancelRequested: _c, release: _r, input: _i, inlineChars: _n, ...summary } = job;
  return { ...summary };
}
