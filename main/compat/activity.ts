/**
 * What the one job queue is doing, whoever queued the work (studio, A1111 or ComfyUI clients):
 * A1111's `/progress` and ComfyUI's `queue_remaining` report the server's state, not one client's.
 */
import type { AtelierEvent, JobSummary } from '../../common/api/contract';
import type { Dispatcher } from '../api/dispatch';
import type { AtelierBackend } from '../app/backend';

export interface ActiveJob {
  jobId: string;
  state: 'queued' | 'running';
  step: number;
  total: number;
  startedAt: number | null;
  preview: Buffer | null;
}

export interface BackendActivity {
  /** Queued and running jobs, the running one first. */
  jobs(): ActiveJob[];
  running(): ActiveJob | null;
  /** Called whenever the set of active jobs changes (a job queued or ended). */
  onChange(listener: () => void): () => void;
  close(): void;
}

export async function trackActivity(backend: AtelierBackend, dispatch: Dispatcher): Promise<BackendActivity> {
  const active = new Map<string, ActiveJob>();
  const listeners = new Set<() => void>();
  const changed = () => {
    for (const l of listeners) {
      try {
        l();
      } catch {
        /* one listener must not stop the others */
      }
    }
  };
  const off = backend.onEvent((e: AtelierEvent) => {
    switch (e.type) {
      case 'job:queued':
        if (!active.has(e.jobId)) {
          active.set(e.jobId, { jobId: e.jobId, state: 'queued', step: 0, total: 0, startedAt: null, preview: null });
          changed();
        }
        break;
      case 'job:progress': {
        const job = active.get(e.jobId) ?? { jobId: e.jobId, state: 'running', step: 0, total: 0, startedAt: null, preview: null };
        job.state = 'running';
        job.startedAt ??= Date.now() - e.elapsedMs;
        job.step = e.step;
        job.total = e.total;
        active.set(e.jobId, job);
        break;
      }
      case 'job:preview': {
        const job = active.get(e.jobId);
        if (job && e.dataUrl.startsWith('data:image/png;base64,')) job.preview = Buffer.from(e.dataUrl.slice('data:image/png;base64,'.length), 'base64');
        break;
      }
      case 'job:done':
      case 'job:failed':
      case 'job:cancelled':
        if (active.delete(e.jobId)) changed();
        break;
    }
  });
  // Jobs queued before this port opened.
  const listed = await dispatch('listJobs', {});
  if (listed.ok) {
    for (const j of listed.value as JobSummary[]) {
      if ((j.state === 'queued' || j.state === 'running') && !active.has(j.jobId)) {
        active.set(j.jobId, { jobId: j.jobId, state: j.state, step: j.step, total: j.total, startedAt: j.state === 'running' ? Date.now() : null, preview: null });
      }
    }
  }
  return {
    jobs() {
      return [...active.values()].sort((a, b) => (a.state === b.state ? 0 : a.state === 'running' ? -1 : 1));
    },
    running() {
      return [...active.values()].find((j) => j.state === 'running') ?? null;
    },
    onChange(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    close() {
      off();
      listeners.clear();
    },
  };
}
