/**
 * The workspace (prompt, negative prompt, every parameter and the ControlNet units) kept per project across reloads: a
 * page reload, a browser restart or a server restart brings back what the user was working on in
 * that project. Stored in the browser's localStorage, one key per project — a per-window working
 * state, not part of the project's library.
 */
import type { StoreApi } from 'zustand';
import type { AtelierState, WorkspaceParams } from '../state/types';
import { unitsFromJson, unitsToJson, type ControlUnitState } from './control-units';

export type KeyValueStorage = Pick<Storage, 'getItem' | 'setItem'>;

export function memoryStorage(): KeyValueStorage {
  const m = new Map<string, string>();
  return { getItem: (k) => m.get(k) ?? null, setItem: (k, v) => void m.set(k, String(v)) };
}

/** The browser's localStorage; elsewhere (unit tests in Node) a fresh in-memory one per store. */
function defaultStorage(): KeyValueStorage {
  return typeof globalThis.localStorage !== 'undefined' ? globalThis.localStorage : memoryStorage();
}

export function workspaceKey(projectId: string): string {
  return `atelier.workspace.v1:${projectId}`;
}

const NUMBER_FIELDS = ['width', 'height', 'steps', 'guidanceScale', 'clipSkip', 'seed', 'batchSize'] as const;

/** The saved workspace of a project, only fields of the right type (a hand-edited or older entry loses nothing else). */
export function loadWorkspace(storage: KeyValueStorage, projectId: string): Partial<WorkspaceParams> | null {
  try {
    const raw = storage.getItem(workspaceKey(projectId));
    if (!raw) return null;
    const v = JSON.parse(raw) as Record<string, unknown>;
    const out: Partial<WorkspaceParams> = {};
    for (const k of ['modelId', 'prompt', 'negativePrompt', 'scheduler'] as const) if (typeof v[k] === 'string') out[k] = v[k] as string;
    for (const k of NUMBER_FIELDS) if (typeof v[k] === 'number' && Number.isFinite(v[k])) out[k] = v[k] as number;
    if (typeof v.seedLocked === 'boolean') out.seedLocked = v.seedLocked;
    if (v.rng === 'cpu' || v.rng === 'cuda') out.rng = v.rng;
    return out;
  } catch {
    return null;
  }
}

export function saveWorkspace(storage: KeyValueStorage, projectId: string, params: WorkspaceParams): void {
  try {
    storage.setItem(workspaceKey(projectId), JSON.stringify(params));
  } catch {
    /* storage full or disabled: the workspace simply isn't kept */
  }
}

export function controlKey(projectId: string): string {
  return `atelier.control.v1:${projectId}`;
}

/** The saved ControlNet units of a project ([] when none or unreadable). */
export function loadControlUnits(storage: KeyValueStorage, projectId: string): ControlUnitState[] {
  try {
    const raw = storage.getItem(controlKey(projectId));
    return raw ? unitsFromJson(JSON.parse(raw)) : [];
  } catch {
    return [];
  }
}

/** Saves the units (an opened file too large for storage is kept without its image: unitsToJson). */
export function saveControlUnits(storage: KeyValueStorage, projectId: string, units: readonly ControlUnitState[]): void {
  try {
    storage.setItem(controlKey(projectId), JSON.stringify(unitsToJson(units)));
  } catch {
    /* storage full or disabled: the units simply aren't kept */
  }
}

/**
 * Keeps the store's workspace in step with storage: when a project becomes current its saved
 * workspace is applied (a model that is no longer installed is left as it was), and from then on
 * every change is saved under that project. Returns the unsubscribe function.
 */
export function persistWorkspace(store: StoreApi<AtelierState>, storage: KeyValueStorage = defaultStorage()): () => void {
  let restoredFor: string | null = null;
  return store.subscribe((state, prev) => {
    const current = state.projects.find((p) => p.isCurrent)?.id ?? null;
    if (!current) return;
    if (current !== restoredFor) {
      restoredFor = current;
      const saved = loadWorkspace(storage, current);
      if (saved) {
        const { modelId, ...rest } = saved;
        const installed = modelId !== undefined && state.models.some((m) => m.id === modelId);
        state.setParams({ ...rest, ...(installed ? { modelId } : {}) });
      }
      // ControlNet units are kept under their own key (they may hold an opened image).
      state.setControlUnits(loadControlUnits(storage, current));
      return;
    }
    if (state.params !== prev.params) saveWorkspace(storage, current, state.params);
    if (state.controlUnits !== prev.controlUnits) saveControlUnits(storage, current, state.controlUnits);
  });
}
