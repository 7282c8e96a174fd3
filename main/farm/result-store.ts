/**
 * The coordinator's end of large-result uploads. A worker whose result is too big for Redis PUTs it
 * to `atelier serve`'s /api/farm/results/<id> (main/server/server.ts routes it here), authenticated by
 * the farm token; it is written to a file in the coordinator's data folder and read back when the
 * job's FarmResultRef arrives through BullMQ. The file stays until the images are saved, so a
 * coordinator killed in between finds it again on its next start (it adopts the job, coordinator.ts).
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { createWriteStream, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { MAX_UPLOAD_BYTES, UPLOAD_ID_PATTERN, type FarmResultRef, type FarmTaskResult } from './protocol';

/** An upload refused, with the HTTP status the server answers. */
export class FarmUploadRefused extends Error {
  override name = 'FarmUploadRefused';
  constructor(
    readonly status: 400 | 401 | 413,
    message: string,
  ) {
    super(message);
  }
}

/** Uploads older than this are removed at start: BullMQ keeps completed jobs a day (coordinator.ts). */
const STALE_MS = 2 * 24 * 3600 * 1000;

/** `--farm-token`, checked; or a fresh random one (published to workers through Redis). */
export function resolveFarmToken(given: string | undefined): string {
  if (given === undefined || given === '') return randomBytes(32).toString('base64url');
  if (given.length < 16 || !/^[\x21-\x7e]+$/.test(given)) throw new Error('--farm-token must be at least 16 printable characters without spaces');
  return given;
}

export class FarmResultStore {
  private readonly tokenDigest: Buffer;

  constructor(
    readonly dir: string,
    token: string,
    readonly maxBytes = MAX_UPLOAD_BYTES,
  ) {
    mkdirSync(dir, { recursive: true });
    this.tokenDigest = createHash('sha256').update(token).digest();
    this.sweep();
  }

  /** Constant time whatever is presented: the digests compared have the same length. */
  acceptsToken(presented: string | null | undefined): boolean {
    if (!presented) return false;
    return timingSafeEqual(createHash('sha256').update(presented).digest(), this.tokenDigest);
  }

  /**
   * Streams one upload to a file (at most maxBytes; checked against the sender's SHA-256 when given)
   * and only then gives it its name, so a reader never sees half an upload.
   */
  async receive(id: string, body: AsyncIterable<Uint8Array> | NodeJS.ReadableStream, sha256?: string): Promise<{ bytes: number; sha256: string }> {
    if (!UPLOAD_ID_PATTERN.test(id)) throw new FarmUploadRefused(400, 'Bad upload id');
    const part = join(this.dir, `${id}.${randomBytes(4).toString('hex')}.part`);
    const hash = createHash('sha256');
    let bytes = 0;
    const max = this.maxBytes;
    const counter = new Transform({
      transform(chunk: Buffer, _encoding, done) {
        bytes += chunk.length;
        if (bytes > max) return done(new FarmUploadRefused(413, `Upload larger than ${Math.round(max / 1e6)} MB`));
        hash.update(chunk);
        done(null, chunk);
      },
    });
    try {
      await pipeline(body, counter, createWriteStream(part));
      const digest = hash.digest('hex');
      if (sha256 !== undefined && digest !== sha256.toLowerCase()) throw new FarmUploadRefused(400, 'Upload does not match its X-Content-SHA256 (damaged in transit?)');
      await rename(part, this.fileOf(id));
      return { bytes, sha256: digest };
    } catch (err) {
      await rm(part, { force: true });
      throw err;
    }
  }

  /** The result a FarmResultRef names, checked against its digest. */
  async read(ref: FarmResultRef): Promise<FarmTaskResult> {
    let data: Buffer;
    try {
      data = await readFile(this.fileOf(ref.upload.id));
    } catch (err) {
      throw new Error(`worker ${ref.worker} uploaded this result (${ref.upload.id}), but it is not in ${this.dir}: ${(err as Error).message}`);
    }
    const digest = createHash('sha256').update(data).digest('hex');
    if (data.length !== ref.upload.bytes || digest !== ref.upload.sha256) throw new Error(`the result uploaded by worker ${ref.worker} (${ref.upload.id}) does not match what it reported: ${data.length} bytes, SHA-256 ${digest.slice(0, 12)}…`);
    return JSON.parse(data.toString('utf8')) as FarmTaskResult;
  }

  /** Called once the images are saved. */
  remove(id: string): void {
    if (UPLOAD_ID_PATTERN.test(id)) void rm(this.fileOf(id), { force: true }).catch(() => undefined);
  }

  /**
   * At start: uploads nobody will read any more (their BullMQ job is long gone), and every part of an
   * upload — a part on disk now was being received by a coordinator that died (this process is the
   * data folder's only coordinator: its projects are locked to it), and its worker sends it again.
   */
  private sweep(): void {
    const now = Date.now();
    for (const name of readdirSync(this.dir)) {
      const path = join(this.dir, name);
      try {
        if (name.endsWith('.part') || now - statSync(path).mtimeMs > STALE_MS) rmSync(path, { force: true });
      } catch {
        /* gone meanwhile */
      }
    }
  }

  private fileOf(id: string): string {
    return join(this.dir, `${id}.json`);
  }
}
