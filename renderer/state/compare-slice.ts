import type { StateCreator } from 'zustand';
import { chooseAb, startAb } from '../lib/ab';
import { FIT_VIEW } from '../lib/view-transform';
import { MAX_COMPARE, MAX_SELECTION, type AtelierState, type CompareSlice } from './types';

/** The images Compare shows: the first MAX_COMPARE of the selection (a library selection may be larger). */
export function compareIds(selection: readonly string[]): string[] {
  return selection.slice(0, MAX_COMPARE);
}

export const createCompareSlice: StateCreator<AtelierState, [], [], CompareSlice> = (set, get) => {
  const focusedId = () => {
    const s = get();
    if (s.compareLayout === 'ab' && s.ab) return s.ab.champion;
    const ids = compareIds(s.selection);
    return ids[Math.min(s.compareFocus, ids.length - 1)];
  };
  return {
    compareMode: false,
    selection: [],
    selectionAnchor: null,
    compareLayout: 'side',
    compareView: FIT_VIEW,
    compareFocus: 0,
    showLabels: true,
    swipe: 0.5,
    ab: null,
    loupe: false,
    loupePoint: null,

    startAb() {
      set((s) => ({ ab: startAb(compareIds(s.selection)), compareLayout: 'ab', compareView: FIT_VIEW }));
    },
    async chooseAb(winner) {
      const ab = get().ab;
      if (!ab || ab.done) return;
      const next = chooseAb(ab, winner);
      set({ ab: next });
      if (next.done) {
        await get().updateGeneration(next.champion, { flag: 'pick' });
        const r = get().records[next.champion];
        get().pushToast({ kind: 'info', title: 'Winner picked', message: r ? `Seed ${r.seed} is flagged as a pick.` : 'Flagged as a pick.' });
      }
    },
    toggleLoupe() {
      set((s) => ({ loupe: !s.loupe, loupePoint: null }));
    },
    setLoupePoint(loupePoint) {
      set({ loupePoint });
    },

    toggleCompare(on) {
      set((s) => {
        const compareMode = on ?? !s.compareMode;
        // Entering compare: 3+ images only make sense as a grid; 2 keep the user's 2-up choice.
        const compareLayout = compareIds(s.selection).length > 2 ? 'grid' : s.compareLayout === 'grid' || s.compareLayout === 'ab' ? 'side' : s.compareLayout;
        return { compareMode, compareLayout, compareFocus: 0, compareView: FIT_VIEW, ab: null };
      });
    },

    selectInHistory(id, mode) {
      set((s) => {
        if (mode === 'single') return { selection: [id], selectionAnchor: id, viewingId: id, followJobs: false };
        if (mode === 'toggle') {
          const selection = s.selection.includes(id)
            ? s.selection.filter((x) => x !== id)
            : [...s.selection, id].slice(-MAX_SELECTION);
          return { selection, selectionAnchor: id };
        }
        const anchor = s.selectionAnchor ?? s.selection[s.selection.length - 1] ?? id;
        const a = s.historyOrder.indexOf(anchor);
        const b = s.historyOrder.indexOf(id);
        if (a < 0 || b < 0) return { selection: [id], selectionAnchor: id };
        const range = s.historyOrder.slice(Math.min(a, b), Math.max(a, b) + 1);
        const merged = [...s.selection.filter((x) => !range.includes(x)), ...range];
        return { selection: merged.slice(-MAX_SELECTION) };
      });
    },

    setSelection(ids) {
      set({ selection: ids.slice(0, MAX_SELECTION), selectionAnchor: ids[0] ?? null, compareFocus: 0 });
    },

    setCompareLayout(compareLayout) {
      if (compareLayout === 'ab') get().startAb();
      else set({ compareLayout, ab: null });
    },
    setCompareView(compareView) {
      set({ compareView });
    },
    moveCompareFocus(delta) {
      set((s) => {
        const n = compareIds(s.selection).length;
        if (n === 0) return {};
        // Clamped, never wrapped: past the last image focus stays on it (culling must not start over at the first).
        return { compareFocus: Math.max(0, Math.min(n - 1, s.compareFocus + delta)) };
      });
    },
    setCompareFocus(index) {
      set({ compareFocus: index });
    },
    toggleLabels() {
      set((s) => ({ showLabels: !s.showLabels }));
    },
    setSwipe(x) {
      set({ swipe: Math.min(1, Math.max(0, x)) });
    },
    async rateFocused(rating) {
      const id = focusedId();
      if (id) await get().updateGeneration(id, { rating });
    },
    async flagFocused(flag) {
      const id = focusedId();
      if (!id) return;
      const current = get().records[id]?.flag;
      await get().updateGeneration(id, { flag: current === flag ? 'none' : flag });
    },
  };
};
