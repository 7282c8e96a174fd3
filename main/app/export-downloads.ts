/**
 * Server mode's "Export": the browser cannot name a folder on the server (and should not write
 * there), so the backend builds the .zip in a temporary folder of its own and hands out a one-time
 * token; the server streams it from `/export/<token>` (same access rules as images) with a
 * download file name. Each zip is removed after its time is up or when the backend closes.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { ProjectLibrary } from '../library';

export interface PreparedExport {
  token: string;
  fileName: string;
  count: number;
  bytes: number;
}

interface Entry {
  dir: string;
  file: string;
  fileName: string;
  timer: NodeJS.Timeout;
}

/** Tokens are 48 hex characters; anything else is refused before a lookup. */
export const EXPORT_TOKEN_PATTERN = /^[0-9a-f]{48}$/;

function stamp(d = new Date()): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}${p(d.getMonth() + 1)}${p(d.getDate())}-${p(d.getHours())}${p(d.getMinutes())}${p(d.getSeconds())}`;
}

/** A file name any browser and OS accepts: the project's name without path or control characters. */
export function exportFileName(projectName: string, when = new Date()): string {
  const base = projectName.normalize('NFC').replace(/[^\p{L}\p{N} ._()-]+/gu, '_').replace(/^[ .]+|[ .]+$/g, '').slice(0, 60) || 'atelier';
  return `${base}-${stamp(when)}.zip`;
}

export class ExportDownloads {
  private readonly entries = new Map<string, Entry>();

  constructor(private readonly ttlMs = 30 * 60_000) {}

  async prepare(lib: ProjectLibrary, opts: { ids?: string[]; boardId?: string; format?: 'png' | 'jpeg' | 'webp'; quality?: number }): Promise<PreparedExport> {
    const dir = mkdtempSync(path.join(tmpdir(), 'atelier-export-'));
    const fileName = exportFileName(lib.info().name);
    const file = path.join(dir, fileName);
    let count: number;
    try {
      ({ count } = await lib.exportGenerations({ ids: opts.ids, boardId: opts.boardId, to: file, format: opts.format, quality: opts.quality }));
    } catch (err) {
      rmSync(dir, { recursive: true, force: true });
      throw err;
    }
    const token = randomBytes(24).toString('hex');
    const timer = setTimeout(() => this.drop(token), this.ttlMs);
    timer.unref();
    this.entries.set(token, { dir, file, fileName, timer });
    return { token, fileName, count, bytes: statSync(file).size };
  }

  /** The zip behind a token, while it is still kept. */
  resolve(token: string): { path: string; fileName: string } | null {
    if (!EXPORT_TOKEN_PATTERN.test(token)) return null;
    const e = this.entries.get(token);
    return e ? { path: e.file, fileName: e.fileName } : null;
  }

  private drop(token: string): void {
    const e = this.entries.get(token);
    if (!e) return;
    clearTimeout(e.timer);
    this.entries.delete(token);
    rmSync(e.dir, { recursive: true, force: true });
  }

  close(): void {
    for (const token of [...this.entries.keys()]) this.drop(token);
  }
}
