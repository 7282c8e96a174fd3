/**
 * Issue 19: the studio's pull path (pullModel → model manager) takes the catalog build for the
 * provider the app runs on (settings.provider; 'auto' = what this runtime has), lets the user
 * choose one, and says which — in the result, the progress events and the download list. The
 * shipped catalog's LCM Dreamshaper (generic fp32 + a webgpu/cuda/dml fp16 build) is served by
 * the loopback hub with small stand-in files; each pull is cancelled once it runs.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createApiClient } from '../../common/api/client';
import type { AtelierClient, AtelierEvent } from '../../common/api/contract';
import { createDispatcher } from '../../main/api/dispatch';
import type { AtelierBackend } from '../../main/app/backend';
import { createBackend } from '../../main/app/create-backend';
import { runProvider } from '../../main/app/models-api';
import { findCatalogEntry, loadCatalog } from '../../main/models/catalog';
import { startHubServer, type HubServer } from '../models/helpers/hub-server';

let hub: HubServer;
let backend: AtelierBackend;
let client: AtelierClient;
const events: AtelierEvent[] = [];

beforeAll(async () => {
  const entry = findCatalogEntry(await loadCatalog(), 'lcm-dreamshaper-v7')!;
  const variant = entry.variants![0];
  // Stand-ins of the listed paths (the pull is cancelled long before the engine would load them); throttled so it stays running.
  const serve = (list: { path: string }[]) => Object.fromEntries(list.map((f) => [f.path, Buffer.alloc(64 * 1024, 1)]));
  hub = await startHubServer({ [entry.repo!]: serve(entry.files), [variant.repo]: serve(variant.files) }, { throttle: { chunkBytes: 4 * 1024, delayMs: 50 } });
  backend = await createBackend({ userDataDir: mkdtempSync(join(tmpdir(), 'atelier-pull-variant-')), imageUrlBase: '/', hubEndpoint: hub.endpoint });
  const dispatch = createDispatcher(backend.api);
  client = createApiClient({ call: (m, p) => dispatch(m, p), onEvent: (l) => backend.onEvent(l) });
  client.onEvent((e) => events.push(e));
});
afterAll(async () => {
  await backend?.close();
  await hub?.close();
});

/** Resolves with the first progress event of `modelId` (bounded: rejects after 10 s). */
function firstProgress(modelId: string): Promise<Extract<AtelierEvent, { type: 'model:download-progress' }>> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => (off(), reject(new Error(`no progress event for ${modelId} within 10 s`))), 10_000);
    const off = client.onEvent((e) => {
      if (e.type === 'model:download-progress' && e.modelId === modelId) {
        clearTimeout(timer);
        off();
        resolve(e);
      }
    });
  });
}

async function pullThenCancel(req: Parameters<AtelierClient['pullModel']>[0], waitForProgress = false) {
  const progress = waitForProgress ? firstProgress(req.source) : null;
  const result = await client.pullModel(req);
  await progress;
  const listed = (await client.listDownloads()).find((d) => d.modelId === result.modelId);
  await client.cancelDownload({ modelId: result.modelId });
  return { result, listed };
}

describe('pullModel picks the catalog build', () => {
  it('for the provider in settings, and says which and why (result, progress, download list)', async () => {
    await client.updateSettings({ provider: 'webgpu' });
    const { result, listed } = await pullThenCancel({ source: 'lcm-dreamshaper-v7' }, true);
    expect(result).toMatchObject({ modelId: 'lcm-dreamshaper-v7', variant: 'webgpu-fp16', variantReason: 'webgpu-fp16 (fp16, aislamov/lcm-dreamshaper-v7-onnx): built for webgpu' });
    expect(listed).toMatchObject({ variant: 'webgpu-fp16', variantReason: expect.stringMatching(/built for webgpu/) });
    expect(events.some((e) => e.type === 'model:download-progress' && e.modelId === 'lcm-dreamshaper-v7' && e.variant === 'webgpu-fp16')).toBe(true);
    expect(hub.requests.every((r) => r.repo === 'aislamov/lcm-dreamshaper-v7-onnx')).toBe(true);
  });

  it('as chosen in the Models view: generic, or a named build', async () => {
    const generic = await pullThenCancel({ source: 'lcm-dreamshaper-v7', variant: 'generic' });
    expect(generic.result).toMatchObject({ variant: 'generic', variantReason: expect.stringMatching(/^generic \(fp32, for cpu, cuda, dml\): asked for/) });
    await client.updateSettings({ provider: 'cpu' });
    const named = await pullThenCancel({ source: 'lcm-dreamshaper-v7', variant: 'webgpu-fp16' });
    expect(named.result).toMatchObject({ variant: 'webgpu-fp16', variantReason: expect.stringMatching(/asked for$/) });
    await expect(client.pullModel({ source: 'lcm-dreamshaper-v7', variant: 'nope' })).rejects.toMatchObject({ message: expect.stringMatching(/has no variant "nope"/) });
  });

  it("'auto' resolves to what this runtime has (the CPU here): the generic build", async () => {
    await client.updateSettings({ provider: 'auto' });
    const expected = runProvider('auto');
    const { result } = await pullThenCancel({ source: 'lcm-dreamshaper-v7' });
    if (expected === 'cpu') expect(result).toMatchObject({ variant: 'generic', variantReason: 'generic (fp32): no build made for cpu; the generic files run on it' });
    expect(runProvider('dml', 'cpu')).toBe('dml');
    expect(runProvider('auto', 'cuda')).toBe('cuda');
  });

  it('the catalog lists the builds to choose from, and hub-tree entries as such', async () => {
    const catalog = await client.listCatalog();
    expect(catalog.find((m) => m.id === 'lcm-dreamshaper-v7')?.variants?.map((v) => v.id)).toEqual(['generic', 'webgpu-fp16']);
    for (const id of ['epicrealism', 'juggernaut-xl-lightning']) expect(catalog.find((m) => m.id === id), id).toMatchObject({ filesFrom: 'hub-tree', sizeApprox: true });
  });
});
