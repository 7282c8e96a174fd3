/**
 * The Farm panel: shown only when the studio coordinates a render farm (`atelier serve --farm`).
 * Lists every live worker — name, provider, models, busy/idle, jobs done, it/s — as their
 * announcements arrive through Redis (a worker that stops drops out within seconds).
 */
import { useEffect } from 'react';
import { useShallow } from 'zustand/react/shallow';
import { useAtelier } from '../state/store';

function gib(bytes: number): string {
  return `${(bytes / 2 ** 30).toFixed(1)} GiB`;
}

export function FarmPanel() {
  const { farm, watchFarm } = useAtelier(useShallow((s) => ({ farm: s.farm, watchFarm: s.watchFarm })));
  useEffect(() => watchFarm(), [watchFarm]);
  if (!farm?.enabled) return null;
  return (
    <details className="farm-panel" open data-testid="farm-panel">
      <summary>
        Render farm · {farm.workers.length} {farm.workers.length === 1 ? 'worker' : 'workers'}
        {farm.redis && <span className="muted small"> · {farm.redis}</span>}
      </summary>
      {farm.workers.length === 0 ? (
        <div className="empty small">No workers yet: start one with atelier worker --farm {farm.redis ?? 'redis://…'}. Jobs wait until one holds their model.</div>
      ) : (
        <ul className="farm-workers">
          {farm.workers.map((w) => (
            <li key={w.name} data-testid="farm-worker" data-worker={w.name} data-busy={w.busy} data-provider={w.provider} data-jobs-done={w.jobsDone}>
              <strong data-testid="farm-worker-name">{w.name}</strong>{' '}
              <span className={w.busy ? 'badge busy' : 'badge idle'} data-testid="farm-worker-state">
                {w.busy ? 'busy' : 'idle'}
              </span>
              <div className="muted small">
                <span data-testid="farm-worker-provider">{w.provider}</span> · {w.models.map((m) => m.id).join(', ')} · <span data-testid="farm-worker-jobs">{w.jobsDone} done</span>
                {w.itPerSec > 0 ? ` · ${w.itPerSec} it/s` : ''} · {gib(w.freeMemoryBytes)} free
              </div>
            </li>
          ))}
        </ul>
      )}
    </details>
  );
}
