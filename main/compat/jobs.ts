/**
 * How the compatibility APIs generate: through the one AtelierApi (validated by the dispatcher,
 * queued by the one job queue, run by the GenerationService into the current project's library,
 * announced to every studio window), then wait for that job's events.
 */
import type { ApiErrorShape, AtelierEvent, GenerationRecord } from '../../common/api/contract';
import type { GenerateRequest, UpscaleImageParams } from '../../common/api/schemas';
import type { Dispatcher } from '../api/dispatch';
import type { AtelierBackend } from '../app/backend';

export type JobOutcome =
  | { kind: 'done'; jobId: string; generations: GenerationRecord[] }
  | { kind: 'failed'; jobId: string; error: ApiErrorShape }
  | { kind: 'cancelled'; jobId: string };

export interface JobHooks {
  /** The job's first sign of running (its first progress or preview, or its end). */
  onStart?(): void;
  onProgress?(step: number, total: number): void;
  /** A live preview as PNG bytes. */
  onPreview?(png: Buffer, step: number): void;
}

export type Submitted = { ok: true; jobId: string; seed: number; done: Promise<JobOutcome> } | { ok: false; error: ApiErrorShape };

/** A job to queue: a generation, or a 2×/4× upscale of a stored generation. */
export type CompatJobRequest = { method: 'generate'; request: GenerateRequest } | { method: 'upscaleImage'; request: UpscaleImageParams };

export interface CompatJobs {
  /** Queues one job; `done` settles with the job's end (never rejects). */
  submit(job: CompatJobRequest, hooks?: JobHooks): Promise<Submitted>;
  /** Ends every wait with a failure (the server is closing). */
  closeAll(): void;
}

const PNG_DATA_URL = /^data:image\/png;base64,/;

export function createCompatJobs(backend: AtelierBackend, dispatch: Dispatcher): CompatJobs {
  const closers = new Set<() => void>();

  async function submit(job: CompatJobRequest, hooks: JobHooks = {}): Promise<Submitted> {
    // Listen before queueing: a fast job's events must not be missed. Events of other jobs are
    // kept only until our job id is known.
    let jobId: string | null = null;
    const early: AtelierEvent[] = [];
    let started = false;
    let settle: (o: JobOutcome) => void = () => {};
    const done = new Promise<JobOutcome>((resolve) => (settle = resolve));
    const start = () => {
      if (started) return;
      started = true;
      safely(() => hooks.onStart?.());
    };
    const handle = (e: AtelierEvent) => {
      if (!('jobId' in e) || e.jobId !== jobId) return;
      switch (e.type) {
        case 'job:progress':
          start();
          safely(() => hooks.onProgress?.(e.step, e.total));
          break;
        case 'job:preview':
          start();
          if (PNG_DATA_URL.test(e.dataUrl)) {
            const png = Buffer.from(e.dataUrl.replace(PNG_DATA_URL, ''), 'base64');
            safely(() => hooks.onPreview?.(png, e.step));
          }
          break;
        case 'job:done':
          start();
          finish({ kind: 'done', jobId: e.jobId, generations: e.generations });
          break;
        case 'job:failed':
          finish({ kind: 'failed', jobId: e.jobId, error: e.error });
          break;
        case 'job:cancelled':
          finish({ kind: 'cancelled', jobId: e.jobId });
          break;
      }
    };
    const off = backend.onEvent((e) => (jobId === null ? early.push(e) : handle(e)));
    const close = () => finish({ kind: 'failed', jobId: jobId ?? '', error: { code: 'internal', message: 'The server is shutting down' } });
    closers.add(close);
    function finish(outcome: JobOutcome) {
      off();
      closers.delete(close);
      settle(outcome);
    }

    const result = await dispatch(job.method, job.request);
    if (!result.ok) {
      off();
      closers.delete(close);
      return { ok: false, error: result.error };
    }
    const value = result.value as { jobId: string; seed?: number };
    jobId = value.jobId;
    for (const e of early.splice(0)) handle(e);
    return { ok: true, jobId: value.jobId, seed: value.seed ?? -1, done };
  }

  return {
    submit,
    closeAll() {
      for (const close of [...closers]) close();
    },
  };
}

function safely(fn: () => void): void {
  try {
    fn();
  } catch {
    /* a listener's failure must not stop the job's bookkeeping */
  }
}

/** A 32-bit seed from any whole number: ComfyUI (and some A1111 clients) use 64-bit seeds; the engine's are 32-bit. */
export function seed32(seed: number): number {
  return Number(BigInt.asUintN(32, BigInt(Math.trunc(seed))));
}
