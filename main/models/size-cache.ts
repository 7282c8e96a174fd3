/**
 * Sizes of model folders, measured once and kept: listing models (the studio asks often, twenty
 * clients at once in the soak bench) must not walk every model folder on each call.
 *
 * An entry stays valid while the folder's own stat (inode and mtime) is unchanged: replacing,
 * renaming or re-creating a model folder, or adding/removing a file or component folder at its top
 * level, re-measures it. A change deeper inside (a file swapped in `unet/`) is not seen by that
 * cheap check; the model manager clears the cache on every install, import, removal and finished
 * or discarded download, which is how models change through Atelier.
 */
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { MANIFEST_FILE } from './manifest';

/** Bytes in a folder, recursively (the manifest itself not counted). */
export async function folderSize(dir: string): Promise<number> {
  let total = 0;
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch {
    return 0;
  }
  for (const e of entries) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) total += await folderSize(p);
    else if (e.name !== MANIFEST_FILE) total += (await stat(p).catch(() => ({ size: 0 }))).size;
  }
  return total;
}

interface Entry {
  stamp: string;
  bytes: Promise<number>;
}

export class FolderSizeCache {
  readonly #entries = new Map<string, Entry>();
  readonly #measure: (dir: string) => Promise<number>;

  /** `measure` walks a folder for its size (injectable so tests can count the walks). */
  constructor(measure: (dir: string) => Promise<number> = folderSize) {
    this.#measure = measure;
  }

  /** The folder's size: measured on first use, then again only when its stamp changed or after invalidate(). */
  async size(dir: string): Promise<number> {
    const key = path.resolve(dir);
    let stamp: string;
    try {
      const s = await stat(key);
      stamp = `${s.ino}:${s.mtimeMs}`;
    } catch {
      this.#entries.delete(key);
      return 0;
    }
    const hit = this.#entries.get(key);
    if (hit && hit.stamp === stamp) return hit.bytes;
    // Concurrent callers share one walk; the stamp was taken before it, so a change during the walk re-measures next time.
    const bytes = this.#measure(key);
    const entry = { stamp, bytes };
    this.#entries.set(key, entry);
    bytes.catch(() => {
      if (this.#entries.get(key) === entry) this.#entries.delete(key);
    });
    return bytes;
  }

  /** Forgets one folder's size, or every size. */
  invalidate(dir?: string): void {
    if (dir === undefined) this.#entries.clear();
    else this.#entries.delete(path.resolve(dir));
  }
}
