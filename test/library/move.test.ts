/**
 * Moving images between projects: the image files go along (and leave the source once no row
 * there uses them), every column and tag arrives, lineage among the moved images is kept, links to
 * images that stayed are cut and counted, and a move interrupted half-way loses nothing.
 * Also the project registry's archive and delete.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LibraryError, ProjectLibrary, ProjectRegistry, moveGenerations, projectModelIds } from '../../main/library';
import { params, removeDir, tempDir, testImage } from './helpers';

let root: string;
let a: ProjectLibrary;
let b: ProjectLibrary;

beforeEach(async () => {
  root = tempDir();
  a = await ProjectLibrary.create(root, 'Client A', { durableWrites: false });
  b = await ProjectLibrary.create(root, 'Client B', { durableWrites: false });
});
afterEach(() => {
  a?.close();
  b?.close();
  removeDir(root);
});

async function add(lib: ProjectLibrary, seed: number, parentId: string | null = null) {
  return lib.addGeneration({ image: testImage(64, 48, seed), params: params({ seed, parentId, prompt: `shot ${seed}` }) });
}

describe('moveGenerations', () => {
  it('moves files, every column, tags and the lineage among the moved images', async () => {
    const root0 = await add(a, 1);
    const child = await add(a, 2, root0.id);
    const grandchild = await add(a, 3, child.id);
    const other = await add(a, 4);
    a.setRating(child.id, 4);
    a.setFlag(child.id, 'pick');
    a.setNotes(child.id, 'client favourite');
    a.addTags([child.id, grandchild.id], ['hero', 'Warm light']);
    const board = a.createBoard('Selects');
    a.addToBoard(board.id, [child.id]);
    await a.flushThumbnails();

    const result = await moveGenerations(a, b, [grandchild.id, child.id]);
    expect(result.moved).toEqual([child.id, grandchild.id]); // parents first
    // child's parent (root0) stayed in A: that one link is cut.
    expect(result.cutLinks).toBe(1);

    const movedChild = b.get(child.id)!;
    expect(movedChild).toMatchObject({ rating: 4, flag: 'pick', notes: 'client favourite', seed: 2, prompt: 'shot 2', parentId: null, imageHash: child.imageHash });
    expect(b.get(grandchild.id)!.parentId).toBe(child.id);
    expect(b.childrenOf(child.id).map((r) => r.id)).toEqual([grandchild.id]);
    expect(b.tagsOf(child.id)).toEqual(['hero', 'Warm light']);
    expect(b.history({ tag: 'hero' }).items.map((r) => r.id).sort()).toEqual([child.id, grandchild.id].sort());
    expect(b.search('shot').items).toHaveLength(2); // full-text index follows the rows
    expect(fs.existsSync(movedChild.imagePath)).toBe(true);
    expect(movedChild.imagePath.startsWith(b.dir)).toBe(true);
    expect(fs.existsSync(await b.thumbnail(child.id))).toBe(true);

    // Gone from A, with their files; what stayed is intact.
    expect(a.get(child.id)).toBeNull();
    expect(a.get(grandchild.id)).toBeNull();
    expect(fs.existsSync(child.imagePath)).toBe(false);
    expect(fs.existsSync(grandchild.imagePath)).toBe(false);
    expect(a.get(root0.id)).not.toBeNull();
    expect(a.get(other.id)).not.toBeNull();
    expect(fs.existsSync(other.imagePath)).toBe(true);
    expect(a.listTags()).toEqual([]); // tags nobody here uses any more are dropped
    expect(a.listBoards()[0]).toMatchObject({ name: 'Selects', itemCount: 0 });
    expect(projectModelIds(b)).toEqual(['stable-diffusion-v1-5']);
  });

  it('counts children left behind as cut links', async () => {
    const parent = await add(a, 1);
    const kid1 = await add(a, 2, parent.id);
    await add(a, 3, parent.id);
    const r = await moveGenerations(a, b, [parent.id]);
    expect(r.cutLinks).toBe(2); // two children stayed in A
    expect(a.get(kid1.id)!.parentId).toBeNull();
    expect(b.get(parent.id)).not.toBeNull();
  });

  it('keeps a parent link when the parent already lives in the target', async () => {
    const parent = await add(a, 1);
    const kid = await add(a, 2, parent.id);
    // The same image (same id) in B already, e.g. moved there by an earlier, interrupted move.
    const row = a.database.prepare('SELECT * FROM generations WHERE id = ?').get(parent.id) as Record<string, unknown>;
    const cols = Object.keys(row).filter((c) => c !== 'seq');
    b.database.prepare(`INSERT INTO generations (${cols.join(',')}) VALUES (${cols.map((c) => `@${c}`).join(',')})`).run(Object.fromEntries(cols.map((c) => [c, row[c]])));
    const r = await moveGenerations(a, b, [kid.id]);
    expect(r.cutLinks).toBe(0);
    expect(b.get(kid.id)!.parentId).toBe(parent.id);
  });

  it('finishes a move that stopped after the target had the row: no duplicate, the source row goes', async () => {
    const img = await add(a, 7);
    // The crash window: B has the row already (its file is copied again), A still has its row.
    const row = a.database.prepare('SELECT * FROM generations WHERE id = ?').get(img.id) as Record<string, unknown>;
    const cols = Object.keys(row).filter((c) => c !== 'seq');
    b.database.prepare(`INSERT INTO generations (${cols.join(',')}) VALUES (${cols.map((c) => `@${c}`).join(',')})`).run(Object.fromEntries(cols.map((c) => [c, row[c]])));
    await moveGenerations(a, b, [img.id]);
    expect(a.get(img.id)).toBeNull();
    expect(b.history().items.map((r) => r.id)).toEqual([img.id]);
    expect(fs.existsSync(b.get(img.id)!.imagePath)).toBe(true);
  });

  it('refuses unknown ids before anything moves, and moving into the same project', async () => {
    const img = await add(a, 1);
    await expect(moveGenerations(a, b, [img.id, 'nope'])).rejects.toBeInstanceOf(LibraryError);
    expect(a.get(img.id)).not.toBeNull();
    expect(b.history().items).toEqual([]);
    await expect(moveGenerations(a, a, [img.id])).rejects.toThrow(/already in this project/);
  });

  it('keeps a file another row of the source still uses', async () => {
    const img = await add(a, 1);
    // A second row on the same image file (content-addressed storage shares identical bytes).
    const row = a.database.prepare('SELECT * FROM generations WHERE id = ?').get(img.id) as Record<string, unknown>;
    const cols = Object.keys(row).filter((c) => c !== 'seq');
    a.database.prepare(`INSERT INTO generations (${cols.join(',')}) VALUES (${cols.map((c) => `@${c}`).join(',')})`).run({ ...Object.fromEntries(cols.map((c) => [c, row[c]])), id: 'TWIN' });
    await moveGenerations(a, b, [img.id]);
    expect(a.get('TWIN')!.imageHash).toBe(img.imageHash);
    expect(fs.existsSync(a.get('TWIN')!.imagePath)).toBe(true);
    expect(fs.existsSync(b.get(img.id)!.imagePath)).toBe(true);
  });
});

describe('registry: archive and delete', () => {
  it('archives without touching the folder; deletes the folder of an Atelier project only', async () => {
    a.close();
    b.close();
    const reg = new ProjectRegistry(path.join(root, 'home'), { provenance: null });
    const p = await reg.create('Old client');
    expect(reg.setArchived(p.id, true).archivedAt).toEqual(expect.any(Number));
    expect(reg.get(p.id)!.archivedAt).toEqual(expect.any(Number));
    expect(fs.existsSync(p.path)).toBe(true);
    expect(reg.setArchived(p.id, false).archivedAt).toBeNull();
    // A reloaded registry remembers.
    reg.setArchived(p.id, true);
    expect(new ProjectRegistry(path.join(root, 'home'), { provenance: null }).get(p.id)!.archivedAt).toEqual(expect.any(Number));

    await reg.openProject(p.id);
    await reg.deleteProject(p.id);
    expect(reg.get(p.id)).toBeNull();
    expect(fs.existsSync(p.path)).toBe(false);

    // A listed path that is not a project folder is never deleted.
    const q = await reg.create('Odd');
    const data = JSON.parse(fs.readFileSync(reg.file, 'utf8'));
    const stranger = path.join(root, 'not-a-project');
    fs.mkdirSync(stranger);
    fs.writeFileSync(path.join(stranger, 'keep.txt'), 'mine');
    data.projects.find((x: { id: string }) => x.id === q.id).path = stranger;
    fs.writeFileSync(reg.file, JSON.stringify(data));
    const reg2 = new ProjectRegistry(path.join(root, 'home'), { provenance: null });
    await expect(reg2.deleteProject(q.id)).rejects.toThrow(/does not look like an Atelier project/);
    expect(fs.existsSync(path.join(stranger, 'keep.txt'))).toBe(true);
  });
});
