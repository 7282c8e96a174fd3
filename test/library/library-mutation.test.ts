import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ProjectLibrary } from '../../main/library';
import { embedMetadata } from '../../main/library/project-files';
import { encodeTextChunk } from '../../main/library/png-chunks';
import { buildHistoryQuery, decodeCursor, encodeCursor, GENERATION_COLUMNS, toFtsQuery } from '../../main/library/queries';
import { params, removeDir, tempDir, testImage } from './helpers';

// Every history filter and both page orders against a real project (SQLite + FTS5), with the
// expected ids worked out by hand from the six generations below. Added for the mutation run on
// main/library (docs/TESTING.md): the earlier tests set one or two filters at a time.

const T0 = 1_700_000_000_000;
let root: string;
let lib: ProjectLibrary;
const g: string[] = [];
let boardId: string;

beforeAll(async () => {
  root = tempDir('atelier-libmut-');
  lib = await ProjectLibrary.create(root, 'Mutation');
  const rows: Array<[string, string, number, number, number, string, number?]> = [
    // modelId, scheduler, seed, width, height, prompt, parent index
    ['m-a', 'DDIMScheduler', 1, 64, 48, 'red lighthouse'],
    ['m-b', 'EulerDiscreteScheduler', 2, 64, 64, 'blue lighthouse', 0],
    ['m-a', 'EulerDiscreteScheduler', 1, 64, 48, 'green forest', 1],
    ['m-b', 'DDIMScheduler', 3, 32, 32, 'red forest'],
    ['m-a', 'DDIMScheduler', 1, 64, 48, 'red sky'],
    ['m-a', 'DDIMScheduler', 4, 64, 48, 'red storm'],
  ];
  for (const [i, [modelId, scheduler, seed, width, height, prompt, parent]] of rows.entries()) {
    const rec = await lib.addGeneration({
      image: testImage(width, height, i + 1),
      params: params({ modelId, scheduler, seed, width, height, prompt, createdAt: T0 + i * 1000, parentId: parent === undefined ? null : g[parent] }),
    });
    g.push(rec.id);
  }
  lib.trash(g[5]);
  lib.setRating(g[1], 3);
  lib.setRating(g[3], 5);
  lib.setFlag(g[2], 'pick');
  lib.setFlag(g[4], 'reject');
  lib.addTags([g[0], g[2]], ['sky']);
  lib.addTags([g[3]], ['sea']);
  boardId = lib.createBoard('Picks').id;
  lib.addToBoard(boardId, [g[0], g[1], g[3]]);
}, 120_000);

afterAll(() => {
  lib?.close();
  if (root) removeDir(root);
});

const ids = (q: Parameters<ProjectLibrary['history']>[0]) => lib.history(q).items.map((r) => g.indexOf(r.id));

describe('history filters (newest first)', () => {
  it('live and trashed', () => {
    expect(ids({})).toEqual([4, 3, 2, 1, 0]);
    expect(ids({ trashed: true })).toEqual([5]);
  });

  it('model, scheduler, size, seed, parent', () => {
    expect(ids({ modelId: 'm-a' })).toEqual([4, 2, 0]);
    expect(ids({ scheduler: 'DDIMScheduler' })).toEqual([4, 3, 0]);
    expect(ids({ width: 32 })).toEqual([3]);
    expect(ids({ height: 64 })).toEqual([1]);
    expect(ids({ seed: 1 })).toEqual([4, 2, 0]);
    expect(ids({ parentId: g[0] })).toEqual([1]);
    expect(ids({ modelId: 'm-a', seed: 1, flag: 'none' })).toEqual([0]);
  });

  it('time window: from is inclusive, to is exclusive', () => {
    expect(ids({ createdFrom: T0 + 2000 })).toEqual([4, 3, 2]);
    expect(ids({ createdTo: T0 + 2000 })).toEqual([1, 0]);
    expect(ids({ createdFrom: T0 + 1000, createdTo: T0 + 3000 })).toEqual([2, 1]);
  });

  it('rating (0 = no filter) and flag', () => {
    expect(ids({ minRating: 0 })).toEqual([4, 3, 2, 1, 0]);
    expect(ids({ minRating: 3 })).toEqual([3, 1]);
    expect(ids({ minRating: 5 })).toEqual([3]);
    expect(ids({ flag: 'pick' })).toEqual([2]);
    expect(ids({ flag: 'reject' })).toEqual([4]);
    expect(ids({ flag: 'none' })).toEqual([3, 1, 0]);
  });

  it('tag, board and both, with pages', () => {
    expect(ids({ tag: 'sky' })).toEqual([2, 0]);
    expect(ids({ boardId })).toEqual([3, 1, 0]);
    expect(ids({ boardId, tag: 'sky' })).toEqual([0]);
    expect(ids({ boardId, tag: 'sea' })).toEqual([3]);
    expect(ids({ boardId, modelId: 'm-b' })).toEqual([3, 1]);
    for (const q of [{ boardId }, { tag: 'sky' }, {}]) {
      const all = ids(q);
      const seen: number[] = [];
      let cursor: string | null = null;
      for (let guard = 0; guard < 10; guard++) {
        const page = lib.history({ ...q, limit: 1, cursor });
        seen.push(...page.items.map((r) => g.indexOf(r.id)));
        cursor = page.nextCursor;
        if (!cursor) break;
      }
      expect(seen).toEqual(all);
    }
  });
});

describe('full-text search (newest added first)', () => {
  it('finds every prefix-matched word, with filters', () => {
    expect(lib.search('red').items.map((r) => g.indexOf(r.id))).toEqual([4, 3, 0]);
    expect(lib.search('lightho').items.map((r) => g.indexOf(r.id))).toEqual([1, 0]);
    expect(lib.search('red forest').items.map((r) => g.indexOf(r.id))).toEqual([3]);
    expect(lib.search('red', { modelId: 'm-b' }).items.map((r) => g.indexOf(r.id))).toEqual([3]);
    expect(lib.search('red', { trashed: true }).items.map((r) => g.indexOf(r.id))).toEqual([5]);
    expect(lib.search('red', { tag: 'sky' }).items.map((r) => g.indexOf(r.id))).toEqual([0]);
    expect(lib.search('red', { boardId }).items.map((r) => g.indexOf(r.id))).toEqual([3, 0]);
  });

  it('pages with its own cursor; a cursor from the other kind of page is refused', () => {
    const p1 = lib.search('red', { limit: 2 });
    expect(p1.items.map((r) => g.indexOf(r.id))).toEqual([4, 3]);
    const p2 = lib.search('red', { limit: 2, cursor: p1.nextCursor });
    expect(p2.items.map((r) => g.indexOf(r.id))).toEqual([0]);
    expect(p2.nextCursor).toBeNull();
    const h1 = lib.history({ limit: 2 });
    expect(h1.items.map((r) => g.indexOf(r.id))).toEqual([4, 3]);
    expect(() => lib.history({ cursor: p1.nextCursor })).toThrow(/cursor belongs to a search page/);
    expect(() => lib.search('red', { cursor: h1.nextCursor })).toThrow(/cursor belongs to a history page/);
  });
});

describe('lineage and same seed', () => {
  it('children, ancestors (nearest first), other live images with the seed (newest first)', () => {
    expect(lib.childrenOf(g[0]).map((r) => g.indexOf(r.id))).toEqual([1]);
    expect(lib.ancestorsOf(g[2]).map((r) => g.indexOf(r.id))).toEqual([1, 0]);
    expect(lib.sameSeed(g[0]).map((r) => g.indexOf(r.id))).toEqual([4, 2]);
    expect(lib.sameSeed(g[0], 1).map((r) => g.indexOf(r.id))).toEqual([4]);
  });

  it('records carry the stored values', () => {
    const r = lib.get(g[1])!;
    expect(r).toMatchObject({ modelId: 'm-b', scheduler: 'EulerDiscreteScheduler', seed: 2, width: 64, height: 64, prompt: 'blue lighthouse', parentId: g[0], rating: 3, flag: 'none', missingFile: false, origin: 'generated', createdAt: T0 + 1000 });
    expect(r.imagePath.endsWith(`${r.imageHash}.png`)).toBe(true);
    expect(r.thumbPath.endsWith(`${r.imageHash}.webp`)).toBe(true);
    const t = lib.thumbnails({ limit: 1 });
    expect(t.items[0]).toMatchObject({ id: g[4], width: 64, height: 48, flag: 'reject', createdAt: T0 + 4000 });
    expect(t.nextCursor).not.toBeNull();
  });
});

describe('optional record fields round-trip through the row', () => {
  it('LoRA hashes, GPU device and timings come back as stored; absent ones stay absent', async () => {
    const loraHashes = [{ name: 'detail', hash: 'a1b2c3d4e5f6' }];
    const full = await lib.addGeneration({
      image: testImage(64, 48, 21),
      params: params({ loraHashes, deviceId: 1, timings: { unet: 950, vae: 80 }, createdAt: T0 - 5000 }),
    });
    const bare = await lib.addGeneration({ image: testImage(64, 48, 22), params: params({ loraHashes: [], createdAt: T0 - 4000 }) });
    try {
      expect(lib.get(full.id)).toMatchObject({ loraHashes, deviceId: 1, timings: { unet: 950, vae: 80 } });
      const b = lib.get(bare.id)!;
      expect(b).not.toHaveProperty('loraHashes');
      expect(b).not.toHaveProperty('deviceId');
      expect(b.timings).toBeNull();
      // A damaged stored value reads as none instead of failing the whole row.
      const set = (col: string, v: string) => lib.database.prepare(`UPDATE generations SET ${col} = ? WHERE id = ?`).run(v, full.id);
      set('timings_json', '{not json');
      set('lora_hashes_json', '[{"name":"ok","hash":"abcdef0123"},{"name":5,"hash":"x"},null,{"name":"n"}]');
      expect(lib.get(full.id)).toMatchObject({ timings: null, loraHashes: [{ name: 'ok', hash: 'abcdef0123' }] });
      set('lora_hashes_json', '{"name":"ok","hash":"abcdef0123"}');
      expect(lib.get(full.id)).not.toHaveProperty('loraHashes');
      set('lora_hashes_json', '[{"name":5}]');
      expect(lib.get(full.id)).not.toHaveProperty('loraHashes');
      set('lora_hashes_json', 'not json');
      expect(lib.get(full.id)).not.toHaveProperty('loraHashes');
    } finally {
      lib.trash([full.id, bare.id]);
    }
  });
});

describe('query building (documented page sizes and cursor format)', () => {
  it('page size: default 100, whole numbers, at least 1, at most 1000; one extra row detects a next page', () => {
    const limit = (l?: number) => buildHistoryQuery({ limit: l }, GENERATION_COLUMNS).limit;
    expect(limit()).toBe(100);
    expect(limit(0)).toBe(1);
    expect(limit(-5)).toBe(1);
    expect(limit(2.9)).toBe(2);
    expect(limit(1000)).toBe(1000);
    expect(limit(5000)).toBe(1000);
    expect(buildHistoryQuery({ limit: 7 }, GENERATION_COLUMNS).params.limit).toBe(8);
  });

  it('full-text terms: each word quoted and prefix-matched, at most 32, none → null', () => {
    expect(toFtsQuery('red, "cube" OR -sky*')).toBe('"red"* "cube"* "OR"* "sky"*');
    expect(toFtsQuery('café 42 snake_case')).toBe('"café"* "42"* "snake_case"*');
    expect(toFtsQuery('  !!! -- ')).toBeNull();
    expect(toFtsQuery('')).toBeNull();
    const words = Array.from({ length: 40 }, (_, i) => `w${i}`);
    expect(toFtsQuery(words.join(' '))).toBe(words.slice(0, 32).map((w) => `"${w}"*`).join(' '));
  });

  it('cursors round-trip; anything else is refused naming the fix', () => {
    expect(decodeCursor(encodeCursor({ kind: 'time', createdAt: 1700000000123, id: '01HZX3K9Q8' }))).toEqual({ kind: 'time', createdAt: 1700000000123, id: '01HZX3K9Q8' });
    expect(encodeCursor({ kind: 'seq', seq: 17 })).toBe('s.17');
    expect(decodeCursor('s.17')).toEqual({ kind: 'seq', seq: 17 });
    for (const bad of ['', 's.', 's.-1', 't.1', 't.1.', 't.x.abc', 'x.s.1', 'xt.1.abc', 's.1 ', ' s.1', 't.1.a-b']) {
      expect(() => decodeCursor(bad), bad).toThrow(/invalid history cursor .*pass back the nextCursor/);
    }
  });
});

describe('reconcile (crash repair), each case on its own project', () => {
  let dir: string;
  let p: ProjectLibrary;
  beforeEach(async () => {
    dir = tempDir('atelier-recon-');
    p = await ProjectLibrary.create(dir, 'Repair');
  });
  afterEach(() => {
    p?.close();
    removeDir(dir);
  });
  const add = (i: number, over: Parameters<typeof params>[0] = {}) => p.addGeneration({ image: testImage(64, 48, i), params: params({ createdAt: T0 + i * 1000, ...over }) });
  const deleteRow = (id: string) => p.database.prepare('DELETE FROM generations WHERE id = ?').run(id);
  const plainPng = () => sharp(testImage(8, 8, 9).rgb, { raw: { width: 8, height: 8, channels: 3 } }).png().toBuffer();

  it('re-indexes orphaned images oldest first, so a child keeps its parent link', async () => {
    const parent = await add(1, { prompt: 'parent' });
    const child = await add(2, { prompt: 'child', parentId: parent.id });
    await p.flushThumbnails();
    deleteRow(child.id);
    deleteRow(parent.id);
    const report = await p.reconcile();
    expect(report.reindexed).toEqual([parent.id, child.id]);
    expect(report).toMatchObject({ unknownFiles: [], missingFiles: [], removedTempFiles: 0, promotedTempFiles: 0, finishedPurges: 0 });
    expect(p.get(child.id)).toMatchObject({ parentId: parent.id, prompt: 'child', createdAt: T0 + 2000, origin: 'generated', importSource: null });
    expect(p.search('child').items.map((r) => r.id)).toEqual([child.id]);
  });

  it('a chain of five orphans comes back in date order, every link kept (whatever order the folders list them in)', async () => {
    const chain: string[] = [];
    for (let i = 1; i <= 5; i++) chain.push((await add(i, { parentId: chain.length ? chain[chain.length - 1] : null })).id);
    await p.flushThumbnails();
    for (const id of [...chain].reverse()) deleteRow(id);
    expect((await p.reconcile()).reindexed).toEqual(chain);
    for (let i = 1; i < 5; i++) expect(p.get(chain[i])?.parentId).toBe(chain[i - 1]);
  });

  it('an orphan whose parent is gone for good is re-indexed as a root', async () => {
    const parent = await add(1);
    const child = await add(2, { parentId: parent.id });
    await p.flushThumbnails();
    deleteRow(child.id);
    deleteRow(parent.id);
    fs.rmSync(parent.imagePath);
    const report = await p.reconcile();
    expect(report.reindexed).toEqual([child.id]);
    expect(p.get(child.id)?.parentId).toBeNull();
  });

  it('removes partial temp files (images root, image shard, thumbnail shard) and a duplicate of a stored image', async () => {
    const a = await add(1);
    await p.flushThumbnails();
    const temps = [
      path.join(p.dir, 'images', '.tmp-partial1'),
      path.join(path.dirname(a.imagePath), '.tmp-partial2'),
      path.join(path.dirname(a.thumbPath), '.tmp-partial3'),
      path.join(p.dir, 'images', '.tmp-duplicate'),
    ];
    for (const t of temps.slice(0, 3)) fs.writeFileSync(t, 'partial');
    fs.copyFileSync(a.imagePath, temps[3]); // complete, but its content is already stored
    const report = await p.reconcile();
    expect(report).toMatchObject({ removedTempFiles: 4, promotedTempFiles: 0, reindexed: [], unknownFiles: [] });
    for (const t of temps) expect(fs.existsSync(t), t).toBe(false);
    expect(fs.existsSync(a.imagePath)).toBe(true);
  });

  it('flags a row whose file is missing, and clears the flag when the file is back', async () => {
    const a = await add(1);
    const b = await add(2);
    await p.flushThumbnails();
    const aside = path.join(dir, 'aside.png');
    fs.renameSync(a.imagePath, aside);
    expect((await p.reconcile()).missingFiles).toEqual([a.id]);
    expect(p.get(a.id)?.missingFile).toBe(true);
    expect(p.get(b.id)?.missingFile).toBe(false);
    fs.renameSync(aside, a.imagePath);
    expect((await p.reconcile()).missingFiles).toEqual([]);
    expect(p.get(a.id)?.missingFile).toBe(false);
  });

  it('rebuilds a missing thumbnail as a WebP', async () => {
    const a = await add(1);
    await p.flushThumbnails();
    const b = await add(2);
    await p.flushThumbnails();
    const inodeB = fs.statSync(b.thumbPath).ino;
    fs.rmSync(a.thumbPath);
    await p.reconcile();
    expect(fs.statSync(b.thumbPath).ino).toBe(inodeB); // a thumbnail that exists is not rewritten
    fs.rmSync(path.join(p.dir, 'thumbs'), { recursive: true }); // the whole folder gone
    await p.reconcile();
    expect(fs.existsSync(b.thumbPath)).toBe(true);
    const thumb = fs.readFileSync(a.thumbPath);
    expect(thumb.subarray(0, 4).toString('latin1')).toBe('RIFF');
    expect(thumb.subarray(8, 12).toString('latin1')).toBe('WEBP');
  });

  it('promotes a complete image temp file whose rename was lost; a truncated one or one without our metadata goes', async () => {
    const a = await add(1, { prompt: 'lost rename' });
    const b = await add(2, { prompt: 'truncated' });
    await p.flushThumbnails();
    const bytesA = fs.readFileSync(a.imagePath);
    const bytesB = fs.readFileSync(b.imagePath);
    deleteRow(a.id);
    deleteRow(b.id);
    fs.renameSync(a.imagePath, path.join(p.dir, 'images', '.tmp-0123456789ab'));
    fs.rmSync(b.imagePath);
    fs.writeFileSync(path.join(p.dir, 'images', '.tmp-truncated'), bytesB.subarray(0, bytesB.length - 12)); // no IEND
    fs.writeFileSync(path.join(p.dir, 'images', '.tmp-plainpng'), await plainPng()); // complete, no atelier chunk
    fs.copyFileSync(a.thumbPath, path.join(path.dirname(a.thumbPath), '.tmp-thumb')); // thumbnails are never promoted
    fs.writeFileSync(path.join(path.dirname(a.thumbPath), '.tmp-thumbpng'), bytesB); // not even a complete image PNG
    fs.writeFileSync(path.join(p.dir, 'images', '.tmp-sigonly'), bytesB.subarray(0, 8)); // the PNG signature, no chunk
    const badCrc = Buffer.from(bytesB);
    badCrc[badCrc.length - 20] ^= 0xff; // inside the last IDAT: its CRC no longer matches, IEND still there
    fs.writeFileSync(path.join(p.dir, 'images', '.tmp-badcrc'), badCrc);
    const report = await p.reconcile();
    expect(report).toMatchObject({ promotedTempFiles: 1, removedTempFiles: 6, reindexed: [a.id], unknownFiles: [] });
    expect(fs.readFileSync(a.imagePath).equals(bytesA)).toBe(true);
    expect(p.get(a.id)?.prompt).toBe('lost rename');
    expect(p.get(b.id)).toBeNull();
    expect(fs.readdirSync(path.join(p.dir, 'images')).filter((n) => n.startsWith('.tmp-'))).toEqual([]);
    expect(fs.readdirSync(path.dirname(a.thumbPath)).filter((n) => n.startsWith('.tmp-'))).toEqual([]);
  });

  it('keeps an imported image imported when it re-indexes it', async () => {
    const src = path.join(dir, 'photo.png');
    fs.writeFileSync(src, await plainPng());
    const imported = (await p.importFiles([src])).imported[0].record;
    expect(imported.origin).toBe('imported');
    await p.flushThumbnails();
    deleteRow(imported.id);
    expect((await p.reconcile()).reindexed).toEqual([imported.id]);
    expect(p.get(imported.id)).toMatchObject({ origin: 'imported', importSource: imported.importSource });
  });

  it('does not re-index from a document without an id or a date, or one written after the pixels', async () => {
    const a = await add(1);
    await p.flushThumbnails();
    const shard = path.dirname(a.imagePath);
    const plain = await plainPng();
    const doc = JSON.parse(JSON.stringify({ v: 1, id: '01HZX3K9Q8W7V6T5R4P3N2M1AB', params: p.get(a.id) }));
    const files: string[] = [];
    const put = (bytes: Buffer) => {
      const f = path.join(shard, `${createHash('sha256').update(bytes).digest('hex')}.png`);
      fs.writeFileSync(f, bytes);
      files.push(f);
    };
    put(embedMetadata(plain, { ...doc, id: 5 }));
    put(embedMetadata(plain, { ...doc, params: { ...doc.params, createdAt: undefined } }));
    // A valid atelier chunk after IDAT (we always write ours before it).
    const lateDoc = { ...doc, id: '01HZX3K9Q8W7V6T5R4P3N2M1AE' };
    const late = Buffer.concat([plain.subarray(0, plain.length - 12), encodeTextChunk('atelier', JSON.stringify(lateDoc)), plain.subarray(plain.length - 12)]);
    put(late);
    // Controls: the same document, complete and before IDAT, is re-indexed; an imported one keeps its source.
    const good = embedMetadata(plain, doc);
    fs.writeFileSync(path.join(shard, `${createHash('sha256').update(good).digest('hex')}.png`), good);
    const imp1 = { ...doc, id: '01HZX3K9Q8W7V6T5R4P3N2M1AC', origin: 'imported', importSource: 'a1111' };
    const imp2 = { ...doc, id: '01HZX3K9Q8W7V6T5R4P3N2M1AD', origin: 'imported' };
    for (const d of [imp1, imp2]) {
      const b = embedMetadata(await sharp(testImage(8, 8, d.id.length + (d === imp1 ? 1 : 2)).rgb, { raw: { width: 8, height: 8, channels: 3 } }).png().toBuffer(), d);
      fs.writeFileSync(path.join(shard, `${createHash('sha256').update(b).digest('hex')}.png`), b);
    }
    const report = await p.reconcile();
    expect([...report.unknownFiles].sort()).toEqual([...files].sort());
    expect([...report.reindexed].sort()).toEqual([doc.id, imp1.id, imp2.id].sort());
    expect(p.get(doc.id)).toMatchObject({ origin: 'generated' });
    expect(p.get(imp1.id)).toMatchObject({ origin: 'imported', importSource: 'a1111' });
    expect(p.get(imp2.id)).toMatchObject({ origin: 'imported', importSource: 'unknown' });
  });

  it('reports image files it cannot re-index, and ignores what is not an image file', async () => {
    const a = await add(1);
    await p.flushThumbnails();
    const shard = path.dirname(a.imagePath);
    // A PNG with no atelier chunk.
    const plain = await plainPng();
    const plainFile = path.join(shard, `${createHash('sha256').update(plain).digest('hex')}.png`);
    fs.writeFileSync(plainFile, plain);
    // A copy of a stored image under another hash: its embedded id already has a row.
    const copy = Buffer.concat([fs.readFileSync(a.imagePath), Buffer.from('trailing')]);
    const copyFile = path.join(shard, `${createHash('sha256').update(copy).digest('hex')}.png`);
    fs.writeFileSync(copyFile, copy);
    fs.writeFileSync(path.join(shard, 'notes.txt'), 'not an image');
    const plainHash = createHash('sha256').update(plain).digest('hex');
    fs.writeFileSync(path.join(shard, `copy-${plainHash}.png`), plain);
    fs.writeFileSync(path.join(shard, `${plainHash}.png.bak`), plain);
    fs.writeFileSync(path.join(p.dir, 'images', 'README'), 'stray file at shard level');
    const report = await p.reconcile();
    expect([...report.unknownFiles].sort()).toEqual([plainFile, copyFile].sort());
    expect(report).toMatchObject({ reindexed: [], missingFiles: [], removedTempFiles: 0 });
    expect(fs.existsSync(path.join(shard, 'notes.txt'))).toBe(true);
    expect(p.history().items.map((r) => r.id)).toEqual([a.id]);
  });
});
