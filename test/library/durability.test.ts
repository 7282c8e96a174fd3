/**
 * Durability of a save where a SIGKILL can't show it (crash.test.ts kills the process, but the page
 * cache survives that; only a power cut or kernel crash drops unsynced writes). So we watch the
 * syscalls instead: before the row that points at an image is inserted, the image file must be
 * fsync'd (its bytes), renamed to its final name, and the folder holding that name fsync'd (the
 * rename itself — POSIX makes a new directory entry durable only by fsyncing the directory; the
 * same goes for a freshly created images/<h0h1>/ in images/). Otherwise a power cut can leave a row
 * whose file is missing or empty — the one state reconcile cannot repair.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ProjectLibrary } from '../../main/library';
import { params, removeDir, tempDir, testImage } from './helpers';

type Event = { kind: 'open' | 'fsync' | 'rename' | 'row'; path: string; to?: string };

let root: string;
let lib: ProjectLibrary;
let events: Event[];

function watchSyscalls(library: ProjectLibrary): void {
  events = [];
  const fdPath = new Map<number, string>();
  const openSync = fs.openSync.bind(fs);
  vi.spyOn(fs, 'openSync').mockImplementation(((p: fs.PathLike, ...rest: unknown[]) => {
    const fd = (openSync as (...a: unknown[]) => number)(p, ...rest);
    fdPath.set(fd, path.resolve(String(p)));
    events.push({ kind: 'open', path: path.resolve(String(p)) });
    return fd;
  }) as typeof fs.openSync);
  const fsyncSync = fs.fsyncSync.bind(fs);
  vi.spyOn(fs, 'fsyncSync').mockImplementation((fd: number) => {
    events.push({ kind: 'fsync', path: fdPath.get(fd) ?? `fd ${fd}` });
    return fsyncSync(fd);
  });
  const fsync = fs.fsync.bind(fs);
  vi.spyOn(fs, 'fsync').mockImplementation(((fd: number, cb: fs.NoParamCallback) => {
    events.push({ kind: 'fsync', path: fdPath.get(fd) ?? `fd ${fd}` });
    return fsync(fd, cb);
  }) as typeof fs.fsync);
  const renameSync = fs.renameSync.bind(fs);
  vi.spyOn(fs, 'renameSync').mockImplementation((a: fs.PathLike, b: fs.PathLike) => {
    events.push({ kind: 'rename', path: path.resolve(String(a)), to: path.resolve(String(b)) });
    return renameSync(a, b);
  });
  const insertRow = library.insertRow.bind(library);
  vi.spyOn(library, 'insertRow').mockImplementation((...args: Parameters<ProjectLibrary['insertRow']>) => {
    events.push({ kind: 'row', path: args[1] });
    return insertRow(...args);
  });
}

const index = (pred: (e: Event) => boolean): number => events.findIndex(pred);

beforeEach(async () => {
  root = tempDir('atelier-durable-');
  lib = await ProjectLibrary.create(root, 'durable');
});
afterEach(() => {
  vi.restoreAllMocks();
  lib.close();
  removeDir(root);
});

describe('a save is durable before its row exists', () => {
  it('fsyncs the image file, renames it, fsyncs its folder (and a new images/<h0h1>/ in images/), then inserts the row', async () => {
    watchSyscalls(lib);
    const rec = await lib.addGeneration({ image: testImage(64, 48), params: params() });
    const dest = path.resolve(rec.imagePath);
    const shardDir = path.dirname(dest);
    const imagesDir = path.dirname(shardDir);

    const rename = index((e) => e.kind === 'rename' && e.to === dest);
    expect(rename, `no rename onto ${dest}: ${JSON.stringify(events)}`).toBeGreaterThanOrEqual(0);
    const temp = events[rename].path;
    const fileSync = index((e) => e.kind === 'fsync' && e.path === temp);
    const dirSync = events.findIndex((e, i) => i > rename && e.kind === 'fsync' && e.path === shardDir);
    const parentSync = events.findIndex((e, i) => i > rename && e.kind === 'fsync' && e.path === imagesDir);
    const row = index((e) => e.kind === 'row');

    expect(fileSync, 'the temp file is fsync\'d').toBeGreaterThanOrEqual(0);
    expect(fileSync, 'fsync of the bytes before the rename').toBeLessThan(rename);
    expect(dirSync, `fsync of ${shardDir} after the rename: ${JSON.stringify(events)}`).toBeGreaterThan(rename);
    expect(parentSync, `fsync of ${imagesDir} (the new shard folder's entry)`).toBeGreaterThan(rename);
    expect(row, 'the row comes last').toBeGreaterThan(Math.max(fileSync, dirSync, parentSync));
    expect(events[row].path).toBe(rec.imageHash);
  });

  it('a later image in an existing shard folder still fsyncs that folder before its row', async () => {
    const shards = new Set<string>();
    shards.add((await lib.addGeneration({ image: testImage(16, 16, 1), params: params({ width: 16, height: 16, seed: 1 }) })).imageHash.slice(0, 2));
    // 256 shards: within a few dozen saves one lands in a folder an earlier save created
    for (let seed = 2; seed < 200; seed++) {
      watchSyscalls(lib);
      const rec = await lib.addGeneration({ image: testImage(16, 16, seed), params: params({ width: 16, height: 16, seed }) });
      const shard = rec.imageHash.slice(0, 2);
      if (!shards.has(shard)) {
        shards.add(shard);
        vi.restoreAllMocks();
        continue;
      }
      const dest = path.resolve(rec.imagePath);
      const rename = index((e) => e.kind === 'rename' && e.to === dest);
      const dirSync = events.findIndex((e, i) => i > rename && e.kind === 'fsync' && e.path === path.dirname(dest));
      const row = index((e) => e.kind === 'row');
      expect(rename).toBeGreaterThanOrEqual(0);
      expect(dirSync, JSON.stringify(events)).toBeGreaterThan(rename);
      expect(row).toBeGreaterThan(dirSync);
      return;
    }
    expect.fail('no two of 200 images shared a shard folder');
  });

  it('durableWrites: false (benchmarks) skips every fsync', async () => {
    lib.close();
    lib = await ProjectLibrary.open(path.join(root, 'durable.atelier'), { durableWrites: false });
    watchSyscalls(lib);
    await lib.addGeneration({ image: testImage(64, 48, 3), params: params({ seed: 3 }) });
    expect(events.filter((e) => e.kind === 'fsync')).toEqual([]);
    expect(events.filter((e) => e.kind === 'row')).toHaveLength(1);
  });
});
