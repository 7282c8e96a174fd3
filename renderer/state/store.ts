/**
 * The bound store: typed slices combined once. Actions are the only code that calls the API; the
 * client is injected so tests can pass a fake.
 */
import { createContext, useContext } from 'react';
import { createStore, useStore, type StoreApi } from 'zustand';
import type { AtelierClient } from '../../common/api/contract';
import { createBoardsSlice } from './boards-slice';
import { createCompareSlice } from './compare-slice';
import { createFarmSlice } from './farm-slice';
import { createLorasSlice } from './loras-slice';
import { createControlSlice } from './control-slice';
import { createHistorySlice } from './history-slice';
import { createImportSlice } from './import-slice';
import { createProjectsSlice } from './projects-slice';
import { createJobsSlice } from './jobs-slice';
import { createLibrarySlice } from './library-slice';
import { createLineageSlice } from './lineage-slice';
import { createModelManagerSlice } from './model-manager-slice';
import { createSystemSlice } from './system-slice';
import type { AtelierState } from './types';
import { createUiSlice } from './ui-slice';
import { createVariantsSlice } from './variants-slice';
import { createWorkspaceSlice } from './workspace-slice';
import { persistWorkspace, type KeyValueStorage } from '../lib/workspace-memory';

export type AtelierStore = StoreApi<AtelierState>;

export function createAtelierStore(client: AtelierClient, opts: { workspaceStorage?: KeyValueStorage } = {}): AtelierStore {
  const store = createStore<AtelierState>()((...a) => ({
    ...createSystemSlice(client)(...a),
    ...createWorkspaceSlice(...a),
    ...createJobsSlice(client)(...a),
    ...createHistorySlice(client)(...a),
    ...createCompareSlice(...a),
    ...createUiSlice(...a),
    ...createVariantsSlice(client)(...a),
    ...createProjectsSlice(client)(...a),
    ...createImportSlice(client)(...a),
    ...createLineageSlice(client)(...a),
    ...createModelManagerSlice(client)(...a),
    ...createBoardsSlice(client)(...a),
    ...createLibrarySlice(client)(...a),
    ...createFarmSlice(client)(...a),
    ...createLorasSlice(client)(...a),
    ...createControlSlice(client)(...a),
  }));
  // The workspace of each project survives reloads (renderer/lib/workspace-memory.ts).
  persistWorkspace(store, opts.workspaceStorage);
  return store;
}

export const StoreContext = createContext<AtelierStore | null>(null);

export function useAtelier<T>(selector: (s: AtelierState) => T): T {
  const store = useContext(StoreContext);
  if (!store) throw new Error('useAtelier must be used inside <StoreContext.Provider>');
  return useStore(store, selector);
}

export function useAtelierStore(): AtelierStore {
  const store = useContext(StoreContext);
  if (!store) throw new Error('useAtelierStore must be used inside <StoreContext.Provider>');
  return store;
}
