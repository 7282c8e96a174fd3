import type { StateCreator } from 'zustand';
import { FIT_VIEW } from '../lib/view-transform';
import { describeError } from '../lib/errors';
import type { AtelierState, Toast, UiSlice } from './types';

export { describeError } from '../lib/errors';

let nextToastId = 1;

/** How long info/success toasts stay (one with an action, e.g. Undo, stays long enough to use it). */
export const TOAST_MS = 4000;
export const TOAST_ACTION_MS = 8000;
/** Toasts on screen at most; the oldest non-error one goes first. */
export const MAX_TOASTS = 3;

/** Timers of the toasts that close by themselves, so a repeat can restart its toast's timer. */
const timers = new Map<number, ReturnType<typeof setTimeout>>();

function sameToast(a: Toast, b: Omit<Toast, 'id' | 'count'>): boolean {
  return a.kind === b.kind && a.title === b.title && a.message === b.message && !a.action && !b.action;
}

/** Keep at most MAX_TOASTS: drop the oldest info/success ones first, then the oldest errors. */
function capped(toasts: Toast[]): Toast[] {
  const out = [...toasts];
  while (out.length > MAX_TOASTS) {
    const i = out.findIndex((t) => t.kind !== 'error');
    out.splice(i >= 0 ? i : 0, 1);
  }
  return out;
}

export const createUiSlice: StateCreator<AtelierState, [], [], UiSlice> = (set, get) => ({
  viewingId: null,
  followJobs: true,
  viewerView: FIT_VIEW,
  toasts: [],
  variantExplorerOpen: false,
  revealNonce: 0,
  fieldErrors: {},
  emptyPromptConfirm: false,

  view(id) {
    set({ viewingId: id, followJobs: false });
  },
  setViewerView(viewerView) {
    set({ viewerView });
  },
  pushToast(t) {
    const existing = get().toasts.find((x) => sameToast(x, t));
    // The same toast again: count it on the one already shown (moved to the newest place).
    const id = existing ? existing.id : nextToastId++;
    set((s) => ({
      toasts: capped([...s.toasts.filter((x) => x.id !== id), { ...t, id, count: existing ? (existing.count ?? 1) + 1 : 1 }]),
    }));
    const old = timers.get(id);
    if (old) clearTimeout(old);
    timers.delete(id);
    // Errors stay until closed; the rest go by themselves.
    if (t.kind !== 'error') timers.set(id, setTimeout(() => get().dismissToast(id), t.action ? TOAST_ACTION_MS : TOAST_MS));
  },
  dismissToast(id) {
    const timer = timers.get(id);
    if (timer) clearTimeout(timer);
    timers.delete(id);
    set((s) => ({ toasts: s.toasts.filter((t) => t.id !== id) }));
  },
  reportError(title, err) {
    get().pushToast({ kind: 'error', title, message: describeError(err) });
  },
  setFieldError(field, error) {
    set((s) => {
      const current = s.fieldErrors[field];
      if (!error) {
        if (!current) return {};
        const { [field]: _gone, ...rest } = s.fieldErrors;
        return { fieldErrors: rest };
      }
      if (current && current.message === error.message && current.shown === error.shown) return {};
      return { fieldErrors: { ...s.fieldErrors, [field]: error } };
    });
  },
  async requestGenerate(opts = {}) {
    const errors = get().fieldErrors;
    if (Object.keys(errors).length > 0) {
      // Never generate with the last valid value behind an invalid field: say which field and why.
      set({ fieldErrors: Object.fromEntries(Object.entries(errors).map(([k, e]) => [k, { ...e, shown: true }])), emptyPromptConfirm: false });
      return null;
    }
    if (!opts.allowEmptyPrompt && !get().params.prompt.trim()) {
      set({ emptyPromptConfirm: true });
      return null;
    }
    set({ emptyPromptConfirm: false });
    return get().generate();
  },
  cancelEmptyPrompt() {
    set({ emptyPromptConfirm: false });
  },
  setVariantExplorerOpen(variantExplorerOpen) {
    set({ variantExplorerOpen });
  },
});
