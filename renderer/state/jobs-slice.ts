import type { StateCreator } from 'zustand';
import type { AtelierClient, AtelierEvent } from '../../common/api/contract';
import { upscaleJobDisplay } from '../../common/params/upscale-job-display';
import type { AtelierState, JobView, JobsSlice } from './types';

export function emptyJob(jobId: string): JobView {
  return {
    jobId,
    state: 'queued',
    request: null,
    origin: 'external',
    step: 0,
    total: 0,
    elapsedMs: 0,
    etaMs: null,
    previewUrl: null,
    previewStep: 0,
    error: null,
    generationIds: [],
    seed: null,
    position: null,
  };
}

const isFinished = (state: string | undefined) => state === 'done' || state === 'failed' || state === 'cancelled' || state === 'interrupted';

/**
 * Waiting jobs in the order they will run: by the position the server last announced, ties (no
 * announcement yet) in submission order. Positions can be stale by the same offset for all waiting
 * jobs (they are not re-sent when the head starts), which leaves their relative order intact.
 */
export function waitingJobIds(s: Pick<AtelierState, 'jobs' | 'jobOrder'>): string[] {
  const waiting = s.jobOrder.filter((id) => s.jobs[id]?.state === 'queued');
  const rank = (id: string) => s.jobs[id]?.position ?? Number.MAX_SAFE_INTEGER;
  return waiting.map((id, i) => ({ id, i })).sort((a, b) => rank(a.id) - rank(b.id) || a.i - b.i).map((x) => x.id);
}

export const createJobsSlice =
  (client: AtelierClient): StateCreator<AtelierState, [], [], JobsSlice> =>
  (set, get) => {
    /** Events can arrive before `generate()` resolves, so every update upserts. */
    const patchJob = (jobId: string, patch: Partial<JobView> | ((j: JobView) => Partial<JobView>)) =>
      set((s) => {
        const prev = s.jobs[jobId] ?? emptyJob(jobId);
        const next = { ...prev, ...(typeof patch === 'function' ? patch(prev) : patch) };
        return {
          jobs: { ...s.jobs, [jobId]: next },
          jobOrder: s.jobs[jobId] ? s.jobOrder : [...s.jobOrder, jobId],
        };
      });

    return {
      jobs: {},
      jobOrder: [],

      async enqueue(request, origin) {
        try {
          const { jobId, seed } = await client.generate(request);
          const project = get().projects.find((p) => p.isCurrent);
          patchJob(jobId, (j) => ({ request: { ...request, seed: request.seed ?? -1 }, origin, seed, projectId: j.projectId ?? project?.id, projectName: j.projectName ?? project?.name }));
          if (origin === 'workspace' && !get().params.seedLocked) get().setParams({ seed });
          return jobId;
        } catch (err) {
          get().reportError('Could not start generation', err);
          return null;
        }
      },

      async cancelJob(jobId) {
        try {
          await client.cancel({ jobId });
        } catch (err) {
          get().reportError('Could not cancel', err);
        }
      },

      async retryJob(jobId) {
        const job = get().jobs[jobId];
        if (job?.state === 'interrupted') {
          // The server kept its full request (init image included): it queues it again, same seed, same project.
          try {
            const { jobId: next, seed } = await client.retryJob({ jobId });
            patchJob(next, (j) => ({ request: job.request, origin: 'retry', seed, projectId: j.projectId ?? job.projectId, projectName: j.projectName ?? job.projectName, ...(job.upscale ? { upscale: job.upscale } : {}) }));
            set((s) => {
              const { [jobId]: _gone, ...jobs } = s.jobs;
              return { jobs, jobOrder: s.jobOrder.filter((id) => id !== jobId) };
            });
            return next;
          } catch (err) {
            get().reportError('Could not retry', err);
            return null;
          }
        }
        if (job?.upscale) return get().upscaleImage(job.upscale.generationId, job.upscale.factor);
        if (!job?.request) return null;
        if (job.inputsOmitted) {
          // Resubmitting without its init image would silently turn it into text-to-image.
          get().pushToast({ kind: 'info', title: 'Cannot retry here', message: 'The server no longer keeps this job’s init image. Load the source image’s parameters and generate again.' });
          return null;
        }
        return get().enqueue(job.request, 'retry');
      },

      async upscaleImage(id, factor) {
        const r = get().records[id];
        try {
          const { jobId } = await client.upscaleImage({ generationId: id, factor });
          // Shown in the queue like any job: the source's parameters at the new size (the server's rule).
          const request = r ? upscaleJobDisplay(r, factor) : null;
          const project = get().projects.find((p) => p.isCurrent);
          patchJob(jobId, (j) => ({ request, origin: 'upscale', seed: r?.seed ?? null, upscale: { generationId: id, factor }, projectId: j.projectId ?? project?.id, projectName: j.projectName ?? project?.name }));
          // A small image upscales faster than this reply travels: its job:done may be in already.
          const done = get().jobs[jobId];
          set(done?.state === 'done' && done.generationIds[0] ? { followJobs: true, viewingId: done.generationIds[0] } : { followJobs: true });
          return jobId;
        } catch (err) {
          get().reportError('Could not upscale', err);
          return null;
        }
      },

      async moveJob(jobId, index) {
        const order = waitingJobIds(get());
        const from = order.indexOf(jobId);
        if (from < 0) return;
        const to = Math.max(0, Math.min(order.length - 1, index));
        if (to === from) return;
        order.splice(from, 1);
        order.splice(to, 0, jobId);
        const ahead = get().jobOrder.some((id) => get().jobs[id]?.state === 'running') ? 1 : 0;
        set((s) => ({ jobs: { ...s.jobs, ...Object.fromEntries(order.map((id, i) => [id, { ...s.jobs[id]!, position: i + ahead }])) } }));
        try {
          const { moved } = await client.moveJob({ jobId, position: to });
          // The job started (or ended) meanwhile: its own events put it where it belongs.
          if (!moved) get().pushToast({ kind: 'info', title: 'Not moved', message: 'That job is no longer waiting.' });
        } catch (err) {
          get().reportError('Could not reorder the queue', err);
        }
      },

      clearFinishedJobs() {
        set((s) => {
          const keep = s.jobOrder.filter((id) => {
            const st = s.jobs[id]?.state;
            return st === 'queued' || st === 'running' || st === 'failed';
          });
          return { jobOrder: keep, jobs: Object.fromEntries(keep.map((id) => [id, s.jobs[id]!])) };
        });
      },

      handleEvent(event: AtelierEvent) {
        switch (event.type) {
          case 'job:queued':
            patchJob(event.jobId, { position: event.position, ...(event.projectId ? { projectId: event.projectId, projectName: event.projectName } : {}) });
            break;
          case 'job:progress':
            if (isFinished(get().jobs[event.jobId]?.state)) break; // late events after cancel/failure
            patchJob(event.jobId, (j) => ({
              state: j.state === 'queued' ? 'running' : j.state,
              step: event.step,
              total: event.total,
              elapsedMs: event.elapsedMs,
              etaMs: event.etaMs,
              position: null,
            }));
            break;
          case 'job:preview':
            if (isFinished(get().jobs[event.jobId]?.state)) break;
            patchJob(event.jobId, (j) => ({
              state: j.state === 'queued' ? 'running' : j.state,
              previewUrl: event.dataUrl,
              previewStep: event.step,
            }));
            break;
          case 'job:done': {
            // Saved into the project it was submitted from: only that project's history shows it.
            const current = get().projects.find((p) => p.isCurrent);
            const here = !event.projectId || !current || event.projectId === current.id;
            if (here) get().addGenerations(event.generations);
            const ids = event.generations.map((g) => g.id);
            patchJob(event.jobId, (j) => ({
              state: 'done',
              step: j.total || j.step,
              etaMs: 0,
              generationIds: ids,
              previewUrl: null,
              position: null,
            }));
            const job = get().jobs[event.jobId];
            if (here && get().followJobs && ids[0] && (job?.origin === 'workspace' || job?.origin === 'retry' || job?.origin === 'vary' || job?.origin === 'upscale')) {
              set({ viewingId: ids[0] });
            }
            if (event.provider && get().loadedModel?.provider !== event.provider) {
              const lm = get().loadedModel;
              const gen = event.generations[0];
              set({
                loadedModel: {
                  modelId: gen?.modelId ?? lm?.modelId ?? '',
                  family: gen?.modelFamily ?? lm?.family ?? '',
                  provider: event.provider,
                  fallbacks: lm?.fallbacks ?? [],
                  scheduler: gen?.scheduler ?? lm?.scheduler ?? '',
                  loadMs: lm?.loadMs ?? 0,
                },
              });
            }
            break;
          }
          case 'job:failed':
            patchJob(event.jobId, { state: 'failed', error: event.error, previewUrl: null, position: null });
            get().pushToast({ kind: 'error', title: 'Generation failed', message: event.error.message });
            break;
          case 'job:cancelled':
            patchJob(event.jobId, { state: 'cancelled', previewUrl: null, position: null });
            break;
          case 'model:loaded':
            set({ loadedModel: event.model });
            break;
          case 'project:changed':
            if (!get().projects.find((p) => p.id === event.project.id)?.isCurrent) get().onProjectChanged(event.project);
            break;
          default:
            get().handleModelEvent(event);
            break;
        }
      },
    };
  };
