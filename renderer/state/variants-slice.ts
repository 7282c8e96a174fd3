import type { StateCreator } from 'zustand';
import { buildVariants } from '../lib/variants';
import type { AtelierState, VariantsSlice } from './types';

let nextGroup = 1;

export const createVariantsSlice: StateCreator<AtelierState, [], [], VariantsSlice> = (set, get) => ({
  variantGroups: [],

  async runVariants(sourceId, axis, values, count = 4, options = {}) {
    const source = get().records[sourceId];
    if (!source) return null;
    const specs = buildVariants(source, axis, values, count, options).slice(0, 16);
    if (specs.length === 0) {
      get().pushToast({ kind: 'error', title: 'Nothing to explore', message: 'Pick or type at least one value for the axis.' });
      return null;
    }
    const id = `v${nextGroup++}`;
    set((s) => ({
      variantGroups: [
        { id, sourceId, axis, lockStrength: options.lockStrength ?? null, cells: specs.map((v) => ({ label: v.label, jobId: null, error: null })) },
        ...s.variantGroups,
      ],
    }));
    // Enqueue in order so the grid fills left to right.
    for (const [i, spec] of specs.entries()) {
      const jobId = await get().enqueue(spec.request, 'variant');
      set((s) => ({
        variantGroups: s.variantGroups.map((g) =>
          g.id !== id
            ? g
            : { ...g, cells: g.cells.map((c, j) => (j === i ? { ...c, jobId, error: jobId ? null : 'not queued' } : c)) },
        ),
      }));
    }
    return id;
  },

  variantGenerationIds(groupId) {
    const s = get();
    const group = s.variantGroups.find((g) => g.id === groupId);
    if (!group) return [];
    return group.cells.flatMap((c) => (c.jobId ? (s.jobs[c.jobId]?.generationIds ?? []) : []));
  },
});
