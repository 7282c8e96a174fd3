/**
 * The render farm as the studio sees it (`atelier serve --farm`): the live workers and which worker
 * runs each job. Fed by getFarmStatus once, then by `farm:workers` / `job:worker` events.
 */
import type { StateCreator } from 'zustand';
import type { AtelierClient } from '../../common/api/contract';
import type { AtelierState, FarmSlice } from './types';

/** At most this many job → worker entries are kept (the queue list keeps a few hundred jobs). */
const MAX_JOB_WORKERS = 500;

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
          const entries = Object.entries({ ...get().jobWorkers, [event.jobId]: event.worker });
          set({ jobWorkers: Object.fromEntries(entries.slice(-MAX_JOB_WORKERS)) });
        }
      });
    },
  });
