/**
 * ComfyUI's input folder: images clients upload (`POST /upload/image`) for LoadImage nodes, kept in
 * `<user data>/comfyui/input/`. Names are checked so that nothing outside that folder is ever read
 * or written (no `..`, no absolute paths, no separators in names).
 */
import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { dirname, extname, join, relative, resolve, sep } from 'node:path';

const IMAGE_EXT = /\.(png|jpe?g|webp|gif|bmp|tiff?)$/i;
const SEGMENT = /^(?!\.{1,2}$)[^/\\:\0]{1,200}$/;

export class InputFiles {
  constructor(readonly dir: string) {}

  /** Image files at the top of the input folder, sorted (LoadImage's combo list). */
  async list(): Promise<string[]> {
    try {
      const names = await readdir(this.dir, { withFileTypes: true });
      return names.filter((d) => d.isFile() && IMAGE_EXT.test(d.name)).map((d) => d.name).sort((a, b) => a.localeCompare(b));
    } catch {
      return [];
    }
  }

  /**
   * The file a name refers to ("name.png", "sub/name.png", "name.png [input]"), or null when the
   * name is unsafe or the file does not exist.
   */
  async resolveExisting(name: string, subfolder = ''): Promise<string | null> {
    const path = this.pathFor(name.replace(/\s*\[input\]$/, ''), subfolder);
    if (!path) return null;
    try {
      return (await stat(path)).isFile() ? path : null;
    } catch {
      return null;
    }
  }

  async read(name: string, subfolder = ''): Promise<Buffer | null> {
    const path = await this.resolveExisting(name, subfolder);
    return path ? readFile(path) : null;
  }

  /**
   * Stores an upload; without `overwrite` an existing name becomes "name (1).png", as ComfyUI
   * does. Returns the stored name, or null when name or subfolder is unsafe.
   */
  async save(name: string, subfolder: string, bytes: Buffer, overwrite: boolean): Promise<string | null> {
    const base = name.replace(/^.*[\\/]/, '');
    const target = this.pathFor(base, subfolder);
    if (!target) return null;
    const folder = dirname(target);
    await mkdir(folder, { recursive: true });
    let stored = base;
    if (!overwrite) {
      const ext = extname(base);
      const stem = base.slice(0, base.length - ext.length);
      for (let i = 1; i < 10_000 && (await this.resolveExisting(stored, subfolder)); i++) stored = `${stem} (${i})${ext}`;
    }
    await writeFile(join(folder, stored), bytes);
    return stored;
  }

  /** A safe path inside the input folder, or null. `name` may carry one "sub/" prefix per folder level. */
  private pathFor(name: string, subfolder: string): string | null {
    const parts = [...subfolder.split('/').filter((s) => s !== ''), ...name.split('/')];
    if (parts.length === 0 || parts.length > 8 || !parts.every((p) => SEGMENT.test(p))) return null;
    const root = resolve(this.dir);
    const full = resolve(root, ...parts);
    const rel = relative(root, full);
    return rel && !rel.startsWith('..') && !rel.includes(`..${sep}`) ? full : null;
  }
}

/** A Content-Type for an input file. */
export function imageContentType(name: string): string {
  const ext = extname(name).toLowerCase();
  return ext === '.jpg' || ext === '.jpeg' ? 'image/jpeg' : ext === '.webp' ? 'image/webp' : ext === '.gif' ? 'image/gif' : ext === '.bmp' ? 'image/bmp' : ext === '.tif' || ext === '.tiff' ? 'image/tiff' : 'image/png';
}
