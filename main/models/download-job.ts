/**
 * DownloadJob: one model download, from planning to atomic install. Created by
 * ModelDownloader.start(); emits `progress`, `state` and `file` events; pause/resume/cancel.
 */
import { EventEmitter } from 'node:events';
import { mkdir, open, readFile, readdir, rename, rm, truncate, writeFile, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { HubError } from './hub-client';
import { checkPipelineFolder, detectFamily } from './layout';
import { assertSafeModelId, writeManifest, type ModelManifest } from './manifest';
import type { ModelKind } from './catalog';
import type { HubClient } from './hub-client';
import type { ResolvedDownloaderOptions } from './download-support';

/** What a job needs from the downloader that runs it (ModelDownloader satisfies it). */
export interface DownloadHost {
  readonly modelsDir: string;
  readonly hub: HubClient;
  readonly options: ResolvedDownloaderOptions;
  stagingDir(id: string): string;
  installDir(id: string): string;
}
import {
  DownloadError,
  PART_SUFFIX,
  STAGING_DIR,
  STATE_FILE,
  dedupeFiles,
  exists,
  formatBytes,
  ioError,
  sha256File,
  sizeOf,
  sleep,
  toDownloadError,
  type DownloadFileSpec,
  type DownloadProgress,
  type DownloadRequest,
  type DownloadResult,
  type DownloadState,
  type FileProgress,
  type StagingState,
} from './download-support';
import { StagingLock } from './staging-lock';

/** Reasons an in-flight run is interrupted. */
const PAUSE = Symbol('pause');
const CANCEL = Symbol('cancel');
const SHUTDOWN = Symbol('shutdown');
type StopReason = typeof PAUSE | typeof CANCEL | typeof SHUTDOWN;

export interface DownloadJobEvents {
  progress: [DownloadProgress];
  state: [DownloadState];
  file: [FileProgress];
}

export class DownloadJob extends EventEmitter<DownloadJobEvents> {
  readonly id: string;
  readonly done: Promise<DownloadResult>;
  #state: DownloadState = 'preparing';
  readonly #dl: DownloadHost;
  readonly #req: Required<Pick<DownloadRequest, 'id' | 'repo' | 'revision' | 'files'>> & DownloadRequest;
  readonly #files: FileProgress[];
  #run = new AbortController();
  #stopReason: StopReason | undefined;
  #wake: (() => void) | undefined;
  #bytesReceived = 0;
  #samples: Array<{ t: number; bytes: number }> = [];
  #lastEmit = 0;
  #stateWrite: Promise<void> = Promise.resolve();
  #verified = new Set<string>();
  #lock: StagingLock | undefined;

  constructor(dl: DownloadHost, request: DownloadRequest, signal?: AbortSignal) {
    super();
    assertSafeModelId(request.id);
    this.#dl = dl;
    this.id = request.id;
    this.#req = { ...request, revision: request.revision ?? 'main', files: dedupeFiles(request.files) };
    this.#files = this.#req.files.map((f) => ({ path: f.path, state: 'pending', bytesDone: 0, bytesTotal: f.size ?? f.sizeHint }));
    if (signal) {
      if (signal.aborted) this.#stop(SHUTDOWN);
      else signal.addEventListener('abort', () => this.#stop(SHUTDOWN), { once: true });
    }
    this.done = this.#main();
    // An unobserved failure must not crash the process; callers still see it via `done`.
    this.done.catch(() => {});
  }

  get state(): DownloadState {
    return this.#state;
  }

  /** Stop transferring, keep partial files; `resume()` continues where it stopped. */
  pause(): void {
    if (this.#state === 'downloading' || this.#state === 'preparing') this.#stop(PAUSE);
  }

  resume(): void {
    if (this.#stopReason !== PAUSE) return;
    this.#stopReason = undefined;
    this.#run = new AbortController();
    this.#wake?.();
  }

  /** Stop like an app shutdown: partial files are kept; `done` rejects with code "aborted". */
  abort(): void {
    if (this.#state === 'done' || this.#state === 'failed' || this.#state === 'cancelled') return;
    this.#stop(SHUTDOWN);
    this.#wake?.();
  }

  /** Stop and delete the partial download; `done` rejects with code "cancelled". */
  cancel(): void {
    if (this.#state === 'done' || this.#state === 'failed' || this.#state === 'cancelled') return;
    this.#stop(CANCEL);
    this.#wake?.();
  }

  progress(): DownloadProgress {
    const bytesTotal = this.#files.reduce((n, f) => n + (f.bytesTotal ?? 0), 0);
    const bytesDone = this.#files.reduce((n, f) => n + f.bytesDone, 0);
    const rate = this.#rate();
    const left = Math.max(0, bytesTotal - bytesDone);
    return {
      id: this.id,
      state: this.#state,
      bytesDone,
      bytesTotal,
      bytesReceived: this.#bytesReceived,
      rate,
      etaSeconds: rate > 0 ? left / rate : left === 0 ? 0 : undefined,
      files: this.#files.map((f) => ({ ...f })),
    };
  }

  #stop(reason: StopReason): void {
    // Cancel and shutdown override a pause; a pause never overrides them.
    if (this.#stopReason && this.#stopReason !== PAUSE) return;
    this.#stopReason = reason;
    this.#run.abort(reason);
    if (reason !== PAUSE) this.#wake?.();
  }

  #setState(s: DownloadState): void {
    if (this.#state === s) return;
    this.#state = s;
    this.emit('state', s);
    this.#emitProgress(true);
  }

  #emitProgress(force = false): void {
    const now = Date.now();
    if (!force && now - this.#lastEmit < this.#dl.options.progressIntervalMs) return;
    this.#lastEmit = now;
    this.emit('progress', this.progress());
  }

  #rate(): number {
    const now = Date.now();
    this.#samples = this.#samples.filter((s) => now - s.t <= 5000);
    if (this.#samples.length < 2) return 0;
    const first = this.#samples[0];
    const last = this.#samples[this.#samples.length - 1];
    const dt = (last.t - first.t) / 1000;
    return dt > 0 ? (last.bytes - first.bytes) / dt : 0;
  }

  #countBytes(file: FileProgress, n: number): void {
    file.bytesDone += n;
    this.#bytesReceived += n;
    this.#samples.push({ t: Date.now(), bytes: this.#bytesReceived });
    if (this.#samples.length > 2000) this.#samples.splice(0, 1000);
    this.#emitProgress();
  }

  get #staging(): string {
    return this.#dl.stagingDir(this.id);
  }

  async #main(): Promise<DownloadResult> {
    try {
      for (;;) {
        const run = this.#run;
        try {
          return await this.#attemptRun();
        } catch (err) {
          if (run.signal.reason === PAUSE && (this.#stopReason === PAUSE || this.#stopReason === undefined)) {
            // Still paused (resume() may already have been called, then go straight on).
            if (this.#stopReason === PAUSE) {
              this.#setState('paused');
              await new Promise<void>((resolve) => (this.#wake = resolve));
              this.#wake = undefined;
            }
            const after = this.#stopReason as StopReason | undefined;
            if (after === CANCEL || after === SHUTDOWN) throw this.#stopError();
            continue;
          }
          if (this.#stopReason) throw this.#stopError();
          throw err;
        }
      }
    } catch (err) {
      const e = toDownloadError(err);
      await this.#stateWrite.catch(() => {});
      if (!e.stagingKept && this.#lock?.held) await rm(this.#staging, { recursive: true, force: true }).catch(() => {});
      this.#setState(e.code === 'cancelled' ? 'cancelled' : 'failed');
      throw e;
    } finally {
      await this.#releaseLock();
    }
  }

  /** One download per staging folder, across processes (see StagingLock). */
  async #acquireLock(): Promise<void> {
    this.#lock ??= new StagingLock(this.#staging, (pid) => this.#busyError(pid));
    await this.#lock.acquire();
  }

  #busyError(pid: number | undefined): DownloadError {
    return new DownloadError(`"${this.id}" is already being downloaded${pid ? ` (process ${pid})` : ''}; wait for it to finish or stop it first`, 'in-progress', true);
  }

  async #releaseLock(): Promise<void> {
    await this.#lock?.release();
  }

  #stopError(): DownloadError {
    if (this.#stopReason === CANCEL) return new DownloadError(`download of ${this.id} cancelled; partial files deleted`, 'cancelled', false);
    return new DownloadError(`download of ${this.id} interrupted; partial files kept in ${this.#staging}, start it again to resume`, 'aborted', true);
  }

  async #attemptRun(): Promise<DownloadResult> {
    const signal = this.#run.signal;
    this.#setState('preparing');
    const { modelsDir } = this.#dl;
    const installDir = this.#dl.installDir(this.id);
    if (!this.#req.replace && (await exists(installDir))) {
      throw new DownloadError(`model "${this.id}" is already installed at ${installDir}; remove it first or pass replace`, 'already-installed', true);
    }
    await mkdir(this.#staging, { recursive: true });
    await this.#acquireLock();
    await this.#loadOrResetState();
    signal.throwIfAborted();

    // What is already on disk (verified files and partials) counts as done.
    for (const f of this.#files) {
      const spec = this.#spec(f.path);
      const finalSize = this.#verified.has(f.path) ? await sizeOf(this.#finalPath(f.path)) : undefined;
      if (finalSize !== undefined && (spec.size === undefined || finalSize === spec.size)) {
        f.state = 'done';
        f.bytesDone = finalSize;
        f.bytesTotal = finalSize;
      } else if ((await sizeOf(this.#partPath(f.path))) === undefined && (await this.#acceptUnrecorded(f, spec))) {
        // Verified and renamed, but the app stopped before the state file recorded it.
      } else {
        this.#verified.delete(f.path);
        f.state = 'pending';
        f.bytesDone = (await sizeOf(this.#partPath(f.path))) ?? 0;
      }
    }

    const need = this.#files.reduce((n, f) => n + Math.max(0, (f.bytesTotal ?? 0) - f.bytesDone), 0);
    const free = await this.#dl.options.freeBytes(modelsDir);
    if (free < need + this.#dl.options.freeDiskMarginBytes) {
      throw new DownloadError(
        `not enough disk space in ${modelsDir}: ${formatBytes(need)} still to download (+${formatBytes(this.#dl.options.freeDiskMarginBytes)} margin), ${formatBytes(free)} free. Free some space or choose another models folder, then start the download again.`,
        'disk-full',
        true,
      );
    }

    this.#setState('downloading');
    await this.#downloadAll(signal);
    signal.throwIfAborted();

    this.#setState('validating');
    const kind: ModelKind = this.#req.kind ?? (this.#req.files.some((f) => f.path === 'model_index.json') ? 'pipeline' : 'vae-decoder');
    if (kind === 'pipeline') {
      const report = await checkPipelineFolder(this.#staging);
      const problems = report.problems.filter((p) => !p.includes(STATE_FILE));
      if (problems.length > 0) {
        throw new DownloadError(`downloaded files do not form a loadable model:\n  ${problems.join('\n  ')}`, 'validation', false);
      }
    }
    const bytesTotal = this.#files.reduce((n, f) => n + f.bytesDone, 0);
    const manifest: ModelManifest = {
      name: this.#req.manifest?.name ?? this.#req.repo,
      ...this.#req.manifest,
      formatVersion: 1,
      id: this.id,
      kind,
      source: 'download',
      repo: this.#req.repo,
      revision: this.#req.revision,
      files: this.#req.files.map((f) => ({ path: f.path, size: (f.size ?? this.#files.find((p) => p.path === f.path)?.bytesDone) as number, ...(f.sha256 ? { sha256: f.sha256 } : {}) })),
      sizeBytes: bytesTotal,
      installedAt: new Date().toISOString(),
    };
    if (kind === 'pipeline' && !manifest.family) {
      const family = await detectFamily(this.#staging);
      if (family) manifest.family = family;
    }
    await writeManifest(this.#staging, manifest);
    if (this.#dl.options.validate) {
      try {
        await this.#dl.options.validate(this.#staging, { id: this.id, kind });
      } catch (err) {
        throw new DownloadError(`model "${this.id}" failed validation and was not installed: ${(err as Error).message}`, 'validation', false, undefined, { cause: err });
      }
    }
    signal.throwIfAborted();

    this.#setState('installing');
    await this.#install(installDir);
    this.#setState('done');
    return { id: this.id, path: installDir, manifest, bytesTotal, bytesReceived: this.#bytesReceived };
  }

  async #acceptUnrecorded(f: FileProgress, spec: DownloadFileSpec): Promise<boolean> {
    const final = this.#finalPath(f.path);
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
    this.#verified.add(f.path);
    return true;
  }

  async #install(installDir: string): Promise<void> {
    // Until here a crash (even during a long validation) resumes without re-downloading.
    // The state file and the lock must not travel into the installed folder.
    await this.#stateWrite;
    await rm(path.join(this.#staging, STATE_FILE), { force: true });
    await this.#releaseLock();
    let trash: string | undefined;
    if (await exists(installDir)) {
      trash = path.join(this.#dl.modelsDir, STAGING_DIR, `.trash-${this.id}-${Date.now()}`);
      await rename(installDir, trash);
    }
    try {
      await rename(this.#staging, installDir);
    } catch (err) {
      if (trash) await rename(trash, installDir).catch(() => {});
      throw new DownloadError(`could not move ${this.#staging} to ${installDir}: ${(err as Error).message}`, 'io', true, undefined, { cause: err });
    }
    if (trash) await rm(trash, { recursive: true, force: true });
  }

  #spec(p: string): DownloadFileSpec {
    return this.#req.files.find((f) => f.path === p)!;
  }
  #finalPath(p: string): string {
    return path.join(this.#staging, ...p.split('/'));
  }
  #partPath(p: string): string {
    return this.#finalPath(p) + PART_SUFFIX;
  }

  /** Reuse the staging folder only when it was started for exactly this repo, revision and file list. */
  async #loadOrResetState(): Promise<void> {
    const file = path.join(this.#staging, STATE_FILE);
    let prev: StagingState | undefined;
    try {
      prev = JSON.parse(await readFile(file, 'utf8')) as StagingState;
    } catch {
      prev = undefined;
    }
    const same =
      prev?.version === 1 &&
      prev.repo === this.#req.repo &&
      prev.revision === this.#req.revision &&
      JSON.stringify(prev.files) === JSON.stringify(this.#req.files);
    if (!same) {
      // Start over, keeping only our lock.
      for (const name of await readdir(this.#staging)) {
        if (path.join(this.#staging, name) !== this.#lock?.file) await rm(path.join(this.#staging, name), { recursive: true, force: true });
      }
      this.#verified = new Set();
    } else {
      this.#verified = new Set(prev!.verified);
    }
    await this.#persistState(prev && same ? prev.createdAt : new Date().toISOString());
  }

  #persistState(createdAt?: string): Promise<void> {
    const write = async () => {
      const file = path.join(this.#staging, STATE_FILE);
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
        id: this.id,
        repo: this.#req.repo,
        revision: this.#req.revision,
        files: this.#req.files,
        verified: [...this.#verified].sort(),
        createdAt: created,
      };
      await writeFile(`${file}.tmp`, JSON.stringify(state, null, 2));
      await rename(`${file}.tmp`, file);
    };
    this.#stateWrite = this.#stateWrite.then(write, write);
    return this.#stateWrite;
  }

  /** Run the file queue with the concurrency limit; the first fatal error stops the others. */
  async #downloadAll(signal: AbortSignal): Promise<void> {
    // Small files first: configs and tokenizers land early, the big weights follow.
    const queue = this.#files.filter((f) => f.state !== 'done').sort((a, b) => (a.bytesTotal ?? 0) - (b.bytesTotal ?? 0));
    const inner = new AbortController();
    const onAbort = () => inner.abort(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    let fatal: unknown;
    const worker = async () => {
      for (;;) {
        if (fatal !== undefined || inner.signal.aborted) return;
        const f = queue.shift();
        if (!f) return;
        try {
          await this.#downloadFile(f, inner.signal);
        } catch (err) {
          if (fatal === undefined && !signal.aborted) {
            fatal = err;
            inner.abort(err);
          }
          return;
        }
      }
    };
    try {
      await Promise.all(Array.from({ length: Math.min(this.#dl.options.concurrency, Math.max(1, queue.length)) }, worker));
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
    if (signal.aborted) throw signal.reason;
    if (fatal !== undefined) throw fatal;
  }

  async #downloadFile(f: FileProgress, signal: AbortSignal): Promise<void> {
    const spec = this.#spec(f.path);
    const part = this.#partPath(f.path);
    await mkdir(path.dirname(part), { recursive: true });
    let failures = 0;
    for (;;) {
      signal.throwIfAborted();
      let offset = (await sizeOf(part)) ?? 0;
      if (spec.size !== undefined && offset > spec.size) {
        await truncate(part, 0);
        offset = 0;
      }
      f.bytesDone = offset;
      if (spec.size !== undefined && offset === spec.size && offset > 0) break;
      f.state = 'downloading';
      this.emit('file', { ...f });
      let received = 0;
      try {
        received = await this.#transfer(f, spec, part, offset, signal);
        break;
      } catch (err) {
        if (signal.aborted) throw signal.reason;
        if (err instanceof HubError && err.status === 416) {
          // Our partial is as long as (or longer than) the remote file: start over cleanly.
          await truncate(part, 0).catch(() => {});
        } else if (err instanceof HubError && err.code === 'offline') {
          // No DNS answer / connection refused: the backoff loop would only make the user wait for
          // the same answer. Fail now, partial files kept, so Retry resumes once back online.
          throw toDownloadError(err, f.path);
        } else if (!(err instanceof HubError && err.retryable)) {
          throw toDownloadError(err, f.path);
        }
        failures = received > 0 ? 1 : failures + 1;
        if (failures >= this.#dl.options.maxAttempts) {
          throw new DownloadError(
            `giving up on ${f.path} after ${failures} failed attempts: ${(err as Error).message}. Partial files are kept; start the download again to resume.`,
            'network',
            true,
            f.path,
            { cause: err },
          );
        }
        const delay = Math.min(this.#dl.options.retryMaxMs, this.#dl.options.retryBaseMs * 2 ** (failures - 1));
        await sleep(delay * (0.75 + Math.random() * 0.5), signal);
      }
    }
    await this.#verify(f, spec, part);
  }

  /** One HTTP attempt; returns bytes received. Throws on failure (after closing the file). */
  async #transfer(f: FileProgress, spec: DownloadFileSpec, part: string, offset: number, signal: AbortSignal): Promise<number> {
    const res = await this.#dl.hub.openFile(this.#req.repo, this.#req.revision, f.path, { start: offset, signal });
    let position = offset;
    if (offset > 0 && !res.rangeHonored) {
      // The server ignored our Range and is sending the whole file: restart this file from 0.
      position = 0;
      f.bytesDone = 0;
    }
    const expected = spec.size ?? res.totalSize;
    if (expected !== undefined) f.bytesTotal = expected;
    let fh: FileHandle | undefined;
    let received = 0;
    try {
      fh = await open(part, position === 0 ? 'w' : 'r+');
      for await (const chunk of res.body) {
        if (expected !== undefined && position + chunk.length > expected) {
          throw new DownloadError(`${f.path}: the server sent more than the expected ${expected} bytes (${res.url}); the file changed upstream or the catalog is outdated`, 'size-mismatch', false, f.path);
        }
        try {
          await this.#dl.options.writeChunk(fh, chunk, position);
        } catch (err) {
          throw ioError(err, f.path, part);
        }
        position += chunk.length;
        received += chunk.length;
        this.#countBytes(f, chunk.length);
      }
    } catch (err) {
      // Never await this: undici may not settle a cancel on a body that was aborted mid-read.
      void res.cancel();
      throw err;
    } finally {
      await fh?.close().catch(() => {});
    }
    if (expected !== undefined && position < expected) {
      throw new HubError(`connection closed early for ${res.url} at ${position} of ${expected} bytes`, 'network', res.url);
    }
    if (expected === undefined) f.bytesTotal = position;
    return received;
  }

  async #verify(f: FileProgress, spec: DownloadFileSpec, part: string): Promise<void> {
    f.state = 'verifying';
    this.emit('file', { ...f });
    const size = (await sizeOf(part)) ?? 0;
    if (spec.size !== undefined && size !== spec.size) {
      throw new DownloadError(`${f.path}: size mismatch, expected ${spec.size} bytes, got ${size}; the download was discarded`, 'size-mismatch', false, f.path);
    }
    if (spec.sha256) {
      const actual = await sha256File(part);
      if (actual !== spec.sha256.toLowerCase()) {
        throw new DownloadError(
          `checksum mismatch for ${f.path}: expected sha256 ${spec.sha256}, got ${actual}; the download was discarded. Try again; if it repeats, the upstream file changed or the catalog entry is outdated.`,
          'checksum',
          false,
          f.path,
        );
      }
    }
    await rename(part, this.#finalPath(f.path));
    f.state = 'done';
    f.bytesDone = size;
    f.bytesTotal = size;
    this.#verified.add(f.path);
    await this.#persistState();
    this.emit('file', { ...f });
    this.#emitProgress(true);
  }
}
