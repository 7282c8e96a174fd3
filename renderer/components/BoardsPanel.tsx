import { useState, type FormEvent, type KeyboardEvent } from 'react';
import { useShallow } from 'zustand/react/shallow';
import type { BoardSummary } from '../../common/api/contract';
import { useAtelier } from '../state/store';

/** Ids the board actions work on: the multi-selection, else the image in the viewer. */
export function useTargetIds(): string[] {
  return useAtelier(useShallow((s) => (s.selection.length > 0 ? s.selection : s.viewingId ? [s.viewingId] : [])));
}

function NameInput({ initial, testId, label, onDone }: { initial: string; testId: string; label: string; onDone(name: string | null): void }) {
  const [name, setName] = useState(initial);
  const submit = (e: FormEvent) => {
    e.preventDefault();
    onDone(name.trim() || null);
  };
  return (
    <form className="board-name-form" onSubmit={submit}>
      <input
        autoFocus
        data-testid={testId}
        aria-label={label}
        value={name}
        maxLength={120}
        placeholder="Board name"
        onChange={(e) => setName(e.target.value)}
        onKeyDown={(e: KeyboardEvent) => e.key === 'Escape' && (e.stopPropagation(), onDone(null))}
        onBlur={() => onDone(null)}
      />
    </form>
  );
}

function BoardRow({ board, active, targets }: { board: BoardSummary; active: boolean; targets: string[] }) {
  const { rename, remove, setMembership, filter, setFilter } = useAtelier(
    useShallow((s) => ({ rename: s.renameBoard, remove: s.deleteBoard, setMembership: s.setBoardMembership, filter: s.historyFilter, setFilter: s.setHistoryFilter })),
  );
  const [editing, setEditing] = useState(false);
  const [confirming, setConfirming] = useState(false);
  return (
    <li className={`board${active ? ' active' : ''}`} data-testid="board" data-board-id={board.id} data-name={board.name} data-count={board.itemCount} data-active={active}>
      {editing ? (
        <NameInput
          initial={board.name}
          testId="board-rename-input"
          label={`Rename ${board.name}`}
          onDone={(name) => {
            setEditing(false);
            if (name && name !== board.name) void rename(board.id, name);
          }}
        />
      ) : (
        <button type="button" className="board-name" aria-pressed={active} title={active ? 'Showing this board; click to show all images' : 'Show only this board'} onClick={() => void setFilter({ ...filter, boardId: active ? undefined : board.id })}>
          <span className="board-label">{board.name}</span>
          <span className="muted">{board.itemCount}</span>
        </button>
      )}
      <button
        type="button"
        className="icon"
        data-testid="board-add"
        disabled={targets.length === 0}
        title={targets.length ? `Add ${targets.length} selected image${targets.length === 1 ? '' : 's'} to “${board.name}”` : 'Select images first (Ctrl/Shift-click in the history)'}
        aria-label={`Add selected to ${board.name}`}
        onClick={() => void setMembership(board.id, targets, true)}
      >
        +
      </button>
      <button type="button" className="icon" data-testid="board-rename" title="Rename" aria-label={`Rename ${board.name}`} onClick={() => setEditing(true)}>
        ✎
      </button>
      {confirming ? (
        <button type="button" className="icon danger" data-testid="board-delete-confirm" title="Delete the board (its images stay in the project)" autoFocus onBlur={() => setConfirming(false)} onClick={() => void remove(board.id)}>
          Delete?
        </button>
      ) : (
        <button type="button" className="icon" data-testid="board-delete" title="Delete board…" aria-label={`Delete ${board.name}`} onClick={() => setConfirming(true)}>
          ✕
        </button>
      )}
    </li>
  );
}

/** Boards of the current project: filter the history by one, create/rename/delete, add the selection. */
export function BoardsPanel() {
  const { boards, loaded, activeId, filter, setFilter, create } = useAtelier(
    useShallow((s) => ({ boards: s.boards, loaded: s.boardsLoaded, activeId: s.historyFilter.boardId, filter: s.historyFilter, setFilter: s.setHistoryFilter, create: s.createBoard })),
  );
  const targets = useTargetIds();
  const [creating, setCreating] = useState(false);
  return (
    <section className="boards" data-testid="boards" data-count={boards.length} data-loaded={loaded}>
      <div className="section-head">
        <span>Boards</span>
        <button type="button" className="link" data-testid="board-new" title={targets.length ? `New board with the ${targets.length} selected image${targets.length === 1 ? '' : 's'}` : 'New empty board'} onClick={() => setCreating(true)}>
          + New
        </button>
      </div>
      {creating && (
        <NameInput
          initial=""
          testId="board-name-input"
          label="New board name"
          onDone={(name) => {
            setCreating(false);
            if (name) void create(name, targets);
          }}
        />
      )}
      {boards.length === 0 && !creating ? (
        <div className="empty small" data-testid="boards-empty">
          No boards yet. Select images, then + New to collect them.
        </div>
      ) : (
        <ul className="board-list">
          {boards.length > 0 && (
            <li className={`board${activeId ? '' : ' active'}`}>
              <button type="button" className="board-name" data-testid="board-all" aria-pressed={!activeId} title="Show all images" onClick={() => void setFilter({ ...filter, boardId: undefined })}>
                <span className="board-label">All images</span>
              </button>
            </li>
          )}
          {boards.map((b) => (
            <BoardRow key={b.id} board={b} active={b.id === activeId} targets={targets} />
          ))}
        </ul>
      )}
    </section>
  );
}
