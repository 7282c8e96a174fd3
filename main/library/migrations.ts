/**
 * Numbered schema migrations of library.sqlite.
 *
 * RULES: a migration that has shipped is never edited — add a new, higher-numbered one.
 * Each applied migration's sha256 is stored in `schema_migrations`; opening a project whose
 * recorded hash differs from the code refuses with MigrationChangedError, and
 * test/library/migrations.test.ts pins the shipped hashes so an edit fails CI first.
 * `PRAGMA user_version` mirrors the latest applied version; a newer one than we know
 * refuses with SchemaTooNewError.
 */
import { createHash } from 'node:crypto';
import type Database from 'better-sqlite3';
import { MigrationChangedError, SchemaTooNewError } from './errors';

export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
}

const m001 = `
CREATE TABLE project_meta (
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
) WITHOUT ROWID;

-- seq is the stable rowid (FTS content rowid); id is the public ULID.
CREATE TABLE generations (
  seq             INTEGER PRIMARY KEY,
  id              TEXT NOT NULL UNIQUE,
  created_at      INTEGER NOT NULL,
  image_hash      TEXT NOT NULL,
  width           INTEGER NOT NULL,
  height          INTEGER NOT NULL,
  model_id        TEXT NOT NULL DEFAULT '',
  model_hash      TEXT NOT NULL DEFAULT '',
  model_family    TEXT NOT NULL DEFAULT '',
  provider        TEXT NOT NULL DEFAULT '',
  prompt          TEXT NOT NULL DEFAULT '',
  negative_prompt TEXT NOT NULL DEFAULT '',
  seed            INTEGER NOT NULL DEFAULT 0,
  rng             TEXT NOT NULL DEFAULT 'cpu' CHECK (rng IN ('cpu', 'cuda')),
  scheduler       TEXT NOT NULL DEFAULT '',
  steps           INTEGER NOT NULL DEFAULT 0,
  cfg             REAL NOT NULL DEFAULT 0,
  batch_index     INTEGER NOT NULL DEFAULT 0,
  strength        REAL,
  mask_ref        TEXT,
  init_image_ref  TEXT,
  parent_id       TEXT REFERENCES generations(id) ON DELETE SET NULL,
  timings_json    TEXT,
  app_version     TEXT NOT NULL DEFAULT ''
);
CREATE INDEX generations_created   ON generations(created_at, id);
CREATE INDEX generations_parent    ON generations(parent_id);
CREATE INDEX generations_seed      ON generations(seed, created_at);
CREATE INDEX generations_model     ON generations(model_id, created_at, id);
CREATE INDEX generations_scheduler ON generations(scheduler, created_at, id);
CREATE INDEX generations_size      ON generations(width, height, created_at, id);
CREATE INDEX generations_image     ON generations(image_hash);
`;

const m002 = `
ALTER TABLE generations ADD COLUMN rating INTEGER NOT NULL DEFAULT 0 CHECK (rating BETWEEN 0 AND 5);
ALTER TABLE generations ADD COLUMN flag TEXT NOT NULL DEFAULT 'none' CHECK (flag IN ('pick', 'reject', 'none'));
ALTER TABLE generations ADD COLUMN notes TEXT NOT NULL DEFAULT '';
ALTER TABLE generations ADD COLUMN deleted_at INTEGER;
ALTER TABLE generations ADD COLUMN missing_file INTEGER NOT NULL DEFAULT 0;

-- History shows live rows only: a partial index keeps the trash out of its way.
DROP INDEX generations_created;
CREATE INDEX generations_live_created ON generations(created_at, id) WHERE deleted_at IS NULL;
CREATE INDEX generations_trash        ON generations(deleted_at) WHERE deleted_at IS NOT NULL;
CREATE INDEX generations_rating       ON generations(rating, created_at, id);
CREATE INDEX generations_flag         ON generations(flag, created_at, id);

CREATE TABLE tags (
  id   INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE COLLATE NOCASE
);
CREATE TABLE generation_tags (
  tag_id        INTEGER NOT NULL REFERENCES tags(id) ON DELETE CASCADE,
  generation_id TEXT NOT NULL REFERENCES generations(id) ON DELETE CASCADE,
  PRIMARY KEY (tag_id, generation_id)
) WITHOUT ROWID;
CREATE INDEX generation_tags_generation ON generation_tags(generation_id);

CREATE TABLE boards (
  id         TEXT PRIMARY KEY,
  name       TEXT NOT NULL,
  created_at INTEGER NOT NULL
);
CREATE TABLE board_items (
  board_id      TEXT NOT NULL REFERENCES boards(id) ON DELETE CASCADE,
  generation_id TEXT NOT NULL REFERENCES generations(id) ON DELETE CASCADE,
  added_at      INTEGER NOT NULL,
  PRIMARY KEY (board_id, generation_id)
) WITHOUT ROWID;
CREATE INDEX board_items_generation ON board_items(generation_id);

-- Image files of purged generations, deleted after the rows' transaction commits.
-- Finished on the next open if we crash in between, so purged images never resurrect.
CREATE TABLE purge_queue (
  image_hash TEXT PRIMARY KEY
) WITHOUT ROWID;
`;

const m003 = `
CREATE VIRTUAL TABLE generations_fts USING fts5(
  prompt, negative_prompt,
  content = 'generations', content_rowid = 'seq',
  tokenize = 'unicode61 remove_diacritics 2',
  prefix = '2 3'
);
CREATE TRIGGER generations_fts_insert AFTER INSERT ON generations BEGIN
  INSERT INTO generations_fts(rowid, prompt, negative_prompt) VALUES (new.seq, new.prompt, new.negative_prompt);
END;
CREATE TRIGGER generations_fts_delete AFTER DELETE ON generations BEGIN
  INSERT INTO generations_fts(generations_fts, rowid, prompt, negative_prompt) VALUES ('delete', old.seq, old.prompt, old.negative_prompt);
END;
CREATE TRIGGER generations_fts_update AFTER UPDATE OF prompt, negative_prompt ON generations BEGIN
  INSERT INTO generations_fts(generations_fts, rowid, prompt, negative_prompt) VALUES ('delete', old.seq, old.prompt, old.negative_prompt);
  INSERT INTO generations_fts(rowid, prompt, negative_prompt) VALUES (new.seq, new.prompt, new.negative_prompt);
END;
INSERT INTO generations_fts(generations_fts) VALUES ('rebuild');
`;

const m004 = `
-- Images imported from disk are lineage roots that may lack generation parameters.
ALTER TABLE generations ADD COLUMN origin TEXT NOT NULL DEFAULT 'generated' CHECK (origin IN ('generated', 'imported'));
-- Which metadata the import recognised: 'atelier' | 'a1111' | 'invokeai' | 'comfyui' | 'unknown'.
ALTER TABLE generations ADD COLUMN import_source TEXT;
`;

const m005 = `
-- Copy each member's created_at into the membership tables so board and tag pages can walk
-- an index in time order instead of sorting every member (100 ms+ for 30k-image boards).
ALTER TABLE board_items ADD COLUMN generation_created_at INTEGER NOT NULL DEFAULT 0;
UPDATE board_items SET generation_created_at = (SELECT g.created_at FROM generations g WHERE g.id = board_items.generation_id);
CREATE INDEX board_items_timeline ON board_items(board_id, generation_created_at, generation_id);

ALTER TABLE generation_tags ADD COLUMN generation_created_at INTEGER NOT NULL DEFAULT 0;
UPDATE generation_tags SET generation_created_at = (SELECT g.created_at FROM generations g WHERE g.id = generation_tags.generation_id);
CREATE INDEX generation_tags_timeline ON generation_tags(tag_id, generation_created_at, generation_id);

-- created_at is not meant to change; if it ever does, the copies follow.
CREATE TRIGGER generations_created_at_copies AFTER UPDATE OF created_at ON generations BEGIN
  UPDATE board_items SET generation_created_at = new.created_at WHERE generation_id = new.id;
  UPDATE generation_tags SET generation_created_at = new.created_at WHERE generation_id = new.id;
END;
`;

const m006 = `
-- A1111 "Clip skip" (1 = last CLIP layer). Every row before this migration was generated at 1.
ALTER TABLE generations ADD COLUMN clip_skip INTEGER NOT NULL DEFAULT 1 CHECK (clip_skip BETWEEN 1 AND 12);
`;

const m007 = `
-- LoRAs merged for the image, as A1111's "Lora hashes": JSON [{"name", "hash"}] (hash = addnet SHA-256, hex); NULL = none.
ALTER TABLE generations ADD COLUMN lora_hashes_json TEXT;
`;

const m008 = `
-- Which GPU of the provider made the image (CUDA device / DXGI adapter index); NULL = CPU, or made before it was recorded.
ALTER TABLE generations ADD COLUMN device_id INTEGER CHECK (device_id IS NULL OR device_id BETWEEN 0 AND 63);
`;

const m009 = `
-- ControlNet units that shaped the image: JSON [{"model", "modelHash", "weight", "start", "end", "annotator"?, "fit"?, "imageRef"}]
-- (common/params/controlnet.ts ControlUnitRecordSchema); NULL = none.
ALTER TABLE generations ADD COLUMN controlnets_json TEXT;
`;

const m010 = `
-- The size of the batch an image was made in: image k of a batch shares the batch's noise stream, so
-- reproducing it exactly needs the size (engine batchMember). NULL = not recorded (older images).
ALTER TABLE generations ADD COLUMN batch_size INTEGER CHECK (batch_size IS NULL OR batch_size BETWEEN 1 AND 64);
`;

export const MIGRATIONS: readonly Migration[] = Object.freeze([
  { version: 1, name: 'generations', sql: m001 },
  { version: 2, name: 'organisation', sql: m002 },
  { version: 3, name: 'full_text_search', sql: m003 },
  { version: 4, name: 'import_origin', sql: m004 },
  { version: 5, name: 'membership_timeline', sql: m005 },
  { version: 6, name: 'clip_skip', sql: m006 },
  { version: 7, name: 'lora_hashes', sql: m007 },
  { version: 8, name: 'device_id', sql: m008 },
  { version: 9, name: 'controlnets', sql: m009 },
  { version: 10, name: 'batch_size', sql: m010 },
]);

export const LATEST_SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1].version;

export function migrationHash(m: Migration): string {
  return createHash('sha256').update(`${m.version}\n${m.name}\n${m.sql}`).digest('hex');
}

const BOOKKEEPING = `
CREATE TABLE IF NOT EXISTS schema_migrations (
  version    INTEGER PRIMARY KEY,
  name       TEXT NOT NULL,
  sha256     TEXT NOT NULL,
  applied_at INTEGER NOT NULL
)`;

export interface MigrateOptions {
  /** Stop at this version (tests build a database at N-1). Default: latest. */
  to?: number;
  /** Override the migration list (tests only). */
  migrations?: readonly Migration[];
  /** Shown in errors. */
  path?: string;
}

export function currentSchemaVersion(db: Database.Database): number {
  return db.pragma('user_version', { simple: true }) as number;
}

/**
 * Verifies applied migrations against the code, then applies the pending ones, each in
 * its own IMMEDIATE transaction. Returns the versions applied now.
 */
export function migrate(db: Database.Database, opts: MigrateOptions = {}): number[] {
  const migrations = opts.migrations ?? MIGRATIONS;
  const latest = migrations.length ? migrations[migrations.length - 1].version : 0;
  const target = opts.to ?? latest;
  const found = currentSchemaVersion(db);
  if (found > latest) throw new SchemaTooNewError(opts.path ?? db.name, found, latest);

  db.exec(BOOKKEEPING);
  const applied = db.prepare('SELECT version, name, sha256 FROM schema_migrations ORDER BY version').all() as Array<{ version: number; name: string; sha256: string }>;
  for (const row of applied) {
    const m = migrations.find((x) => x.version === row.version);
    if (!m) throw new SchemaTooNewError(opts.path ?? db.name, row.version, latest);
    const hash = migrationHash(m);
    if (hash !== row.sha256) throw new MigrationChangedError(m.version, m.name, row.sha256, hash);
  }

  const done: number[] = [];
  for (const m of migrations) {
    if (m.version <= found || m.version > target) continue;
    const apply = db.transaction(() => {
      db.exec(m.sql);
      db.prepare('INSERT INTO schema_migrations (version, name, sha256, applied_at) VALUES (?, ?, ?, ?)').run(m.version, m.name, migrationHash(m), Date.now());
      db.pragma(`user_version = ${m.version}`);
    });
    apply.immediate();
    done.push(m.version);
  }
  return done;
}
