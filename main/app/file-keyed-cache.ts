/**
 * Facts read from a model's files without loading it (clip-skip limit, ControlNet capability), cached
 * by the mtimes of the files they are read from: listModels runs often, and a replaced file — or one
 * added or removed, e.g. a ControlNet UNet installed into `controlnet/` — must change the answer.
 */
import { statSync } from 'node:fs';

/** mtime of a file, or -1 when it is absent: a file that comes or goes changes the key. */
function mtimeOrAbsent(file: string): number {
  try {
    return statSync(file).mtimeMs;
  } catch {
    return -1;
  }
}

export class FileKeyedCache<T> {
  readonly #entries = new Map<string, T>();

  /** `compute()` once per state of `files` (their paths and mtimes). */
  get(files: readonly string[], compute: () => T): T {
    const key = files.map((f) => `${f}\0${mtimeOrAbsent(f)}`).join('\0');
    if (!this.#entries.has(key)) this.#entries.set(key, compute());
    return this.#entries.get(key) as T;
  }
}
