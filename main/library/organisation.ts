/** Ratings, flags, notes, tags, boards and the trash: small transactional writes. */
import type Database from 'better-sqlite3';
import { LibraryError, LibraryNotFoundError } from './errors';
import { ulid } from './ids';
import type { Board, Flag } from './types';

const list = (ids: string | string[]) => (Array.isArray(ids) ? ids : [ids]);

function normaliseTag(tag: string): string {
  const t = tag.trim().replace(/\s+/g, ' ');
  if (!t) throw new LibraryError('tags must not be empty');
  if (t.length > 100) throw new LibraryError(`tag too long (${t.length} chars, max 100)`);
  return t;
}

export class OrganisationStore {
  private readonly s;

  constructor(private readonly db: Database.Database) {
    this.s = {
      rating: db.prepare('UPDATE generations SET rating = ? WHERE id = ?'),
      flag: db.prepare('UPDATE generations SET flag = ? WHERE id = ?'),
      notes: db.prepare('UPDATE generations SET notes = ? WHERE id = ?'),
      tagUpsert: db.prepare('INSERT INTO tags (name) VALUES (?) ON CONFLICT(name) DO UPDATE SET name = name RETURNING id'),
      tagId: db.prepare('SELECT id FROM tags WHERE name = ?'),
      tagLink: db.prepare('INSERT OR IGNORE INTO generation_tags (tag_id, generation_id, generation_created_at) SELECT ?, id, created_at FROM generations WHERE id = ?'),
      tagUnlink: db.prepare('DELETE FROM generation_tags WHERE tag_id = ? AND generation_id = ?'),
      tagsOf: db.prepare('SELECT t.name FROM generation_tags gt JOIN tags t ON t.id = gt.tag_id WHERE gt.generation_id = ? ORDER BY t.name'),
      listTags: db.prepare('SELECT t.name, COUNT(gt.generation_id) AS count FROM tags t LEFT JOIN generation_tags gt ON gt.tag_id = t.id GROUP BY t.id ORDER BY t.name'),
      dropUnusedTags: db.prepare('DELETE FROM tags WHERE NOT EXISTS (SELECT 1 FROM generation_tags gt WHERE gt.tag_id = tags.id)'),
      boardInsert: db.prepare('INSERT INTO boards (id, name, created_at) VALUES (?, ?, ?)'),
      boardRename: db.prepare('UPDATE boards SET name = ? WHERE id = ?'),
      boardDelete: db.prepare('DELETE FROM boards WHERE id = ?'),
      boards: db.prepare('SELECT b.id, b.name, b.created_at AS createdAt, (SELECT COUNT(*) FROM board_items bi WHERE bi.board_id = b.id) AS itemCount FROM boards b ORDER BY b.name, b.id'),
      boardsOf: db.prepare('SELECT b.id, b.name, b.created_at AS createdAt, (SELECT COUNT(*) FROM board_items x WHERE x.board_id = b.id) AS itemCount FROM board_items bi JOIN boards b ON b.id = bi.board_id WHERE bi.generation_id = ? ORDER BY b.name'),
      boardAdd: db.prepare('INSERT OR IGNORE INTO board_items (board_id, generation_id, added_at, generation_created_at) SELECT ?, id, ?, created_at FROM generations WHERE id = ?'),
      boardRemove: db.prepare('DELETE FROM board_items WHERE board_id = ? AND generation_id = ?'),
      boardExists: db.prepare('SELECT 1 FROM boards WHERE id = ?'),
      exists: db.prepare('SELECT 1 FROM generations WHERE id = ?'),
      trash: db.prepare('UPDATE generations SET deleted_at = ? WHERE id = ? AND deleted_at IS NULL'),
      restore: db.prepare('UPDATE generations SET deleted_at = NULL WHERE id = ?'),
      queuePurge: db.prepare('INSERT OR IGNORE INTO purge_queue (image_hash) SELECT image_hash FROM generations WHERE deleted_at IS NOT NULL'),
      purge: db.prepare('DELETE FROM generations WHERE deleted_at IS NOT NULL'),
    };
  }

  private requireAll(ids: string[]): void {
    for (const id of ids) if (!this.s.exists.get(id)) throw new LibraryNotFoundError(`generation ${id} does not exist in this project`);
  }

  setRating(ids: string | string[], rating: number): void {
    if (!Number.isInteger(rating) || rating < 0 || rating > 5) throw new LibraryError(`rating must be an integer 0–5, got ${rating}`);
    this.db.transaction((all: string[]) => {
      this.requireAll(all);
      for (const id of all) this.s.rating.run(rating, id);
    })(list(ids));
  }

  setFlag(ids: string | string[], flag: Flag): void {
    if (flag !== 'pick' && flag !== 'reject' && flag !== 'none') throw new LibraryError(`flag must be 'pick', 'reject' or 'none', got ${String(flag)}`);
    this.db.transaction((all: string[]) => {
      this.requireAll(all);
      for (const id of all) this.s.flag.run(flag, id);
    })(list(ids));
  }

  setNotes(id: string, notes: string): void {
    this.requireAll([id]);
    this.s.notes.run(String(notes), id);
  }

  addTags(ids: string | string[], tags: string[]): void {
    const names = tags.map(normaliseTag);
    this.db.transaction((all: string[]) => {
      this.requireAll(all);
      for (const name of names) {
        const { id: tagId } = this.s.tagUpsert.get(name) as { id: number };
        for (const id of all) this.s.tagLink.run(tagId, id);
      }
    })(list(ids));
  }

  removeTags(ids: string | string[], tags: string[]): void {
    this.db.transaction((all: string[]) => {
      for (const name of tags) {
        const row = this.s.tagId.get(name.trim()) as { id: number } | undefined;
        if (!row) continue;
        for (const id of all) this.s.tagUnlink.run(row.id, id);
      }
      this.s.dropUnusedTags.run();
    })(list(ids));
  }

  tagsOf(id: string): string[] {
    return (this.s.tagsOf.all(id) as Array<{ name: string }>).map((r) => r.name);
  }

  listTags(): Array<{ name: string; count: number }> {
    return this.s.listTags.all() as Array<{ name: string; count: number }>;
  }

  createBoard(name: string): Board {
    const n = name.trim();
    if (!n) throw new LibraryError('board name must not be empty');
    const board: Board = { id: ulid(), name: n, createdAt: Date.now(), itemCount: 0 };
    this.s.boardInsert.run(board.id, board.name, board.createdAt);
    return board;
  }

  renameBoard(boardId: string, name: string): void {
    const n = name.trim();
    if (!n) throw new LibraryError('board name must not be empty');
    if (this.s.boardRename.run(n, boardId).changes === 0) throw new LibraryNotFoundError(`board ${boardId} does not exist`);
  }

  deleteBoard(boardId: string): void {
    this.s.boardDelete.run(boardId); // board_items cascade; generations stay
  }

  listBoards(): Board[] {
    return this.s.boards.all() as Board[];
  }

  boardsOf(id: string): Board[] {
    return this.s.boardsOf.all(id) as Board[];
  }

  addToBoard(boardId: string, ids: string | string[]): void {
    this.db.transaction((all: string[]) => {
      if (!this.s.boardExists.get(boardId)) throw new LibraryNotFoundError(`board ${boardId} does not exist`);
      this.requireAll(all);
      const now = Date.now();
      for (const id of all) this.s.boardAdd.run(boardId, now, id);
    })(list(ids));
  }

  removeFromBoard(boardId: string, ids: string | string[]): void {
    this.db.transaction((all: string[]) => {
      for (const id of all) this.s.boardRemove.run(boardId, id);
    })(list(ids));
  }

  trash(ids: string | string[]): void {
    this.db.transaction((all: string[]) => {
      this.requireAll(all);
      const now = Date.now();
      for (const id of all) this.s.trash.run(now, id);
    })(list(ids));
  }

  restore(ids: string | string[]): void {
    this.db.transaction((all: string[]) => {
      for (const id of all) this.s.restore.run(id);
    })(list(ids));
  }

  /** Deletes trashed rows and queues their image hashes for file removal, atomically. */
  purgeTrashedRows(): number {
    return this.db.transaction(() => {
      this.s.queuePurge.run();
      const n = this.s.purge.run().changes;
      this.s.dropUnusedTags.run();
      return n;
    })();
  }
}
