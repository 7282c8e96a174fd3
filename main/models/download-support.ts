/**
 * Shared pieces of the downloader: request/progress types, DownloadError, and small fs helpers.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat, statfs, type FileHandle } from 'node:fs/promises';
import { HubError, type HubClient } from './hub-client';
import type { ModelManifest } from './manifest';
import type { ModelKind } from './catalog';

export const STAGING_DIR = '.staging';
export const STATE_FILE = '.atelier-download.json';
export const PART_SUFFIX = '.part';

export interface DownloadFileSpec {
  path: string;
  /** Expected size in bytes; when absent the server's Content-Length is trusted. */
  size?: number;
  /** Expected sha256 (hex); when absent only the size is checked. */
  sha256?: string;
  /** Approximate size (e.g. the hub's rounded figure) for disk checks and progress; never verified. */
  sizeHint?: number;
  /** Where the file lands inside the installed folder when not at `path` (annotators: `onnx/model.onnx` → `model.onnx`). */
  saveAs?: string;
}

export interface DownloadRequest {
  /** Folder name under modelsDir; also the installed model id. */
  id: string;
  repo: string;
  revision?: string;
  files: DownloadFileSpec[];
  kind?: ModelKind;
  /** Extra manifest fields recorded at install (name, catalogId, family, defaults…). */
  manifest?: Partial<Omit<ModelManifest, 'formatVersion' | 'id' | 'source' | 'installedAt' | 'files' | 'repo' | 'revision' | 'kind'>>;
  /** Replace an installed model with the same id (the old one is removed only after the new one is in place). */
  replace?: boolean;
  /** Install into this folder under modelsDir (`annotators/depth`, `controlnets/canny-sd15`) instead of `<id>/`. */
  installTo?: string;
}

export type DownloadState = 'preparing' | 'downloading' | 'paused' | 'validating' | 'installing' | 'done' | 'failed' | 'cancelled';
export type FileState = 'pending' | 'downloading' | 'verifying' | 'done';

export interface FileProgress {
  path: string;
  state: FileState;
  bytesDone: number;
  bytesTotal?: number;
}

export interface DownloadProgress {
  id: string;
  state: DownloadState;
  bytesDone: number;
  bytesTotal: number;
  /** Bytes received in this session (excludes what was already on disk when it started). */
  bytesReceived: number;
  /** Bytes per second over the last few seconds. */
  rate: number;
  /** Seconds left at the current rate; undefined when unknown. */
  etaSeconds?: number;
  files: FileProgress[];
}

export type DownloadErrorCode =
  | 'gated'
  | 'not-found'
  | 'network'
  | 'offline'
  | 'http'
  | 'checksum'
  | 'size-mismatch'
  | 'disk-full'
  | 'validation'
  | 'already-installed'
  | 'cancelled'
  | 'aborted'
  | 'in-progress'
  | 'io';

export class DownloadError extends Error {
  constructor(
    message: string,
    readonly code: DownloadErrorCode,
    /** Whether the partial download was kept so the same request resumes it. */
    readonly stagingKept: boolean,
    readonly file?: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'DownloadError';
  }
}

export interface DownloadResult {
  id: string;
  /** The installed folder, `<modelsDir>/<id>`. */
  path: string;
  manifest: ModelManifest;
  bytesTotal: number;
  bytesReceived: number;
}

export interface DownloaderOptions {
  modelsDir: string;
  /** A configured client; else one is built from endpoint/token. */
  hub?: HubClient;
  endpoint?: string;
  token?: string;
  /** Files downloaded at once (default 3). */
  concurrency?: number;
  /** Consecutive failed attempts per file before giving up (default 6). Progress resets the count. */
  maxAttempts?: number;
  retryBaseMs?: number;
  retryMaxMs?: number;
  /** Extra room required beyond the bytes still to download (default 64 MiB). */
  freeDiskMarginBytes?: number;
  /** Free bytes on the volume holding `dir`; default uses fs.statfs. Injectable to simulate a full disk. */
  freeBytes?: (dir: string) => Promise<number>;
  /** Writes one chunk at a position; injectable to simulate ENOSPC mid-write. */
  writeChunk?: (fh: FileHandle, chunk: Uint8Array, position: number) => Promise<void>;
  /** Deep check of the finished folder (the app passes the engine's model loader). Throw to refuse. */
  /** Receives the complete staging folder and what it holds (aux models have no pipeline to load). */
  validate?: (folder: string, info: { id: string; kind: ModelKind }) => Promise<void>;
  /** Minimum ms between progress events (default 200). */
  progressIntervalMs?: number;
}

export interface StagingState {
  version: 1;
  id: string;
  repo: string;
  revision: string;
  files: DownloadFileSpec[];
  verified: string[];
  createdAt: string;
}

export async function defaultFreeBytes(dir: string): Promise<number> {
  const s = await statfs(dir);
  return Number(s.bavail) * Number(s.bsize);
}

export async function defaultWriteChunk(fh: FileHandle, chunk: Uint8Array, position: number): Promise<void> {
  let off = 0;
  while (off < chunk.length) {
    const { bytesWritten } = await fh.write(chunk, off, chunk.length - off, position + off);
    off += bytesWritten;
  }
}

export function formatBytes(n: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let v = n;
  let i = 0;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(v < 10 ? 2 : 1)} ${units[i]}`;
}

/** A relative POSIX path with no `..`, `.` or empty segments (else a DownloadError naming it). */
export function assertSafeRelativePath(p: string): void {
  if (p.startsWith('/') || p.includes('\\') || p.split('/').some((s) => s === '..' || s === '' || s === '.')) {
    throw new DownloadError(`refusing unsafe file path "${p}"`, 'io', false, p);
  }
}

export function dedupeFiles(files: DownloadFileSpec[]): DownloadFileSpec[] {
  const seen = new Map<string, DownloadFileSpec>();
  for (const f of files) {
    assertSafeRelativePath(f.path);
    if (f.saveAs !== undefined) assertSafeRelativePath(f.saveAs);
    seen.set(f.path, {
      path: f.path,
      ...(f.saveAs !== undefined && f.saveAs !== f.path ? { saveAs: f.saveAs } : {}),
      ...(f.size !== undefined ? { size: f.size } : {}),
      ...(f.sha256 ? { sha256: f.sha256.toLowerCase() } : {}),
      ...(f.size === undefined && f.sizeHint !== undefined ? { sizeHint: f.sizeHint } : {}),
    });
  }
  return [...seen.values()];
}

export function ioError(err: unknown, file: string, target: string): DownloadError {
  const code = (err as NodeJS.ErrnoException)?.code;
  if (code === 'ENOSPC' || code === 'EDQUOT') {
    return new DownloadError(
      `disk full while writing ${file} (${target}). Free some space, then start the download again: it resumes where it stopped.`,
      'disk-full',
      true,
      file,
      { cause: err },
    );
  }
  return new DownloadError(`cannot write ${target}: ${(err as Error).message}`, 'io', true, file, { cause: err });
}

export function toDownloadError(err: unknown, file?: string): DownloadError {
  if (err instanceof DownloadError) return err;
  if (err instanceof HubError) {
    const code: DownloadErrorCode = err.code === 'gated' ? 'gated' : err.code === 'not-found' ? 'not-found' : err.code === 'network' ? 'network' : err.code === 'offline' ? 'offline' : 'http';
    return new DownloadError(err.message, code, true, file, { cause: err });
  }
  const errno = (err as NodeJS.ErrnoException)?.code;
  if (errno === 'ENOSPC' || errno === 'EDQUOT') return ioError(err, file ?? '(unknown)', file ?? '');
  return new DownloadError(String((err as Error)?.message ?? err), 'io', true, file, { cause: err });
}

export async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file, { highWaterMark: 1 << 20 })) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

export async function sizeOf(file: string): Promise<number | undefined> {
  try {
    return (await stat(file)).size;
  } catch {
    return undefined;
  }
}

export async function exists(p: string): Promise<boolean> {
  return stat(p).then(
    () => true,
    () => false,
  );
}

export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const t = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(signal.reason);
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/** Resolved downloader settings a download job reads (ModelDownloader fills every default). */
export type ResolvedDownloaderOptions = Required<Pick<DownloaderOptions, 'concurrency' | 'maxAttempts' | 'retryBaseMs' | 'retryMaxMs' | 'freeDiskMarginBytes' | 'progressIntervalMs'>> &
  Pick<DownloaderOptions, 'validate'> & {
    freeBytes: (dir: string) => Promise<number>;
    writeChunk: (fh: import('node:fs/promises').FileHandle, chunk: Uint8Array, position: number) => Promise<void>;
  };
