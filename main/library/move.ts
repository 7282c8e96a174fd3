/**
 * Moving generations from one project library to another, with their files and lineage.
 *
 * Order (never lose an image): copy the image files into the target (atomic, fsync'd) → insert the
 * rows there (every column: parameters, rating, flag, notes, origin…, plus tags) in one transaction
 * → delete the rows from the source in one transaction that queues their files for removal → remove
 * the files no remaining row uses. A crash in between leaves the image in both projects, never in
 * neither; a copied file without its row is re-indexed by the target's reconcile.
 *
 * Ids stay the same (ULIDs are unique across projects), so parent links among the moved images stay
 * as they were, and a moved image whose parent already lives in the target (moved there earlier)
 * links up again. Links to images that stay behind cannot cross projects: they are cut and counted.
 * Board memberships belong to the source's boards and are not carried.
 */
import fs from 'node:fs';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import type Database from 'better-sqlite3';
import { LibraryError, LibraryNotFoundError } from './errors';
import { copyControlImages } from './control-images';
import { writeFileAtomic } from './project-files';
import type { ProjectLibrary } from './project-library';

export interface MoveResult {
  /** Ids now in the target (in the order they were inserted: parents before children). */
  moved: string[];
  /** Parent/child links to images that did not move, cut by the move. */
  cutLinks: number;
}

type Row = Record<string, unknown> & { id: string; image_hash: string; parent_id: string | null; created_at: number };

function columnsOf(db: Database.Database): string[] {
  return (db.prepare('PRAGMA table_info(generations)').all() as Array<{ name: string }>).map((c) => c.name);
}

/** Parents before their children (a parent in the set is inserted first, whatever its time stamp). */
function parentsFirst(rows: Row[]): Row[] {
  const byId = new Map(rows.map((r) => [r.id, r]));
  const out: Row[] = [];
  const placed = new Set<string>();
  const visit = (r: Row, depth = 0) => {
    if (placed.has(r.id)) return;
    const parent = r.parent_id ? byId.get(r.parent_id) : undefined;
    if (parent && depth < 10_000) visit(parent, depth + 1);
    placed.add(r.id);
    out.push(r);
  };
  for (const r of [...rows].sort((a, b) => a.created_at - b.created_at || (a.id < b.id ? -1 : 1))) visit(r);
  return out;
}

async function copyIfMissing(from: string, to: string, durable: boolean): Promise<boolean> {
  if (fs.existsSync(to)) return true;
  let bytes: Buffer;
  try {
    bytes = await fsp.readFile(from);
  } catch {
    return false;
  }
  await writeFileAtomic(to, bytes, { durable });
  return true;
}

export async function moveGenerations(
  source: ProjectLibrary,
  target: ProjectLibrary,
  ids: string[],
  opts: { durable?: boolean } = {},
): Promise<MoveResult> {
  if (path.resolve(source.dir) === path.resolve(target.dir)) throw new LibraryError('images are already in this project');
  const src = source.database;
  const dst = target.database;
  const unique = [...new Set(ids)];
  const byId = src.prepare('SELECT * FROM generations WHERE id = ?');
  const rows: Row[] = unique.map((id) => {
    const row = byId.get(id) as Row | undefined;
    if (!row) throw new LibraryNotFoundError(`generation ${id} does not exist in this project`);
    return row;
  });
  if (rows.length === 0) return { moved: [], cutLinks: 0 };
  const movingIds = new Set(unique);

  // 1. Files first (thumbnails are derived: copied when present, else rebuilt on demand).
  await source.flushThumbnails();
  const durable = opts.durable ?? true;
  for (const hash of new Set(rows.map((r) => r.image_hash))) {
    await copyIfMissing(source.imagePath(hash), target.imagePath(hash), durable);
    await copyIfMissing(source.thumbPath(hash), target.thumbPath(hash), false).catch(() => false);
  }
  // ControlNet control images the moved records point at (`sha256:` refs), so they still replay there.
  for (const row of rows) await copyControlImages(source.dir, target.dir, (row.controlnets_json as string | null | undefined) ?? null, { durable });

  // 2. Rows in the target, every column both schemas know (seq is the target's own).
  const targetColumns = new Set(columnsOf(dst));
  const columns = columnsOf(src).filter((c) => c !== 'seq' && targetColumns.has(c));
  const insert = dst.prepare(`INSERT INTO generations (${columns.join(', ')}) VALUES (${columns.map((c) => `@${c}`).join(', ')})`);
  const existsInTarget = dst.prepare('SELECT 1 FROM generations WHERE id = ?');
  const tagsOf = src.prepare('SELECT t.name FROM generation_tags gt JOIN tags t ON t.id = gt.tag_id WHERE gt.generation_id = ?');
  const tagUpsert = dst.prepare('INSERT INTO tags (name) VALUES (?) ON CONFLICT(name) DO UPDATE SET name = name RETURNING id');
  const tagLink = dst.prepare('INSERT OR IGNORE INTO generation_tags (tag_id, generation_id, generation_created_at) VALUES (?, ?, ?)');
  let cutLinks = 0;
  const ordered = parentsFirst(rows);
  dst.transaction(() => {
    for (const row of ordered) {
      if (existsInTarget.get(row.id)) continue; // already there (an earlier move that stopped half-way)
      const parentKept = row.parent_id !== null && (movingIds.has(row.parent_id) || Boolean(existsInTarget.get(row.parent_id)));
      if (row.parent_id !== null && !parentKept) cutLinks++;
      const values: Record<string, unknown> = {};
      for (const c of columns) values[c] = row[c];
      values.parent_id = parentKept ? row.parent_id : null;
      insert.run(values);
      for (const { name } of tagsOf.all(row.id) as Array<{ name: string }>) {
        const { id: tagId } = tagUpsert.get(name) as { id: number };
        tagLink.run(tagId, row.id, row.created_at);
      }
    }
  })();

  // 3. Rows out of the source; their files are queued in the same transaction, removed below.
  const childrenLeft = src.prepare('SELECT id FROM generations WHERE parent_id = ?');
  const queuePurge = src.prepare('INSERT OR IGNORE INTO purge_queue (image_hash) VALUES (?)');
  const remove = src.prepare('DELETE FROM generations WHERE id = ?');
  src.transaction(() => {
    for (const row of rows) {
      for (const { id } of childrenLeft.all(row.id) as Array<{ id: string }>) if (!movingIds.has(id)) cutLinks++;
    }
    for (const row of rows) {
      queuePurge.run(row.image_hash);
      remove.run(row.id); // board items and tag links cascade; children left behind get parent_id NULL
    }
    src.prepare('DELETE FROM tags WHERE NOT EXISTS (SELECT 1 FROM generation_tags gt WHERE gt.tag_id = tags.id)').run();
  })();
  await source.finishPurges();
  return { moved: ordered.map((r) => r.id), cutLinks };
}

/** Distinct model ids of a project's images (for `model:` search terms). Walks the model index only. */
export function projectModelIds(lib: ProjectLibrary): string[] {
  return (lib.database.prepare('SELECT DISTINCT model_id FROM generations ORDER BY model_id').all() as Array<{ model_id: string }>).map((r) => r.model_id);
}
