import { useShallow } from 'zustand/react/shallow';
import { useAtelier } from '../state/store';
import type { JobView } from '../state/types';
import { formatMs } from './hooks';

function JobRow({ job }: { job: JobView }) {
  const cancel = useAtelier((s) => s.cancelJob);
  const retry = useAtelier((s) => s.retryJob);
  const view = useAtelier((s) => s.view);
  const pct = job.total > 0 ? Math.round((job.step / job.total) * 100) : 0;
  const prompt = job.request?.prompt || '(no prompt)';
  return (
    <li className={`job job-${job.state}`} data-testid="queue-item" data-job-id={job.jobId} data-state={job.state} data-step={job.step} data-total={job.total} data-seed={job.seed ?? ''} data-preview-step={job.previewStep}>
      <div className="job-main">
        <span className="job-prompt" title={prompt}>
          {prompt}
        </span>
        <span className="job-meta">
          {job.state === 'running' && `${job.step}/${job.total} · ETA ${formatMs(job.etaMs)}`}
          {job.state === 'queued' && (job.position != null ? `queued #${job.position + 1}` : 'queued')}
          {job.state === 'done' && (job.seed != null ? `seed ${job.seed}` : 'done')}
          {job.state === 'failed' && <span className="error-text">{job.error?.message ?? 'failed'}</span>}
          {job.state === 'cancelled' && 'cancelled'}
        </span>
        {job.state === 'running' && (
          <div className="bar small">
            <div style={{ width: `${pct}%` }} />
          </div>
        )}
      </div>
      <div className="job-actions">
        {(job.state === 'queued' || job.state === 'running') && (
          <button type="button" className="icon" data-testid="job-cancel" title="Cancel" onClick={() => void cancel(job.jobId)}>
            ✕
          </button>
        )}
        {(job.state === 'failed' || job.state === 'cancelled') && job.request && (
          <button type="button" className="icon" data-testid="job-retry" title="Retry" onClick={() => void retry(job.jobId)}>
            ↻
          </button>
        )}
        {job.state === 'done' && job.generationIds[0] && (
          <button type="button" className="icon" data-testid="job-view" title="Show result" onClick={() => view(job.generationIds[0]!)}>
            ◉
          </button>
        )}
      </div>
    </li>
  );
}

export function QueueList() {
  const jobs = useAtelier(useShallow((s) => s.jobOrder.map((id) => s.jobs[id]!).filter(Boolean)));
  const clear = useAtelier((s) => s.clearFinishedJobs);
  const recent = jobs.slice(-30).reverse();
  return (
    <section className="queue" data-testid="queue">
      <div className="section-head">
        <span>Queue</span>
        {jobs.some((j) => j.state === 'done' || j.state === 'cancelled') && (
          <button type="button" className="link" data-testid="queue-clear" onClick={clear}>
            Clear finished
          </button>
        )}
      </div>
      {recent.length === 0 ? (
        <div className="empty small">Nothing queued. Jobs you start appear here.</div>
      ) : (
        <ul>
          {recent.map((j) => (
            <JobRow key={j.jobId} job={j} />
          ))}
        </ul>
      )}
    </section>
  );
}
