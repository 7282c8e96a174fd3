/**
 * DownloadJob: one model download, from planning to atomic install. Created by
 * ModelDownloader.start(); emits `progress`, `state` and `file` events; pause/resume/cancel.
 * This file is the job's state machine (preparing → downloading → validating → installing, with
 * pause/resume/cancel/abort and progress reporting); the bytes move in download-transfer.ts and the
 * staging folder (state file, lock, final move) is kept in download-staging.ts.
 */
import { EventEmitter } from 'node:events';
import { mkdir, rename, rm, rmdir } from 'node:fs/promises';
import path from 'node:path';
import type { ModelKind } from './catalog';
import {
  DownloadError,
  STATE_FILE,
  assertSafeRelativePath,
  dedupeFiles,
  exists,
  formatBytes,
  sizeOf,
  toDownloadError,
  type DownloadFileSpec,
  type DownloadProgress,
  type DownloadRequest,
  type DownloadResult,
  type DownloadState,
  type FileProgress,
  type ResolvedDownloaderOptions,
} from './download-support';
import { StagingFolder } from './download-staging';
import { downloadAll, type TransferContext } from './download-transfer';
import type { HubClient } from './hub-client';
import { checkPipelineFolder, detectFamily } from './layout';
import { assertSafeModelId, writeManifest, type ModelManifest } from './manifest';

/** What a job needs from the downloader that runs it (ModelDownloader satisfies it). */
export interface DownloadHost {
  readonly modelsDir: string;
  readonly hub: HubClient;
  readonly options: ResolvedDownloaderOptions;
  stagingDir(id: string): string;
  installDir(id: string): string;
}

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
  readonly #staging: StagingFolder;

  constructor(dl: DownloadHost, request: DownloadRequest, signal?: AbortSignal) {
    super();
    assertSafeModelId(request.id);
    this.#dl = dl;
    this.id = request.id;
    this.#req = { ...request, revision: request.revision ?? 'main', files: dedupeFiles(request.files) };
    this.#files = this.#req.files.map((f) => ({ path: f.path, state: 'pending', bytesDone: 0, bytesTotal: f.size ?? f.sizeHint }));
    this.#staging = new StagingFolder(dl.stagingDir(this.id), this.#req, (pid) => this.#busyError(pid));
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
      await this.#staging.stateWritten().catch(() => {});
      if (!e.stagingKept && this.#staging.lockHeld) await rm(this.#staging.dir, { recursive: true, force: true }).catch(() => {});
      this.#setState(e.code === 'cancelled' ? 'cancelled' : 'failed');
      throw e;
    } finally {
      await this.#staging.releaseLock();
    }
  }

  #busyError(pid: number | undefined): DownloadError {
    return new DownloadError(`"${this.id}" is already being downloaded${pid ? ` (process ${pid})` : ''}; wait for it to finish or stop it first`, 'in-progress', true);
  }

  #stopError(): DownloadError {
    if (this.#stopReason === CANCEL) return new DownloadError(`download of ${this.id} cancelled; partial files deleted`, 'cancelled', false);
    return new DownloadError(`download of ${this.id} interrupted; partial files kept in ${this.#staging.dir}, start it again to resume`, 'aborted', true);
  }

  async #attemptRun(): Promise<DownloadResult> {
    const signal = this.#run.signal;
    this.#setState('preparing');
    const installDir = this.#installDir();
    if (!this.#req.replace && (await exists(installDir))) {
      throw new DownloadError(`model "${this.id}" is already installed at ${installDir}; remove it first or pass replace`, 'already-installed', true);
    }
    await this.#openStaging();
    signal.throwIfAborted();
    await this.#countFilesOnDisk();
    await this.#checkFreeSpace();

    this.#setState('downloading');
    await downloadAll(this.#transferContext(), this.#files, signal);
    signal.throwIfAborted();

    await this.#moveSavedAs(this.#staging.dir);
    this.#setState('validating');
    const kind: ModelKind = this.#req.kind ?? (this.#req.files.some((f) => f.path === 'model_index.json') ? 'pipeline' : 'vae-decoder');
    if (kind === 'pipeline') await this.#checkLoadablePipeline();
    const bytesTotal = this.#files.reduce((n, f) => n + f.bytesDone, 0);
    const manifest = await this.#writeManifest(kind, bytesTotal);
    await this.#runValidator(kind);
    signal.throwIfAborted();

    this.#setState('installing');
    await mkdir(path.dirname(installDir), { recursive: true });
    await this.#staging.install(installDir, this.#dl.modelsDir);
    this.#setState('done');
    return { id: this.id, path: installDir, manifest, bytesTotal, bytesReceived: this.#bytesReceived };
  }

  /** Creates the staging folder, takes its lock and reads (or starts) its state file. */
  async #openStaging(): Promise<void> {
    await mkdir(this.#staging.dir, { recursive: true });
    await this.#staging.acquireLock();
    await this.#staging.loadOrResetState();
  }

  /** What is already on disk (verified files and partials) counts as done. */
  async #countFilesOnDisk(): Promise<void> {
    const staging = this.#staging;
    for (const f of this.#files) {
      const spec = this.#spec(f.path);
      const finalSize = staging.verified.has(f.path) ? await sizeOf(staging.finalPath(f.path)) : undefined;
      if (finalSize !== undefined && (spec.size === undefined || finalSize === spec.size)) {
        f.state = 'done';
        f.bytesDone = finalSize;
        f.bytesTotal = finalSize;
      } else if ((await sizeOf(staging.partPath(f.path))) === undefined && (await staging.acceptUnrecorded(f, spec))) {
        // Verified and renamed, but the app stopped before the state file recorded it.
      } else {
        staging.verified.delete(f.path);
        f.state = 'pending';
        f.bytesDone = (await sizeOf(staging.partPath(f.path))) ?? 0;
      }
    }
  }

  /** Refuses before any byte moves when the models folder cannot hold what is left to download (plus the margin). */
  async #checkFreeSpace(): Promise<void> {
    const { modelsDir, options } = this.#dl;
    const need = this.#files.reduce((n, f) => n + Math.max(0, (f.bytesTotal ?? 0) - f.bytesDone), 0);
    const free = await options.freeBytes(modelsDir);
    if (free < need + options.freeDiskMarginBytes) {
      throw new DownloadError(
        `not enough disk space in ${modelsDir}: ${formatBytes(need)} still to download (+${formatBytes(options.freeDiskMarginBytes)} margin), ${formatBytes(free)} free. Free some space or choose another models folder, then start the download again.`,
        'disk-full',
        true,
      );
    }
  }

  /** A pipeline's files must form a loadable model (the staging state file aside). */
  async #checkLoadablePipeline(): Promise<void> {
    const report = await checkPipelineFolder(this.#staging.dir);
    const problems = report.problems.filter((p) => !p.includes(STATE_FILE));
    if (problems.length > 0) {
      throw new DownloadError(`downloaded files do not form a loadable model:\n  ${problems.join('\n  ')}`, 'validation', false);
    }
  }

  /** Writes the installed model's manifest into the staging folder (it moves with the folder). */
  async #writeManifest(kind: ModelKind, bytesTotal: number): Promise<ModelManifest> {
    const manifest: ModelManifest = {
      name: this.#req.manifest?.name ?? this.#req.repo,
      ...this.#req.manifest,
      formatVersion: 1,
      id: this.id,
      kind,
      source: 'download',
      repo: this.#req.repo,
      revision: this.#req.revision,
      files: this.#req.files.map((f) => ({ path: f.saveAs ?? f.path, size: (f.size ?? this.#files.find((p) => p.path === f.path)?.bytesDone) as number, ...(f.sha256 ? { sha256: f.sha256 } : {}) })),
      sizeBytes: bytesTotal,
      installedAt: new Date().toISOString(),
    };
    if (kind === 'pipeline' && !manifest.family) {
      const family = await detectFamily(this.#staging.dir);
      if (family) manifest.family = family;
    }
    await writeManifest(this.#staging.dir, manifest);
    return manifest;
  }

  /** The downloader's own check (loading the model, say), if it has one: a failure keeps the model out. */
  async #runValidator(kind: ModelKind): Promise<void> {
    if (!this.#dl.options.validate) return;
    try {
      await this.#dl.options.validate(this.#staging.dir, { id: this.id, kind });
    } catch (err) {
      throw new DownloadError(`model "${this.id}" failed validation and was not installed: ${(err as Error).message}`, 'validation', false, undefined, { cause: err });
    }
  }

  /** `<modelsDir>/<id>`, or the shared folder an annotator / ControlNet installs into (`installTo`). */
  #installDir(): string {
    if (this.#req.installTo === undefined) return this.#dl.installDir(this.id);
    assertSafeRelativePath(this.#req.installTo);
    return path.join(this.#dl.modelsDir, this.#req.installTo);
  }

  /** Files with a `saveAs` move to it inside the staging folder (emptied hub folders such as `onnx/` go). */
  async #moveSavedAs(dir: string): Promise<void> {
    for (const f of this.#req.files) {
      if (f.saveAs === undefined) continue;
      const to = path.join(dir, f.saveAs);
      await mkdir(path.dirname(to), { recursive: true });
      await rename(path.join(dir, f.path), to);
      // The hub's emptied folders go (`StableDiffusionXL/Canny/`), innermost first; rmdir refuses one that still holds files.
      for (let d = path.dirname(f.path); d !== '.'; d = path.dirname(d)) {
        if (!(await rmdir(path.join(dir, d)).then(() => true, () => false))) break;
      }
    }
  }

  #spec(p: string): DownloadFileSpec {
    return this.#req.files.find((f) => f.path === p)!;
  }

  #transferContext(): TransferContext {
    return {
      hub: this.#dl.hub,
      options: this.#dl.options,
      repo: this.#req.repo,
      revision: this.#req.revision,
      staging: this.#staging,
      spec: (p) => this.#spec(p),
      countBytes: (f, n) => this.#countBytes(f, n),
      fileChanged: (f) => this.emit('file', { ...f }),
      fileDone: () => this.#emitProgress(true),
    };
  }
}
