/**
 * Library work at studio scale: actions on a whole selection (trash, tags, move to another
 * project), keyboard selection (Ctrl/Cmd+A, Esc) and culling (rate, then step on), project
 * management (rename, archive, delete) and server-mode export downloads.
 */
import type { StateCreator } from 'zustand';
import type { AtelierClient, CredentialsInfo } from '../../common/api/contract';
import { loadLibraryPrefs, saveLibraryPrefs } from '../lib/library-prefs';
import { MAX_COMPARE, MAX_SELECTION, type AtelierState, type LibrarySlice } from './types';

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

/** Verifications in flight at once: each reads a whole image file on the server. */
const CREDENTIAL_READS = 2;

/** An image whose credentials could not be checked (gone from the project, server error). */
function unchecked(why: string): CredentialsInfo {
  return { state: 'unknown', aiGenerated: false, actions: [], chain: [], problems: [], untrusted: false, warnings: [why] };
}

export const createLibrarySlice =
  (client: AtelierClient): StateCreator<AtelierState, [], [], LibrarySlice> =>
  (set, get) => {
    const prefs = loadLibraryPrefs();
    /** Takes images out of the strip; the viewer moves to the image now at the first one's place. */
    const leaveStrip = (ids: string[]) =>
      set((s) => {
        const gone = new Set(ids);
        const firstAt = s.historyOrder.findIndex((x) => gone.has(x));
        const order = s.historyOrder.filter((x) => !gone.has(x));
        const records = { ...s.records };
        for (const id of ids) delete records[id];
        const viewingGone = s.viewingId !== null && gone.has(s.viewingId);
        const next = viewingGone && firstAt >= 0 ? (order[Math.min(firstAt, order.length - 1)] ?? null) : s.viewingId;
        const selection = s.selection.filter((x) => !gone.has(x));
        return {
          records,
          historyOrder: order,
          selection: viewingGone && next ? [next] : selection,
          selectionAnchor: viewingGone ? next : s.selectionAnchor,
          viewingId: next,
          compareFocus: Math.min(s.compareFocus, Math.max(0, Math.min(selection.length, MAX_COMPARE) - 1)),
        };
      });

    // Credential reads: a small queue so a screenful of tiles never floods the server.
    const wanted: string[] = [];
    const queued = new Set<string>();
    let reading = 0;
    const pumpCredentials = () => {
      while (reading < CREDENTIAL_READS && wanted.length) {
        const id = wanted.shift()!;
        if (get().credentials[id]) {
          queued.delete(id);
          continue;
        }
        reading++;
        client
          .verifyImage({ id })
          .catch((err: unknown) => unchecked(err instanceof Error ? err.message : String(err)))
          .then((c) => set((s) => ({ credentials: { ...s.credentials, [id]: c } })))
          .finally(() => {
            reading--;
            queued.delete(id);
            pumpCredentials();
          });
      }
    };

    return {
      credentials: {},
      credentialsFilter: 'all',
      receipts: {},
      reproducing: [],

      ensureCredentials(ids) {
        const known = get().credentials;
        for (const id of ids) {
          if (known[id] || queued.has(id)) continue;
          queued.add(id);
          wanted.push(id);
        }
        pumpCredentials();
      },

      setCredentialsFilter(credentialsFilter) {
        set({ credentialsFilter });
        if (credentialsFilter !== 'all') get().ensureCredentials(get().historyOrder);
      },

      async reproduceGeneration(id) {
        if (get().reproducing.includes(id)) return null;
        set((s) => ({ reproducing: [...s.reproducing, id] }));
        try {
          const r = await client.reproduceGeneration({ id });
          set((s) => ({ receipts: { ...s.receipts, [id]: r } }));
          if (r.result === 'identical') {
            get().pushToast({ kind: 'success', title: 'Reproduced bit for bit', message: `Regenerated from its own parameters: all ${r.width}×${r.height} pixels identical (${r.modelId}, ${r.provider}).` });
          } else {
            get().pushToast({
              kind: 'info',
              title: 'Reproduced, not identical',
              message: `Mean difference ${r.meanAbsDiff} of 255, largest ${r.maxDiff} (${r.modelId}, ${r.provider}).${r.note ? ` ${r.note}.` : ''}`,
            });
          }
          return r;
        } catch (err) {
          get().reportError('Could not reproduce the image', err);
          return null;
        } finally {
          set((s) => ({ reproducing: s.reproducing.filter((x) => x !== id) }));
        }
      },

      async loadReceipt(id) {
        if (get().receipts[id]) return;
        try {
          const r = await client.getReceipt({ id });
          if (r && !get().receipts[id]) set((s) => ({ receipts: { ...s.receipts, [id]: r } }));
        } catch {
          /* no receipt to show: the viewer simply offers Reproduce */
        }
      },

      thumbSize: prefs.thumbSize,
      autoAdvance: prefs.autoAdvance,

      setThumbSize(thumbSize) {
        set({ thumbSize });
        saveLibraryPrefs({ thumbSize, autoAdvance: get().autoAdvance });
      },
      setAutoAdvance(autoAdvance) {
        set({ autoAdvance });
        saveLibraryPrefs({ thumbSize: get().thumbSize, autoAdvance });
      },

      selectAll() {
        const order = get().historyOrder;
        if (order.length === 0) return;
        set((s) => ({ selection: order.slice(0, MAX_SELECTION), selectionAnchor: s.viewingId ?? order[0], compareFocus: 0 }));
      },
      clearSelection() {
        set({ selection: [], selectionAnchor: null, compareFocus: 0 });
      },

      async rateAndAdvance(rating) {
        const s = get();
        if (s.compareMode) {
          if (s.compareLayout === 'ab') return s.rateFocused(rating);
          const done = s.rateFocused(rating);
          // Steps to the next tile; on the last one it stays (moveCompareFocus never wraps).
          if (s.autoAdvance && rating > 0) s.moveCompareFocus(1);
          return done;
        }
        const id = s.viewingId;
        if (!id) return;
        const done = s.updateGeneration(id, { rating });
        if (s.autoAdvance && rating > 0) {
          const at = s.historyOrder.indexOf(id);
          const next = at >= 0 ? s.historyOrder[at + 1] : undefined;
          // The last image stays in view: culling ends there instead of starting over at the first.
          if (next) s.selectInHistory(next, 'single');
        }
        await done;
      },

      async trashGenerations(ids) {
        if (ids.length === 0 || get().historyFilter.trashed) return;
        try {
          const { trashed } = await client.trashGenerations({ ids });
          leaveStrip(ids);
          get().pushToast({
            kind: 'info',
            title: 'Moved to trash',
            message: `${plural(trashed, 'image')} in the trash. Undo, or restore later from Trash above the history.`,
            action: { label: 'Undo', run: () => void get().restoreGenerations(ids).then(() => get().loadHistory(true)) },
          });
        } catch (err) {
          get().reportError(ids.length === 1 ? 'Could not delete the image' : 'Could not delete the images', err);
        }
      },

      async tagGenerations(ids, add, remove) {
        const clean = (xs: string[]) => [...new Map(xs.map((t) => t.trim()).filter(Boolean).map((t) => [t.toLowerCase(), t])).values()];
        const adding = clean(add);
        const removing = clean(remove);
        if (ids.length === 0 || adding.length + removing.length === 0) return;
        try {
          const { records } = await client.setTags({ ids, add: adding, remove: removing });
          set((s) => {
            const next = { ...s.records };
            for (const r of records) if (next[r.id]) next[r.id] = r;
            // Images that lost the tag being filtered on leave the strip.
            const tag = s.historyFilter.tag?.toLowerCase();
            const lost = tag ? new Set(records.filter((r) => !r.tags.some((t) => t.toLowerCase() === tag)).map((r) => r.id)) : new Set<string>();
            return { records: next, historyOrder: lost.size ? s.historyOrder.filter((x) => !lost.has(x)) : s.historyOrder };
          });
          if (ids.length > 1) {
            const what = [adding.length ? `added ${adding.map((t) => `“${t}”`).join(', ')}` : '', removing.length ? `removed ${removing.map((t) => `“${t}”`).join(', ')}` : '']
              .filter(Boolean)
              .join(', ');
            get().pushToast({ kind: 'info', title: 'Tags changed', message: `${plural(ids.length, 'image')}: ${what}.` });
          }
        } catch (err) {
          get().reportError('Could not change the tags', err);
        }
      },

      async moveGenerations(ids, projectId) {
        if (ids.length === 0) return null;
        try {
          const report = await client.moveGenerations({ ids, projectId });
          leaveStrip(ids);
          const cut = report.cutLinks ? ` ${plural(report.cutLinks, 'lineage link')} to images that stayed here ${report.cutLinks === 1 ? 'was' : 'were'} cut.` : '';
          get().pushToast({ kind: 'success', title: `Moved to “${report.projectName}”`, message: `${plural(report.moved, 'image')} moved with ${report.moved === 1 ? 'its file' : 'their files'}.${cut}` });
          return report;
        } catch (err) {
          get().reportError('Could not move the images', err);
          return null;
        }
      },

      async renameProject(projectId, name) {
        try {
          const renamed = await client.renameProject({ projectId, name });
          set((s) => ({ projects: s.projects.map((p) => (p.id === projectId ? { ...renamed, isCurrent: p.isCurrent } : p)) }));
          return true;
        } catch (err) {
          get().reportError('Could not rename the project', err);
          return false;
        }
      },

      async archiveProject(projectId, archived) {
        try {
          const updated = await client.archiveProject({ projectId, archived });
          set((s) => ({ projects: s.projects.map((p) => (p.id === projectId ? { ...updated, isCurrent: p.isCurrent } : p)) }));
          return true;
        } catch (err) {
          get().reportError(archived ? 'Could not archive the project' : 'Could not unarchive the project', err);
          return false;
        }
      },

      async deleteProject(projectId) {
        const wasCurrent = get().projects.find((p) => p.id === projectId)?.isCurrent ?? false;
        const name = get().projects.find((p) => p.id === projectId)?.name ?? 'The project';
        try {
          const { current } = await client.deleteProject({ projectId });
          set((s) => ({ projects: s.projects.filter((p) => p.id !== projectId) }));
          // Deleting the open project opened another one: show it (unless its project:changed event already did).
          if (wasCurrent && !get().projects.find((p) => p.id === current.id)?.isCurrent) get().onProjectChanged(current);
          else void get().loadProjects();
          get().pushToast({ kind: 'info', title: 'Project deleted', message: `“${name}” and its images were deleted.` });
          return true;
        } catch (err) {
          get().reportError('Could not delete the project', err);
          return false;
        }
      },

      async prepareExportDownload(ids, format) {
        if (ids.length === 0) return null;
        try {
          const r = await client.prepareExportDownload({ ids, format });
          get().pushToast({ kind: 'info', title: `Exported ${plural(r.count, 'image')}`, message: `Downloading ${r.fileName}.` });
          return r;
        } catch (err) {
          get().reportError('Export failed', err);
          return null;
        }
      },
    };
  };
