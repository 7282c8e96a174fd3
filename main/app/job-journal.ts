/**
 * Jobs survive the server: every queued job is written to `<userData>/jobs/<jobId>.json` (request
 * with its inline images, project, upscale) when it is queued and removed when it ends. Whatever is
 * still there at start-up was queued or running when the process stopped — a crash, a kill, a power
 * cut — and comes back as an `interrupted` job the user can retry with its parameters.
 */
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { GenerateParams, UpscaleImageParams } from '../../common/api/schemas';

export interface JournalEntry {
  jobId: string;
  request: GenerateParams;
  upscale?: UpscaleImageParams;
  projectId?: string;
  projectName?: string;
  queuedAt: number;
}

export interface JobJournal {
  record(entry: JournalEntry): void;
  remove(jobId: string): void;
}

/** Journal entries kept at most; older interrupted jobs are forgotten first. */
export const MAX_JOURNAL_ENTRIES = 200;
const ID = /^[A-Za-z0-9_-]{1,100}$/;

export class FileJobJournal implements JobJournal {
  constructor(private readonly dir: string) {
    mkdirSync(dir, { recursive: true });
  }

  private file(jobId: string): string {
    if (!ID.test(jobId)) throw new Error(`job journal: bad job id ${jobId}`);
    return join(this.dir, `${jobId}.json`);
  }

  record(entry: JournalEntry): void {
    const target = this.file(entry.jobId);
    const temp = `${target}.tmp-${process.pid}`;
    writeFileSync(temp, JSON.stringify(entry));
    renameSync(temp, target);
  }

  remove(jobId: string): void {
    rmSync(this.file(jobId), { force: true });
  }

  /** Entries left by a previous run, oldest first; unreadable files are dropped (and deleted). */
  load(): JournalEntry[] {
    const entries: JournalEntry[] = [];
    for (const name of readdirSync(this.dir)) {
      const path = join(this.dir, name);
      if (!name.endsWith('.json')) {
        if (name.includes('.tmp-')) rmSync(path, { force: true }); // a write cut short
        continue;
      }
      try {
        const e = JSON.parse(readFileSync(path, 'utf8')) as JournalEntry;
        if (typeof e.jobId === 'string' && ID.test(e.jobId) && e.request && typeof e.request.prompt === 'string') entries.push(e);
        else rmSync(path, { force: true });
      } catch {
        rmSync(path, { force: true });
      }
    }
    entries.sort((a, b) => a.queuedAt - b.queuedAt);
    for (const old of entries.splice(0, Math.max(0, entries.length - MAX_JOURNAL_ENTRIES))) this.remove(old.jobId);
    return entries;
  }
}
