/**
 * ProjectLibrary: one `<name>.atelier/` folder — SQLite rows + content-addressed files.
 *
 * Write path (addGeneration): encode PNG, embed metadata, write the image atomically
 * (temp + fsync + rename to its content hash), THEN insert the row; the WebP thumbnail is
 * encoded and written right after, off the critical path (`thumbnail(id)` awaits it).
 * A crash before the row leaves at most an orphan file, which reconcile re-indexes from
 * its embedded JSON; a missing thumbnail is rebuilt.
 * Reconcile runs on open when the previous session did not close cleanly (stale lock).
 */
import fs from 'node:fs';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { LibraryError, LibraryNotFoundError, ProjectClosedError } from './errors';
import { ulid } from './ids';
import { acquireProjectLock, type AcquiredLock } from './lock';
import { LATEST_SCHEMA_VERSION, currentSchemaVersion, migrate } from './migrations';
import {
  type AtelierDocument, IMAGES_DIR, LIBRARY_FILE, THUMBS_DIR, embedMetadataParts, encodeRgb, imageRelPath, preparePng, thumbRelPath,
  writeImageContentAddressed,
} from './project-files';
import { ThumbnailWriter } from './thumbnail-writer';
import {
  GENERATION_COLUMNS, INSERT_GENERATION_SQL, SMALL_SET, SQL, generationToRow, THUMBNAIL_COLUMNS, buildHistoryQuery, nextCursorOf, rowToRecord, rowToThumbnail,
  type GenerationRow, type MembershipSizes, type ThumbnailDbRow,
} from './queries';
import { reconcileProject } from './reconcile';
import {
  generationParamsSchema, type AddGenerationInput, type Board, type Flag, type GenerationParams, type GenerationRecord,
  type HistoryQuery, type Page, type ProjectInfo, type ReconcileReport, type ThumbnailRow,
} from './types';
import { OrganisationStore } from './organisation';
import { exportGenerations, importFiles, type ExportOptions, type ExportReport, type ImportReport } from './transfer';
import { CredentialsVerifier, parentFileOf, signExportedRendition } from './library-credentials';
import { DISCLOSURES, readReceipt, writeReceipt, type Credentials, type Disclosure, type ParentFile, type Provenance, type Receipt } from '../provenance';

export const PROJECT_EXTENSION = '.atelier';

export interface OpenOptions {
  /** Force a full file/row reconcile on open (default: only after an unclean shutdown). */
  reconcile?: boolean;
  /** fsync image files before inserting rows (default true; benchmarks/tests may turn off). */
  durableWrites?: boolean;
  /** Signs every stored and exported image with content credentials (C2PA); none: images are stored unsigned. */
  provenance?: Provenance | null;
}

/** Where an image came from when it is stored: generated (default) or imported from a file (the original travels as an ingredient). */
export interface StoreOrigin {
  origin?: 'imported';
  importSource?: string;
  original?: ParentFile;
}

/** Folder name for a project name: keeps letters/digits/space/()-_. and adds `.atelier`. */
export function projectFolderName(name: string): string {
  const base = name.normalize('NFC').replace(/[^\p{L}\p{N} ._()-]+/gu, '_').replace(/^[ .]+|[ .]+$/g, '').slice(0, 80);
  return `${base || 'project'}${PROJECT_EXTENSION}`;
}

let sqliteNativeBinding: string | undefined;

/**
 * The packaged Electron app loads an Electron-ABI build of better-sqlite3 from outside the asar
 * (scripts/build-electron-native.mjs); Node keeps using node_modules' own build.
 */
export function setSqliteNativeBinding(path: string | undefined): void {
  sqliteNativeBinding = path;
}

function openDatabase(file: string): Database.Database {
  const db = new Database(file, sqliteNativeBinding ? { nativeBinding: sqliteNativeBinding } : {});
  db.pragma('journal_mode = WAL');
  // NORMAL is crash-safe in WAL mode (a power cut can lose the last commits, never corrupt).
  db.pragma('synchronous = NORMAL');
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  return db;
}

export class ProjectLibrary {
  private db: Database.Database | null;
  private readonly lock: AcquiredLock;
  private readonly durable: boolean;
  private readonly provenance: Provenance | null;
  private readonly org: OrganisationStore;
  private readonly stmts: ReturnType<typeof prepareStatements>;
  private readonly thumbs: ThumbnailWriter;
  /** Report of the reconcile run during open, if one ran. */
  lastReconcile: ReconcileReport | null = null;

  private constructor(readonly dir: string, db: Database.Database, lock: AcquiredLock, opts: OpenOptions) {
    this.db = db;
    this.lock = lock;
    this.durable = opts.durableWrites ?? true;
    this.provenance = opts.provenance ?? null;
    this.verifier = new CredentialsVerifier(this.provenance);
    this.stmts = prepareStatements(db);
    this.org = new OrganisationStore(db);
    this.thumbs = new ThumbnailWriter(dir);
  }

  /** Creates `<parentDir>/<name>.atelier/` (must not exist yet) and opens it. */
  static async create(parentDir: string, name: string, opts: OpenOptions = {}): Promise<ProjectLibrary> {
    if (!name.trim()) throw new LibraryError('project name must not be empty');
    const dir = path.resolve(parentDir, projectFolderName(name));
    if (fs.existsSync(dir)) throw new LibraryError(`cannot create project: ${dir} already exists (open it instead, or pick another name)`);
    fs.mkdirSync(dir, { recursive: true });
    fs.mkdirSync(path.join(dir, IMAGES_DIR));
    fs.mkdirSync(path.join(dir, THUMBS_DIR));
    const lock = acquireProjectLock(dir);
    let db: Database.Database | null = null;
    try {
      db = openDatabase(path.join(dir, LIBRARY_FILE));
      migrate(db, { path: path.join(dir, LIBRARY_FILE) });
      const setMeta = db.prepare('INSERT INTO project_meta (key, value) VALUES (?, ?)');
      db.transaction(() => {
        setMeta.run('project_id', ulid());
        setMeta.run('name', name.trim());
        setMeta.run('created_at', String(Date.now()));
      })();
      return new ProjectLibrary(dir, db, lock, opts);
    } catch (err) {
      db?.close();
      lock.release();
      // The folder was made here a moment ago and holds nothing of the user's: left behind, it would
      // block both a retry ("already exists") and opening it ("library.sqlite not found").
      fs.rmSync(dir, { recursive: true, force: true });
      throw err;
    }
  }

  /** Opens an existing project folder (the `.atelier` directory itself). */
  static async open(projectDir: string, opts: OpenOptions = {}): Promise<ProjectLibrary> {
    const dir = path.resolve(projectDir);
    const file = path.join(dir, LIBRARY_FILE);
    if (!fs.existsSync(file)) throw new LibraryNotFoundError(`${dir} is not an Atelier project: ${LIBRARY_FILE} not found`);
    const lock = acquireProjectLock(dir);
    let db: Database.Database | null = null;
    try {
      db = openDatabase(file);
      migrate(db, { path: file });
      const lib = new ProjectLibrary(dir, db, lock, opts);
      if (opts.reconcile || lock.tookOverStale) lib.lastReconcile = await lib.reconcile();
      return lib;
    } catch (err) {
      db?.close();
      lock.release();
      throw err;
    }
  }

  get isOpen(): boolean {
    return this.db !== null;
  }

  close(): void {
    if (!this.db) return;
    try {
      this.db.pragma('optimize');
      this.db.close();
    } finally {
      this.db = null;
      this.lock.release();
    }
  }

  private get conn(): Database.Database {
    if (!this.db) throw new ProjectClosedError(this.dir);
    return this.db;
  }

  info(): ProjectInfo {
    const meta = Object.fromEntries(
      (this.conn.prepare('SELECT key, value FROM project_meta').all() as Array<{ key: string; value: string }>).map((r) => [r.key, r.value]),
    );
    return { id: meta.project_id, name: meta.name, createdAt: Number(meta.created_at), schemaVersion: currentSchemaVersion(this.conn) };
  }

  /** Renames the project (display name stored in the library; the folder keeps its name). */
  rename(name: string): void {
    if (!name.trim()) throw new LibraryError('project name must not be empty');
    this.conn.prepare("UPDATE project_meta SET value = ? WHERE key = 'name'").run(name.trim());
  }

  imagePath(hash: string): string {
    return path.join(this.dir, imageRelPath(hash));
  }

  thumbPath(hash: string): string {
    return path.join(this.dir, thumbRelPath(hash));
  }

  // ---------------------------------------------------------------- writing

  /**
   * Stores one generated image with its parameters. Returns the stored record.
   * Throws (and stores nothing in the database) on invalid params or image.
   */
  async addGeneration(input: AddGenerationInput): Promise<GenerationRecord> {
    this.conn; // fail fast when closed
    // 1. Validate parameters
    const parsed = generationParamsSchema.safeParse(input.params);
    if (!parsed.success) {
      const issues = parsed.error.issues.map((i) => `${i.path.join('.') || 'params'}: ${i.message}`).join('; ');
      throw new LibraryError(`invalid generation params — ${issues}`);
    }
    const params: GenerationParams = { ...parsed.data, createdAt: parsed.data.createdAt ?? Date.now() };
    if (params.parentId !== null && !this.stmts.exists.get(params.parentId)) {
      throw new LibraryError(`parentId ${params.parentId} is not a generation of this project`);
    }

    // 2. Encode pixels
    const encoded = 'rgb' in input.image ? await encodeRgb(input.image) : await preparePng(input.image.png);
    if (encoded.width !== params.width || encoded.height !== params.height) {
      throw new LibraryError(`params say ${params.width}x${params.height} but the image is ${encoded.width}x${encoded.height}`);
    }

    return this.storeImage(encoded.png, encoded.makeThumb, params);
  }

  /** Internal (also used by import): steps 3-5 of addGeneration for an encoded PNG. */
  async storeImage(png: Buffer, makeThumb: () => Promise<Buffer>, params: GenerationParams, origin: StoreOrigin = {}): Promise<GenerationRecord> {
    // 3. Embed metadata, then sign (the signature covers the metadata); write the file atomically under its content hash (fsync'd)
    const id = ulid(params.createdAt);
    const doc: AtelierDocument = { v: 1, id, params, ...(origin.origin ? { origin: origin.origin, importSource: origin.importSource } : {}) };
    let parts = embedMetadataParts(png, doc);
    if (this.provenance) {
      const file = Buffer.concat(parts);
      const signed = origin.origin === 'imported' && origin.original
        ? await this.provenance.signImport(file, { id, original: origin.original, projectDir: this.dir })
        : await this.provenance.signGeneration(file, { id, params, disclosure: this.credentialsDisclosure(), parent: await parentFileOf((pid) => this.get(pid), params.parentId), projectDir: this.dir });
      parts = signed.parts ?? [signed.bytes];
    }
    const hash = await writeImageContentAddressed(this.dir, parts, { durable: this.durable });

    // 4. Only now the row: a crash before this line leaves an orphan file reconcile re-indexes
    this.insertRow(id, hash, params, origin);

    // 5. Thumbnail: derived data, written right after (see thumbnail()); off the critical path
    this.thumbs.queue(hash, makeThumb);
    return rowToRecord(this.dir, this.stmts.byId.get(id) as GenerationRow);
  }

  /**
   * Path of a generation's thumbnail, waiting for a pending write or rebuilding a missing
   * one from the image. Use this (not record.thumbPath) when serving a thumbnail right
   * after addGeneration.
   */
  async thumbnail(id: string): Promise<string> {
    const row = this.stmts.byId.get(id) as GenerationRow | undefined;
    if (!row) throw new LibraryNotFoundError(`generation ${id} does not exist in this project`);
    return this.thumbs.ensure(row.image_hash);
  }

  /** Resolves when every queued thumbnail is on disk. */
  async flushThumbnails(): Promise<void> {
    await this.thumbs.flush();
  }

  // ---------------------------------------------------------------- content credentials

  /** The project's choice of what its content credentials disclose (project_meta, travels with the folder). */
  credentialsDisclosure(): Disclosure {
    const row = this.conn.prepare("SELECT value FROM project_meta WHERE key = 'credentials_disclosure'").get() as { value: string } | undefined;
    return DISCLOSURES.includes(row?.value as Disclosure) ? (row!.value as Disclosure) : 'full';
  }

  setCredentialsDisclosure(disclosure: Disclosure): void {
    if (!DISCLOSURES.includes(disclosure)) throw new LibraryError(`credentials disclosure must be one of ${DISCLOSURES.join(', ')}`);
    this.conn.prepare("INSERT INTO project_meta (key, value) VALUES ('credentials_disclosure', ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value").run(disclosure);
  }

  /** The reproducibility receipt stored beside a generation (receipts/<id>.json), or null. */
  receipt(id: string): Receipt | null {
    return readReceipt(this.dir, id);
  }

  saveReceipt(id: string, receipt: Receipt): void {
    if (!this.stmts.exists.get(id)) throw new LibraryNotFoundError(`generation ${id} does not exist in this project`);
    writeReceipt(this.dir, id, receipt);
  }

  private readonly verifier: CredentialsVerifier;

  /** Verifies a file's content credentials (cached by content); "signed here" is recognised when this library signs. */
  verifyCredentials(bytes: Uint8Array): Promise<Credentials> {
    return this.verifier.verify(bytes);
  }

  /** Signs an exported rendition with this image's own facts (library-credentials.ts); unsigned libraries export as encoded. */
  async signExport(record: GenerationRecord, bytes: Buffer): Promise<Buffer> {
    return this.provenance ? signExportedRendition(this.provenance, this, record, bytes) : bytes;
  }

  /** Inserts the row for an image file already on disk. Used by addGeneration and reconcile. */
  insertRow(id: string, hash: string, p: GenerationParams, origin: StoreOrigin = {}): void {
    this.stmts.insert.run(generationToRow(id, hash, p, origin));
  }

  // ---------------------------------------------------------------- reading

  get(id: string): GenerationRecord | null {
    const row = this.stmts.byId.get(id) as GenerationRow | undefined;
    return row ? rowToRecord(this.dir, row) : null;
  }

  /** Newest-first page of full records; `text` switches to full-text search. */
  history(query: HistoryQuery = {}): Page<GenerationRecord> {
    return this.page(query, GENERATION_COLUMNS, (r) => rowToRecord(this.dir, r as GenerationRow));
  }

  /** Same filters as history, lightweight rows for grids. */
  thumbnails(query: HistoryQuery = {}): Page<ThumbnailRow> {
    return this.page(query, THUMBNAIL_COLUMNS, (r) => rowToThumbnail(this.dir, r as ThumbnailDbRow));
  }

  /** Full-text search on prompt + negative prompt, each word prefix-matched. */
  search(text: string, query: Omit<HistoryQuery, 'text'> = {}): Page<GenerationRecord> {
    return this.history({ ...query, text });
  }

  private page<T>(query: HistoryQuery, columns: string, map: (r: unknown) => T): Page<T> {
    if (query.text !== undefined && !/[\p{L}\p{N}_]/u.test(query.text)) return { items: [], nextCursor: null };
    const sizes: MembershipSizes = {};
    if (query.boardId !== undefined) sizes.board = (this.stmts.boardSize.get(query.boardId, SMALL_SET + 1) as { n: number }).n;
    if (query.tag !== undefined) sizes.tag = (this.stmts.tagSize.get(query.tag, SMALL_SET + 1) as { n: number }).n;
    const built = buildHistoryQuery(query, columns, sizes);
    const rows = this.cachedStatement(built.sql).all(built.params) as Array<{ seq: number; id: string; created_at: number }>;
    const more = rows.length > built.limit;
    if (more) rows.length = built.limit;
    return { items: rows.map(map), nextCursor: more ? nextCursorOf(built.order, rows[rows.length - 1]) : null };
  }

  /** History SQL depends only on which filters are set: a few dozen shapes, prepared once each. */
  private readonly statementCache = new Map<string, Database.Statement>();

  private cachedStatement(sql: string): Database.Statement {
    let stmt = this.statementCache.get(sql);
    if (!stmt) {
      if (this.statementCache.size >= 256) this.statementCache.clear();
      stmt = this.conn.prepare(sql);
      this.statementCache.set(sql, stmt);
    }
    return stmt;
  }

  /** Other live generations with the same seed as `id`, newest first. */
  sameSeed(id: string, limit = 100): GenerationRecord[] {
    const self = this.stmts.byId.get(id) as GenerationRow | undefined;
    if (!self) return [];
    const rows = this.conn.prepare(SQL.sameSeed).all({ seed: self.seed, id, limit }) as GenerationRow[];
    return rows.map((r) => rowToRecord(this.dir, r));
  }

  childrenOf(id: string): GenerationRecord[] {
    return (this.stmts.children.all(id) as GenerationRow[]).map((r) => rowToRecord(this.dir, r));
  }

  /** Parent, grandparent, … (nearest first). Includes trashed ancestors, which keep lineage. */
  ancestorsOf(id: string): GenerationRecord[] {
    return (this.stmts.ancestors.all(id) as GenerationRow[]).map((r) => rowToRecord(this.dir, r));
  }

  // ---------------------------------------------------------------- organisation

  setRating(ids: string | string[], rating: number): void {
    this.org.setRating(ids, rating);
  }
  setFlag(ids: string | string[], flag: Flag): void {
    this.org.setFlag(ids, flag);
  }
  setNotes(id: string, notes: string): void {
    this.org.setNotes(id, notes);
  }
  addTags(ids: string | string[], tags: string[]): void {
    this.org.addTags(ids, tags);
  }
  removeTags(ids: string | string[], tags: string[]): void {
    this.org.removeTags(ids, tags);
  }
  tagsOf(id: string): string[] {
    return this.org.tagsOf(id);
  }
  listTags(): Array<{ name: string; count: number }> {
    return this.org.listTags();
  }
  createBoard(name: string): Board {
    return this.org.createBoard(name);
  }
  renameBoard(boardId: string, name: string): void {
    this.org.renameBoard(boardId, name);
  }
  deleteBoard(boardId: string): void {
    this.org.deleteBoard(boardId);
  }
  listBoards(): Board[] {
    return this.org.listBoards();
  }
  addToBoard(boardId: string, ids: string | string[]): void {
    this.org.addToBoard(boardId, ids);
  }
  removeFromBoard(boardId: string, ids: string | string[]): void {
    this.org.removeFromBoard(boardId, ids);
  }
  boardsOf(id: string): Board[] {
    return this.org.boardsOf(id);
  }

  /** Every live generation on a board, newest first. */
  boardItems(boardId: string): GenerationRecord[] {
    const out: GenerationRecord[] = [];
    let cursor: string | null = null;
    do {
      const page = this.history({ boardId, limit: 1000, cursor });
      out.push(...page.items);
      cursor = page.nextCursor;
    } while (cursor);
    return out;
  }

  // ---------------------------------------------------------------- import / export

  /** Exports a selection (`ids`) or a board to a folder or `.zip` with manifest.json + manifest.csv. */
  exportGenerations(opts: ExportOptions): Promise<ExportReport> {
    this.conn;
    return exportGenerations(this, opts);
  }

  /** Imports image files as lineage roots (origin 'imported'), keeping parameters their metadata carries. */
  importFiles(files: string[]): Promise<ImportReport> {
    this.conn;
    return importFiles(this, files);
  }

  // ---------------------------------------------------------------- trash

  /** Moves generations to the trash (restorable). */
  trash(ids: string | string[]): void {
    this.org.trash(ids);
  }
  restore(ids: string | string[]): void {
    this.org.restore(ids);
  }

  /**
   * Deletes trashed generations for good: rows first (queuing their files in purge_queue
   * in the same transaction), then the files no remaining row uses.
   */
  async emptyTrash(): Promise<{ purged: number }> {
    const purged = this.org.purgeTrashedRows();
    await this.finishPurges();
    return { purged };
  }

  /** Deletes files queued in purge_queue; safe to repeat. */
  async finishPurges(): Promise<number> {
    const queued = this.conn.prepare('SELECT image_hash FROM purge_queue').all() as Array<{ image_hash: string }>;
    const stillUsed = this.conn.prepare('SELECT 1 FROM generations WHERE image_hash = ? LIMIT 1');
    const dequeue = this.conn.prepare('DELETE FROM purge_queue WHERE image_hash = ?');
    for (const { image_hash } of queued) {
      await this.thumbs.settled(image_hash); // don't let a late thumbnail write resurrect it
      if (!stillUsed.get(image_hash)) {
        await fsp.rm(this.imagePath(image_hash), { force: true });
        await fsp.rm(this.thumbPath(image_hash), { force: true });
      }
      dequeue.run(image_hash);
    }
    return queued.length;
  }

  /** Reconciles files and rows; see ReconcileReport. Never deletes a row. */
  async reconcile(): Promise<ReconcileReport> {
    return reconcileProject(this, this.conn);
  }

  /** Internal: raw database handle for tests, benchmarks and reconcile. */
  get database(): Database.Database {
    return this.conn;
  }
}

function prepareStatements(db: Database.Database) {
  return {
    exists: db.prepare('SELECT 1 FROM generations WHERE id = ?'),
    boardSize: db.prepare('SELECT COUNT(*) AS n FROM (SELECT 1 FROM board_items WHERE board_id = ? LIMIT ?)'),
    tagSize: db.prepare('SELECT COUNT(*) AS n FROM (SELECT 1 FROM generation_tags WHERE tag_id = (SELECT id FROM tags WHERE name = ?) LIMIT ?)'),
    byId: db.prepare(SQL.byId),
    children: db.prepare(SQL.childrenOf),
    ancestors: db.prepare(SQL.ancestorsOf),
    insert: db.prepare(INSERT_GENERATION_SQL),
  };
}

export { LATEST_SCHEMA_VERSION };
