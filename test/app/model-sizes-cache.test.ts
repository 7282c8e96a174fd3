/**
 * Issue 15 soak: listModels walked every model folder for its size on each call, and twenty clients
 * doing that set the API's p95. Sizes are now kept (main/models/size-cache.ts) and cleared when
 * models change through the manager. These tests prove the second list does not walk again (a
 * counting walker, and a file added behind the manager's back that stays unseen) and that import,
 * removal and a finished download make the next list measure afresh. Concurrent listings are shared
 * (one read of the folders for twenty callers), never across a change made through the manager.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ModelRegistry } from '../../main/app/model-registry';
import { ModelManager } from '../../main/models/manager';
import { ModelStore } from '../../main/models/model-store';
import { FolderSizeCache, folderSize } from '../../main/models/size-cache';
import { startHubServer, type HubServer } from '../models/helpers/hub-server';
import { REPO, makeTinyPipeline, removeDir, tempDir, tinyCatalogEntry } from '../models/helpers/fixtures';

let root: string;
let modelsDir: string;
let demoDir: string;
let manualDir: string;
let walks: string[];
let manager: ModelManager;
let registry: ModelRegistry;

async function writeTree(dir: string, files: Record<string, Buffer>): Promise<void> {
  for (const [p, data] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(dir, p)), { recursive: true });
    await writeFile(path.join(dir, p), data);
  }
}

const treeBytes = (files: Record<string, Buffer>) => Object.values(files).reduce((n, b) => n + b.length, 0);

async function sizes(): Promise<Record<string, number>> {
  return Object.fromEntries((await registry.list()).map((m) => [m.id, m.sizeBytes]));
}

function makeManager(extra: Partial<ConstructorParameters<typeof ModelManager>[0]> = {}): void {
  walks = [];
  const counted = new FolderSizeCache(async (dir) => {
    walks.push(path.basename(dir));
    return folderSize(dir);
  });
  manager = new ModelManager({ modelsDir, demoModelDir: demoDir, folderSizes: counted, ...extra });
  registry = new ModelRegistry(manager);
}

beforeEach(async () => {
  root = await tempDir('atelier-sizes-');
  modelsDir = path.join(root, 'models');
  demoDir = path.join(root, 'demo');
  manualDir = path.join(modelsDir, 'hand-dropped');
  await writeTree(demoDir, makeTinyPipeline());
  // A folder dropped in by hand (no manifest): its size is only known by walking it.
  await writeTree(manualDir, makeTinyPipeline({ 'unet/model.onnx': 50_000 }));
  makeManager();
});

afterEach(async () => {
  vi.restoreAllMocks();
  await removeDir(root);
});

describe('listModels folder sizes are kept, not re-walked', () => {
  it('walks each folder once; the second list walks none', async () => {
    const first = await sizes();
    expect(first).toEqual({ 'atelier-demo': treeBytes(makeTinyPipeline()), 'hand-dropped': treeBytes(makeTinyPipeline({ 'unet/model.onnx': 50_000 })) });
    expect(walks.sort()).toEqual(['demo', 'hand-dropped']);
    walks.length = 0;
    expect(await sizes()).toEqual(first);
    expect(await Promise.all([sizes(), sizes(), sizes()])).toEqual([first, first, first]);
    expect(walks).toEqual([]);
  });

  it('the default cache (no walker injected) does not see a file added deep inside behind its back', async () => {
    manager = new ModelManager({ modelsDir, demoModelDir: demoDir });
    registry = new ModelRegistry(manager);
    const before = await sizes();
    await writeFile(path.join(manualDir, 'unet', 'extra.bin'), Buffer.alloc(4096));
    // Not walked again: the added 4 KiB is not seen (a walking listModels would report it).
    expect(await sizes()).toEqual(before);
  });

  it('import and removal through the manager clear the kept sizes', async () => {
    const before = await sizes();
    await writeFile(path.join(manualDir, 'unet', 'extra.bin'), Buffer.alloc(4096));
    expect((await sizes())['hand-dropped']).toBe(before['hand-dropped']);

    const src = path.join(root, 'to-import');
    await writeTree(src, makeTinyPipeline());
    await manager.importFolder(src, { id: 'imported' });
    walks.length = 0;
    const afterImport = await sizes();
    expect(afterImport['hand-dropped']).toBe(before['hand-dropped'] + 4096);
    expect(walks).toContain('hand-dropped');

    await writeFile(path.join(manualDir, 'unet', 'extra2.bin'), Buffer.alloc(1000));
    expect((await sizes())['hand-dropped']).toBe(afterImport['hand-dropped']);
    await manager.remove('imported');
    const afterRemove = await sizes();
    expect(afterRemove['hand-dropped']).toBe(before['hand-dropped'] + 5096);
    expect(afterRemove.imported).toBeUndefined();
  });

  it('a folder replaced or changed at its top level is measured again without any invalidation', async () => {
    const before = await sizes();
    walks.length = 0;
    await writeFile(path.join(manualDir, 'notes.txt'), Buffer.alloc(300));
    expect((await sizes())['hand-dropped']).toBe(before['hand-dropped'] + 300);
    expect(walks).toEqual(['hand-dropped']);
  });
});

describe('concurrent listings are shared', () => {
  it('twenty concurrent listModels read the folders once', async () => {
    const lists = vi.spyOn(ModelStore.prototype, 'list');
    const results = await Promise.all(Array.from({ length: 20 }, () => registry.list()));
    expect(lists).toHaveBeenCalledTimes(1);
    expect(new Set(results.map((r) => JSON.stringify(r))).size).toBe(1);
    // Each caller gets its own array.
    expect(results[0]).not.toBe(results[1]);
  });

  it('a list asked for after an import returned includes the import, even while an older listing is still running', async () => {
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    manager = new ModelManager({ modelsDir, demoModelDir: demoDir, folderSizes: new FolderSizeCache(async (dir) => (await gate, folderSize(dir))) });
    const lists = vi.spyOn(ModelStore.prototype, 'list');
    const older = manager.listInstalled(); // held at the size walk until the gate opens
    const src = path.join(root, 'to-import');
    await writeTree(src, makeTinyPipeline());
    await manager.importFolder(src, { id: 'imported' });
    const newer = manager.listInstalled();
    open();
    expect((await newer).map((m) => m.id)).toContain('imported');
    await older;
    expect(lists).toHaveBeenCalledTimes(2);
  });
});

describe('a finished download clears the kept sizes', () => {
  let server: HubServer;
  afterEach(async () => {
    await server?.close();
  });

  it('sizes listed after download-finished are measured afresh', async () => {
    const files = makeTinyPipeline();
    server = await startHubServer({ [REPO]: files });
    const catalogPath = path.join(root, 'catalog.json');
    await writeFile(
      catalogPath,
      JSON.stringify({
        version: 1,
        models: [
          tinyCatalogEntry(files),
        ],
      }),
    );
    makeManager({ catalogPath, endpoint: server.endpoint, retryBaseMs: 5 });
    const before = await sizes();
    await writeFile(path.join(manualDir, 'unet', 'extra.bin'), Buffer.alloc(2048));
    expect((await sizes())['hand-dropped']).toBe(before['hand-dropped']);

    const finished = new Promise<void>((resolve) => manager.once('download-finished', () => resolve()));
    await manager.pull('tiny');
    await finished;
    const after = await sizes();
    expect(after['hand-dropped']).toBe(before['hand-dropped'] + 2048);
    expect(after.tiny).toBe(treeBytes(files));
  });
});
