/**
 * The staging folder of one model download: where its files land (`<name>.part` while they
 * transfer), the state file that lets a later run resume (which files were already verified, for
 * exactly which repo, revision and file list), the cross-process lock, and the final atomic move
 * into the models folder. Separate from download-job.ts, which decides *when* these happen (states,
 * pause/resume/cancel, validation); this file only knows *how* the folder is kept consistent on disk.
 */
import { readFile, readdir, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { DownloadError, PART_SUFFIX, STAGING_DIR, STATE_FILE, exists, sha256File, sizeOf, type DownloadFileSpec, type FileProgress, type StagingState } from './download-support';
import { StagingLock } from './staging-lock';

/** What the staging folder records about the download it belongs to. */
export interface StagingRequest {
  readonly id: string;
  readonly repo: string;
  readonly revision: string;
  readonly files: DownloadFileSpec[];
}

export class StagingFolder {
  /** Files verified and renamed to their final name (as recorded in the state file). */
  verified = new Set<string>();
  #stateWrite: Promise<void> = Promise.resolve();
  #lock: StagingLock | undefined;

  constructor(
    /** The staging folder itself (`<modelsDir>/<STAGING_DIR>/<id>`). */
    readonly dir: string,
    private readonly req: StagingRequest,
    /** The error to throw when another process holds the folder's lock. */
    private readonly busyError: (pid: number | undefined) => DownloadError,
  ) {}

  /** Where `p` (a repo path, '/'-separated) lives once verified. */
  finalPath(p: string): string {
    return path.join(this.dir, ...p.split('/'));
  }

  /** Where `p` is written while it transfers. */
  partPath(p: string): string {
    return this.finalPath(p) + PART_SUFFIX;
  }

  /** Whether this run holds the folder's lock. */
  get lockHeld(): boolean {
    return this.#lock?.held ?? false;
  }

  /** One download per staging folder, across processes (see StagingLock). */
  async acquireLock(): Promise<void> {
    this.#lock ??= new StagingLock(this.dir, (pid) => this.busyError(pid));
    await this.#lock.acquire();
  }

  async releaseLock(): Promise<void> {
    await this.#lock?.release();
  }

  /** Resolves once every state-file write started so far has ended (rejects if the last one failed). */
  stateWritten(): Promise<void> {
    return this.#stateWrite;
  }

  /** Reuse the staging folder only when it was started for exactly this repo, revision and file list. */
  async loadOrResetState(): Promise<void> {
    const file = path.join(this.dir, STATE_FILE);
    let prev: StagingState | undefined;
    try {
      prev = JSON.parse(await readFile(file, 'utf8')) as StagingState;
    } catch {
      prev = undefined;
    }
    const same =
      prev?.version === 1 &&
      prev.repo === this.req.repo &&
      prev.revision === this.req.revision &&
      JSON.stringify(prev.files) === JSON.stringify(this.req.files);
    if (!same) {
      // Start over, keeping only our lock.
      for (const name of await readdir(this.dir)) {
        if (path.join(this.dir, name) !== this.#lock?.file) await rm(path.join(this.dir, name), { recursive: true, force: true });
      }
      this.verified = new Set();
    } else {
      this.verified = new Set(prev!.verified);
    }
    await this.persistState(prev && same ? prev.createdAt : new Date().toISOString());
  }

  /** Writes the state file (atomically, one write after another); keeps the first run's `createdAt`. */
  persistState(createdAt?: string): Promise<void> {
    const write = async () => {
      const file = path.join(this.dir, STATE_FILE);
      let created = createdAt;
      if (!created) {
        try {
          created = (JSON.parse(await readFile(file, 'utf8')) as StagingState).createdAt;
        } catch {
          created = new Date().toISOString();
        }
      }
      const state: StagingState = {
        version: 1,
        id: this.req.id,
        repo: this.req.repo,
        revision: this.req.revision,
        files: this.req.files,
        verified: [...this.verified].sort(),
        createdAt: created,
      };
      await writeFile(`${file}.tmp`, JSON.stringify(state, null, 2));
      await rename(`${file}.tmp`, file);
    };
    this.#stateWrite = this.#stateWrite.then(write, write);
    return this.#stateWrite;
  }

  /**
   * A file with no partial but a final copy: verified and renamed, but the app stopped before the
   * state file recorded it. Accepted (and marked done) when its size and checksum match, else deleted.
   */
  async acceptUnrecorded(f: FileProgress, spec: DownloadFileSpec): Promise<boolean> {
    const final = this.finalPath(f.path);
    const size = await sizeOf(final);
    if (size === undefined) return false;
    const ok = (spec.size === undefined || size === spec.size) && (!spec.sha256 || (await sha256File(final)) === spec.sha256);
    if (!ok) {
      await rm(final, { force: true });
      return false;
    }
    f.state = 'done';
    f.bytesDone = size;
    f.bytesTotal = size;
    this.verified.add(f.path);
    return true;
  }

  /** Moves the finished folder to `installDir`, replacing what was there only once the move succeeded. */
  async install(installDir: string, modelsDir: string): Promise<void> {
    // Until here a crash (even during a long validation) resumes without re-downloading.
    // The state file and the lock must not travel into the installed folder.
    await this.#stateWrite;
    await rm(path.join(this.dir, STATE_FILE), { force: true });
    await this.releaseLock();
    let trash: string | undefined;
    if (await exists(installDir)) {
      trash = path.join(modelsDir, STAGING_DIR, `.trash-${this.req.id}-${Date.now()}`);
      await rename(installDir, trash);
    }
    try {
      await rename(this.dir, installDir);
    } catch (err) {
      if (trash) await rename(trash, installDir).catch(() => {});
      throw new DownloadError(`could not move ${this.dir} to ${installDir}: ${(err as Error).message}`, 'io', true, undefined, { cause: err });
    }
    if (trash) await rm(trash, { recursive: true, force: true });
  }
}
