/**
 * Model management through the API, end to end: a real loopback server in Hugging Face's URL
 * layout serves a real (tiny) diffusers-ONNX model; the backend plans, downloads with progress,
 * validates with the engine's loader, installs, lists, generates with it and removes it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { createApiClient } from '../../common/api/client';
import type { AtelierClient, AtelierEvent } from '../../common/api/contract';
import { createDispatcher } from '../../main/api/dispatch';
import type { AtelierBackend } from '../../main/app/backend';
import { createBackend } from '../../main/app/create-backend';
import { startHubServer, type HubServer } from '../models/helpers/hub-server';

const FIXTURE = join(process.cwd(), 'test', 'fixtures', 'models', 'sd15-diffusers');
const REPO = 'atelier-test/sd15-tiny';

function readTree(dir: string): Record<string, Buffer> {
  const out: Record<string, Buffer> = {};
  const walk = (d: string) => {
    for (const n of readdirSync(d)) {
      const p = join(d, n);
      if (statSync(p).isDirectory()) walk(p);
      else out[relative(dir, p)] = readFileSync(p);
    }
  };
  walk(dir);
  return out;
}

let hub: HubServer;
let backend: AtelierBackend;
let client: AtelierClient;
const events: AtelierEvent[] = [];

beforeAll(async () => {
  hub = await startHubServer(
    {
      [REPO]: readTree(FIXTURE),
      'atelier-test/not-a-model': { 'README.md': Buffer.from('hi') },
      // The shipped controlnet-canny-sd15 entry's repo, serving a fixture ControlNet graph.
      'TensorStack/ControlNet-amuse': { 'StableDiffusion/Canny/model.onnx': readFileSync(join(process.cwd(), 'test', 'fixtures', 'controlnet', 'cn-named', 'model.onnx')) },
    },
    { throttle: { chunkBytes: 32 * 1024, delayMs: 1 } },
  );
  backend = await createBackend({ userDataDir: mkdtempSync(join(tmpdir(), 'atelier-models-api-')), imageUrlBase: '/', hubEndpoint: hub.endpoint });
  const dispatch = createDispatcher(backend.api);
  client = createApiClient({ call: (m, p) => dispatch(m, p), onEvent: (l) => backend.onEvent(l) });
  client.onEvent((e) => events.push(e));
});
afterAll(async () => {
  await backend?.close();
  await hub?.close();
});

function once<T extends AtelierEvent['type']>(type: T, modelId: string): Promise<Extract<AtelierEvent, { type: T }>> {
  return new Promise((resolve, reject) => {
    const off = client.onEvent((e) => {
      if (e.type === 'model:download-failed' && e.modelId === modelId && type !== 'model:download-failed') {
        off();
        reject(new Error(e.error.message));
      } else if (e.type === type && 'modelId' in e && e.modelId === modelId) {
        off();
        resolve(e as Extract<AtelierEvent, { type: T }>);
      }
    });
  });
}

describe('model management API', () => {
  it('lists the curated catalog with sizes and provider notes', async () => {
    const catalog = await client.listCatalog();
    expect(catalog.length).toBeGreaterThanOrEqual(7);
    expect(catalog.find((m) => m.id === 'atelier-demo')).toMatchObject({ bundled: true });
    for (const m of catalog.filter((x) => !x.bundled)) expect(m.downloadBytes).toBeGreaterThan(0);
  });

  it('pulls a hub repo with progress, installs it only after the engine validates it, and generates with it', async () => {
    const { modelId, bytesTotal } = await client.pullModel({ source: REPO, id: 'sd15-tiny' });
    expect(modelId).toBe('sd15-tiny');
    expect(bytesTotal).toBeGreaterThan(0);
    await once('model:download-finished', modelId);
    const progress = events.filter((e) => e.type === 'model:download-progress' && e.modelId === modelId);
    expect(progress.length).toBeGreaterThan(0);
    const models = await client.listModels();
    expect(models.find((m) => m.id === 'sd15-tiny')).toMatchObject({ source: 'installed' });

    const { jobId } = await client.generate({ modelId: 'sd15-tiny', prompt: 'a photo', steps: 3, width: 64, height: 64, seed: 1 });
    await new Promise<void>((resolve, reject) => {
      const off = client.onEvent((e) => {
        if (e.type === 'job:done' && e.jobId === jobId) {
          off();
          expect(e.generations[0].modelId).toBe('sd15-tiny');
          resolve();
        } else if (e.type === 'job:failed' && e.jobId === jobId) {
          off();
          reject(new Error(e.error.message));
        }
      });
    });

    expect(await client.removeModel({ modelId: 'sd15-tiny' })).toEqual({ removed: true });
    expect((await client.listModels()).map((m) => m.id)).not.toContain('sd15-tiny');
  });

  it('refuses a repo that is not a loadable model before downloading anything big', async () => {
    const before = hub.requests.filter((r) => r.path !== '' && !r.path.startsWith('api/')).length;
    await expect(client.pullModel({ source: 'atelier-test/not-a-model' })).rejects.toMatchObject({ code: 'model_error' });
    expect((await client.listModels()).map((m) => m.id)).toEqual(['atelier-demo']);
    expect(hub.requests.filter((r) => r.path !== '' && !r.path.startsWith('api/')).length).toBe(before);
  });

  it('a model id that cannot be a folder name is the caller\'s mistake (invalid_request), not an internal error', async () => {
    // Found by the API fuzzer (seed 2, scale 3): this id used to surface as `internal`.
    await expect(client.pullModel({ source: 'sd15', id: 'é- _.._/:aéa_' })).rejects.toMatchObject({ code: 'invalid_request', message: expect.stringMatching(/invalid model id/) });
    await expect(client.pullModel({ source: REPO, id: '../escape' })).rejects.toMatchObject({ code: 'invalid_request' });
    expect((await client.listModels()).map((m) => m.id)).toEqual(['atelier-demo']);
  });

  it('a catalog ControlNet is pulled and removed by its catalog id like a model (its shared folder goes)', async () => {
    await client.pullModel({ source: 'controlnet-canny-sd15' });
    await once('model:download-finished', 'controlnet-canny-sd15');
    expect((await client.listControlNets()).map((c) => c.name)).toContain('canny-sd15');
    expect((await client.listCatalog()).find((m) => m.id === 'controlnet-canny-sd15')?.installed).toBe(true);
    // The studio's lists refresh on models:changed, as for any removed model.
    const changed = new Promise<void>((resolve) => {
      const off = client.onEvent((e) => e.type === 'models:changed' && (off(), resolve()));
    });
    expect(await client.removeModel({ modelId: 'controlnet-canny-sd15' })).toEqual({ removed: true });
    await changed;
    expect((await client.listControlNets()).map((c) => c.name)).not.toContain('canny-sd15');
    expect((await client.listCatalog()).find((m) => m.id === 'controlnet-canny-sd15')?.installed).toBe(false);
    await expect(client.removeModel({ modelId: 'controlnet-canny-sd15' })).rejects.toMatchObject({ code: 'not_found' });
  });

  it('refuses to remove the bundled demo model and names unknown downloads', async () => {
    await expect(client.removeModel({ modelId: 'atelier-demo' })).rejects.toMatchObject({ code: 'model_error' });
    await expect(client.cancelDownload({ modelId: 'nothing-running' })).rejects.toMatchObject({ code: 'not_found' });
  });
});
