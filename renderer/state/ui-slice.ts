import type { StateCreator } from 'zustand';
import { AtelierApiError } from '../../common/api/contract';
import { FIT_VIEW } from '../lib/view-transform';
import type { AtelierState, UiSlice } from './types';

let nextToastId = 1;

/** Readable message for any thrown value, with field issues spelled out. */
export function describeError(err: unknown): string {
  if (err instanceof AtelierApiError) {
    const issues = err.issues?.map((i) => `${i.path}: ${i.message}`).join('; ');
    return issues ? `${err.message} (${issues})` : err.message;
  }
  return err instanceof Error ? err.message : String(err);
}

export const createUiSlice: StateCreator<AtelierState, [], [], UiSlice> = (set, get) => ({
  viewingId: null,
  followJobs: true,
  viewerView: FIT_VIEW,
  toasts: [],
  variantExplorerOpen: false,
  revealNonce: 0,

  view(id) {
    set({ viewingId: id, followJobs: false });
  },
  setViewerView(viewerView) {
    set({ viewerView });
  },
  pushToast(t) {
    const id = nextToastId++;
    set((s) => ({ toasts: [...s.toasts.slice(-4), { ...t, id }] }));
    // Info toasts go by themselves; one with an action (Undo) stays long enough to use it.
    if (t.kind === 'info') setTimeout(() => get().dismissToast(id), t.action ? 8000 : 4000);
  },
  dismissToast(id) {
    set((s) => ({ toasts: s.toasts.filter((t) => t.id !== id) }));
  },
  reportError(title, err) {
    get().pushToast({ kind: 'error', title, message: describeError(err) });
  },
  setVariantExplorerOpen(variantExplorerOpen) {
    set({ variantExplorerOpen });
  },
});
