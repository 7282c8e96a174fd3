/**
 * ProjectLibrary (main/library/project-library.ts) on real projects (SQLite, sharp, the file
 * system): the edges the save / history tests pass through once (mutation testing,
 * docs/TESTING.md) — folder names, create / open / close and their messages, the checks before a
 * save, thumbnails rebuilt on demand, the credentials disclosure setting, purging files only when no
 * row uses them, and pages that cannot match. Expected values are written out from the rules in the
 * code's own documentation (folder-name rule, error texts), not read back from the code.
 */
import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LibraryError, LibraryNotFoundError, ProjectClosedError, ProjectLibrary, projectFolderName, setSqliteNativeBinding, ulid } from '../../main/library';
import { generationParamsSchema } from '../../main/library/types';
import { params, removeDir, tempDir, testImage } from './helpers';

let root: string;
beforeAll(() => {
  root = tempDir('atelier-plib-');
});
afterAll(() => removeDir(root));

async function fresh(name: string): Promise<ProjectLibrary> {
  return ProjectLibrary.create(root, name);
}

async function caught(p: Promise<unknown> | (() => unknown)): Promise<Error> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected an error, got none');
}

describe('projectFolderName', () => {
  it('keeps letters, digits, space and ._()-; replaces runs of anything else by one _; trims dots and spaces', () => {
    expect(projectFolderName('Client A')).toBe('Client A.atelier');
    expect(projectFolderName('a/b\\c:*?d')).toBe('a_b_c_d.atelier');
    expect(projectFolderName('  .. Été (v2)_final-1 ..  ')).toBe('Été (v2)_final-1.atelier');
    expect(projectFolderName('日本語 123')).toBe('日本語 123.atelier');
    expect(projectFolderName('...')).toBe('project.atelier');
    expect(projectFolderName('')).toBe('project.atelier');
  });

  it('composes accents (NFC) and cuts the name at 80 characters', () => {
    expect(projectFolderName('Cafe\u0301')).toBe('Caf\u00e9.atelier');
    expect(projectFolderName('x'.repeat(100))).toBe(`${'x'.repeat(80)}.atelier`);
  });
});

describe('create, open, close', () => {
  it('create: trimmed name, images/ and thumbs/ folders, a fresh id and creation time', async () => {
    const before = Date.now();
    const lib = await fresh('  Spaced  ');
    try {
      expect(lib.dir).toBe(path.join(root, 'Spaced.atelier'));
      expect(fs.statSync(path.join(lib.dir, 'images')).isDirectory()).toBe(true);
      expect(fs.statSync(path.join(lib.dir, 'thumbs')).isDirectory()).toBe(true);
      const info = lib.info();
      expect(info.name).toBe('Spaced');
      expect(info.id).toMatch(/^[0-9A-HJKMNP-TV-Z]{26}$/);
      expect(info.createdAt).toBeGreaterThanOrEqual(before);
      expect(info.createdAt).toBeLessThanOrEqual(Date.now());
      expect(lib.database.pragma('synchronous', { simple: true })).toBe(1); // NORMAL
      expect(lib.database.pragma('busy_timeout', { simple: true })).toBe(5000);
    } finally {
      lib.close();
    }
  });

  it('create refuses an empty name and an existing folder; open refuses a folder without library.sqlite', async () => {
    const empty = await caught(ProjectLibrary.create(root, '  '));
    expect(empty).toBeInstanceOf(LibraryError);
    expect(empty.message).toBe('project name must not be empty');
    fs.mkdirSync(path.join(root, 'Taken.atelier'));
    expect((await caught(ProjectLibrary.create(root, 'Taken'))).message).toBe(
      `cannot create project: ${path.join(root, 'Taken.atelier')} already exists (open it instead, or pick another name)`,
    );
    const notProject = await caught(ProjectLibrary.open(path.join(root, 'Taken.atelier')));
    expect(notProject).toBeInstanceOf(LibraryNotFoundError);
    expect(notProject.message).toBe(`${path.join(root, 'Taken.atelier')} is not an Atelier project: library.sqlite not found`);
  });

  it('open reconciles only when asked (or after an unclean close); close is idempotent and ends every call', async () => {
    const lib = await fresh('Reopen');
    const dir = lib.dir;
    expect(lib.isOpen).toBe(true);
    lib.close();
    lib.close();
    expect(lib.isOpen).toBe(false);
    const closed = await caught(() => lib.info());
    expect(closed).toBeInstanceOf(ProjectClosedError);
    expect(closed.message).toBe(`Project ${dir} is closed; open it again with ProjectLibrary.open(dir).`);
    await expect(lib.addGeneration({ image: testImage(64, 48), params: params() })).rejects.toBeInstanceOf(ProjectClosedError);
    expect(() => lib.exportGenerations({ ids: [], to: root })).toThrow(ProjectClosedError);
    expect(() => lib.importFiles([])).toThrow(ProjectClosedError);
    const plain = await ProjectLibrary.open(dir);
    expect(plain.lastReconcile).toBeNull();
    plain.close();
    const checked = await ProjectLibrary.open(dir, { reconcile: true });
    expect(checked.lastReconcile).not.toBeNull();
    expect(checked.lastReconcile).toMatchObject({ reindexed: expect.any(Array) });
    checked.close();
  });

  it('rename trims the display name and refuses an empty one', async () => {
    const lib = await fresh('Old name');
    try {
      lib.rename('  New name ');
      expect(lib.info().name).toBe('New name');
      expect(() => lib.rename(' ')).toThrow(new LibraryError('project name must not be empty'));
      expect(lib.info().name).toBe('New name');
    } finally {
      lib.close();
    }
  });
});

describe('saving', () => {
  let lib: ProjectLibrary;
  beforeAll(async () => {
    lib = await fresh('Saving');
  });
  afterAll(() => lib.close());

  it('names every invalid parameter, refuses an unknown parent and a size mismatch, and stores nothing', async () => {
    const bad = await caught(lib.addGeneration({ image: testImage(64, 48), params: { ...params(), width: -64, height: 0 } as never }));
    expect(bad).toBeInstanceOf(LibraryError);
    expect(bad.message).toMatch(/^invalid generation params — width: .+; height: .+$/);
    const orphan = await caught(lib.addGeneration({ image: testImage(64, 48), params: params({ parentId: '01HZZZZZZZZZZZZZZZZZZZZZZZ' }) }));
    expect(orphan.message).toBe('parentId 01HZZZZZZZZZZZZZZZZZZZZZZZ is not a generation of this project');
    expect((await caught(lib.addGeneration({ image: testImage(64, 40), params: params() }))).message).toBe('params say 64x48 but the image is 64x40');
    expect((await caught(lib.addGeneration({ image: testImage(48, 48), params: params() }))).message).toBe('params say 64x48 but the image is 48x48');
    expect(lib.history().items).toEqual([]);
    expect(fs.readdirSync(path.join(lib.dir, 'images'))).toEqual([]);
  });

  it('a child of an existing parent is stored; createdAt defaults to now; a PNG input keeps its size check', async () => {
    const before = Date.now();
    const parent = await lib.addGeneration({ image: testImage(64, 48, 1), params: params() });
    expect(parent.createdAt).toBeGreaterThanOrEqual(before);
    expect(parent.createdAt).toBeLessThanOrEqual(Date.now());
    const child = await lib.addGeneration({ image: testImage(64, 48, 2), params: params({ parentId: parent.id }) });
    expect(child.parentId).toBe(parent.id);
    const png = await sharp(testImage(32, 32).rgb, { raw: { width: 32, height: 32, channels: 3 } }).png().toBuffer();
    expect((await caught(lib.addGeneration({ image: { png }, params: params() }))).message).toBe('params say 64x48 but the image is 32x32');
    const fromPng = await lib.addGeneration({ image: { png }, params: params({ width: 32, height: 32 }) });
    expect(fs.existsSync(fromPng.imagePath)).toBe(true);
  });

  it('thumbnail(id): waits for the queued one, rebuilds a deleted one, refuses an unknown id', async () => {
    const rec = await lib.addGeneration({ image: testImage(64, 48, 5), params: params({ seed: 5 }) });
    const thumb = await lib.thumbnail(rec.id);
    expect(fs.existsSync(thumb)).toBe(true);
    expect(thumb).toBe(lib.thumbPath(rec.imageHash));
    fs.rmSync(thumb);
    expect(await lib.thumbnail(rec.id)).toBe(thumb);
    const meta = await sharp(thumb).metadata();
    expect([meta.format, meta.width, meta.height]).toEqual(['webp', 64, 48]);
    const unknown = await caught(lib.thumbnail('nope'));
    expect(unknown).toBeInstanceOf(LibraryNotFoundError);
    expect(unknown.message).toBe('generation nope does not exist in this project');
    await lib.flushThumbnails();
  });

  it('a failed thumbnail write is not an error: thumbnail() rebuilds it later', async () => {
    const rec = await lib.addGeneration({ image: testImage(64, 48, 6), params: params({ seed: 6 }) });
    // The queued write starts after addGeneration returns: put a file where its shard folder goes, so it fails.
    const shard = path.dirname(lib.thumbPath(rec.imageHash));
    expect(fs.existsSync(shard)).toBe(false);
    fs.writeFileSync(shard, 'in the way');
    await lib.flushThumbnails(); // resolves: the failure is swallowed
    expect(fs.statSync(shard).isFile()).toBe(true);
    fs.rmSync(shard);
    expect(await lib.thumbnail(rec.id)).toBe(lib.thumbPath(rec.imageHash));
    expect(fs.existsSync(lib.thumbPath(rec.imageHash))).toBe(true);
  });
});

describe('settings, receipts, export signing', () => {
  it('credentials disclosure: full by default, ai-only kept, anything else refused', async () => {
    const lib = await fresh('Disclosure');
    try {
      expect(lib.credentialsDisclosure()).toBe('full');
      lib.setCredentialsDisclosure('ai-only');
      expect(lib.credentialsDisclosure()).toBe('ai-only');
      lib.setCredentialsDisclosure('full');
      expect(lib.credentialsDisclosure()).toBe('full');
      expect(() => lib.setCredentialsDisclosure('none' as never)).toThrow(new LibraryError('credentials disclosure must be one of full, ai-only'));
      lib.database.prepare("UPDATE project_meta SET value = 'bogus' WHERE key = 'credentials_disclosure'").run();
      expect(lib.credentialsDisclosure()).toBe('full');
    } finally {
      lib.close();
    }
  });

  it('a receipt for an unknown generation is refused; without provenance an export is left as encoded', async () => {
    const lib = await fresh('Receipts');
    try {
      const e = await caught(() => lib.saveReceipt('missing', {} as never));
      expect(e).toBeInstanceOf(LibraryNotFoundError);
      expect(e.message).toBe('generation missing does not exist in this project');
      expect(lib.receipt('missing')).toBeNull();
      const bytes = Buffer.from('x');
      const rec = await lib.addGeneration({ image: testImage(64, 48), params: params() });
      expect(await lib.signExport(rec, bytes)).toBe(bytes);
    } finally {
      lib.close();
    }
  });
});

describe('reading and purging', () => {
  let lib: ProjectLibrary;
  const ids: string[] = [];
  beforeAll(async () => {
    lib = await fresh('Reading');
    // seeds 7, 7, 7, 8; row 1 points at row 0's file (as reconcile's insertRow can): one file, two rows
    for (const [i, seed] of [[0, 7], [1, 7], [2, 7], [3, 8]] as const) {
      const p = params({ seed, createdAt: 1_700_000_000_000 + i });
      if (i === 1) {
        const id = ulid(1_700_000_000_001);
        lib.insertRow(id, lib.get(ids[0])!.imageHash, { ...generationParamsSchema.parse(p), createdAt: 1_700_000_000_001 });
        ids.push(id);
      } else ids.push((await lib.addGeneration({ image: testImage(64, 48, i + 1), params: p })).id);
    }
  });
  afterAll(() => lib.close());

  it('a search with no letter or digit matches nothing (and does not reach FTS)', () => {
    expect(lib.search('  *** ')).toEqual({ items: [], nextCursor: null });
    expect(lib.thumbnails({ text: '!' })).toEqual({ items: [], nextCursor: null });
    expect(lib.search('lighthouse').items.length).toBe(4);
  });

  it('sameSeed: the others with the seed, newest first, up to the limit; none for an unknown id', () => {
    expect(lib.sameSeed(ids[0]).map((r) => r.id)).toEqual([ids[2], ids[1]]);
    expect(lib.sameSeed(ids[0], 1).map((r) => r.id)).toEqual([ids[2]]);
    expect(lib.sameSeed(ids[3])).toEqual([]);
    expect(lib.sameSeed('nope')).toEqual([]);
  });

  it('pages: exactly a full page has no next cursor, one more has', () => {
    const four = lib.history({ limit: 4 });
    expect(four.items.length).toBe(4);
    expect(four.nextCursor).toBeNull();
    const three = lib.history({ limit: 3 });
    expect(three.items.map((r) => r.id)).toEqual([ids[3], ids[2], ids[1]]);
    expect(three.nextCursor).not.toBeNull();
    expect(lib.history({ limit: 3, cursor: three.nextCursor }).items.map((r) => r.id)).toEqual([ids[0]]);
  });

  it('boardItems: every live generation on the board, newest first', () => {
    const board = lib.createBoard('B');
    lib.addToBoard(board.id, [ids[0], ids[2], ids[3]]);
    lib.trash(ids[3]);
    expect(lib.boardItems(board.id).map((r) => r.id)).toEqual([ids[2], ids[0]]);
    lib.restore(ids[3]);
  });

  it('emptyTrash deletes a file only when no remaining row uses it; finishPurges is safe to repeat', async () => {
    await lib.flushThumbnails();
    const shared = lib.get(ids[0])!;
    const own = lib.get(ids[2])!;
    expect(lib.get(ids[1])!.imageHash).toBe(shared.imageHash);
    lib.trash([ids[0], ids[2]]);
    expect(await lib.emptyTrash()).toEqual({ purged: 2 });
    expect(lib.get(ids[0])).toBeNull();
    expect(fs.existsSync(shared.imagePath)).toBe(true); // still used by ids[1]
    expect(fs.existsSync(lib.thumbPath(shared.imageHash))).toBe(true);
    expect(fs.existsSync(own.imagePath)).toBe(false);
    expect(fs.existsSync(lib.thumbPath(own.imageHash))).toBe(false);
    expect(await lib.finishPurges()).toBe(0);
  });
});

describe('the rest of the surface: wrappers, lifecycle edges, purging files already gone', () => {
  it('creates missing parent folders; close really closes the database', async () => {
    const lib = await ProjectLibrary.create(path.join(root, 'not', 'yet'), 'Deep');
    const db = lib.database;
    expect(fs.existsSync(path.join(root, 'not', 'yet', 'Deep.atelier', 'library.sqlite'))).toBe(true);
    lib.close();
    expect(db.open).toBe(false);
  });

  it('a bad native SQLite binding fails the open and leaves the project unlocked', async () => {
    const lib = await fresh('Binding');
    const dir = lib.dir;
    lib.close();
    setSqliteNativeBinding(path.join(root, 'no-such-binding.node'));
    try {
      await expect(ProjectLibrary.open(dir)).rejects.toThrow();
      await expect(ProjectLibrary.create(root, 'Binding 2')).rejects.toThrow();
    } finally {
      setSqliteNativeBinding(undefined);
    }
    const again = await ProjectLibrary.open(dir); // not locked by the failed opens
    again.close();
    // The failed create removes the folder it had just made, so the same name can be created once the binding works.
    expect(fs.existsSync(path.join(root, 'Binding 2.atelier'))).toBe(false);
    (await ProjectLibrary.create(root, 'Binding 2')).close();
  });

  it('thumbnails are written after the save without asking; flushThumbnails waits for them', async () => {
    const lib = await fresh('Thumbs');
    try {
      const rec = await lib.addGeneration({ image: testImage(64, 48, 9), params: params() });
      await lib.flushThumbnails();
      expect(fs.existsSync(lib.thumbPath(rec.imageHash))).toBe(true);
      const page = lib.thumbnails();
      expect(page.items.map((t) => t.id)).toEqual([rec.id]);
      expect(page.items[0]).toMatchObject({ id: rec.id, width: 64, height: 48, thumbPath: lib.thumbPath(rec.imageHash) });
    } finally {
      lib.close();
    }
  });

  it('organisation, lineage and receipts go through to the project', async () => {
    const lib = await fresh('Organised');
    try {
      const a = await lib.addGeneration({ image: testImage(64, 48, 1), params: params() });
      const b = await lib.addGeneration({ image: testImage(64, 48, 2), params: params({ parentId: a.id }) });
      const c = await lib.addGeneration({ image: testImage(64, 48, 3), params: params({ parentId: b.id }) });
      expect(lib.childrenOf(a.id).map((r) => r.id)).toEqual([b.id]);
      expect(lib.ancestorsOf(c.id).map((r) => r.id)).toEqual([b.id, a.id]);
      lib.setRating(a.id, 4);
      lib.setFlag(a.id, 'pick');
      lib.setNotes(a.id, 'keep');
      expect(lib.get(a.id)).toMatchObject({ rating: 4, flag: 'pick', notes: 'keep' });
      lib.addTags([a.id, b.id], ['sea', 'sky']);
      lib.removeTags(b.id, ['sky']);
      expect(lib.tagsOf(a.id)).toEqual(['sea', 'sky']);
      expect(lib.tagsOf(b.id)).toEqual(['sea']);
      expect(lib.listTags()).toEqual([{ name: 'sea', count: 2 }, { name: 'sky', count: 1 }]);
      const board = lib.createBoard('One');
      lib.renameBoard(board.id, 'Uno');
      lib.addToBoard(board.id, [a.id, b.id]);
      lib.removeFromBoard(board.id, a.id);
      expect(lib.boardsOf(b.id).map((x) => x.name)).toEqual(['Uno']);
      expect(lib.boardsOf(a.id)).toEqual([]);
      expect(lib.listBoards().map((x) => x.name)).toEqual(['Uno']);
      lib.deleteBoard(board.id);
      expect(lib.listBoards()).toEqual([]);
      lib.trash(c.id);
      expect(lib.history().items.map((r) => r.id)).toEqual([b.id, a.id]);
      lib.restore(c.id);
      expect(lib.history().items.map((r) => r.id)).toEqual([c.id, b.id, a.id]);
      const receipt = { v: 1, note: 'test' } as never;
      lib.saveReceipt(a.id, receipt);
      expect(lib.receipt(a.id)).toEqual({ v: 1, note: 'test' });
      const creds = await lib.verifyCredentials(fs.readFileSync(a.imagePath));
      expect(creds).toBeTruthy();
    } finally {
      lib.close();
    }
  });

  it('emptying the trash when its files are already gone (an interrupted purge) still succeeds', async () => {
    const lib = await fresh('Gone');
    try {
      const a = await lib.addGeneration({ image: testImage(64, 48, 1), params: params() });
      const b = await lib.addGeneration({ image: testImage(64, 48, 2), params: params() });
      await lib.flushThumbnails();
      fs.rmSync(a.imagePath);
      fs.rmSync(lib.thumbPath(b.imageHash));
      lib.trash([a.id, b.id]);
      expect(await lib.emptyTrash()).toEqual({ purged: 2 });
      expect(fs.existsSync(b.imagePath)).toBe(false);
      expect(fs.existsSync(lib.thumbPath(a.imageHash))).toBe(false);
    } finally {
      lib.close();
    }
  });

  it('invalid nested parameters are named by their path', async () => {
    const lib = await fresh('Nested');
    try {
      const e = await caught(lib.addGeneration({ image: testImage(64, 48), params: { ...params(), loraHashes: [{}] } as never }));
      expect(e.message).toMatch(/^invalid generation params — loraHashes\.0\.\w+: /);
      const whole = await caught(lib.addGeneration({ image: testImage(64, 48), params: null as never }));
      expect(whole.message).toMatch(/^invalid generation params — params: /);
    } finally {
      lib.close();
    }
  });
});
