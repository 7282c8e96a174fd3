/**
 * Thumbnails of one project: derived data, so they are written after the image and its row, off
 * the caller's critical path, without fsync (a lost or missing one is rebuilt from the image, here
 * on demand or by reconcile). ProjectLibrary owns one and keeps its public methods thin over it.
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { fileExists, imageRelPath, makeThumbnail, thumbRelPath, writeFileAtomic } from './project-files';

export class ThumbnailWriter {
  /** Writes queued and not yet on disk, by image hash. */
  private readonly pending = new Map<string, Promise<void>>();

  constructor(private readonly dir: string) {}

  /** Starts writing the thumbnail of `hash` once the caller has returned; a failure leaves it to be rebuilt. */
  queue(hash: string, make: () => Promise<Buffer>): void {
    const target = path.join(this.dir, thumbRelPath(hash));
    // setImmediate: even building the sharp pipeline costs the caller ~1-3 ms; start after returning.
    const job = new Promise<void>((resolve) => setImmediate(resolve)).then(async () => {
      try {
        await writeFileAtomic(target, await make(), { durable: false });
      } catch {
        /* rebuilt on demand by thumbnail() or by reconcile */
      } finally {
        this.pending.delete(hash);
      }
    });
    this.pending.set(hash, job);
  }

  /** Resolves once no queued write for `hash` is in flight (purges wait so a late write cannot resurrect a file). */
  async settled(hash: string): Promise<void> {
    await this.pending.get(hash);
  }

  /** Path of the thumbnail of `hash`, waiting for a pending write or rebuilding a missing one from the image. */
  async ensure(hash: string): Promise<string> {
    await this.pending.get(hash);
    const target = path.join(this.dir, thumbRelPath(hash));
    if (!(await fileExists(target))) {
      await writeFileAtomic(target, await makeThumbnail(await fsp.readFile(path.join(this.dir, imageRelPath(hash)))), { durable: false });
    }
    return target;
  }

  /** Resolves when every queued thumbnail is on disk. */
  async flush(): Promise<void> {
    while (this.pending.size) await Promise.all([...this.pending.values()]);
  }
}
