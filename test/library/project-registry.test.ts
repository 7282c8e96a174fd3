import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
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
