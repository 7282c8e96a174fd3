/**
 * SQL for the library's read side, and the database boundary of a generation: the one place a
 * record's names become columns and back (`guidanceScale` is stored in the `cfg` column).
 * Every query here has an EXPLAIN QUERY PLAN test (test/library/query-plans.test.ts) asserting it
 * never scans the generations table.
 *
 * Ordering: history is newest-first by (created_at, id) with keyset pagination; full-text
 * results are newest-added-first by the FTS rowid (= insertion order), which FTS5 can
 * stream in order, so a page costs the same whether 10 or 90,000 rows match.
 */
import path from 'node:path';
import type { Flag, GenerationParams, GenerationRecord, HistoryQuery, ThumbnailRow } from './types';
import { imageRelPath, thumbRelPath } from './project-files';
import { ControlUnitRecordSchema, type ControlUnitRecord } from '../../common/params/controlnet';

export const GENERATION_COLUMNS = `g.seq, g.id, g.created_at, g.image_hash, g.width, g.height, g.model_id, g.model_hash, g.model_family,
  g.provider, g.prompt, g.negative_prompt, g.seed, g.rng, g.scheduler, g.steps, g.cfg, g.batch_index, g.strength,
  g.mask_ref, g.init_image_ref, g.parent_id, g.timings_json, g.app_version, g.rating, g.flag, g.notes, g.deleted_at, g.missing_file, g.origin, g.import_source, g.clip_skip,
  g.lora_hashes_json, g.device_id, g.controlnets_json, g.batch_size`;

export const THUMBNAIL_COLUMNS = 'g.seq, g.id, g.image_hash, g.width, g.height, g.rating, g.flag, g.created_at';

export interface GenerationRow {
  seq: number;
  id: string;
  created_at: number;
  image_hash: string;
  width: number;
  height: number;
  model_id: string;
  model_hash: string;
  model_family: string;
  provider: string;
  prompt: string;
  negative_prompt: string;
  seed: number;
  rng: 'cpu' | 'cuda';
  scheduler: string;
  steps: number;
  cfg: number;
  clip_skip: number;
  lora_hashes_json: string | null;
  device_id: number | null;
  controlnets_json: string | null;
  batch_index: number;
  batch_size: number | null;
  strength: number | null;
  mask_ref: string | null;
  init_image_ref: string | null;
  parent_id: string | null;
  timings_json: string | null;
  app_version: string;
  rating: number;
  flag: Flag;
  notes: string;
  deleted_at: number | null;
  missing_file: number;
  origin: 'generated' | 'imported';
  import_source: string | null;
}

export const INSERT_GENERATION_SQL = `INSERT INTO generations (
    id, created_at, image_hash, width, height, model_id, model_hash, model_family, provider, prompt, negative_prompt,
    seed, rng, scheduler, steps, cfg, batch_index, strength, mask_ref, init_image_ref, parent_id, timings_json, app_version,
    origin, import_source, clip_skip, lora_hashes_json, device_id, controlnets_json, batch_size)
  VALUES (@id, @created_at, @image_hash, @width, @height, @model_id, @model_hash, @model_family, @provider, @prompt,
    @negative_prompt, @seed, @rng, @scheduler, @steps, @cfg, @batch_index, @strength, @mask_ref, @init_image_ref,
    @parent_id, @timings_json, @app_version, @origin, @import_source, @clip_skip, @lora_hashes_json, @device_id, @controlnets_json, @batch_size)`;

/** A generation's parameters as INSERT_GENERATION_SQL's named values (the inverse of rowToRecord). */
export function generationToRow(id: string, hash: string, p: GenerationParams, origin: { origin?: 'imported'; importSource?: string } = {}) {
  return {
    origin: origin.origin ?? 'generated', import_source: origin.importSource ?? null,
    id, created_at: p.createdAt, image_hash: hash, width: p.width, height: p.height, model_id: p.modelId,
    model_hash: p.modelHash, model_family: p.modelFamily, provider: p.provider, prompt: p.prompt,
    negative_prompt: p.negativePrompt, seed: p.seed, rng: p.rng, scheduler: p.scheduler, steps: p.steps, cfg: p.guidanceScale, clip_skip: p.clipSkip,
    batch_index: p.batchIndex, strength: p.strength, mask_ref: p.maskRef, init_image_ref: p.initImageRef,
    parent_id: p.parentId, timings_json: p.timings ? JSON.stringify(p.timings) : null, app_version: p.appVersion,
    lora_hashes_json: p.loraHashes && p.loraHashes.length > 0 ? JSON.stringify(p.loraHashes) : null,
    device_id: p.deviceId ?? null,
    controlnets_json: p.controlNets && p.controlNets.length > 0 ? JSON.stringify(p.controlNets) : null,
    batch_size: p.batchSize ?? null,
  };
}

export type ThumbnailDbRow = Pick<GenerationRow, 'seq' | 'id' | 'image_hash' | 'width' | 'height' | 'rating' | 'flag' | 'created_at'>;

function parseTimings(json: string | null): Record<string, number> | null {
  if (!json) return null;
  try {
    return JSON.parse(json) as Record<string, number>;
  } catch {
    return null;
  }
}

export function rowToRecord(dir: string, r: GenerationRow): GenerationRecord {
  return {
    id: r.id,
    imageHash: r.image_hash,
    imagePath: path.join(dir, imageRelPath(r.image_hash)),
    thumbPath: path.join(dir, thumbRelPath(r.image_hash)),
    modelId: r.model_id,
    modelHash: r.model_hash,
    modelFamily: r.model_family,
    provider: r.provider,
    ...(r.device_id !== null && r.device_id !== undefined ? { deviceId: r.device_id } : {}),
    prompt: r.prompt,
    negativePrompt: r.negative_prompt,
    seed: r.seed,
    rng: r.rng,
    scheduler: r.scheduler,
    steps: r.steps,
    guidanceScale: r.cfg,
    clipSkip: r.clip_skip,
    width: r.width,
    height: r.height,
    batchIndex: r.batch_index,
    ...(r.batch_size !== null && r.batch_size !== undefined ? { batchSize: r.batch_size } : {}),
    strength: r.strength,
    maskRef: r.mask_ref,
    initImageRef: r.init_image_ref,
    parentId: r.parent_id,
    timings: parseTimings(r.timings_json),
    createdAt: r.created_at,
    appVersion: r.app_version,
    rating: r.rating,
    flag: r.flag,
    notes: r.notes,
    deletedAt: r.deleted_at,
    missingFile: r.missing_file === 1,
    origin: r.origin,
    importSource: r.import_source,
    ...parseLoraHashes(r.lora_hashes_json),
    ...parseControlNets(r.controlnets_json),
  };
}

/** The stored `Lora hashes` list; a damaged value reads as none rather than failing the whole row. */
function parseLoraHashes(json: string | null): { loraHashes?: Array<{ name: string; hash: string }> } {
  if (!json) return {};
  try {
    const v: unknown = JSON.parse(json);
    if (!Array.isArray(v)) return {};
    const list = v.filter((x): x is { name: string; hash: string } => !!x && typeof x.name === 'string' && typeof x.hash === 'string');
    return list.length > 0 ? { loraHashes: list.map((x) => ({ name: x.name, hash: x.hash })) } : {};
  } catch {
    return {};
  }
}

/** The stored ControlNet units; units that no longer read as a record are left out, a damaged value reads as none. */
function parseControlNets(json: string | null | undefined): { controlNets?: ControlUnitRecord[] } {
  if (!json) return {};
  try {
    const v: unknown = JSON.parse(json);
    if (!Array.isArray(v)) return {};
    const list = v.flatMap((x) => {
      const parsed = ControlUnitRecordSchema.safeParse(x);
      return parsed.success ? [parsed.data] : [];
    });
    return list.length > 0 ? { controlNets: list } : {};
  } catch {
    return {};
  }
}

export function rowToThumbnail(dir: string, r: ThumbnailDbRow): ThumbnailRow {
  return {
    id: r.id,
    thumbPath: path.join(dir, thumbRelPath(r.image_hash)),
    width: r.width,
    height: r.height,
    rating: r.rating,
    flag: r.flag,
    createdAt: r.created_at,
  };
}

/**
 * Turns user text into an FTS5 query: every word becomes a quoted prefix term, all ANDed.
 * Quoting makes FTS syntax characters in user input harmless. Returns null when the text
 * holds no searchable word.
 */
export function toFtsQuery(text: string): string | null {
  const words = text.match(/[\p{L}\p{N}_]+/gu);
  if (!words || words.length === 0) return null;
  return words.slice(0, 32).map((w) => `"${w}"*`).join(' ');
}

type Cursor = { kind: 'time'; createdAt: number; id: string } | { kind: 'seq'; seq: number };

export function encodeCursor(c: Cursor): string {
  return c.kind === 'time' ? `t.${c.createdAt}.${c.id}` : `s.${c.seq}`;
}

export function decodeCursor(s: string): Cursor {
  const t = /^t\.(\d+)\.([0-9A-Za-z]+)$/.exec(s);
  if (t) return { kind: 'time', createdAt: Number(t[1]), id: t[2] };
  const q = /^s\.(\d+)$/.exec(s);
  if (q) return { kind: 'seq', seq: Number(q[1]) };
  throw new Error(`invalid history cursor ${JSON.stringify(s)}: pass back the nextCursor of the previous page unchanged`);
}

export const DEFAULT_PAGE = 100;
export const MAX_PAGE = 1000;

export interface BuiltQuery {
  sql: string;
  params: Record<string, unknown>;
  /** 'time' pages by (created_at, id), 'seq' (full-text) by FTS rowid. */
  order: 'time' | 'seq';
  limit: number;
}

/** Member counts of the requested board / tag, capped at SMALL_SET + 1 (see chooseDriver). */
export interface MembershipSizes {
  board?: number;
  tag?: number;
}

/** Membership counts are only needed to compare the two; counting stops here. */
export const SMALL_SET = 5000;

type Driver = 'board' | 'tag' | null;

/**
 * Which rows the query walks. Board / tag pages walk their membership table in time order
 * (its generation_created_at copy, migration 5), so a 50,000-image board pages as fast as a
 * 50-image one; with both, the smaller membership drives and the other is probed. A search
 * always walks the FTS index in rowid order and probes memberships (measured: driving a
 * search from a small board re-reads the term's doclist per member — far slower).
 */
function chooseDriver(q: HistoryQuery, hasText: boolean, sizes: MembershipSizes): Driver {
  if (hasText) return null;
  const candidates: Array<[Exclude<Driver, null>, number]> = [];
  if (q.boardId !== undefined) candidates.push(['board', sizes.board ?? Number.MAX_SAFE_INTEGER - 1]);
  if (q.tag !== undefined) candidates.push(['tag', sizes.tag ?? Number.MAX_SAFE_INTEGER]);
  candidates.sort((a, b) => a[1] - b[1]);
  return candidates[0]?.[0] ?? null;
}

/** WHERE conditions and the named values they bind, both in the order they were added. */
interface SqlFragment {
  where: string[];
  params: Record<string, unknown>;
}

function fragment(condition: string, params: Record<string, unknown> = {}): SqlFragment {
  return { where: [condition], params };
}

const NO_CONDITION: SqlFragment = Object.freeze({ where: [], params: {} });

/** Fragments one after another: conditions and parameters keep their order. */
function joinFragments(...parts: SqlFragment[]): SqlFragment {
  return { where: parts.flatMap((p) => p.where), params: Object.assign({}, ...parts.map((p) => p.params)) };
}

type ExactFilter = 'flag' | 'modelId' | 'scheduler' | 'createdFrom' | 'createdTo' | 'width' | 'height' | 'seed' | 'parentId';

/** `condition` binding q[key] as @key, when the query sets that filter. */
function whenSet(q: HistoryQuery, key: ExactFilter, condition: string): SqlFragment {
  return q[key] !== undefined ? fragment(condition, { [key]: q[key] }) : NO_CONDITION;
}

/** Every page shows either the live rows or the trash. */
function trashClause(q: HistoryQuery): SqlFragment {
  return fragment(q.trashed ? 'g.deleted_at IS NOT NULL' : 'g.deleted_at IS NULL');
}

/** Board and tag membership: a join condition on the driving membership table, else a probe per row. */
function membershipClauses(q: HistoryQuery, driver: Driver): SqlFragment {
  const board =
    q.boardId === undefined ? NO_CONDITION
    : driver === 'board' ? fragment('bi.board_id = @boardId', { boardId: q.boardId })
    // Correlated EXISTS (a primary-key probe per candidate row): an IN-list here lets the
    // planner, once it has statistics, drive from the membership set and sort it all.
    : fragment('EXISTS (SELECT 1 FROM board_items bi2 WHERE bi2.board_id = @boardId AND bi2.generation_id = g.id)', { boardId: q.boardId });
  const tag =
    q.tag === undefined ? NO_CONDITION
    : driver === 'tag' ? fragment('gt.tag_id = (SELECT id FROM tags WHERE name = @tag)', { tag: q.tag })
    : fragment('EXISTS (SELECT 1 FROM generation_tags gt2 WHERE gt2.tag_id = (SELECT id FROM tags WHERE name = @tag) AND gt2.generation_id = g.id)', { tag: q.tag });
  return joinFragments(board, tag);
}

/** A minimum rating of 0 matches every row, so it adds no condition. */
function ratingFlagClauses(q: HistoryQuery): SqlFragment {
  const rating = q.minRating !== undefined && q.minRating > 0 ? fragment('g.rating >= @minRating', { minRating: q.minRating }) : NO_CONDITION;
  return joinFragments(rating, whenSet(q, 'flag', 'g.flag = @flag'));
}

function modelClauses(q: HistoryQuery): SqlFragment {
  return joinFragments(whenSet(q, 'modelId', 'g.model_id = @modelId'), whenSet(q, 'scheduler', 'g.scheduler = @scheduler'));
}

/** [createdFrom, createdTo): the lower bound inclusive, the upper exclusive. */
function dateClauses(q: HistoryQuery): SqlFragment {
  return joinFragments(whenSet(q, 'createdFrom', 'g.created_at >= @createdFrom'), whenSet(q, 'createdTo', 'g.created_at < @createdTo'));
}

/** Size, seed and parent: exact matches on the generation's own columns. */
function imageClauses(q: HistoryQuery): SqlFragment {
  return joinFragments(
    whenSet(q, 'width', 'g.width = @width'),
    whenSet(q, 'height', 'g.height = @height'),
    whenSet(q, 'seed', 'g.seed = @seed'),
    whenSet(q, 'parentId', 'g.parent_id = @parentId'),
  );
}

/** Full-text page: newest-added first by FTS rowid; its cursor is the last rowid seen. */
function searchPage(columns: string, match: string, filters: SqlFragment, cursor: Cursor | null, limit: number): BuiltQuery {
  let page = NO_CONDITION;
  if (cursor) {
    if (cursor.kind !== 'seq') throw new Error('cursor belongs to a history page, not a search page');
    page = fragment('f.rowid < @cursorSeq', { cursorSeq: cursor.seq });
  }
  const { where, params } = joinFragments(filters, { where: [], params: { match } }, page);
  const sql = `SELECT ${columns} FROM generations_fts f JOIN generations g ON g.seq = f.rowid
      WHERE generations_fts MATCH @match AND ${where.join(' AND ')}
      ORDER BY f.rowid DESC LIMIT @limit`;
  return { sql, params, order: 'seq', limit };
}

/** History page: newest first by (created_at, id), keyset-paged from the cursor's pair. */
function timePage(columns: string, driver: Driver, filters: SqlFragment, cursor: Cursor | null, limit: number): BuiltQuery {
  // For membership drivers the same (created_at, id) lives in the membership row.
  const [from, at, id] =
    driver === 'board' ? ['board_items bi CROSS JOIN generations g ON g.id = bi.generation_id', 'bi.generation_created_at', 'bi.generation_id']
    : driver === 'tag' ? ['generation_tags gt CROSS JOIN generations g ON g.id = gt.generation_id', 'gt.generation_created_at', 'gt.generation_id']
    : ['generations g', 'g.created_at', 'g.id'];
  let page = NO_CONDITION;
  if (cursor) {
    if (cursor.kind !== 'time') throw new Error('cursor belongs to a search page, not a history page');
    page = fragment(`(${at}, ${id}) < (@cursorAt, @cursorId)`, { cursorAt: cursor.createdAt, cursorId: cursor.id });
  }
  const { where, params } = joinFragments(filters, page);
  const sql = `SELECT ${columns} FROM ${from} WHERE ${where.join(' AND ')}
    ORDER BY ${at} DESC, ${id} DESC LIMIT @limit`;
  return { sql, params, order: 'time', limit };
}

/** Builds the history / search query for one page (fetches limit + 1 to detect a next page). */
export function buildHistoryQuery(q: HistoryQuery, columns: string, sizes: MembershipSizes = {}): BuiltQuery {
  const limit = Math.min(Math.max(Math.floor(q.limit ?? DEFAULT_PAGE), 1), MAX_PAGE);
  const match = q.text !== undefined ? toFtsQuery(q.text) : null;
  const cursor = q.cursor ? decodeCursor(q.cursor) : null;
  const driver = chooseDriver(q, match !== null, sizes);
  // @limit first: the parameters keep the order the clauses were added in.
  const filters = joinFragments(
    { where: [], params: { limit: limit + 1 } },
    trashClause(q),
    membershipClauses(q, driver),
    ratingFlagClauses(q),
    modelClauses(q),
    dateClauses(q),
    imageClauses(q),
  );
  return match !== null ? searchPage(columns, match, filters, cursor, limit) : timePage(columns, driver, filters, cursor, limit);
}

export function nextCursorOf(order: 'time' | 'seq', last: { seq: number; id: string; created_at: number }): string {
  return order === 'seq' ? encodeCursor({ kind: 'seq', seq: last.seq }) : encodeCursor({ kind: 'time', createdAt: last.created_at, id: last.id });
}

export const SQL = {
  byId: `SELECT ${GENERATION_COLUMNS} FROM generations g WHERE g.id = ?`,
  sameSeed: `SELECT ${GENERATION_COLUMNS} FROM generations g
    WHERE g.seed = @seed AND g.id <> @id AND g.deleted_at IS NULL
    ORDER BY g.created_at DESC LIMIT @limit`,
  childrenOf: `SELECT ${GENERATION_COLUMNS} FROM generations g
    WHERE g.parent_id = ? AND g.deleted_at IS NULL ORDER BY g.created_at, g.id`,
  // Nearest parent first. depth bound guards against a (corrupt) cycle. CROSS JOIN pins the
  // loop order (chain outside): with ANALYZE statistics the planner otherwise may scan g.
  ancestorsOf: `WITH RECURSIVE chain(id, parent_id, depth) AS (
      SELECT id, parent_id, 0 FROM generations WHERE id = ?
      UNION ALL
      SELECT p.id, p.parent_id, c.depth + 1 FROM chain c CROSS JOIN generations p ON p.id = c.parent_id WHERE c.depth < 10000
    )
    SELECT ${GENERATION_COLUMNS} FROM chain c CROSS JOIN generations g ON g.id = c.id WHERE c.depth > 0 ORDER BY c.depth`,
};
