/**
 * The render-farm slice of the API: what the studio's Farm panel reads. The farm itself lives a floor
 * up (main/farm/coordinator.ts); the backend only sees it through this small interface, and a studio
 * without `--farm` answers `enabled: false`.
 */
import type { AtelierApi, AtelierEvent, FarmWorkerSummary } from '../../common/api/contract';

export interface FarmStatusSource {
  /** The Redis URL, password redacted. */
  readonly display: string;
  listWorkers(): FarmWorkerSummary[];
  /** Publishes `farm:workers` and `job:worker` events through the backend's event bus from now on. */
  attachEvents(emit: (event: AtelierEvent) => void): void;
}

export type FarmApi = Pick<AtelierApi, 'getFarmStatus'>;

export function createFarmApi(source: FarmStatusSource | undefined): FarmApi {
  return {
    async getFarmStatus() {
      if (!source) return { enabled: false, redis: null, workers: [] };
      return { enabled: true, redis: source.display, workers: source.listWorkers() };
    },
  };
}
