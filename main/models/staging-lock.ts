/**
 * One download per staging folder, across processes (the app and the CLI may both try):
 * `.lock` holds the owner's pid; a lock whose process is gone is taken over.
 */
import { readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';

const LOCK_FILE = '.lock';
/** Staging locks held by jobs in this process (a second job here must not take over our own lock). */
const heldLocks = new Set<string>();

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export class StagingLock {
  #held = false;
  readonly file: string;

  /** `busy(pid)` builds the error thrown when another job (pid, if known) holds the folder. */
  constructor(stagingDir: string, private readonly busy: (pid: number | undefined) => Error) {
    this.file = path.join(stagingDir, LOCK_FILE);
  }

  get held(): boolean {
    return this.#held;
  }

  async acquire(): Promise<void> {
    if (this.#held) return;
    for (let attempt = 0; attempt < 3; attempt++) {
      if (heldLocks.has(this.file)) throw this.busy(process.pid);
      try {
        await writeFile(this.file, JSON.stringify({ pid: process.pid, startedAt: new Date().toISOString() }), { flag: 'wx' });
        heldLocks.add(this.file);
        this.#held = true;
        return;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      let holder: number | undefined;
      try {
        holder = Number((JSON.parse(await readFile(this.file, 'utf8')) as { pid?: unknown }).pid);
      } catch {
        holder = undefined;
      }
      if (holder && holder !== process.pid && processAlive(holder)) throw this.busy(holder);
      await rm(this.file, { force: true }); // stale: its process is gone
    }
    throw this.busy(undefined);
  }

  async release(): Promise<void> {
    if (!this.#held) return;
    heldLocks.delete(this.file);
    this.#held = false;
    await rm(this.file, { force: true }).catch(() => {});
  }
}
