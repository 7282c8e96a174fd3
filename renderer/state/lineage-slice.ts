import type { StateCreator } from 'zustand';
import type { AtelierClient, GenerationRecord } from '../../common/api/contract';
import type { AtelierState, LineageSlice } from './types';

const MAX_ANCESTORS = 20;

export const createLineageSlice =
  (client: AtelierClient): StateCreator<AtelierState, [], [], LineageSlice> =>
  (set, get) => {
    let latest = 0;
    return {
      showLineage: false,
      lineage: null,

      toggleLineage(on) {
        set((s) => ({ showLineage: on ?? !s.showLineage }));
      },

      async loadLineage(id) {
        const mine = ++latest;
        try {
          const fetch = async (gid: string): Promise<GenerationRecord | null> =>
            get().records[gid] ?? (await client.getGeneration({ id: gid }).catch(() => null));
          const self = await fetch(id);
          if (!self) return;
          const ancestors: GenerationRecord[] = [];
          const seen = new Set([id]);
          for (let p = self.parentId; p && !seen.has(p) && ancestors.length < MAX_ANCESTORS; ) {
            seen.add(p);
            const parent = await fetch(p);
            if (!parent) break;
            ancestors.unshift(parent);
            p = parent.parentId;
          }
          const children = (await client.queryHistory({ parentId: id, limit: 50 })).items;
          if (mine !== latest) return;
          set((s) => {
            const records = { ...s.records };
            for (const r of [self, ...ancestors, ...children]) records[r.id] ??= r;
            return { records, lineage: { id, ancestors, children } };
          });
        } catch (err) {
          get().reportError('Could not load the lineage', err);
        }
      },
    };
  };
