/**
 * The variant explorer's memory, kept with the source image: its settings (axes, ticked and custom
 * values, lock) and the grids made from it (labels and the generation of each cell), so the explorer
 * reopens on that image as it was left — after closing it, switching images or reloading the page.
 *
 * Stored in the browser's localStorage under one key per project and source generation id; a
 * per-window preference, like a panel layout, not part of the project's library.
 */
import type { StructureLock } from './control-units';
import type { VariantAxis } from './presets';

export interface ExplorerSettings {
  axis: VariantAxis;
  /** The second (row) axis of an X/Y grid; null for one axis. */
  axis2: VariantAxis | null;
  /** Ticked choices, per axis (lighting, reflection, scheduler). */
  picked: Partial<Record<VariantAxis, Record<string, boolean>>>;
  /** Values the user added to a choice axis. */
  custom: Partial<Record<VariantAxis, string[]>>;
  /** Free-text values (seeds, CFG, steps, prompt phrases), per axis. */
  text: Partial<Record<VariantAxis, string>>;
  count: number;
  lock: boolean;
  lockStrength: number;
  /** "Lock structure": off, or the source's edges / depth through a ControlNet (older entries: absent = off). */
  structure?: StructureLock | null;
  /** The ControlNet the user chose for it (absent: the first installed one that fits). */
  structureNet?: string | null;
}

export interface StoredCell {
  label: string;
  generationId: string | null;
  thumbUrl?: string;
  error?: string | null;
}

export interface StoredGroup {
  axis: VariantAxis;
  axis2: VariantAxis | null;
  xLabels: string[];
  yLabels: string[];
  lockStrength: number | null;
  structure?: { lock: StructureLock; controlNet: string } | null;
  cells: StoredCell[];
  createdAt: number;
}

export interface VariantMemory {
  settings: ExplorerSettings | null;
  /** Newest first. */
  groups: StoredGroup[];
}

/** Grids kept per source image (older ones are dropped). */
export const MAX_STORED_GROUPS = 4;

type KeyValueStorage = Pick<Storage, 'getItem' | 'setItem'>;

/** In-memory stand-in where there is no localStorage (unit tests in Node). */
function memoryStorage(): KeyValueStorage {
  const m = new Map<string, string>();
  return { getItem: (k) => m.get(k) ?? null, setItem: (k, v) => void m.set(k, String(v)) };
}

let storage: KeyValueStorage = typeof globalThis.localStorage !== 'undefined' ? globalThis.localStorage : memoryStorage();

/** Tests swap in their own storage; returns the previous one. */
export function setVariantStorage(next: KeyValueStorage | null): KeyValueStorage {
  const prev = storage;
  storage = next ?? memoryStorage();
  return prev;
}

export function memoryKey(projectId: string, sourceId: string): string {
  return `atelier.variants.v1:${projectId}:${sourceId}`;
}

export function loadVariantMemory(projectId: string, sourceId: string): VariantMemory {
  try {
    const raw = storage.getItem(memoryKey(projectId, sourceId));
    if (!raw) return { settings: null, groups: [] };
    const parsed = JSON.parse(raw) as Partial<VariantMemory>;
    return { settings: parsed.settings ?? null, groups: Array.isArray(parsed.groups) ? parsed.groups : [] };
  } catch {
    return { settings: null, groups: [] };
  }
}

function save(projectId: string, sourceId: string, memory: VariantMemory): void {
  try {
    storage.setItem(memoryKey(projectId, sourceId), JSON.stringify({ settings: memory.settings, groups: memory.groups.slice(0, MAX_STORED_GROUPS) }));
  } catch {
    // Storage full or disabled: the explorer still works, it just won't remember.
  }
}

export function saveExplorerSettings(projectId: string, sourceId: string, settings: ExplorerSettings): void {
  save(projectId, sourceId, { ...loadVariantMemory(projectId, sourceId), settings });
}

export function saveVariantGroups(projectId: string, sourceId: string, groups: StoredGroup[]): void {
  save(projectId, sourceId, { ...loadVariantMemory(projectId, sourceId), groups });
}
