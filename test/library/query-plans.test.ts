/**
 * Every query the UI runs must be index-driven: EXPLAIN QUERY PLAN may never show a plain
 * `SCAN` of generations (an ordered walk of an index, `SCAN … USING INDEX`, is fine: it stops
 * at LIMIT). Run after ANALYZE-free startup, like a fresh project.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProjectLibrary, type HistoryQuery } from '../../main/library';
import { GENERATION_COLUMNS, SQL, THUMBNAIL_COLUMNS, buildHistoryQuery } from '../../main/library/queries';
import { removeDir, tempDir } from './helpers';

let root: string;
let lib: ProjectLibrary;

beforeAll(async () => {
  root = tempDir();
  lib = await ProjectLibrary.create(root, 'plans');
  const ins = lib.database.prepare(`INSERT INTO generations (id, created_at, image_hash, width, height, model_id, scheduler, seed, prompt, rating, flag, parent_id)
    VALUES (?, ?, 'h', 512, 512, ?, ?, ?, ?, ?, ?, ?)`);
  const id = (i: number) => `G${String(i).padStart(6, '0')}`;
  lib.database.transaction(() => {
    for (let i = 0; i < 2000; i++) ins.run(id(i), i, `m${i % 5}`, `s${i % 3}`, i % 50, `prompt ${i} warm light`, i % 6, i % 3 ? 'none' : 'pick', i % 5 === 0 && i > 0 ? id(i - 1) : null);
  })();
});
afterAll(() => {
  lib.close();
  removeDir(root);
});

function plan(sql: string, params: unknown): string[] {
  const rows = lib.database.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(params as Record<string, unknown>) as Array<{ detail: string }>;
  return rows.map((r) => r.detail);
}

function expectIndexed(details: string[]) {
  const fullScans = details.filter((d) => /^SCAN (g|generations|p)\b/.test(d) && !/USING (COVERING )?INDEX/.test(d));
  expect(fullScans, details.join('\n')).toEqual([]);
}

const HISTORY_CASES: Record<string, HistoryQuery> = {
  newest: {},
  nextPage: { cursor: 't.1000.G001000' },
  board: { boardId: 'b' },
  tag: { tag: 'sky' },
  minRating: { minRating: 4 },
  flag: { flag: 'pick' },
  model: { modelId: 'm1' },
  scheduler: { scheduler: 's1' },
  dateRange: { createdFrom: 100, createdTo: 200 },
  size: { width: 512, height: 512 },
  trash: { trashed: true },
  seed: { seed: 7 },
  parent: { parentId: 'G000001' },
  combined: { modelId: 'm1', minRating: 2, flag: 'pick', createdFrom: 10 },
  search: { text: 'warm li' },
  searchNextPage: { text: 'warm', cursor: 's.500' },
  searchFiltered: { text: 'warm', boardId: 'b', minRating: 3, modelId: 'm2' },
  boardAndTag: { boardId: 'b', tag: 'sky' },
  searchBoardAndTag: { text: 'warm', boardId: 'b', tag: 'sky' },
};

describe.each([
  ['fresh project (no statistics)', false],
  ['after ANALYZE (PRAGMA optimize at close gathers statistics)', true],
])('query plans use indexes: %s', (_label, analyze) => {
  beforeAll(() => {
    if (analyze) lib.database.exec('ANALYZE');
  });

  for (const [name, q] of Object.entries(HISTORY_CASES)) {
    it(`history: ${name}`, () => {
      // large memberships (FTS / time index drives) and small ones (board / tag drives)
      for (const sizes of [{}, { board: 10, tag: 10 }, { board: 10, tag: 100_000 }, { board: 100_000, tag: 10 }]) {
        for (const cols of [GENERATION_COLUMNS, THUMBNAIL_COLUMNS]) {
          const built = buildHistoryQuery(q, cols, sizes);
          expectIndexed(plan(built.sql, built.params));
        }
      }
    });
  }

  it('full-text search streams in rowid order (no sort of all matches)', () => {
    const built = buildHistoryQuery({ text: 'warm' }, THUMBNAIL_COLUMNS);
    const details = plan(built.sql, built.params);
    expect(details.join('\n')).toMatch(/VIRTUAL TABLE INDEX/);
    expect(details.join('\n')).not.toMatch(/TEMP B-TREE/);
  });

  it('newest-first history, board and tag pages need no sort', () => {
    for (const q of [{}, { boardId: 'b' }, { tag: 'sky' }, { boardId: 'b', cursor: 't.5.G000005' }, { tag: 'sky', minRating: 2 }] as HistoryQuery[]) {
      const built = buildHistoryQuery(q, THUMBNAIL_COLUMNS);
      expect(plan(built.sql, built.params).join('\n'), JSON.stringify(q)).not.toMatch(/TEMP B-TREE/);
    }
  });

  it('by id, same seed, children of, ancestors of', () => {
    expectIndexed(plan(SQL.byId, ['G000001']));
    expectIndexed(plan(SQL.sameSeed, { seed: 3, id: 'G000003', limit: 10 }));
    expectIndexed(plan(SQL.childrenOf, ['G000001']));
    const anc = plan(SQL.ancestorsOf, ['G000001']);
    expectIndexed(anc);
    expect(anc.join('\n')).toMatch(/SEARCH p USING INDEX sqlite_autoindex_generations_1 \(id=\?\)/);
  });
});
