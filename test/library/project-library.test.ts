import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LibraryError, ProjectLibrary, ProjectLockedError, projectFolderName, readImageMetadata, parseInfotext } from '../../main/library';
import { params, removeDir, tempDir, testImage } from './helpers';

let root: string;
let lib: ProjectLibrary;

beforeEach(async () => {
  root = tempDir();
  lib = await ProjectLibrary.create(root, 'Client A');
});
afterEach(() => {
  lib?.close();
  removeDir(root);
});

describe('project folder', () => {
  it('creates a self-contained <name>.atelier folder with WAL and foreign keys', () => {
    expect(path.basename(lib.dir)).toBe('Client A.atelier');
    for (const f of ['library.sqlite', 'images', 'thumbs']) expect(fs.existsSync(path.join(lib.dir, f))).toBe(true);
    expect(lib.database.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(lib.database.pragma('foreign_keys', { simple: true })).toBe(1);
    expect(lib.info()).toMatchObject({ name: 'Client A', schemaVersion: 10 });
  });

  it('derives safe folder names from project names', () => {
    expect(projectFolderName('../../etc/passwd')).toBe('_.._etc_passwd.atelier');
    expect(projectFolderName('a:b*c?"d<e>f|g\\h')).toBe('a_b_c_d_e_f_g_h.atelier');
    expect(projectFolderName('  ...  ')).toBe('project.atelier');
    expect(projectFolderName('Café (final)')).toBe('Café (final).atelier');
  });

  it('refuses to create over an existing folder and to open a non-project', async () => {
    await expect(ProjectLibrary.create(root, 'Client A')).rejects.toThrow(/already exists/);
    await expect(ProjectLibrary.open(root)).rejects.toThrow(/not an Atelier project/);
  });

  it('allows one writer at a time with a clear message', async () => {
    await expect(ProjectLibrary.open(lib.dir)).rejects.toBeInstanceOf(ProjectLockedError);
    await expect(ProjectLibrary.open(lib.dir)).rejects.toThrow(/open elsewhere/);
    lib.close();
    lib = await ProjectLibrary.open(lib.dir);
    expect(lib.isOpen).toBe(true);
  });

  it('opens after being copied to another location', async () => {
    const rec = await lib.addGeneration({ image: testImage(64, 48), params: params() });
    lib.close();
    const copy = path.join(root, 'copied.atelier');
    fs.cpSync(lib.dir, copy, { recursive: true });
    const other = await ProjectLibrary.open(copy);
    try {
      const got = other.get(rec.id)!;
      expect(got.imagePath.startsWith(copy)).toBe(true);
      expect(fs.existsSync(got.imagePath)).toBe(true);
    } finally {
      other.close();
    }
  });
});

describe('addGeneration', () => {
  it('stores a PNG with A1111 parameters + atelier JSON before IDAT, a WebP thumbnail and the row', async () => {
    const p = params({ prompt: 'ein Leuchtturm — 灯台 at dusk', timings: { unet: 900, vae: 50 }, createdAt: 1_700_000_000_000 });
    const rec = await lib.addGeneration({ image: testImage(64, 48), params: p });

    expect(rec.id).toMatch(/^[0-9A-HJKMNP-TV-Z]{26}$/);
    expect(rec).toMatchObject({ prompt: p.prompt, seed: 42, width: 64, height: 48, rating: 0, flag: 'none', timings: { unet: 900, vae: 50 }, createdAt: 1_700_000_000_000 });
    const png = fs.readFileSync(rec.imagePath);
    expect(path.basename(rec.imagePath)).toBe(`${rec.imageHash}.png`);
    const meta = await sharp(png).metadata();
    expect([meta.format, meta.width, meta.height]).toEqual(['png', 64, 48]);
    const decoded = await sharp(png).raw().toBuffer();
    expect(Buffer.compare(decoded, Buffer.from(testImage(64, 48).rgb))).toBe(0);
    expect(await lib.thumbnail(rec.id)).toBe(rec.thumbPath);
    const thumb = await sharp(rec.thumbPath).metadata();
    expect([thumb.format, thumb.width, thumb.height]).toEqual(['webp', 64, 48]);
    fs.rmSync(rec.thumbPath);
    expect(await lib.thumbnail(rec.id)).toBe(rec.thumbPath); // rebuilt on demand
    expect(fs.existsSync(rec.thumbPath)).toBe(true);

    // Text chunks sit before IDAT
    const idat = png.indexOf('IDAT');
    expect(png.indexOf('parameters')).toBeGreaterThan(0);
    expect(png.indexOf('parameters')).toBeLessThan(idat);
    expect(png.indexOf('atelier')).toBeLessThan(idat);

    const read = readImageMetadata(png);
    expect(read.source).toBe('atelier');
    expect(read.warnings).toEqual([]);
    const { id: _id, imageHash: _h, imagePath: _ip, thumbPath: _tp, rating: _r, flag: _f, notes: _n, deletedAt: _d, missingFile: _m, origin: _o, importSource: _s, ...stored } = rec;
    expect(read.generation).toEqual(stored);
    // Non-Latin-1 prompt => iTXt; A1111 infotext still parses
    expect(png.indexOf('iTXt')).toBeGreaterThan(0);
    expect(parseInfotext(read.raw.parameters).prompt).toBe(p.prompt);
  });

  it('accepts PNG bytes and replaces their old generation text', async () => {
    const src = await sharp(Buffer.from(testImage(32, 32).rgb), { raw: { width: 32, height: 32, channels: 3 } }).png().toBuffer();
    const rec = await lib.addGeneration({ image: { png: src }, params: params({ width: 32, height: 32 }) });
    const again = await lib.addGeneration({ image: { png: fs.readFileSync(rec.imagePath) }, params: params({ width: 32, height: 32, seed: 7 }) });
    const meta = readImageMetadata(fs.readFileSync(again.imagePath));
    expect(meta.warnings).toEqual([]);
    expect(meta.generation?.seed).toBe(7);
    expect(fs.readFileSync(again.imagePath).toString('latin1').split('tEXtparameters').length).toBe(2);
  });

  it('rejects bad input with clear errors and stores nothing', async () => {
    await expect(lib.addGeneration({ image: testImage(64, 48), params: params({ steps: -1 }) })).rejects.toThrow(/steps/);
    await expect(lib.addGeneration({ image: testImage(64, 48), params: params({ width: 65 }) })).rejects.toThrow(/64x48/);
    await expect(lib.addGeneration({ image: { width: 4, height: 4, rgb: new Uint8Array(5) }, params: params({ width: 4, height: 4 }) })).rejects.toThrow(/needs 48/);
    await expect(lib.addGeneration({ image: { png: Buffer.from('nope') }, params: params() })).rejects.toThrow(/not a valid PNG/);
    await expect(lib.addGeneration({ image: testImage(64, 48), params: params({ parentId: 'missing' }) })).rejects.toThrow(/parentId/);
    expect(lib.history().items).toHaveLength(0);
  });
});

describe('organisation and trash', () => {
  it('rates, flags, tags, notes and boards', async () => {
    const a = await lib.addGeneration({ image: testImage(64, 48, 1), params: params() });
    const b = await lib.addGeneration({ image: testImage(64, 48, 2), params: params({ seed: 2 }) });
    lib.setRating(a.id, 5);
    lib.setFlag([a.id, b.id], 'pick');
    lib.setNotes(b.id, 'client liked it');
    lib.addTags([a.id, b.id], ['portrait', 'Warm']);
    lib.removeTags(b.id, ['portrait']);
    expect(lib.get(a.id)).toMatchObject({ rating: 5, flag: 'pick' });
    expect(lib.get(b.id)?.notes).toBe('client liked it');
    expect(lib.tagsOf(a.id)).toEqual(['portrait', 'Warm']);
    expect(lib.tagsOf(b.id)).toEqual(['Warm']);
    expect(lib.listTags()).toEqual([{ name: 'portrait', count: 1 }, { name: 'Warm', count: 2 }]);
    expect(() => lib.setRating(a.id, 6)).toThrow(LibraryError);
    expect(() => lib.setRating('nope', 1)).toThrow(/does not exist/);

    const board = lib.createBoard('Shortlist');
    const board2 = lib.createBoard('Final');
    lib.addToBoard(board.id, [a.id, b.id]);
    lib.addToBoard(board2.id, a.id);
    expect(lib.boardsOf(a.id).map((x) => x.name)).toEqual(['Final', 'Shortlist']);
    expect(lib.listBoards().find((x) => x.id === board.id)?.itemCount).toBe(2);
    lib.removeFromBoard(board.id, b.id);
    lib.renameBoard(board.id, 'Short');
    expect(lib.thumbnails({ boardId: board.id }).items.map((x) => x.id)).toEqual([a.id]);
    lib.deleteBoard(board2.id);
    expect(lib.get(a.id)).not.toBeNull();
  });

  it('trash is restorable; emptying it deletes rows and unshared files', async () => {
    const a = await lib.addGeneration({ image: testImage(64, 48, 1), params: params() });
    const b = await lib.addGeneration({ image: testImage(64, 48, 2), params: params({ parentId: a.id }) });
    await lib.flushThumbnails();
    expect(fs.existsSync(a.thumbPath)).toBe(true);
    lib.trash(a.id);
    expect(lib.history().items.map((x) => x.id)).toEqual([b.id]);
    expect(lib.history({ trashed: true }).items.map((x) => x.id)).toEqual([a.id]);
    lib.restore(a.id);
    expect(lib.history().items).toHaveLength(2);
    lib.trash(a.id);
    const { purged } = await lib.emptyTrash();
    expect(purged).toBe(1);
    expect(lib.get(a.id)).toBeNull();
    expect(fs.existsSync(a.imagePath)).toBe(false);
    expect(fs.existsSync(a.thumbPath)).toBe(false);
    expect(lib.get(b.id)?.parentId).toBeNull();
    expect(fs.existsSync(b.imagePath)).toBe(true);
  });
});

describe('history, search and lineage', () => {
  it('pages newest-first with keyset cursors and filters', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 7; i++) {
      const r = await lib.addGeneration({
        image: testImage(i % 2 ? 64 : 32, 48, i),
        params: params({
          createdAt: 1_000_000 + (i < 4 ? 0 : i) * 1000, // four share a timestamp: tie broken by id
          width: i % 2 ? 64 : 32, seed: i % 3, scheduler: i % 2 ? 'DDIMScheduler' : 'EulerDiscreteScheduler', modelId: i < 5 ? 'm1' : 'm2',
        }),
      });
      ids.push(r.id);
    }
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page = lib.history({ limit: 3, cursor });
      seen.push(...page.items.map((x) => x.id));
      cursor = page.nextCursor;
    } while (cursor);
    expect(seen).toEqual([...ids].reverse());

    // board and tag pages walk their membership tables: same order and cursors
    const board = lib.createBoard('all');
    lib.addToBoard(board.id, ids);
    lib.addTags(ids, ['every']);
    for (const filter of [{ boardId: board.id }, { tag: 'every' }]) {
      const got: string[] = [];
      let c: string | null = null;
      do {
        const page = lib.thumbnails({ ...filter, limit: 2, cursor: c });
        got.push(...page.items.map((x) => x.id));
        c = page.nextCursor;
      } while (c);
      expect(got).toEqual([...ids].reverse());
    }
    lib.removeTags(ids, ['every']);
    lib.setRating(ids[1], 3);
    lib.setRating(ids[2], 5);
    lib.setFlag(ids[3], 'reject');
    lib.addTags(ids[4], ['sky']);
    expect(lib.history({ minRating: 4 }).items.map((x) => x.id)).toEqual([ids[2]]);
    expect(lib.history({ minRating: 3 }).items).toHaveLength(2);
    expect(lib.history({ flag: 'reject' }).items.map((x) => x.id)).toEqual([ids[3]]);
    expect(lib.history({ tag: 'SKY' }).items.map((x) => x.id)).toEqual([ids[4]]);
    expect(lib.history({ modelId: 'm2' }).items).toHaveLength(2);
    expect(lib.history({ scheduler: 'DDIMScheduler' }).items).toHaveLength(3);
    expect(lib.history({ width: 64, height: 48 }).items).toHaveLength(3);
    expect(lib.history({ createdFrom: 1_005_000, createdTo: 1_006_000 }).items.map((x) => x.id)).toEqual([ids[5]]);
    expect(lib.history({ modelId: 'm1', width: 32 }).items).toHaveLength(3);
    expect(lib.history({ seed: 1 }).items.map((x) => x.id)).toEqual([ids[4], ids[1]]);
  });

  it('full-text search with prefix matching over prompt and negative prompt', async () => {
    const a = await lib.addGeneration({ image: testImage(64, 48, 1), params: params({ prompt: 'portrait with warm rim light', negativePrompt: 'cartoon' }) });
    const b = await lib.addGeneration({ image: testImage(64, 48, 2), params: params({ prompt: 'cold blue landscape', negativePrompt: 'people, warmth' }) });
    await lib.addGeneration({ image: testImage(64, 48, 3), params: params({ prompt: 'Café au lait', negativePrompt: '' }) });
    expect(lib.search('warm').items.map((x) => x.id)).toEqual([b.id, a.id]);
    expect(lib.search('rim li').items.map((x) => x.id)).toEqual([a.id]);
    expect(lib.search('cart').items.map((x) => x.id)).toEqual([a.id]);
    expect(lib.search('cafe').items).toHaveLength(1);
    expect(lib.search('"unbalanced AND (').items).toHaveLength(0);
    expect(lib.search('   ').items).toHaveLength(0);
    const p1 = lib.search('warm', { limit: 1 });
    expect(p1.items.map((x) => x.id)).toEqual([b.id]);
    expect(lib.search('warm', { limit: 1, cursor: p1.nextCursor }).items.map((x) => x.id)).toEqual([a.id]);
    lib.setRating(a.id, 4);
    expect(lib.search('warm', { minRating: 1 }).items.map((x) => x.id)).toEqual([a.id]);
    // search inside a (small) board and a tag: membership-driven, same results and paging
    const board = lib.createBoard('both');
    lib.addToBoard(board.id, [a.id, b.id]);
    lib.addTags([a.id, b.id], ['t']);
    expect(lib.search('warm', { boardId: board.id }).items.map((x) => x.id)).toEqual([b.id, a.id]);
    const first = lib.search('warm', { boardId: board.id, tag: 't', limit: 1 });
    expect(first.items.map((x) => x.id)).toEqual([b.id]);
    expect(lib.search('warm', { boardId: board.id, tag: 't', limit: 1, cursor: first.nextCursor }).items.map((x) => x.id)).toEqual([a.id]);
    expect(lib.search('cold', { tag: 't' }).items.map((x) => x.id)).toEqual([b.id]);
    lib.trash(a.id);
    expect(lib.search('warm').items.map((x) => x.id)).toEqual([b.id]);
  });

  it('same seed, children of, ancestors of', async () => {
    const root1 = await lib.addGeneration({ image: testImage(64, 48, 1), params: params({ seed: 9 }) });
    const child = await lib.addGeneration({ image: testImage(64, 48, 2), params: params({ seed: 9, parentId: root1.id, strength: 0.6 }) });
    const grandchild = await lib.addGeneration({ image: testImage(64, 48, 3), params: params({ seed: 10, parentId: child.id }) });
    const sibling = await lib.addGeneration({ image: testImage(64, 48, 4), params: params({ seed: 11, parentId: root1.id }) });
    expect(lib.sameSeed(root1.id).map((x) => x.id)).toEqual([child.id]);
    expect(lib.childrenOf(root1.id).map((x) => x.id)).toEqual([child.id, sibling.id]);
    expect(lib.ancestorsOf(grandchild.id).map((x) => x.id)).toEqual([child.id, root1.id]);
    expect(lib.ancestorsOf(root1.id)).toEqual([]);
  });
});

describe('crash safety', () => {
  it('re-indexes image files whose row never committed, flags rows without files, drops temp files', async () => {
    const a = await lib.addGeneration({ image: testImage(64, 48, 1), params: params({ prompt: 'kept by its file' }) });
    const b = await lib.addGeneration({ image: testImage(64, 48, 2), params: params() });
    await lib.flushThumbnails();
    // Simulate a crash after the file write but before the row insert: delete the row only.
    lib.database.prepare('DELETE FROM generations WHERE id = ?').run(a.id);
    fs.rmSync(b.imagePath);
    fs.writeFileSync(path.join(path.dirname(b.imagePath), '.tmp-deadbeef'), 'partial');
    fs.rmSync(b.thumbPath);
    const dir = lib.dir;
    lib.close();
    // A stale lock from a dead process marks an unclean shutdown -> reconcile on open.
    fs.writeFileSync(path.join(dir, '.atelier-lock'), JSON.stringify({ pid: 2 ** 22 + 12345, hostname: os.hostname(), since: 0 }));
    lib = await ProjectLibrary.open(dir);
    expect(lib.lastReconcile).toMatchObject({ reindexed: [a.id], missingFiles: [b.id], removedTempFiles: 1, promotedTempFiles: 0 });
    expect(lib.get(a.id)?.prompt).toBe('kept by its file');
    expect(lib.search('kept').items).toHaveLength(1);
    expect(lib.get(b.id)?.missingFile).toBe(true);
  });

  it('promotes a complete image temp file whose rename was lost', async () => {
    const a = await lib.addGeneration({ image: testImage(64, 48, 1), params: params({ prompt: 'lost rename' }) });
    await lib.flushThumbnails();
    lib.database.prepare('DELETE FROM generations WHERE id = ?').run(a.id);
    fs.renameSync(a.imagePath, path.join(lib.dir, 'images', '.tmp-0123456789ab'));
    const dir = lib.dir;
    lib.close();
    lib = await ProjectLibrary.open(dir, { reconcile: true });
    expect(lib.lastReconcile).toMatchObject({ promotedTempFiles: 1, removedTempFiles: 0, reindexed: [a.id] });
    expect(lib.get(a.id)?.imagePath).toBe(a.imagePath);
    expect(fs.existsSync(a.imagePath)).toBe(true);
  });

  it('finishes an interrupted purge instead of resurrecting the image', async () => {
    const a = await lib.addGeneration({ image: testImage(64, 48, 1), params: params() });
    lib.trash(a.id);
    // Crash between the purge transaction and the file deletion:
    lib.database.transaction(() => {
      lib.database.prepare('INSERT INTO purge_queue (image_hash) VALUES (?)').run(a.imageHash);
      lib.database.prepare('DELETE FROM generations WHERE id = ?').run(a.id);
    })();
    const dir = lib.dir;
    lib.close();
    lib = await ProjectLibrary.open(dir, { reconcile: true });
    expect(lib.lastReconcile?.reindexed).toEqual([]);
    expect(lib.get(a.id)).toBeNull();
    expect(fs.existsSync(a.imagePath)).toBe(false);
  });
});
