import type { StateCreator } from 'zustand';
import type { AtelierClient } from '../../common/api/contract';
import { loadVariantMemory, saveVariantGroups, type StoredGroup } from '../lib/variant-memory';
import { buildVariantGrid, MAX_VARIANT_CELLS, type AxisValues } from '../lib/variants';
import type { AtelierState, VariantGroup, VariantsSlice } from './types';

let nextGroup = 1;

/** The open project's id, for keys of what is kept per project. */
export function currentProjectId(s: Pick<AtelierState, 'projects'>): string {
  return s.projects.find((p) => p.isCurrent)?.id ?? 'default';
}

function toStored(g: VariantGroup): StoredGroup {
  return {
    axis: g.axis,
    axis2: g.axis2 ?? null,
    xLabels: g.xLabels ?? g.cells.map((c) => c.label),
    yLabels: g.yLabels ?? [],
    lockStrength: g.lockStrength,
    ...(g.structure ? { structure: g.structure } : {}),
    cells: g.cells.map((c) => ({ label: c.label, generationId: c.generationId ?? null, ...(c.thumbUrl ? { thumbUrl: c.thumbUrl } : {}), ...(c.error ? { error: c.error } : {}) })),
    createdAt: Date.now(),
  };
}

export const createVariantsSlice =
  (client: AtelierClient): StateCreator<AtelierState, [], [], VariantsSlice> =>
  (set, get, api) => {
    /** project:source pairs whose kept grids are already in `variantGroups`. */
    const restored = new Set<string>();
    const keyOf = (sourceId: string) => `${currentProjectId(get())}:${sourceId}`;

    function persist(sourceId: string): void {
      const groups = get().variantGroups.filter((g) => g.sourceId === sourceId);
      saveVariantGroups(currentProjectId(get()), sourceId, groups.map(toStored));
    }

    // Finished jobs give their cells a generation id (and failed ones an error), which is what is kept.
    api.subscribe((s, prev) => {
      // A project switch empties the grids: what is kept comes back when a source is opened again.
      if (currentProjectId(s) !== currentProjectId(prev) || (s.variantGroups.length === 0 && prev.variantGroups.length > 0)) restored.clear();
      if (s.jobs === prev.jobs && s.records === prev.records) return;
      const touched = new Set<string>();
      const groups = s.variantGroups.map((g) => {
        let changed = false;
        const cells = g.cells.map((c) => {
          const job = c.jobId ? s.jobs[c.jobId] : undefined;
          if (!job) return c;
          const id = job.generationIds[0];
          if (job.state === 'done' && id && (c.generationId !== id || (!c.thumbUrl && s.records[id]))) {
            changed = true;
            return { ...c, generationId: id, thumbUrl: s.records[id]?.thumbUrl ?? c.thumbUrl };
          }
          if ((job.state === 'failed' || job.state === 'cancelled') && !c.error) {
            changed = true;
            return { ...c, error: job.error?.message ?? job.state };
          }
          return c;
        });
        if (!changed) return g;
        touched.add(g.sourceId);
        return { ...g, cells };
      });
      if (touched.size === 0) return;
      set({ variantGroups: groups });
      for (const sourceId of touched) persist(sourceId);
    });

    return {
      variantGroups: [],

      restoreVariants(sourceId) {
        const key = keyOf(sourceId);
        if (restored.has(key)) return;
        restored.add(key);
        const kept = loadVariantMemory(currentProjectId(get()), sourceId).groups;
        if (kept.length === 0) return;
        const groups: VariantGroup[] = kept.map((g) => ({
          id: `v${nextGroup++}`,
          sourceId,
          axis: g.axis,
          axis2: g.axis2,
          xLabels: g.xLabels,
          yLabels: g.yLabels,
          lockStrength: g.lockStrength,
          structure: g.structure ?? null,
          cells: g.cells.map((c) => ({ label: c.label, jobId: null, error: c.error ?? null, generationId: c.generationId, ...(c.thumbUrl ? { thumbUrl: c.thumbUrl } : {}) })),
        }));
        // Grids still running in this window are newer than anything kept.
        set((s) => ({ variantGroups: [...s.variantGroups, ...groups] }));
      },

      async ensureRecords(ids) {
        const missing = [...new Set(ids)].filter((id) => !get().records[id]);
        const found = await Promise.all(missing.map((id) => client.getGeneration({ id }).catch(() => null)));
        const loaded = found.filter((r) => r !== null);
        if (loaded.length > 0) set((s) => ({ records: { ...s.records, ...Object.fromEntries(loaded.map((r) => [r.id, r])) } }));
      },

      async runVariants(sourceId, axis, values, count = 4, options = {}) {
        const source = get().records[sourceId];
        if (!source) return null;
        get().restoreVariants(sourceId);
        const axes: AxisValues[] = [{ axis, values }, ...(options.second ? [options.second] : [])];
        const grid = buildVariantGrid(source, axes, count, options);
        if (grid.cells.length === 0) {
          get().pushToast({ kind: 'error', title: 'Nothing to explore', message: `Pick or type at least one value for ${options.second ? 'each axis' : 'the axis'}.` });
          return null;
        }
        if (grid.cells.length > MAX_VARIANT_CELLS) {
          get().pushToast({
            kind: 'error',
            title: 'Grid too large',
            message: `${grid.xLabels.length} × ${Math.max(1, grid.yLabels.length)} = ${grid.cells.length} images; a grid holds at most ${MAX_VARIANT_CELLS}. Untick some values.`,
          });
          return null;
        }
        const id = `v${nextGroup++}`;
        set((s) => ({
          variantGroups: [
            {
              id,
              sourceId,
              axis,
              axis2: options.second?.axis ?? null,
              xLabels: grid.xLabels,
              yLabels: grid.yLabels,
              lockStrength: options.lockStrength ?? null,
              structure: options.structure ? { lock: options.structure.lock, controlNet: options.structure.controlNet } : null,
              cells: grid.cells.map((v) => ({ label: v.label, jobId: null, error: null, generationId: null })),
            },
            ...s.variantGroups,
          ],
        }));
        persist(sourceId);
        // Enqueue in order so the grid fills row by row.
        for (const [i, spec] of grid.cells.entries()) {
          const jobId = await get().enqueue(spec.request, 'variant');
          set((s) => ({
            variantGroups: s.variantGroups.map((g) =>
              g.id !== id ? g : { ...g, cells: g.cells.map((c, j) => (j === i ? { ...c, jobId, error: jobId ? null : 'not queued' } : c)) },
            ),
          }));
        }
        persist(sourceId);
        return id;
      },

      variantGenerationIds(groupId) {
        const s = get();
        const group = s.variantGroups.find((g) => g.id === groupId);
        if (!group) return [];
        return group.cells.flatMap((c) => (c.generationId ? [c.generationId] : c.jobId ? (s.jobs[c.jobId]?.generationIds ?? []) : []));
      },
    };
  };
