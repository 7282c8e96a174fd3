import type { StateCreator } from 'zustand';
import type { AtelierClient } from '../../common/api/contract';
import type { AtelierState, HistorySlice } from './types';
import { baseRequest } from '../lib/variants';
import { parseHistorySearch, recordMatchesSearch } from '../../common/history-search';

export const HISTORY_PAGE = 100;

export const createHistorySlice =
  (client: AtelierClient): StateCreator<AtelierState, [], [], HistorySlice> =>
  (set, get) => {
    let generation = 0; // discards pages of a superseded query
    /** Removes images from the strip, the selection and the viewer. */
    const dropFromStrip = (ids: string[]) =>
      set((st) => {
        const gone = new Set(ids);
        const records = { ...st.records };
        for (const id of ids) delete records[id];
        return {
          records,
          historyOrder: st.historyOrder.filter((x) => !gone.has(x)),
          selection: st.selection.filter((x) => !gone.has(x)),
          viewingId: st.viewingId && gone.has(st.viewingId) ? null : st.viewingId,
        };
      });

    return {
      records: {},
      historyOrder: [],
      nextCursor: null,
      historyLoading: true, // until the first page arrives
      historySearch: '',
      historyFilter: {},

      async setHistoryFilter(filter) {
        set({ historyFilter: filter });
        await get().loadHistory(true);
      },

      async loadHistory(reset = false) {
        const s = get();
        if (!reset && (s.historyLoading || !s.nextCursor)) return;
        const mine = reset ? ++generation : generation;
        set({ historyLoading: true });
        try {
          const search = get().historySearch.trim();
          const page = await client.queryHistory({
            limit: HISTORY_PAGE,
            ...(reset ? {} : { cursor: s.nextCursor ?? undefined }),
            ...(search ? { search } : {}),
            ...get().historyFilter,
          });
          if (mine !== generation) return;
          set((st) => {
            const records = { ...st.records };
            for (const r of page.items) records[r.id] = r;
            const base = reset ? [] : st.historyOrder;
            const seen = new Set(base);
            const order = [...base, ...page.items.map((r) => r.id).filter((id) => !seen.has(id))];
            return { records, historyOrder: order, nextCursor: page.nextCursor };
          });
        } catch (err) {
          get().reportError('Could not load history', err);
        } finally {
          if (mine === generation) set({ historyLoading: false });
        }
      },

      async setHistorySearch(search) {
        set({ historySearch: search });
        await get().loadHistory(true);
      },

      addGenerations(items) {
        if (items.length === 0) return;
        const { historyFilter: f, historySearch: q } = get();
        const visible = items.filter(
          (r) =>
            (f.minRating === undefined || r.rating >= f.minRating) &&
            (f.flag === undefined || r.flag === f.flag) &&
            // A fresh generation is on no board yet.
            f.boardId === undefined &&
            !f.trashed &&
            (f.tag === undefined || r.tags.some((t) => t.toLowerCase() === f.tag!.toLowerCase())) &&
            // The search box's tag:/seed:/model:/scheduler: terms count too, not only the words.
            (!q.trim() || recordMatchesSearch(r, parseHistorySearch(q))),
        );
        set((st) => {
          const records = { ...st.records };
          for (const r of items) records[r.id] = r;
          const fresh = visible.map((r) => r.id).filter((id) => !st.records[id]);
          // Newest first, the way the history strip reads.
          return { records, historyOrder: [...fresh.reverse(), ...st.historyOrder] };
        });
      },

      async updateGeneration(id, patch) {
        const before = get().records[id];
        if (!before) return;
        set((st) => ({ records: { ...st.records, [id]: { ...before, ...patch } } })); // optimistic
        try {
          const updated = await client.updateGeneration({ id, ...patch });
          set((st) => ({ records: { ...st.records, [id]: updated } }));
        } catch (err) {
          set((st) => ({ records: { ...st.records, [id]: before } }));
          get().reportError('Could not update the image', err);
        }
      },

      async deleteGeneration(id) {
        try {
          await client.deleteGeneration({ id });
          dropFromStrip([id]);
          get().pushToast({
            kind: 'info',
            title: 'Moved to trash',
            message: 'Undo, or restore it later from Trash above the history.',
            action: { label: 'Undo', run: () => void get().restoreGenerations([id]).then(() => get().loadHistory(true)) },
          });
        } catch (err) {
          get().reportError('Could not delete the image', err);
        }
      },

      async restoreGenerations(ids) {
        const restored: string[] = [];
        try {
          for (const id of ids) {
            await client.restoreGeneration({ id });
            restored.push(id);
          }
        } catch (err) {
          get().reportError('Could not restore the image', err);
        }
        if (restored.length === 0) return;
        // Restored images leave the trash view; the live history gets them back on its next load.
        if (get().historyFilter.trashed) dropFromStrip(restored);
        get().pushToast({ kind: 'info', title: 'Restored', message: `${restored.length} image${restored.length === 1 ? '' : 's'} back in the history.` });
      },

      async emptyTrash() {
        try {
          const { purged } = await client.emptyTrash();
          if (get().historyFilter.trashed) await get().loadHistory(true);
          get().pushToast({ kind: 'info', title: 'Trash emptied', message: `${purged} image${purged === 1 ? '' : 's'} deleted for good.` });
        } catch (err) {
          get().reportError('Could not empty the trash', err);
        }
      },

      async reveal(id) {
        const s = get();
        if (!s.historyOrder.includes(id)) {
          // Hidden by a search or filter: show everything again so the image has a place in the strip.
          set({ historySearch: '', historyFilter: {} });
          await get().loadHistory(true);
          if (!get().records[id]) {
            try {
              get().addGenerations([await client.getGeneration({ id })]);
            } catch (err) {
              get().reportError('Could not reveal the image', err);
              return;
            }
          }
          if (!get().historyOrder.includes(id)) set((st) => ({ historyOrder: [id, ...st.historyOrder] }));
        }
        set((st) => ({ compareMode: false, selection: [id], selectionAnchor: id, viewingId: id, followJobs: false, revealNonce: st.revealNonce + 1 }));
      },

      async vary(id) {
        const r = get().records[id];
        if (!r) return null;
        const jobId = await get().enqueue({ ...baseRequest(r), seed: -1 }, 'vary');
        if (jobId) set({ followJobs: true });
        return jobId;
      },
    };
  };
