import { useEffect, useState } from 'react';
import { useShallow } from 'zustand/react/shallow';
import { useAtelier } from '../state/store';

/** Switches the history strip between the live history and the project's trash. */
export function TrashToggle() {
  const { trashed, filter, setFilter } = useAtelier(
    useShallow((s) => ({ trashed: !!s.historyFilter.trashed, filter: s.historyFilter, setFilter: s.setHistoryFilter })),
  );
  return (
    <button
      type="button"
      className={trashed ? 'link active' : 'link'}
      data-testid="trash-toggle"
      aria-pressed={trashed}
      title={trashed ? 'Back to the history' : 'Trash: deleted images, restorable until you empty it'}
      onClick={() => void setFilter(trashed ? { ...filter, trashed: undefined } : { ...filter, trashed: true })}
    >
      {trashed ? '← History' : 'Trash'}
    </button>
  );
}

/** In the trash view: restore the selection (or everything shown), or empty the trash for good. */
export function TrashBar() {
  const { trashed, count, selection, order, restore, empty } = useAtelier(
    useShallow((s) => ({
      trashed: !!s.historyFilter.trashed,
      count: s.historyOrder.length,
      selection: s.selection,
      order: s.historyOrder,
      restore: s.restoreGenerations,
      empty: s.emptyTrash,
    })),
  );
  const [confirming, setConfirming] = useState(false);
  useEffect(() => setConfirming(false), [trashed, count]);
  if (!trashed) return null;
  const chosen = selection.filter((id) => order.includes(id));
  return (
    <div className="trash-bar" data-testid="trash-bar" data-count={count}>
      <span className="muted small">Deleted images stay here until you empty the trash.</span>
      <div className="row">
        <button
          type="button"
          data-testid="trash-restore"
          disabled={chosen.length === 0}
          title={chosen.length ? 'Put the selected images back in the history' : 'Select images in the trash to restore them'}
          onClick={() => void restore(chosen)}
        >
          Restore{chosen.length > 1 ? ` ${chosen.length}` : ''}
        </button>
        <button
          type="button"
          className="danger"
          data-testid="trash-empty"
          data-confirm={confirming}
          disabled={count === 0}
          title="Delete every image in the trash permanently (click twice)"
          onClick={() => {
            if (!confirming) return setConfirming(true);
            setConfirming(false);
            void empty();
          }}
          onBlur={() => setConfirming(false)}
        >
          {confirming ? `Delete ${count} for good?` : 'Empty trash'}
        </button>
      </div>
    </div>
  );
}
