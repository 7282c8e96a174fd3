import { useCallback, useEffect, useLayoutEffect, useMemo, useRef, useState, type KeyboardEvent as ReactKeyboardEvent, type MouseEvent } from 'react';
import { useShallow } from 'zustand/react/shallow';
import type { GenerationRecord } from '../../common/api/contract';
import { toInfotext } from '../lib/infotext';
import { THUMB_LAYOUT, THUMB_SIZES, type ThumbSize } from '../lib/library-prefs';
import { visibleRange } from '../lib/virtual-list';
import { useAtelier } from '../state/store';
import { BoardsPanel } from './BoardsPanel';
import { badgeState, CredentialsBadge } from './CredentialsBadge';
import { ExportDialog } from './ExportDialog';
import { MoveDialog } from './MoveDialog';
import { EmptyHistoryHint } from './ExamplePrompts';
import { useElementSize } from './hooks';
import { TagEditor } from './TagEditor';
import { TrashBar, TrashToggle } from './TrashBar';

const THUMB_LABEL: Record<ThumbSize, string> = { small: 'S', medium: 'M', large: 'L' };

function Stars({ rating }: { rating: number }) {
  if (!rating) return null;
  return <span className="stars">{'★'.repeat(rating)}</span>;
}

function Tile({ record, onMenu }: { record: GenerationRecord; onMenu(e: MouseEvent<HTMLElement>, id: string): void }) {
  const { selected, viewing, compareMode, select, load } = useAtelier(
    useShallow((s) => ({
      selected: s.selection.includes(record.id),
      viewing: s.viewingId === record.id,
      compareMode: s.compareMode,
      select: s.selectInHistory,
      load: s.loadParamsFrom,
    })),
  );
  return (
    <button
      type="button"
      className={`thumb${selected ? ' selected' : ''}${viewing ? ' viewing' : ''} flag-${record.flag}`}
      data-testid="history-item"
      data-id={record.id}
      data-selected={selected}
      data-viewing={viewing}
      data-rating={record.rating}
      data-flag={record.flag}
      data-seed={record.seed}
      title={`${record.prompt}\nseed ${record.seed} · ${record.steps} steps · CFG ${record.guidanceScale}\nClick: view · Ctrl/Shift-click: select for Compare · Double-click: load parameters · Right-click: more`}
      onClick={(e) => {
        const mode = e.shiftKey ? 'range' : e.ctrlKey || e.metaKey || compareMode ? 'toggle' : 'single';
        select(record.id, mode);
      }}
      onDoubleClick={() => load(record)}
      onContextMenu={(e) => onMenu(e, record.id)}
    >
      <img src={record.thumbUrl} alt={record.prompt} loading="lazy" draggable={false} />
      <span className="thumb-badges">
        <Stars rating={record.rating} />
        {record.flag === 'pick' && <span className="flag pick">P</span>}
        {record.flag === 'reject' && <span className="flag reject">X</span>}
        <CredentialsBadge id={record.id} compact />
      </span>
    </button>
  );
}

interface Menu {
  x: number;
  y: number;
  id: string;
}

function ContextMenu({ menu, close, move }: { menu: Menu; close(): void; move(ids: string[]): void }) {
  const { record, vary, remove, pushToast, explore, view, setInitImage, loadParams, board, setMembership, selection, upscale, reveal, trashed, restore, reproduce, reproducing } = useAtelier(
    useShallow((s) => ({
      reproduce: s.reproduceGeneration,
      reproducing: s.reproducing.includes(menu.id),
      upscale: s.upscaleImage,
      reveal: s.reveal,
      record: s.records[menu.id],
      board: s.historyFilter.boardId ? s.boards.find((b) => b.id === s.historyFilter.boardId) : undefined,
      setMembership: s.setBoardMembership,
      selection: s.selection,
      vary: s.vary,
      remove: s.trashGenerations,
      pushToast: s.pushToast,
      explore: s.setVariantExplorerOpen,
      view: s.view,
      setInitImage: s.setInitImage,
      loadParams: s.loadParamsFrom,
      trashed: !!s.historyFilter.trashed,
      restore: s.restoreGenerations,
    })),
  );
  const ref = useRef<HTMLDivElement>(null);
  // Keep the whole menu on screen: its height is only known once it is laid out.
  useLayoutEffect(() => {
    const el = ref.current;
    if (el) el.style.top = `${Math.max(4, Math.min(menu.y, window.innerHeight - el.offsetHeight - 4))}px`;
  }, [menu]);
  useEffect(() => {
    // Give focus back to the tile (or whatever opened the menu) when it closes without moving it.
    const opener = document.activeElement instanceof HTMLElement ? document.activeElement : null;
    ref.current?.querySelector('button')?.focus();
    const onDown = (e: globalThis.MouseEvent) => {
      if (!ref.current?.contains(e.target as Node)) close();
    };
    const onKey = (e: KeyboardEvent) => e.key === 'Escape' && close();
    window.addEventListener('mousedown', onDown);
    window.addEventListener('keydown', onKey);
    return () => {
      window.removeEventListener('mousedown', onDown);
      window.removeEventListener('keydown', onKey);
      const now = document.activeElement;
      if (opener?.isConnected && (!now || now === document.body)) opener.focus();
    };
  }, [close]);
  if (!record) return null;
  // Menu keys: ↑/↓ wrap through the items, Home/End jump; kept from the global history shortcuts.
  const menuKeys = (e: ReactKeyboardEvent<HTMLDivElement>) => {
    const items = [...e.currentTarget.querySelectorAll<HTMLButtonElement>('button[role="menuitem"]')];
    const at = items.indexOf(document.activeElement as HTMLButtonElement);
    const next = { ArrowDown: at + 1, ArrowUp: at - 1, Home: 0, End: items.length - 1 }[e.key];
    if (next === undefined || items.length === 0) return;
    e.preventDefault();
    e.stopPropagation();
    items[(next + items.length) % items.length]?.focus();
  };
  const act = (fn: () => void) => () => {
    fn();
    close();
  };
  // Whole-selection actions act on the selection when the menu opened on one of its images.
  const targets = selection.includes(record.id) ? selection : [record.id];
  return (
    <div ref={ref} className="context-menu" role="menu" data-testid="context-menu" style={{ left: Math.min(menu.x, window.innerWidth - 200), top: menu.y }} onKeyDown={menuKeys}>
      {/* A trashed image can be copied or restored; generating from it needs it back first. */}
      {!trashed && (<>
      <button type="button" role="menuitem" data-testid="menu-vary" onClick={act(() => void vary(record.id))}>
        Vary <span className="muted">same params, new seed</span>
      </button>
      <button
        type="button"
        role="menuitem"
        data-testid="menu-explore"
        onClick={act(() => {
          view(record.id);
          explore(true);
        })}
      >
        Explore variants…
      </button>
      <button type="button" role="menuitem" data-testid="menu-upscale" onClick={act(() => void upscale(record.id, 2))}>
        Upscale 2× <span className="muted">{record.width * 2}×{record.height * 2}</span>
      </button>
      <button type="button" role="menuitem" data-testid="menu-upscale-4" onClick={act(() => void upscale(record.id, 4))}>
        Upscale 4× <span className="muted">{record.width * 4}×{record.height * 4}</span>
      </button>
      <button type="button" role="menuitem" data-testid="menu-reveal" onClick={act(() => void reveal(record.id))}>
        Reveal <span className="muted">select and show it</span>
      </button>
      <button type="button" role="menuitem" data-testid="menu-load-params" title="Everything needed to make it again: prompt, seed (locked), settings, init image and strength" onClick={act(() => loadParams(record))}>
        Load parameters <span className="muted">reproduce it</span>
      </button>
      <button type="button" role="menuitem" data-testid="use-as-init" onClick={act(() => setInitImage(record))}>
        Use as init image <span className="muted">img2img / inpaint</span>
      </button>
      <button
        type="button"
        role="menuitem"
        data-testid="menu-reproduce"
        disabled={reproducing}
        title="Regenerate it from the parameters in its own file (model found by hash) and check the pixels match bit for bit; the receipt is kept beside the image"
        onClick={act(() => {
          view(record.id);
          void reproduce(record.id);
        })}
      >
        {reproducing ? 'Reproducing…' : 'Reproduce'} <span className="muted">check bit for bit</span>
      </button>
      </>)}
      <button
        type="button"
        role="menuitem"
        data-testid="menu-copy"
        onClick={act(() => {
          void navigator.clipboard
            ?.writeText(toInfotext(record))
            .then(() => pushToast({ kind: 'info', title: 'Copied', message: 'Parameters copied as A1111 text.' }))
            .catch(() => pushToast({ kind: 'error', title: 'Copy failed', message: 'The clipboard is not available in this window.' }));
        })}
      >
        Copy parameters
      </button>
      {board && (
        <button
          type="button"
          role="menuitem"
          data-testid="menu-remove-from-board"
          onClick={act(() => void setMembership(board.id, selection.includes(record.id) ? selection : [record.id], false))}
        >
          Remove from “{board.name}”
        </button>
      )}
      {trashed ? (
        <button type="button" role="menuitem" data-testid="menu-restore" onClick={act(() => void restore(selection.includes(record.id) ? selection : [record.id]))}>
          Restore <span className="muted">back to the history</span>
        </button>
      ) : (
        <>
          <button type="button" role="menuitem" data-testid="menu-move" title="Move to another project, with the image files and the lineage between them" onClick={act(() => move(targets))}>
            Move{targets.length > 1 ? ` ${targets.length}` : ''} to project… <span className="muted">files and lineage</span>
          </button>
          <button type="button" role="menuitem" className="danger" data-testid="menu-delete" title="Move to the trash (restorable until you empty it) · Delete key" onClick={act(() => void remove(targets))}>
            Delete{targets.length > 1 ? ` ${targets.length}` : ''} <span className="muted">to trash</span>
          </button>
        </>
      )}
    </div>
  );
}

/** Thumbnail size of the strip: small (3 columns), medium (2), large (1). */
function ThumbSizeControl() {
  const { size, setSize } = useAtelier(useShallow((s) => ({ size: s.thumbSize, setSize: s.setThumbSize })));
  return (
    <div className="segmented thumb-size" role="group" aria-label="Thumbnail size" data-testid="thumb-size" data-size={size}>
      {THUMB_SIZES.map((t) => (
        <button key={t} type="button" data-testid={`thumb-size-${t}`} aria-pressed={size === t} className={size === t ? 'active' : ''} title={`${t[0].toUpperCase()}${t.slice(1)} thumbnails`} onClick={() => setSize(t)}>
          {THUMB_LABEL[t]}
        </button>
      ))}
    </div>
  );
}

export function HistoryStrip() {
  const { order: loadedOrder, records, loading, hasMore, loadMore, search, setSearch, filter, setFilter, selection, revealNonce, viewingId, thumbSize, credentialsFilter, setCredentialsFilter, credentials, ensureCredentials } = useAtelier(
    useShallow((s) => ({
      credentialsFilter: s.credentialsFilter,
      setCredentialsFilter: s.setCredentialsFilter,
      // Only needed (and only subscribed to) while the strip filters on them.
      credentials: s.credentialsFilter === 'all' ? null : s.credentials,
      ensureCredentials: s.ensureCredentials,
      thumbSize: s.thumbSize,
      revealNonce: s.revealNonce,
      viewingId: s.viewingId,
      selection: s.selection,
      order: s.historyOrder,
      records: s.records,
      loading: s.historyLoading,
      hasMore: s.nextCursor != null,
      loadMore: s.loadHistory,
      search: s.historySearch,
      setSearch: s.setHistorySearch,
      filter: s.historyFilter,
      setFilter: s.setHistoryFilter,
    })),
  );
  // Credentials filter: applied to the loaded pages as the server's verdicts arrive (each image is verified once).
  const order = useMemo(() => {
    if (!credentials || credentialsFilter === 'all') return loadedOrder;
    return loadedOrder.filter((id) => {
      const state = badgeState(credentials[id]);
      return credentialsFilter === 'verified' ? state === 'verified' : state === 'verified' || state === 'modified';
    });
  }, [loadedOrder, credentials, credentialsFilter]);
  useEffect(() => {
    if (credentialsFilter !== 'all') ensureCredentials(loadedOrder);
  }, [credentialsFilter, loadedOrder, ensureCredentials]);
  const checkingCredentials = !!credentials && loadedOrder.some((id) => !credentials[id]);
  const [ref, size] = useElementSize<HTMLDivElement>();
  const [scrollTop, setScrollTop] = useState(0);
  const [menu, setMenu] = useState<Menu | null>(null);
  const [exporting, setExporting] = useState<string[] | null>(null);
  const closeExport = useCallback(() => setExporting(null), []);
  const [moving, setMoving] = useState<string[] | null>(null);
  const closeMove = useCallback(() => setMoving(null), []);
  const { cols: COLS, rowH: ROW_H } = THUMB_LAYOUT[thumbSize];
  const closeMenu = useCallback(() => setMenu(null), []);
  const [query, setQuery] = useState(search);
  const rows = Math.ceil(order.length / COLS);
  const { first, last } = visibleRange(scrollTop, size.height, ROW_H, rows);

  // reveal(): bring the image's row into view and put keyboard focus on its tile.
  useEffect(() => {
    const el = ref.current;
    const at = viewingId ? order.indexOf(viewingId) : -1;
    if (!revealNonce || !el || at < 0) return;
    const top = Math.floor(at / COLS) * ROW_H;
    if (top < el.scrollTop || top + ROW_H > el.scrollTop + el.clientHeight) el.scrollTop = Math.max(0, top - (el.clientHeight - ROW_H) / 2);
    setScrollTop(el.scrollTop);
    const frame = requestAnimationFrame(() => el.querySelector<HTMLElement>(`[data-id="${CSS.escape(viewingId!)}"]`)?.focus());
    return () => cancelAnimationFrame(frame);
    // Only a new reveal scrolls; later history changes must not yank the strip around.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [revealNonce]);

  useEffect(() => {
    if (hasMore && !loading && (last + 1) * ROW_H >= rows * ROW_H - size.height) void loadMore(false);
  }, [hasMore, loading, last, rows, size.height, loadMore, ROW_H]);

  // The store's search can change from elsewhere (reveal clears it): follow it. Typing never races
  // this, because the store only changes 200 ms after the last keystroke, to what was typed.
  useEffect(() => setQuery(search), [search]);
  useEffect(() => {
    if (query === search) return;
    const t = setTimeout(() => void setSearch(query), 200);
    return () => clearTimeout(t);
  }, [query, search, setSearch]);

  const visible = [];
  for (let row = first; row <= last; row++) {
    for (let c = 0; c < COLS; c++) {
      const id = order[row * COLS + c];
      const r = id ? records[id] : undefined;
      if (r)
        visible.push(
          <div key={r.id} className="thumb-cell" style={{ top: row * ROW_H, left: `${(c * 100) / COLS}%`, width: `${100 / COLS}%`, height: ROW_H }}>
            <Tile
              record={r}
              onMenu={(e, id) => {
                e.preventDefault();
                // Keyboard (Menu key / Shift+F10) context menus carry no pointer position.
                const rect = e.currentTarget.getBoundingClientRect();
                const fromKeyboard = e.clientX === 0 && e.clientY === 0;
                setMenu({ x: fromKeyboard ? rect.left : e.clientX, y: fromKeyboard ? rect.bottom : e.clientY, id });
              }}
            />
          </div>,
        );
    }
  }

  return (
    <aside className="panel right" data-testid="history" data-reveal={revealNonce} data-count={order.length} data-selected-count={selection.length} data-cols={COLS} data-loading={loading} data-board={filter.boardId ?? ''} data-tag={filter.tag ?? ''} data-trashed={!!filter.trashed}>
      <BoardsPanel />
      <div className="section-head">
        <span>{filter.trashed ? 'Trash' : 'History'}</span>
        <span className="muted">{order.length}{hasMore ? '+' : ''}</span>
        <span className="spacer" />
        <ThumbSizeControl />
        <TrashToggle />
        <button
          type="button"
          className="link"
          data-testid="export-selected"
          disabled={selection.length === 0}
          title={selection.length ? `Export the ${selection.length} selected image${selection.length === 1 ? '' : 's'} to a folder or .zip` : 'Select images to export (Ctrl/Shift-click)'}
          onClick={() => setExporting([...selection])}
        >
          Export{selection.length > 1 ? ` ${selection.length}` : ''}…
        </button>
      </div>
      <TrashBar />
      <input
        className="search"
        type="search"
        data-testid="history-search"
        placeholder="Search prompts, tag:, seed:, model:, scheduler:…"
        title={'Words search the prompts. Also: tag:hero (or #hero), seed:1234 (or just the number), model:sd15, scheduler:"euler a". Combine them freely.'}
        value={query}
        onChange={(e) => setQuery(e.target.value)}
      />
      <div className="filters">
        <select
          data-testid="filter-rating"
          aria-label="Minimum rating"
          value={filter.minRating ?? 0}
          onChange={(e) => void setFilter({ ...filter, minRating: Number(e.target.value) || undefined })}
        >
          <option value={0}>Any rating</option>
          {[1, 2, 3, 4, 5].map((n) => (
            <option key={n} value={n}>
              {'★'.repeat(n)}
              {n < 5 ? '+' : ''}
            </option>
          ))}
        </select>
        <select
          data-testid="filter-flag"
          aria-label="Flag"
          value={filter.flag ?? ''}
          onChange={(e) => void setFilter({ ...filter, flag: (e.target.value || undefined) as typeof filter.flag })}
        >
          <option value="">Any flag</option>
          <option value="pick">Picks</option>
          <option value="reject">Rejects</option>
          <option value="none">Unflagged</option>
        </select>
      </div>
      <div className="filters">
        {filter.tag ? (
          <span className="chip tag active" data-testid="filter-tag" data-tag={filter.tag}>
            tag: {filter.tag}
            <button type="button" className="tag-remove" data-testid="filter-tag-clear" aria-label="Stop filtering by tag" title="Show all tags" onClick={() => void setFilter({ ...filter, tag: undefined })}>
              ✕
            </button>
          </span>
        ) : (
          <input
            className="tag-input"
            data-testid="filter-tag-input"
            aria-label="Filter by tag"
            placeholder="Filter by tag (Enter)…"
            maxLength={100}
            onKeyDown={(e) => {
              const tag = e.currentTarget.value.trim();
              if (e.key === 'Enter' && tag) void setFilter({ ...filter, tag });
            }}
          />
        )}
        <select
          data-testid="filter-credentials"
          aria-label="Content credentials"
          title="Content credentials (C2PA): every image, images that carry them (verified or modified), or only images whose credentials verify"
          value={credentialsFilter}
          data-checking={checkingCredentials}
          onChange={(e) => setCredentialsFilter(e.target.value as typeof credentialsFilter)}
        >
          <option value="all">Any credentials</option>
          <option value="present">Has credentials</option>
          <option value="verified">Verified only</option>
        </select>
      </div>
      <div ref={ref} className="history-scroll" data-testid="history-list" onScroll={(e) => setScrollTop(e.currentTarget.scrollTop)}>
        {order.length === 0 && !loading && credentialsFilter !== 'all' && loadedOrder.length > 0 ? (
          <div className="empty small" data-testid="history-empty">
            {checkingCredentials ? 'Checking content credentials…' : credentialsFilter === 'verified' ? 'No loaded image has credentials that verify.' : 'No loaded image carries content credentials.'}
          </div>
        ) : order.length === 0 && !loading ? (
          <div className="empty small" data-testid="history-empty">
            {filter.boardId && !search && !filter.minRating && !filter.flag && !filter.tag
              ? 'No images on this board yet. Select images and press + on the board to add them.'
              : search || filter.minRating || filter.flag || filter.tag || filter.boardId
              ? 'No images match this search or filter.'
              : filter.trashed
              ? 'The trash is empty. Deleted images wait here until you empty it.'
              : <EmptyHistoryHint />}
          </div>
        ) : (
          <div className="history-inner" style={{ height: rows * ROW_H }}>
            {visible}
          </div>
        )}
      </div>
      <div className="hint muted">
        Ctrl/Shift-click or Ctrl+A select · Esc none · Del trash · C compare · 1–5 rate
        <label className="auto-advance" title="After a rating, step on to the next image (stops at the last one)">
          <AutoAdvanceToggle /> then next
        </label>{' '}
        · P/X pick/reject
      </div>
      <TagEditor />
      {menu && <ContextMenu menu={menu} close={closeMenu} move={setMoving} />}
      {moving && <MoveDialog ids={moving} close={closeMove} />}
      {exporting && <ExportDialog ids={exporting} close={closeExport} />}
    </aside>
  );
}

function AutoAdvanceToggle() {
  const { on, set } = useAtelier(useShallow((s) => ({ on: s.autoAdvance, set: s.setAutoAdvance })));
  return <input type="checkbox" data-testid="auto-advance" checked={on} onChange={(e) => set(e.target.checked)} />;
}
