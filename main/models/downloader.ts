/**
 * ModelDownloader: pulls a model's files from a hub into `<modelsDir>/.staging/<id>/`, resumes
 * with HTTP Range after an interruption or an app restart, verifies every file (sha256, or
 * size when no hash is known), then validates the folder and installs it atomically by
 * renaming the staging folder to `<modelsDir>/<id>/`.
 *
 * Failure policy, so nothing is ever half-installed:
 * - network trouble, disk full, pause, app shutdown → staging kept (partial files + state JSON), resumable;
 * - checksum/size mismatch, validation failure, cancel → staging deleted;
 * - 401/403/404 → not retried, clear error, staging kept (a token may fix it).
 */
import { rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { HubClient } from './hub-client';
import { assertSafeModelId } from './manifest';
import { DownloadJob } from './download-job';
import {
  STAGING_DIR,
  STATE_FILE,
  defaultFreeBytes,
  defaultWriteChunk,
  type DownloadProgress,
  type DownloadRequest,
  type DownloadResult,
  type DownloaderOptions,
  type ResolvedDownloaderOptions,
} from './download-support';

export {
  DownloadError,
  STAGING_DIR,
  defaultFreeBytes,
  formatBytes,
  sha256File,
  type DownloadErrorCode,
  type DownloadFileSpec,
  type DownloadProgress,
  type DownloadRequest,
  type DownloadResult,
  type DownloadState,
  type DownloaderOptions,
  type FileProgress,
  type FileState,
} from './download-support';
export { DownloadJob, type DownloadJobEvents } from './download-job';

export class ModelDownloader {
  readonly modelsDir: string;
  readonly hub: HubClient;
  readonly #active = new Map<string, DownloadJob>();
  readonly options: ResolvedDownloaderOptions;

  constructor(options: DownloaderOptions) {
    this.modelsDir = path.resolve(options.modelsDir);
    this.hub = options.hub ?? new HubClient({ endpoint: options.endpoint, token: options.token });
    this.options = {
      concurrency: Math.max(1, options.concurrency ?? 3),
      maxAttempts: Math.max(1, options.maxAttempts ?? 6),
      retryBaseMs: options.retryBaseMs ?? 500,
      retryMaxMs: options.retryMaxMs ?? 30_000,
      freeDiskMarginBytes: options.freeDiskMarginBytes ?? 64 * 1024 * 1024,
      progressIntervalMs: options.progressIntervalMs ?? 200,
      validate: options.validate,
      freeBytes: options.freeBytes ?? defaultFreeBytes,
      writeChunk: options.writeChunk ?? defaultWriteChunk,
    };
  }

  stagingDir(id: string): string {
    assertSafeModelId(id);
    return path.join(this.modelsDir, STAGING_DIR, id);
  }

  installDir(id: string): string {
    assertSafeModelId(id);
    return path.join(this.modelsDir, id);
  }

  /** Whether a resumable partial download exists for `id`. */
  async hasStaging(id: string): Promise<boolean> {
    return stat(path.join(this.stagingDir(id), STATE_FILE)).then(
      () => true,
      () => false,
    );
  }

  /** Delete a partial download. */
  async discard(id: string): Promise<void> {
    await rm(this.stagingDir(id), { recursive: true, force: true });
  }

  /** Start (or resume) a download. `signal` aborts like an app shutdown: staging is kept. */
  start(request: DownloadRequest, options: { signal?: AbortSignal } = {}): DownloadJob {
    // Starting an id that is already running here returns the running job (double clicks, retries).
    const running = this.#active.get(request.id);
    if (running) return running;
    const job = new DownloadJob(this, request, options.signal);
    this.#active.set(request.id, job);
    const forget = () => {
      if (this.#active.get(request.id) === job) this.#active.delete(request.id);
    };
    job.done.then(forget, forget);
    return job;
  }

  /** Jobs started by this downloader that have not settled yet. */
  activeJobs(): DownloadJob[] {
    return [...this.#active.values()];
  }

  /** Convenience: start and await, with an optional progress callback. */
  download(request: DownloadRequest, options: { signal?: AbortSignal; onProgress?: (p: DownloadProgress) => void } = {}): Promise<DownloadResult> {
    const job = this.start(request, options);
    if (options.onProgress) job.on('progress', options.onProgress);
    return job.done;
  }
}
