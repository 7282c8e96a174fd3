/**
 * Moving a model's files over the network: a pool of concurrent file downloads, each resumed from
 * its `.part` with an HTTP Range, retried with backoff on transient failures, then checked (size,
 * sha256) and renamed into place. Separate from download-job.ts, which owns the job's states and
 * events: this file only transfers bytes and reports them through `TransferContext`.
 */
import { mkdir, open, rename, truncate, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import type { ResolvedDownloaderOptions } from './download-support';
import { DownloadError, ioError, sha256File, sizeOf, sleep, toDownloadError, type DownloadFileSpec, type FileProgress } from './download-support';
import type { StagingFolder } from './download-staging';
import { HubError, type HubClient } from './hub-client';

/** What a transfer needs from the job that runs it. */
export interface TransferContext {
  readonly hub: HubClient;
  readonly options: ResolvedDownloaderOptions;
  readonly repo: string;
  readonly revision: string;
  readonly staging: StagingFolder;
  /** The requested spec of the file at `p`. */
  spec(p: string): DownloadFileSpec;
  /** `n` more bytes of `f` arrived (progress, rate). */
  countBytes(f: FileProgress, n: number): void;
  /** `f` changed state (downloading, verifying, done): emit a copy of it. */
  fileChanged(f: FileProgress): void;
  /** A file finished: report progress now, not at the next interval. */
  fileDone(): void;
}

/** Run the file queue with the concurrency limit; the first fatal error stops the others. */
export async function downloadAll(ctx: TransferContext, files: readonly FileProgress[], signal: AbortSignal): Promise<void> {
  // Small files first: configs and tokenizers land early, the big weights follow.
  const queue = files.filter((f) => f.state !== 'done').sort((a, b) => (a.bytesTotal ?? 0) - (b.bytesTotal ?? 0));
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
        await downloadFile(ctx, f, inner.signal);
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
    await Promise.all(Array.from({ length: Math.min(ctx.options.concurrency, Math.max(1, queue.length)) }, worker));
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
  if (signal.aborted) throw signal.reason;
  if (fatal !== undefined) throw fatal;
}

async function downloadFile(ctx: TransferContext, f: FileProgress, signal: AbortSignal): Promise<void> {
  const spec = ctx.spec(f.path);
  const part = ctx.staging.partPath(f.path);
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
    ctx.fileChanged(f);
    let received = 0;
    try {
      received = await transfer(ctx, f, spec, part, offset, signal);
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
      if (failures >= ctx.options.maxAttempts) {
        throw new DownloadError(
          `giving up on ${f.path} after ${failures} failed attempts: ${(err as Error).message}. Partial files are kept; start the download again to resume.`,
          'network',
          true,
          f.path,
          { cause: err },
        );
      }
      const delay = Math.min(ctx.options.retryMaxMs, ctx.options.retryBaseMs * 2 ** (failures - 1));
      await sleep(delay * (0.75 + Math.random() * 0.5), signal);
    }
  }
  await verify(ctx, f, spec, part);
}

/** One HTTP attempt; returns bytes received. Throws on failure (after closing the file). */
async function transfer(ctx: TransferContext, f: FileProgress, spec: DownloadFileSpec, part: string, offset: number, signal: AbortSignal): Promise<number> {
  const res = await ctx.hub.openFile(ctx.repo, ctx.revision, f.path, { start: offset, signal });
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
        await ctx.options.writeChunk(fh, chunk, position);
      } catch (err) {
        throw ioError(err, f.path, part);
      }
      position += chunk.length;
      received += chunk.length;
      ctx.countBytes(f, chunk.length);
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

/** Size and checksum of a finished `.part`; on success it takes its final name and is recorded as verified. */
async function verify(ctx: TransferContext, f: FileProgress, spec: DownloadFileSpec, part: string): Promise<void> {
  f.state = 'verifying';
  ctx.fileChanged(f);
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
  await rename(part, ctx.staging.finalPath(f.path));
  f.state = 'done';
  f.bytesDone = size;
  f.bytesTotal = size;
  ctx.staging.verified.add(f.path);
  await ctx.staging.persistState();
  ctx.fileChanged(f);
  ctx.fileDone();
}
