import { useRef, useState } from 'react';
import { useShallow } from 'zustand/react/shallow';
import type { ProjectSummary } from '../../common/api/contract';
import { useAtelier } from '../state/store';
import { useModal } from './useModal';

function ProjectRow({ p }: { p: ProjectSummary }) {
  const { open, rename, archive, remove } = useAtelier(
    useShallow((s) => ({ open: s.openProject, rename: s.renameProject, archive: s.archiveProject, remove: s.deleteProject })),
  );
  const [naming, setNaming] = useState<string | null>(null);
  // Deleting a whole project asks for its name: a second click is too easy for this much work.
  const [deleting, setDeleting] = useState<string | null>(null);
  const archived = Boolean(p.archivedAt);
  return (
    <li className="model-row project-row" data-testid="project-row" data-project-id={p.id} data-name={p.name} data-current={p.isCurrent} data-archived={archived}>
      <div className="model-row-main">
        {naming !== null ? (
          <form
            className="row"
            onSubmit={(e) => {
              e.preventDefault();
              const name = naming.trim();
              if (!name) return;
              void rename(p.id, name).then((ok) => ok && setNaming(null));
            }}
          >
            <input
              autoFocus
              className="grow"
              data-testid="project-rename-input"
              aria-label={`New name for ${p.name}`}
              value={naming}
              maxLength={120}
              onChange={(e) => setNaming(e.target.value)}
              onKeyDown={(e) => e.key === 'Escape' && (e.stopPropagation(), e.preventDefault(), setNaming(null))}
            />
            <button type="submit" className="primary" data-testid="project-rename-save" disabled={!naming.trim()}>
              Save
            </button>
          </form>
        ) : (
          <div>
            <strong data-testid="project-name-label">{p.name}</strong> {p.isCurrent && <span className="chip ep">open</span>}
            {archived && <span className="chip">archived</span>}
          </div>
        )}
        <div className="muted small" title={p.path}>
          {p.path}
        </div>
        {deleting !== null && (
          <form
            className="row delete-confirm"
            onSubmit={(e) => {
              e.preventDefault();
              if (deleting.trim() !== p.name) return;
              void remove(p.id).then((ok) => !ok && setDeleting(null));
            }}
          >
            <span className="error-text small">Deletes the project folder and every image in it, for good. Type its name to confirm:</span>
            <input
              autoFocus
              data-testid="project-delete-name"
              aria-label={`Type ${p.name} to confirm`}
              placeholder={p.name}
              value={deleting}
              onChange={(e) => setDeleting(e.target.value)}
              onKeyDown={(e) => e.key === 'Escape' && (e.stopPropagation(), e.preventDefault(), setDeleting(null))}
            />
            <button type="submit" className="danger" data-testid="project-delete-confirm" disabled={deleting.trim() !== p.name}>
              Delete for good
            </button>
            <button type="button" onClick={() => setDeleting(null)}>
              Keep
            </button>
          </form>
        )}
      </div>
      <div className="row project-actions">
        {!p.isCurrent && !archived && (
          <button type="button" data-testid="project-open" onClick={() => void open(p.id)}>
            Open
          </button>
        )}
        <button type="button" data-testid="project-rename" onClick={() => setNaming(p.name)}>
          Rename
        </button>
        <button
          type="button"
          data-testid="project-archive"
          disabled={p.isCurrent && !archived}
          title={p.isCurrent && !archived ? 'Open another project before archiving this one' : archived ? 'Show it in the switcher again' : 'Hide it from the switcher; nothing is deleted'}
          onClick={() => void archive(p.id, !archived)}
        >
          {archived ? 'Unarchive' : 'Archive'}
        </button>
        <button type="button" className="danger" data-testid="project-delete" onClick={() => setDeleting('')}>
          Delete…
        </button>
      </div>
    </li>
  );
}

/** Manage projects: rename, archive / unarchive, delete (typing the name), open. */
export function ProjectsDialog({ close }: { close(): void }) {
  const projects = useAtelier((s) => s.projects);
  const ref = useRef<HTMLDivElement>(null);
  useModal(ref, close);
  const live = projects.filter((p) => !p.archivedAt);
  const archived = projects.filter((p) => p.archivedAt);
  return (
    <div className="modal-backdrop" onMouseDown={(e) => e.target === e.currentTarget && close()}>
      <div ref={ref} tabIndex={-1} className="modal projects-dialog" role="dialog" aria-modal="true" aria-label="Projects" data-testid="projects-dialog">
        <div className="section-head">
          <span className="modal-title">Projects</span>
          <button type="button" className="icon" data-testid="projects-close" title="Close (Esc)" onClick={close}>
            ✕
          </button>
        </div>
        <ul className="model-list" data-testid="project-list">
          {live.map((p) => (
            <ProjectRow key={p.id} p={p} />
          ))}
        </ul>
        {archived.length > 0 && (
          <>
            <div className="section-head">Archived</div>
            <ul className="model-list" data-testid="project-list-archived">
              {archived.map((p) => (
                <ProjectRow key={p.id} p={p} />
              ))}
            </ul>
          </>
        )}
      </div>
    </div>
  );
}
