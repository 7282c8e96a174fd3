/**
 * The generation queue: one job runs at a time (the engine owns one model and the cores), the rest
 * wait in order. Cancelling a queued job removes it; cancelling the running one asks the engine to
 * stop before its next UNet call. Waiting jobs can be reordered (moveJob). Every transition is
 * published as an AtelierEvent.
 */
import type { ApiErrorShape, AtelierEvent, GenerationRecord, JobState, JobSummary } from '../../common/api/contract';
import type { GenerateParams, UpscaleImageParams } from '../../common/api/schemas';

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
  cancelRunning(): void;
}

interface Job extends JobSummary {
  startedAt?: number;
  cancelRequested?: boolean;
  release?: () => void;
}

const KEEP_FINISHED = 200;

export class JobQueue {
  private readonly jobs = new Map<string, Job>();
  private readonly waiting: string[] = [];
  private running: string | null = null;
  private counter = 0;
  private idleWaiters: (() => void)[] = [];

  constructor(
    private readonly runner: JobRunner,
    private readonly emit: (event: AtelierEvent) => void,
    private readonly toError: (err: unknown) => ApiErrorShape,
  ) {}

  enqueue(request: GenerateParams, opts: EnqueueOptions = {}): string {
    const { upscale, project } = opts;
    const jobId = `job-${Date.now().toString(36)}-${(++this.counter).toString(36)}`;
    const where = project ? { projectId: project.id, projectName: project.name } : {};
    // An upscale job's progress counts tiles; its total is known once it runs.
    this.jobs.set(jobId, { jobId, state: 'queued', request, ...(upscale ? { upscale } : {}), ...where, step: 0, total: upscale ? 1 : request.steps, generationIds: [], release: project?.release });
    this.waiting.push(jobId);
    this.emit({ type: 'job:queued', jobId, position: this.waiting.length - 1 + (this.running ? 1 : 0), ...where });
    queueMicrotask(() => this.pump());
    return jobId;
  }

  /** Oldest first; the waiting jobs last, in the order they will run (a reload shows moves). */
  list(): JobSummary[] {
    const waiting = new Set(this.waiting);
    const ordered = [...[...this.jobs.values()].filter((j) => !waiting.has(j.jobId)), ...this.waiting.map((id) => this.jobs.get(id)!)];
    return ordered.map(({ startedAt: _s, cancelRequested: _c, release: _r, ...summary }) => ({ ...summary }));
  }

  get(jobId: string): JobSummary | undefined {
    return this.jobs.get(jobId);
  }

  cancel(jobId: string): boolean {
    const job = this.jobs.get(jobId);
    if (!job) return false;
    if (job.state === 'queued') {
      this.waiting.splice(this.waiting.indexOf(jobId), 1);
      this.finish(job, 'cancelled');
      this.emit({ type: 'job:cancelled', jobId });
      return true;
    }
    if (job.state === 'running') {
      job.cancelRequested = true;
      this.runner.cancelRunning();
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
    const ahead = this.running ? 1 : 0;
    this.waiting.forEach((id, i) => this.emit({ type: 'job:queued', jobId: id, position: i + ahead }));
    return true;
  }

  /** Waiting job ids in the order they will run. */
  waitingOrder(): string[] {
    return [...this.waiting];
  }

  /** Cancels everything (shutdown). Resolves when nothing runs any more. */
  async cancelAll(): Promise<void> {
    for (const id of [...this.waiting]) this.cancel(id);
    if (this.running) this.cancel(this.running);
    await this.idle();
  }

  idle(): Promise<void> {
    if (!this.running && this.waiting.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private finish(job: Job, state: JobState): void {
    job.state = state;
    job.release?.();
    delete job.release;
    // Bound memory: forget the oldest finished jobs.
    if (this.jobs.size > KEEP_FINISHED) {
      for (const [id, j] of this.jobs) {
        if (this.jobs.size <= KEEP_FINISHED) break;
        if (j.state !== 'queued' && j.state !== 'running') this.jobs.delete(id);
      }
    }
  }

  private async pump(): Promise<void> {
    if (this.running) return;
    const jobId = this.waiting.shift();
    if (!jobId) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      waiters.forEach((w) => w());
      return;
    }
    const job = this.jobs.get(jobId)!;
    this.running = jobId;
    job.state = 'running';
    job.startedAt = Date.now();
    try {
      const result = await this.runner.run({
        jobId,
        ...(job.projectId ? { projectId: job.projectId } : {}),
        request: job.request,
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
      this.running = null;
      void this.pump();
    }
  }
}
