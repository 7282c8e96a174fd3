import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ModelManager, type DownloadProgressEvent } from '../../main/models/manager';
import { startHubServer, type HubServer } from './helpers/hub-server';
import { REPO, exists, installedFolders, makeTinyPipeline, removeDir, tempDir, tinyCatalogEntry, waitForBytesOnDisk } from './helpers/fixtures';

let files: Record<string, Buffer>;
let server: HubServer;
let root: string;
let catalogPath: string;

function manager(extra: Partial<ConstructorParameters<typeof ModelManager>[0]> = {}): ModelManager {
  return new ModelManager({ modelsDir: path.join(root, 'models'), catalogPath, endpoint: server.endpoint, retryBaseMs: 5, ...extra });
}

beforeEach(async () => {
  files = makeTinyPipeline();
  server = await startHubServer({ [REPO]: files }, { throttle: { chunkBytes: 16 * 1024, delayMs: 2 } });
  root = await tempDir('atelier-manager-');
  catalogPath = path.join(root, 'catalog.json');
  await writeFile(
    catalogPath,
    JSON.stringify({
      version: 1,
      models: [
        tinyCatalogEntry(files),
      ],
    }),
  );
});

afterEach(async () => {
  await server.close();
  await removeDir(root);
});

describe('ModelManager', () => {
  it('pulls with API-shaped progress events and lists the result', async () => {
    const m = manager();
    const progress: DownloadProgressEvent[] = [];
    m.on('download-progress', (p) => progress.push(p));
    const finished = new Promise<string>((resolve) => m.on('download-finished', (e) => resolve(e.model.id)));
    const { modelId, plan } = await m.pull('tiny');
    expect(modelId).toBe('tiny');
    expect(plan.request.files).toHaveLength(7);
    expect(await finished).toBe('tiny');
    expect(progress.some((p) => p.state === 'downloading' && p.bytesTotal > 0 && p.bytesDone > 0)).toBe(true);
    expect(progress.every((p) => typeof p.rateBps === 'number' && typeof p.etaMs === 'number')).toBe(true);
    expect((await m.listInstalled()).map((x) => x.id)).toEqual(['tiny']);
    expect(await m.listCatalog()).toMatchObject([{ id: 'tiny', installed: true, resumable: false }]);
  });

  it('close() keeps partial files; a new manager resumes them', async () => {
    server.hooks.stallAfter.set('unet/model.onnx', 100_000);
    const m1 = manager({ concurrency: 1 });
    const failed = new Promise<{ code: string; resumable: boolean }>((resolve) => m1.on('download-failed', resolve));
    await m1.pull('tiny');
    await server.waitForStall('unet/model.onnx');
    await waitForBytesOnDisk(path.join(root, 'models/.staging/tiny/unet/model.onnx.part'), 100_000);
    await m1.close();
    expect(await failed).toMatchObject({ code: 'aborted', resumable: true });
    expect(await installedFolders(path.join(root, 'models'))).toEqual([]);

    const m2 = manager();
    expect(await m2.listCatalog()).toMatchObject([{ id: 'tiny', installed: false, resumable: true }]);
    const done = new Promise((resolve) => m2.on('download-finished', resolve));
    await m2.pull('tiny');
    await done;
    expect(server.bytesServed('unet/model.onnx')).toBe(files['unet/model.onnx'].length);
  });

  it('pauses, resumes and cancels by model id', async () => {
    server.hooks.stallAfter.set('unet/model.onnx', 60_000);
    const m = manager();
    const { job } = await m.pull('tiny');
    await server.waitForStall('unet/model.onnx');
    m.pause('tiny');
    await new Promise<void>((r) => job.on('state', (s) => s === 'paused' && r()));
    expect(m.downloads()).toMatchObject([{ id: 'tiny', state: 'paused' }]);
    await expect(m.remove('tiny')).rejects.toThrow(/cancel the download instead/);
    m.cancel('tiny');
    await job.done.catch(() => {});
    expect(m.downloads()).toEqual([]);
    expect(await exists(path.join(root, 'models/.staging/tiny'))).toBe(false);
    expect(() => m.pause('tiny')).toThrow(/no download of "tiny" is running/);
  });

  it('plans a hub repo before downloading, and imports folders', async () => {
    const m = manager();
    const plan = await m.plan(`${server.endpoint}/${REPO}`, { id: 'from-hub' });
    expect(plan.request.id).toBe('from-hub');
    expect(plan.request.files.every((f) => f.size !== undefined)).toBe(true);
    expect(server.requests.filter((r) => r.path !== 'model_index.json')).toHaveLength(0);
    await expect(m.plan('what even')).rejects.toThrow(/neither a catalog id nor a hub repo/);

    const src = path.join(root, 'mine');
    for (const [p, d] of Object.entries(files)) {
      await mkdir(path.dirname(path.join(src, p)), { recursive: true });
      await writeFile(path.join(src, p), d);
    }
    let changed = 0;
    m.on('changed', () => changed++);
    await m.importFolder(src);
    await m.remove('mine');
    expect(changed).toBe(2);
  });
});
