import { useState } from 'react';
import { useShallow } from 'zustand/react/shallow';
import { useAtelier } from '../state/store';
import { ModalForm } from './ModalForm';

/** "Move to project…": the images leave this project for another one, with their files, tags and the lineage between them. */
export function MoveDialog({ ids, close }: { ids: string[]; close(): void }) {
  const { projects, move } = useAtelier(useShallow((s) => ({ projects: s.projects, move: s.moveGenerations })));
  const targets = projects.filter((p) => !p.isCurrent).sort((a, b) => Number(Boolean(a.archivedAt)) - Number(Boolean(b.archivedAt)) || a.name.localeCompare(b.name));
  const [to, setTo] = useState(targets[0]?.id ?? '');
  const [busy, setBusy] = useState(false);
  const n = ids.length;
  return (
    <ModalForm
      label="Move images to another project"
      close={close}
      data-testid="move-dialog"
      data-busy={busy}
      onSubmit={(e) => {
        e.preventDefault();
        if (!to) return;
        setBusy(true);
        void move(ids, to).then((r) => (r ? close() : setBusy(false)));
      }}
    >
      <div className="modal-title">
        Move {n} image{n === 1 ? '' : 's'} to another project
      </div>
      {targets.length === 0 ? (
        <div className="empty small" data-testid="move-no-target">
          There is no other project yet. Create one in the project switcher first.
        </div>
      ) : (
        <label className="field">
          <span>Project</span>
          <select autoFocus data-testid="move-target" value={to} onChange={(e) => setTo(e.target.value)}>
            {targets.map((p) => (
              <option key={p.id} value={p.id}>
                {p.name}
                {p.archivedAt ? ' (archived)' : ''}
              </option>
            ))}
          </select>
        </label>
      )}
      <div className="muted small">
        The image files, parameters, ratings, flags, notes and tags go along, and so do the parent/child links between the moved images. Links to
        images that stay here are cut; boards stay with this project.
      </div>
      <div className="row end">
        <button type="button" onClick={close}>
          Cancel
        </button>
        <button type="submit" className="primary" data-testid="move-confirm" disabled={busy || !to}>
          {busy ? 'Moving…' : 'Move'}
        </button>
      </div>
    </ModalForm>
  );
}
