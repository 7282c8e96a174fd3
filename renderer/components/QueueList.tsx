import { useState, type DragEvent, type KeyboardEvent } from 'react';
import { useShallow } from 'zustand/react/shallow';
import { waitingJobIds } from '../state/jobs-slice';
import { useAtelier } from '../state/store';
import type { JobView } from '../state/types';
import { formatMs } from './hooks';
import { jobLabel } from '../../common/params/upscale-job-display';

const DRAG_TYPE = 'application/x-atelier-job';

interface Placement {
  /** Index among waiting jobs, or -1 for running/finished rows. */
  index: number;
  count: number;
}

function JobRow({ job, place, dropTarget, onDragTarget }: { job: JobView; place: Placement; dropTarget: boolean; onDragTarget(id: string | null): void }) {
  const { cancel, retry, reveal, move, worker } = useAtelier(useShallow((s) => ({ cancel: s.cancelJob, retry: s.retryJob, reveal: s.reveal, move: s.moveJob, worker: s.jobWorkers[job.jobId] })));
  const pct = job.total > 0 ? Math.round((job.step / job.total) * 100) : 0;
  const prompt = jobLabel(job.request, job.upscale);
  const waiting = place.index >= 0;
  const canUp = waiting && place.index > 0;
  const canDown = waiting && place.index < place.count - 1;
  // Alt+↑/↓ anywhere in a waiting row (its buttons included) moves it, like the buttons do.
  const onKeyDown = (e: KeyboardEvent) => {
    if (!waiting || !e.altKey || (e.key !== 'ArrowUp' && e.key !== 'ArrowDown')) return;
    e.preventDefault();
    e.stopPropagation();
    if (e.key === 'ArrowUp' ? canUp : canDown) void move(job.jobId, place.index + (e.key === 'ArrowUp' ? -1 : 1));
  };
  const dragProps = waiting
    ? {
        draggable: true,
        onDragStart: (e: DragEvent) => {
          e.dataTransfer.setData(DRAG_TYPE, job.jobId);
          e.dataTransfer.effectAllowed = 'move';
        },
        onDragOver: (e: DragEvent) => {
          if (!e.dataTransfer.types.includes(DRAG_TYPE)) return;
          e.preventDefault();
          onDragTarget(job.jobId);
        },
        onDragLeave: () => onDragTarget(null),
        onDrop: (e: DragEvent) => {
          const dragged = e.dataTransfer.getData(DRAG_TYPE);
          onDragTarget(null);
          if (dragged && dragged !== job.jobId) {
            e.preventDefault();
            void move(dragged, place.index);
          }
        },
        onDragEnd: () => onDragTarget(null),
      }
    : {};
  return (
    <li
      className={`job job-${job.state}${dropTarget ? ' drop-target' : ''}`}
      data-testid="queue-item"
      data-job-id={job.jobId}
      data-state={job.state}
      data-step={job.step}
      data-total={job.total}
      data-seed={job.seed ?? ''}
      data-preview-step={job.previewStep}
      data-queue-index={waiting ? place.index : ''}
      onKeyDown={onKeyDown}
      {...dragProps}
    >
      <div className="job-main">
        <span className="job-prompt" title={waiting ? `${prompt}\nDrag, or Alt+↑/↓, to change when it runs` : prompt}>
          {prompt}
        </span>
        <span className="job-meta">
          {job.projectName && (
            <span className="job-project" data-testid="job-project" title={`Saves into the project “${job.projectName}”`}>
              {job.projectName} ·{' '}
            </span>
          )}
          {job.state === 'running' && `${job.step}/${job.total} · ETA ${formatMs(job.etaMs)}`}
          {job.state === 'queued' && `next #${place.index + 1}`}
          {job.state === 'done' && (job.seed != null ? `seed ${job.seed}` : 'done')}
          {job.state === 'failed' && <span className="error-text">{job.error?.message ?? 'failed'}</span>}
          {job.state === 'cancelled' && 'cancelled'}
          {job.state === 'interrupted' && (
            <span className="error-text" title={job.error?.message ?? ''}>
              interrupted — retry
            </span>
          )}
          {/* Last, after the state: "Client A · seed 42 · on gpu-box" */}
          {worker && (job.state === 'running' || job.state === 'done') && (
            <span className="job-worker" data-testid="job-worker" title="The render-farm worker(s) that run this job (a batch split per image runs on several)">
              {' '}· on {worker}
            </span>
          )}
        </span>
        {job.state === 'running' && (
          <div className="bar small">
            <div style={{ width: `${pct}%` }} />
          </div>
        )}
      </div>
      <div className="job-actions">
        {waiting && (
          <>
            <button type="button" className="icon" data-testid="job-up" title="Run earlier (Alt+↑)" aria-label="Move up" disabled={!canUp} onClick={() => void move(job.jobId, place.index - 1)}>
              ↑
            </button>
            <button type="button" className="icon" data-testid="job-down" title="Run later (Alt+↓)" aria-label="Move down" disabled={!canDown} onClick={() => void move(job.jobId, place.index + 1)}>
              ↓
            </button>
          </>
        )}
        {(job.state === 'queued' || job.state === 'running') && (
          <button type="button" className="icon" data-testid="job-cancel" title="Cancel" aria-label="Cancel" onClick={() => void cancel(job.jobId)}>
            ✕
          </button>
        )}
        {(((job.state === 'failed' || job.state === 'cancelled') && !job.inputsOmitted) || job.state === 'interrupted') && job.request && (
          <button type="button" className="icon" data-testid="job-retry" title="Retry" aria-label="Retry" onClick={() => void retry(job.jobId)}>
            ↻
          </button>
        )}
        {job.state === 'done' && job.generationIds[0] && (
          <button type="button" className="icon" data-testid="job-view" title="Show the result in the viewer and the history" aria-label="Show result" onClick={() => void reveal(job.generationIds[0]!)}>
            ◉
          </button>
        )}
      </div>
    </li>
  );
}

/** Running job first, then the waiting ones in run order, then finished ones newest first. */
export function QueueList() {
  const { running, waiting, finished, jobs } = useAtelier(
    useShallow((s) => ({
      running: s.jobOrder.filter((id) => s.jobs[id]?.state === 'running').join(','),
      waiting: waitingJobIds(s).join(','),
      finished: s.jobOrder.filter((id) => s.jobs[id] && s.jobs[id].state !== 'running' && s.jobs[id].state !== 'queued').slice(-30).reverse().join(','),
      jobs: s.jobs,
    })),
  );
  const clear = useAtelier((s) => s.clearFinishedJobs);
  const [dropTarget, setDropTarget] = useState<string | null>(null);
  const ids = (list: string) => (list ? list.split(',') : []);
  const waitingIds = ids(waiting);
  const rows = [...ids(running), ...waitingIds, ...ids(finished)].map((id) => jobs[id]!).filter(Boolean);
  return (
    <section className="queue" data-testid="queue" data-waiting={waitingIds.join(',')}>
      <div className="section-head">
        <span>Queue</span>
        {rows.some((j) => j.state === 'done' || j.state === 'cancelled') && (
          <button type="button" className="link" data-testid="queue-clear" onClick={clear}>
            Clear finished
          </button>
        )}
      </div>
      {rows.length === 0 ? (
        <div className="empty small">Nothing queued. Jobs you start appear here; waiting ones can be reordered.</div>
      ) : (
        <ul>
          {rows.map((j) => (
            <JobRow key={j.jobId} job={j} place={{ index: waitingIds.indexOf(j.jobId), count: waitingIds.length }} dropTarget={dropTarget === j.jobId} onDragTarget={setDropTarget} />
          ))}
        </ul>
      )}
    </section>
  );
}
