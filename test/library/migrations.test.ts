/**
 * Each migration: build the database at N-1, insert rows, migrate to N, assert.
 * Plus the guard rails: shipped hashes are pinned, edited migrations and newer schemas refuse.
 */
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  LATEST_SCHEMA_VERSION, MIGRATIONS, MigrationChangedError, ProjectLibrary, SchemaTooNewError, migrate, migrationHash,
} from '../../main/library';
import { removeDir, tempDir } from './helpers';

/** Hashes of shipped migrations. NEVER update an existing line: add a new migration instead. */
const SHIPPED: Array<[number, string, string]> = [
  [1, 'generations', 'e5aac78c9f1aaaf7b81e31aceaa5e5659fe2db332c1aa71df8a25805245dda3f'],
  [2, 'organisation', '335c05576c85a9fa5d0acc4cebebc9c1ad1ee2d2161b892731770dab348468ff'],
  [3, 'full_text_search', 'c97cbc2e62b0c80a30c148c388990df460f6609aca7e603af6a5aaeec428c8ff'],
  [4, 'import_origin', '63248e1a58b3c50193704648de205999cdf249e056c9b393e40f7c5cc24f616a'],
  [5, 'membership_timeline', '49699bda35e71cbe69af5a734494d2cb9b8f769bf2fd8dbc2559659d17ac5163'],
  [6, 'clip_skip', 'a1550eb6dcf31a728b2da4f44a2a0fbc2a0d7cd98c7dd4db71dbe7c391966ccd'],
  [7, 'lora_hashes', '0ccc7994f549cff426b6c6a619d3815df7ae77ea76becc620cd884cef5ffeac4'],
  [8, 'device_id', 'e3f3985c9dd29d4b91b4f1e7eaaf358c6ace640b26f3ead58aa1232945daef20'],
  [9, 'controlnets', '3e1113cbaa9d6f08da1209a02bdd25a9c754eed19e926374aac318f72585bae2'],
  [10, 'batch_size', '3e7bbceadc224de24d4db361a94caf716185e1d153cd85313cfd5260cec01e8b'],
];

let dir: string;
let db: Database.Database;

beforeEach(() => {
  dir = tempDir();
  db = new Database(path.join(dir, 'library.sqlite'));
  db.pragma('journal_mode = WAL');
  db.pragma('foreign_keys = ON');
});
afterEach(() => {
  db.close();
  removeDir(dir);
});

function insertV1(id: string, over: Record<string, unknown> = {}) {
  const row = { id, created_at: 1000, image_hash: 'h'.repeat(64), width: 512, height: 512, prompt: `prompt of ${id}`, negative_prompt: 'blurry', parent_id: null, ...over };
  db.prepare(`INSERT INTO generations (id, created_at, image_hash, width, height, prompt, negative_prompt, parent_id)
    VALUES (@id, @created_at, @image_hash, @width, @height, @prompt, @negative_prompt, @parent_id)`).run(row);
}

const indexNames = () => (db.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND name NOT LIKE 'sqlite_%'").all() as Array<{ name: string }>).map((r) => r.name);

describe('migration list', () => {
  it('is numbered 1..N without gaps and matches the pinned shipped hashes', () => {
    expect(MIGRATIONS.map((m) => m.version)).toEqual(MIGRATIONS.map((_, i) => i + 1));
    expect(LATEST_SCHEMA_VERSION).toBe(MIGRATIONS.length);
    for (const [version, name, hash] of SHIPPED) {
      const m = MIGRATIONS.find((x) => x.version === version)!;
      expect(m.name).toBe(name);
      expect(migrationHash(m), `migration ${version} (${name}) was edited after shipping — revert it and add a new migration`).toBe(hash);
    }
  });
});

describe('migration 1: generations', () => {
  it('creates the generations table from an empty database', () => {
    expect(migrate(db, { to: 1 })).toEqual([1]);
    insertV1('A');
    insertV1('B', { parent_id: 'A' });
    const b = db.prepare('SELECT * FROM generations WHERE id = ?').get('B') as Record<string, unknown>;
    expect(b).toMatchObject({ parent_id: 'A', rng: 'cpu', model_id: '', seq: 2 });
    expect(() => insertV1('C', { parent_id: 'nope' })).toThrow(/FOREIGN KEY/);
    expect(db.pragma('user_version', { simple: true })).toBe(1);
  });
});

describe('migration 2: organisation', () => {
  it('adds rating/flag/notes/trash with defaults to existing rows, and tags/boards', () => {
    migrate(db, { to: 1 });
    insertV1('A');
    insertV1('B', { parent_id: 'A', created_at: 2000 });
    expect(migrate(db, { to: 2 })).toEqual([2]);

    const rows = db.prepare('SELECT id, parent_id, rating, flag, notes, deleted_at, missing_file FROM generations ORDER BY id').all();
    expect(rows).toEqual([
      { id: 'A', parent_id: null, rating: 0, flag: 'none', notes: '', deleted_at: null, missing_file: 0 },
      { id: 'B', parent_id: 'A', rating: 0, flag: 'none', notes: '', deleted_at: null, missing_file: 0 },
    ]);
    expect(() => db.prepare("UPDATE generations SET rating = 6 WHERE id = 'A'").run()).toThrow(/CHECK/);
    expect(() => db.prepare("UPDATE generations SET flag = 'maybe' WHERE id = 'A'").run()).toThrow(/CHECK/);
    const names = indexNames();
    expect(names).toContain('generations_live_created');
    expect(names).not.toContain('generations_created');

    db.prepare("INSERT INTO tags (name) VALUES ('Sky')").run();
    expect(() => db.prepare("INSERT INTO tags (name) VALUES ('sky')").run()).toThrow(/UNIQUE/);
    db.prepare("INSERT INTO generation_tags (tag_id, generation_id) VALUES (1, 'A')").run();
    db.prepare("INSERT INTO boards (id, name, created_at) VALUES ('b1', 'Board', 0)").run();
    db.prepare("INSERT INTO board_items (board_id, generation_id, added_at) VALUES ('b1', 'A', 0)").run();
    db.prepare("DELETE FROM generations WHERE id = 'A'").run();
    expect(db.prepare('SELECT COUNT(*) AS n FROM generation_tags').get()).toEqual({ n: 0 });
    expect(db.prepare('SELECT COUNT(*) AS n FROM board_items').get()).toEqual({ n: 0 });
    expect(db.prepare("SELECT parent_id FROM generations WHERE id = 'B'").get()).toEqual({ parent_id: null });
  });
});

describe('migration 3: full-text search', () => {
  it('indexes existing rows and keeps the index in sync through triggers', () => {
    migrate(db, { to: 2 });
    insertV1('A', { prompt: 'warm rim light portrait' });
    insertV1('B', { prompt: 'cold landscape', negative_prompt: 'warmth' });
    expect(migrate(db, { to: 3 })).toEqual([3]);

    const search = (q: string) => (db.prepare('SELECT g.id FROM generations_fts f JOIN generations g ON g.seq = f.rowid WHERE generations_fts MATCH ? ORDER BY g.id').all(q) as Array<{ id: string }>).map((r) => r.id);
    expect(search('"warm"*')).toEqual(['A', 'B']);
    expect(search('"rim"')).toEqual(['A']);
    insertV1('C', { prompt: 'rimless glasses' });
    expect(search('"rim"*')).toEqual(['A', 'C']);
    db.prepare("UPDATE generations SET prompt = 'nothing' WHERE id = 'A'").run();
    expect(search('"rim"*')).toEqual(['C']);
    db.prepare("DELETE FROM generations WHERE id = 'C'").run();
    expect(search('"rim"*')).toEqual([]);
    db.exec("INSERT INTO generations_fts(generations_fts, rank) VALUES ('integrity-check', 1)");
  });
});

describe('migration 4: import origin', () => {
  it('marks existing rows as generated and accepts imported ones', () => {
    migrate(db, { to: 3 });
    insertV1('A');
    db.prepare("UPDATE generations SET rating = 4 WHERE id = 'A'").run();
    expect(migrate(db, { to: 4 })).toEqual([4]);
    expect(db.prepare("SELECT origin, import_source, rating FROM generations WHERE id = 'A'").get()).toEqual({ origin: 'generated', import_source: null, rating: 4 });
    db.prepare("UPDATE generations SET origin = 'imported', import_source = 'a1111' WHERE id = 'A'").run();
    expect(() => db.prepare("UPDATE generations SET origin = 'stolen' WHERE id = 'A'").run()).toThrow(/CHECK/);
    // FTS from migration 3 still in sync after the ALTERs
    expect(db.prepare(`SELECT COUNT(*) AS n FROM generations_fts WHERE generations_fts MATCH '"prompt"'`).get()).toEqual({ n: 1 });
  });
});

describe('migration 5: membership timeline', () => {
  it('copies created_at into existing board and tag memberships and keeps them in step', () => {
    migrate(db, { to: 4 });
    insertV1('A', { created_at: 111 });
    insertV1('B', { created_at: 222 });
    db.prepare("INSERT INTO boards (id, name, created_at) VALUES ('b1', 'Board', 0)").run();
    db.prepare("INSERT INTO board_items (board_id, generation_id, added_at) VALUES ('b1', 'A', 0), ('b1', 'B', 0)").run();
    db.prepare("INSERT INTO tags (id, name) VALUES (1, 'sky')").run();
    db.prepare("INSERT INTO generation_tags (tag_id, generation_id) VALUES (1, 'B')").run();
    expect(migrate(db, { to: 5 })).toEqual([5]);
    expect(db.prepare('SELECT generation_id, generation_created_at FROM board_items ORDER BY generation_id').all()).toEqual([
      { generation_id: 'A', generation_created_at: 111 },
      { generation_id: 'B', generation_created_at: 222 },
    ]);
    expect(db.prepare('SELECT generation_created_at FROM generation_tags').get()).toEqual({ generation_created_at: 222 });
    db.prepare("UPDATE generations SET created_at = 333 WHERE id = 'B'").run();
    expect(db.prepare("SELECT generation_created_at AS t FROM board_items WHERE generation_id = 'B'").get()).toEqual({ t: 333 });
    expect(db.prepare('SELECT generation_created_at AS t FROM generation_tags').get()).toEqual({ t: 333 });
    const plan = (db.prepare("EXPLAIN QUERY PLAN SELECT generation_id FROM board_items WHERE board_id = 'b1' ORDER BY generation_created_at DESC LIMIT 10").all() as Array<{ detail: string }>).map((r) => r.detail).join('\n');
    expect(plan).toMatch(/board_items_timeline/);
    expect(plan).not.toMatch(/TEMP B-TREE/);
  });
});

describe('migration 6: clip skip', () => {
  it('records clip skip 1 for existing rows (all made before it was recordable) and bounds it to 1–12', () => {
    migrate(db, { to: 5 });
    insertV1('A');
    expect(migrate(db, { to: 6 })).toEqual([6]);
    expect(db.prepare("SELECT clip_skip FROM generations WHERE id = 'A'").get()).toEqual({ clip_skip: 1 });
    insertV1('B');
    db.prepare("UPDATE generations SET clip_skip = 2 WHERE id = 'B'").run();
    expect(db.prepare("SELECT clip_skip FROM generations WHERE id = 'B'").get()).toEqual({ clip_skip: 2 });
    expect(() => db.prepare("UPDATE generations SET clip_skip = 0 WHERE id = 'A'").run()).toThrow(/CHECK/);
    expect(() => db.prepare("UPDATE generations SET clip_skip = 13 WHERE id = 'A'").run()).toThrow(/CHECK/);
  });
});

describe('migration 7: LoRA hashes', () => {
  it('leaves existing rows without LoRAs and stores the list as JSON', () => {
    migrate(db, { to: 6 });
    insertV1('A');
    expect(migrate(db, { to: 7 })).toEqual([7]);
    expect(db.prepare("SELECT lora_hashes_json FROM generations WHERE id = 'A'").get()).toEqual({ lora_hashes_json: null });
    insertV1('B');
    db.prepare("UPDATE generations SET lora_hashes_json = ? WHERE id = 'B'").run(JSON.stringify([{ name: 'film', hash: '0123456789ab' }]));
    expect(JSON.parse((db.prepare("SELECT lora_hashes_json AS j FROM generations WHERE id = 'B'").get() as { j: string }).j)).toEqual([{ name: 'film', hash: '0123456789ab' }]);
  });
});

describe('migration 9: ControlNet units', () => {
  it('leaves existing rows without units and stores the list as JSON', () => {
    migrate(db, { to: 8 });
    insertV1('A');
    expect(migrate(db, { to: 9 })).toEqual([9]);
    expect(db.prepare("SELECT controlnets_json FROM generations WHERE id = 'A'").get()).toEqual({ controlnets_json: null });
  });
});

describe('migration 10: batch size', () => {
  it('leaves existing rows without a batch size and refuses one out of range', () => {
    migrate(db, { to: 9 });
    insertV1('A');
    expect(migrate(db, { to: 10 })).toEqual([10]);
    expect(db.prepare("SELECT batch_size FROM generations WHERE id = 'A'").get()).toEqual({ batch_size: null });
    expect(() => db.prepare("UPDATE generations SET batch_size = 0 WHERE id = 'A'").run()).toThrow(/CHECK constraint/);
  });
});

describe('guard rails', () => {
  it('is idempotent and records a hash per applied migration', () => {
    expect(migrate(db)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(migrate(db)).toEqual([]);
    const recorded = db.prepare('SELECT version, name, sha256 FROM schema_migrations ORDER BY version').all();
    expect(recorded).toEqual(SHIPPED.map(([version, name, sha256]) => ({ version, name, sha256 })));
  });

  it('refuses to open when a shipped migration was edited', () => {
    migrate(db);
    const edited = MIGRATIONS.map((m) => (m.version === 2 ? { ...m, sql: m.sql + '\n-- tweak' } : m));
    expect(() => migrate(db, { migrations: edited })).toThrow(MigrationChangedError);
    expect(() => migrate(db, { migrations: edited })).toThrow(/Migration 2 \(organisation\).*never be edited/);
  });

  it('refuses a database written by a newer Atelier, without modifying it', async () => {
    db.close();
    const parent = tempDir();
    try {
      const lib = await ProjectLibrary.create(parent, 'future');
      const projectDir = lib.dir;
      lib.database.pragma('user_version = 99');
      lib.close();
      const before = fs.readFileSync(path.join(projectDir, 'library.sqlite'));
      await expect(ProjectLibrary.open(projectDir)).rejects.toBeInstanceOf(SchemaTooNewError);
      await expect(ProjectLibrary.open(projectDir)).rejects.toThrow(/schema version 99.*update Atelier/);
      expect(Buffer.compare(before, fs.readFileSync(path.join(projectDir, 'library.sqlite')))).toBe(0);
      // and the failed open released its lock
      expect(fs.existsSync(path.join(projectDir, '.atelier-lock'))).toBe(false);
    } finally {
      removeDir(parent);
      db = new Database(':memory:');
    }
  });
});
