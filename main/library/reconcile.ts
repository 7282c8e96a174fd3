/**
 * Brings files and rows back in agreement after a crash:
 *  - finishes interrupted trash purges (so purged images never come back),
 *  - promotes complete image temp files whose rename was lost, removes partial ones,
 *  - re-indexes image files that have no row from their embedded `atelier` JSON,
 *  - flags rows whose image file is missing (never deletes them) and unflags found ones,
 *  - rebuilds missing thumbnails.
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import type Database from 'better-sqlite3';
import { decodeTextChunk, readPngChunks } from './png-chunks';
import { fromAtelier } from './image-metadata';
import { ATELIER_CHUNK, IMAGES_DIR, TEMP_PREFIX, THUMBS_DIR, fileExists, makeThumbnail, sha256Hex, writeFileAtomic } from './project-files';
import { generationParamsSchema, type GenerationParams, type ReconcileReport } from './types';

/** What reconciling needs from the library it repairs (ProjectLibrary satisfies it). */
export interface ReconcileTarget {
  readonly dir: string;
  finishPurges(): Promise<number>;
  imagePath(hash: string): string;
  thumbPath(hash: string): string;
  insertRow(id: string, hash: string, p: GenerationParams, origin?: { origin?: 'imported'; importSource?: string }): void;
}

async function listShardFiles(root: string): Promise<Array<{ dir: string; name: string }>> {
  const out: Array<{ dir: string; name: string }> = [];
  let shards: string[];
  try {
    shards = await fsp.readdir(root);
  } catch {
    return out;
  }
  for (const shard of shards) {
    if (shard.startsWith(TEMP_PREFIX)) {
      out.push({ dir: root, name: shard }); // image temp files live at the root until renamed
      continue;
    }
    const dir = path.join(root, shard);
    let names: string[];
    try {
      names = await fsp.readdir(dir);
    } catch {
      continue; // a stray file at shard level
    }
    for (const name of names) out.push({ dir, name });
  }
  return out;
}

function isCompletePng(bytes: Uint8Array): boolean {
  const warnings: string[] = [];
  const chunks = readPngChunks(bytes, warnings);
  return warnings.length === 0 && chunks.length > 0 && chunks[chunks.length - 1].type === 'IEND';
}

function readEmbeddedDocument(png: Uint8Array): { id: string; params: GenerationParams; origin?: 'imported'; importSource?: string } | null {
  const warnings: string[] = [];
  for (const chunk of readPngChunks(png, warnings)) {
    if (chunk.type === 'IDAT') break; // we always write our chunks before IDAT
    const entry = decodeTextChunk(chunk, warnings);
    if (!entry || entry.keyword !== ATELIER_CHUNK) continue;
    let id: unknown;
    let origin: unknown;
    let importSource: unknown;
    try {
      ({ id, origin, importSource } = JSON.parse(entry.text) as { id?: unknown; origin?: unknown; importSource?: unknown });
    } catch {
      return null;
    }
    const params = fromAtelier(entry.text, warnings);
    const full = generationParamsSchema.safeParse(params);
    if (typeof id !== 'string' || !full.success || full.data.createdAt === undefined) return null;
    return {
      id,
      params: { ...full.data, createdAt: full.data.createdAt },
      ...(origin === 'imported' ? { origin: 'imported' as const, importSource: typeof importSource === 'string' ? importSource : 'unknown' } : {}),
    };
  }
  return null;
}

export async function reconcileProject(lib: ReconcileTarget, db: Database.Database): Promise<ReconcileReport> {
  const report: ReconcileReport = { reindexed: [], unknownFiles: [], missingFiles: [], removedTempFiles: 0, promotedTempFiles: 0, finishedPurges: 0 };
  report.finishedPurges = await lib.finishPurges();

  const known = new Set((db.prepare('SELECT DISTINCT image_hash AS h FROM generations').all() as Array<{ h: string }>).map((r) => r.h));
  const onDisk = new Set<string>();

  // 1. Temp files. A complete image temp file was fsync'd before its rename, so if the
  //    rename was lost (power cut before the directory entry hit the disk) promote it now;
  //    anything else is a partial write and goes.
  for (const root of [IMAGES_DIR, THUMBS_DIR]) {
    for (const { dir, name } of await listShardFiles(path.join(lib.dir, root))) {
      if (!name.startsWith(TEMP_PREFIX)) continue;
      const file = path.join(dir, name);
      if (root === IMAGES_DIR) {
        const bytes = await fsp.readFile(file).catch(() => null);
        if (bytes && isCompletePng(bytes) && readEmbeddedDocument(bytes)) {
          const dest = lib.imagePath(sha256Hex(bytes));
          await fsp.mkdir(path.dirname(dest), { recursive: true });
          if (!(await fileExists(dest))) {
            await fsp.rename(file, dest);
            report.promotedTempFiles++;
            continue;
          }
        }
      }
      await fsp.rm(file, { force: true });
      report.removedTempFiles++;
    }
  }

  // 2. Image files without a row: written, but the row never committed. Rebuild the row
  //    from the embedded metadata (oldest first, so parents exist before their children).
  const orphans: Array<{ file: string; hash: string; doc: ReturnType<typeof readEmbeddedDocument> }> = [];
  for (const { dir, name } of await listShardFiles(path.join(lib.dir, IMAGES_DIR))) {
    const m = /^([0-9a-f]{64})\.png$/.exec(name);
    if (!m) continue;
    const hash = m[1];
    onDisk.add(hash);
    if (known.has(hash)) continue;
    const file = path.join(dir, name);
    const bytes = await fsp.readFile(file).catch(() => null);
    orphans.push({ file, hash, doc: bytes ? readEmbeddedDocument(bytes) : null });
  }
  orphans.sort((a, b) => (a.doc?.params.createdAt ?? 0) - (b.doc?.params.createdAt ?? 0));
  const exists = db.prepare('SELECT 1 FROM generations WHERE id = ?');
  for (const { file, hash, doc } of orphans) {
    if (doc && !exists.get(doc.id)) {
      const parentOk = doc.params.parentId === null || !!exists.get(doc.params.parentId);
      lib.insertRow(doc.id, hash, parentOk ? doc.params : { ...doc.params, parentId: null }, { origin: doc.origin, importSource: doc.importSource });
      known.add(hash);
      report.reindexed.push(doc.id);
    } else {
      report.unknownFiles.push(file);
    }
  }

  // Rows without files: flag them (and clear the flag on rows whose file is back).
  const rows = db.prepare('SELECT id, image_hash, missing_file FROM generations').all() as Array<{ id: string; image_hash: string; missing_file: number }>;
  const setMissing = db.prepare('UPDATE generations SET missing_file = ? WHERE id = ?');
  db.transaction(() => {
    for (const r of rows) {
      const missing = onDisk.has(r.image_hash) ? 0 : 1;
      if (missing) report.missingFiles.push(r.id);
      if (missing !== r.missing_file) setMissing.run(missing, r.id);
    }
  })();

  // Thumbnails are derived data: rebuild any that are missing.
  for (const hash of onDisk) {
    const thumb = lib.thumbPath(hash);
    if (await fileExists(thumb)) continue;
    try {
      await writeFileAtomic(thumb, await makeThumbnail(await fsp.readFile(lib.imagePath(hash))), { durable: false });
    } catch {
      /* unreadable image: leave it to the missing/unknown reports */
    }
  }
  return report;
}
