/**
 * The render farm as the studio sees it (`atelier serve --farm`): the live workers and which worker
 * runs each job. Fed by getFarmStatus once, then by `farm:workers` / `job:worker` events.
 */
import type { StateCreator } from 'zustand';
import type { AtelierClient } from '../../common/api/contract';
import type { AtelierState, FarmSlice } from './types';

/** At most this many job → worker entries are kept (the queue list keeps a few hundred jobs). */
const MAX_JOB_WORKERS = 500;

/**
 * Records that `worker` runs (part of) `jobId`: a batch split per image runs on several workers, and
 * a job a killed worker left runs on another; the row names each, in the order they started.
 */
export function addJobWorker(jobWorkers: Record<string, string>, jobId: string, worker: string): Record<string, string> {
  const names = jobWorkers[jobId] ? jobWorkers[jobId].split(', ') : [];
  if (names.includes(worker)) return jobWorkers;
  const entries = Object.entries({ ...jobWorkers, [jobId]: [...names, worker].join(', ') });
  return Object.fromEntries(entries.slice(-MAX_JOB_WORKERS));
}

export const createFarmSlice =
  (client: AtelierClient): StateCreator<AtelierState, [], [], FarmSlice> =>
  (set, get) => ({
    farm: null,
    jobWorkers: {},
    watchFarm() {
      client
        .getFarmStatus()
        .then((farm) => set({ farm }))
        .catch(() => set({ farm: { enabled: false, redis: null, workers: [] } }));
      return client.onEvent((event) => {
        if (event.type === 'farm:workers') {
          const farm = get().farm;
          set({ farm: { enabled: true, redis: farm?.redis ?? null, workers: event.workers } });
        } else if (event.type === 'job:worker') {
          const jobWorkers = addJobWorker(get().jobWorkers, event.jobId, event.worker);
          if (jobWorkers !== get().jobWorkers) set({ jobWorkers });
        }
      });
    },
  });
