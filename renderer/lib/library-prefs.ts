/**
 * Library view preferences of this window (kept in localStorage, like the workspace): thumbnail
 * size of the history strip and whether rating an image steps on to the next one.
 */
export type ThumbSize = 'small' | 'medium' | 'large';

/** Columns and row height (px) of the history strip per size: the strip is ~250 px wide. */
export const THUMB_LAYOUT: Readonly<Record<ThumbSize, { cols: number; rowH: number }>> = Object.freeze({
  small: { cols: 3, rowH: 80 },
  medium: { cols: 2, rowH: 118 },
  large: { cols: 1, rowH: 236 },
});

export const THUMB_SIZES: readonly ThumbSize[] = ['small', 'medium', 'large'];

type KeyValueStorage = Pick<Storage, 'getItem' | 'setItem'>;

function memoryStorage(): KeyValueStorage {
  const m = new Map<string, string>();
  return { getItem: (k) => m.get(k) ?? null, setItem: (k, v) => void m.set(k, String(v)) };
}

let storage: KeyValueStorage = typeof globalThis.localStorage !== 'undefined' ? globalThis.localStorage : memoryStorage();

/** Tests swap in their own storage; returns the previous one. */
export function setLibraryPrefsStorage(next: KeyValueStorage | null): KeyValueStorage {
  const prev = storage;
  storage = next ?? memoryStorage();
  return prev;
}

const KEY = 'atelier.library.v1';

export interface LibraryPrefs {
  thumbSize: ThumbSize;
  autoAdvance: boolean;
}

export const DEFAULT_LIBRARY_PREFS: LibraryPrefs = Object.freeze({ thumbSize: 'medium', autoAdvance: true });

export function loadLibraryPrefs(): LibraryPrefs {
  try {
    const v = JSON.parse(storage.getItem(KEY) ?? '{}') as Partial<LibraryPrefs>;
    return {
      thumbSize: THUMB_SIZES.includes(v.thumbSize as ThumbSize) ? (v.thumbSize as ThumbSize) : DEFAULT_LIBRARY_PREFS.thumbSize,
      autoAdvance: typeof v.autoAdvance === 'boolean' ? v.autoAdvance : DEFAULT_LIBRARY_PREFS.autoAdvance,
    };
  } catch {
    return { ...DEFAULT_LIBRARY_PREFS };
  }
}

export function saveLibraryPrefs(prefs: LibraryPrefs): void {
  try {
    storage.setItem(KEY, JSON.stringify(prefs));
  } catch {
    /* private mode or full storage: the choice lasts until reload */
  }
}
