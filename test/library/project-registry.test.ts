import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ProjectLibrary, ProjectRegistry } from '../../main/library';
import { params, removeDir, tempDir, testImage } from './helpers';

let userData: string;
let reg: ProjectRegistry;

beforeEach(() => {
  userData = tempDir('atelier-userdata-');
  reg = new ProjectRegistry(userData);
});
afterEach(() => {
  reg.closeAll();
  removeDir(userData);
});

describe('ProjectRegistry', () => {
  it('creates the default project once and lists it', async () => {
    const d = await reg.ensureDefaultProject();
    expect(d.name).toBe('My Project');
    expect(fs.existsSync(path.join(d.path, 'library.sqlite'))).toBe(true);
    expect((await reg.ensureDefaultProject()).id).toBe(d.id);
    // A fresh registry instance reads the same file
    expect(new ProjectRegistry(userData).list().map((p) => p.id)).toEqual([d.id]);
  });

  it('create, open, rename, close, remove from list (files kept)', async () => {
    const p = await reg.create('Client B');
    expect(p.path).toBe(path.join(userData, 'projects', 'Client B.atelier'));
    const lib = await reg.openProject(p.id);
    expect(await reg.openProject(p.id)).toBe(lib);
    const rec = await lib.addGeneration({ image: testImage(64, 48), params: params() });
    await reg.rename(p.id, 'Client B (final)');
    expect(lib.info().name).toBe('Client B (final)');
    expect(reg.get(p.id)?.name).toBe('Client B (final)');
    expect(reg.get(p.id)?.lastOpenedAt).toBeGreaterThan(0);
    reg.closeProject(p.id);
    expect(lib.isOpen).toBe(false);
    await reg.rename(p.id, 'Renamed while closed');
    const again = await reg.openProject(p.id);
    expect(again.info().name).toBe('Renamed while closed');
    expect(again.get(rec.id)).not.toBeNull();
    expect(reg.revealPath(p.id)).toBe(p.path);
    reg.removeFromList(p.id);
    expect(reg.list()).toEqual([]);
    expect(fs.existsSync(p.path)).toBe(true);
  });

  it('stamps lastOpenedAt strictly later on every open, kept in projects.json', async () => {
    const a = await reg.create('A');
    const b = await reg.create('B');
    expect(reg.get(a.id)?.lastOpenedAt).toBeNull();
    // Back-to-back opens often share a millisecond; "Recent" still needs their order.
    await reg.openProject(a.id);
    await reg.openProject(b.id);
    reg.closeProject(a.id);
    await reg.openProject(a.id);
    const stamp = (id: string) => reg.get(id)!.lastOpenedAt!;
    expect(stamp(b.id)).toBeGreaterThan(0);
    expect(stamp(a.id)).toBeGreaterThan(stamp(b.id));
    expect(new ProjectRegistry(userData).get(a.id)?.lastOpenedAt).toBe(stamp(a.id));
  });

  it('gives same-named projects distinct folders', async () => {
    const a = await reg.create('Client');
    const b = await reg.create('Client');
    expect(path.basename(a.path)).toBe('Client.atelier');
    expect(path.basename(b.path)).toBe('Client (2).atelier');
    expect(b.name).toBe('Client');
    expect(a.id).not.toBe(b.id);
  });

  it('adds an existing folder (copied from elsewhere) and keeps its id', async () => {
    const elsewhere = tempDir();
    try {
      const lib = await ProjectLibrary.create(elsewhere, 'Imported');
      const id = lib.info().id;
      lib.close();
      const entry = await reg.add(path.join(elsewhere, 'Imported.atelier'));
      expect(entry).toMatchObject({ id, name: 'Imported' });
      expect((await reg.add(path.join(elsewhere, 'Imported.atelier'))).id).toBe(id);
      expect(reg.list()).toHaveLength(1);
    } finally {
      removeDir(elsewhere);
    }
  });

  it('survives a corrupt registry file by setting it aside', () => {
    fs.writeFileSync(path.join(userData, 'projects.json'), '{oops');
    const r = new ProjectRegistry(userData);
    expect(r.list()).toEqual([]);
    expect(fs.readdirSync(userData).some((f) => f.startsWith('projects.json.corrupt-'))).toBe(true);
  });
});

describe('ProjectRegistry folder names for long names (a fuzz-found hang)', () => {
  /**
   * create() picks its folder in a synchronous loop, which a vitest timeout cannot interrupt: the
   * old code spun forever on a second 80+ character name. Cap the folder probes so a regression
   * fails here (with a message) instead of hanging the run.
   */
  function capFolderProbes(max = 5_000): void {
    const real = fs.existsSync;
    let calls = 0;
    vi.spyOn(fs, 'existsSync').mockImplementation((p) => {
      if (++calls > max) throw new Error(`ProjectRegistry.create probed ${calls} folder names: it is looping`);
      return real(p);
    });
  }
  afterEach(() => vi.restoreAllMocks());

  const projectsDir = () => path.join(userData, 'projects');
  const onDisk = () => fs.readdirSync(projectsDir()).sort();

  it('gives a second project with an 80+ character name its own folder and keeps both names', async () => {
    capFolderProbes();
    const name = 'Lighting study for the spring catalogue - north-facing studio - reflective floor v2';
    expect(name.length).toBeGreaterThan(80);
    const a = await reg.create(name);
    const b = await reg.create(name);
    expect(a.path).not.toBe(b.path);
    expect(path.basename(a.path)).toBe(`${name.slice(0, 80)}.atelier`);
    expect(path.basename(b.path)).toBe(`${name.slice(0, 76)} (2).atelier`);
    expect([a.name, b.name]).toEqual([name, name]);
    expect(onDisk()).toEqual([path.basename(a.path), path.basename(b.path)].sort());
    // Both really are separate, openable projects.
    expect((await reg.openProject(a.id)).info().name).toBe(name);
    expect((await reg.openProject(b.id)).info().name).toBe(name);
    expect(a.id).not.toBe(b.id);
  });

  it('numbers a dozen projects with a 200-character name, the suffix never cut off', async () => {
    capFolderProbes();
    const name = 'ab '.repeat(70).trim();
    const made = [];
    for (let i = 0; i < 12; i++) made.push(await reg.create(name));
    const folders = made.map((p) => path.basename(p.path, '.atelier'));
    expect(new Set(folders).size).toBe(12);
    folders.forEach((f, i) => {
      expect(f.length).toBeLessThanOrEqual(80);
      if (i > 0) expect(f.endsWith(` (${i + 1})`)).toBe(true);
    });
    expect(made.every((p) => p.name === name)).toBe(true);
    expect(onDisk()).toEqual(made.map((p) => path.basename(p.path)).sort());
  });

  it('cuts between whole characters (no half surrogate pair in a folder name)', async () => {
    capFolderProbes();
    // 121 UTF-16 units of letters: a cut at 80 or 76 units would split a pair.
    const name = `a${'𠀀'.repeat(60)}`;
    const a = await reg.create(name);
    const b = await reg.create(name);
    // A lone surrogate does not survive a UTF-8 round trip (the file system stores U+FFFD instead).
    for (const p of [a, b]) expect(Buffer.from(path.basename(p.path), 'utf8').toString('utf8')).toBe(path.basename(p.path));
    expect(path.basename(b.path).endsWith(' (2).atelier')).toBe(true);
    // The paths the registry remembers are the folders that exist.
    expect(onDisk()).toEqual([path.basename(a.path), path.basename(b.path)].sort());
    expect([a.name, b.name]).toEqual([name, name]);
  });

  it('numbers names that clean to nothing, and two creates started together get two folders', async () => {
    capFolderProbes();
    const a = await reg.create('...');
    const b = await reg.create('...');
    expect([path.basename(a.path), path.basename(b.path)]).toEqual(['project.atelier', 'project (2).atelier']);
    expect(b.name).toBe('...');
    const long = 'z'.repeat(100);
    const [c, d] = await Promise.all([reg.create(long), reg.create(long)]);
    expect(c.path).not.toBe(d.path);
  });

  it('still refuses an empty name', async () => {
    await expect(reg.create('   ')).rejects.toThrow(/must not be empty/);
  });
});
