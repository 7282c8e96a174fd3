/**
 * Issue 15, item 6: a failed model load must not break the working model. The engine worker used to
 * free the current model before loading the new one, while the host still reported it loaded: every
 * later job failed "No model is loaded". Now a load is a transaction — the previous model stays (or
 * is loaded again) and the host's state always matches the worker's.
 */
import { cpSync, mkdtempSync, rmSync, statSync, truncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { EngineHost } from '../../main/engine-host/engine-host';
import type { PipelineRequest } from '../../main/engine-host/protocol';
import { useInProcessApi } from '../helpers/in-process-api';

const FIX = join(process.cwd(), 'test/fixtures/models');
const tmpRoot = mkdtempSync(join(tmpdir(), 'atelier-txload-'));
afterAll(() => rmSync(tmpRoot, { recursive: true, force: true }));

let n = 0;
function copyOf(variant: string): string {
  const dir = join(tmpRoot, `${variant}-${n++}`);
  cpSync(join(FIX, variant), dir, { recursive: true });
  return dir;
}
/** Passes the file checks (inspectModel) and fails only when ONNX Runtime reads the graph. */
function truncatedUnet(): string {
  const dir = copyOf('sd15-diffusers');
  const f = join(dir, 'unet/model.onnx');
  truncateSync(f, Math.floor(statSync(f).size / 2));
  return dir;
}
/** Fails the file checks before any session is touched. */
function missingUnet(): string {
  const dir = copyOf('sd15-diffusers');
  rmSync(join(dir, 'unet'), { recursive: true });
  return dir;
}

const TINY: PipelineRequest = { mode: 'txt2img', params: { prompt: 'a red cube', negativePrompt: '', width: 64, height: 64, steps: 2, guidanceScale: 7.5, seed: 3, rng: 'cpu' } };

describe('EngineHost.load is transactional', () => {
  for (const lowMemory of [false, true]) {
    it(`keeps the working model when the next one fails to load${lowMemory ? ' (low-memory mode)' : ''}`, async () => {
      const host = new EngineHost();
      try {
        const good = copyOf('sd15-diffusers');
        const loaded = await host.load(good, 'cpu', lowMemory);
        expect(loaded.folder).toBe(good);

        for (const broken of [truncatedUnet(), missingUnet()]) {
          const err = await host.load(broken, 'cpu', lowMemory).then(() => null, (e: Error) => e);
          expect(err, 'the broken model should not load').toBeInstanceOf(Error);
          expect(err!.name).toBe('ModelLoadError');
          expect(err!.message.startsWith(join(broken, 'unet'))).toBe(true); // readable: names the file
          // Host and worker agree: the good model is still the loaded one, and it still generates.
          expect(host.loadedModel?.folder).toBe(good);
          const out = await host.generate(TINY, 0);
          expect(out.images).toHaveLength(1);
          expect(out.images[0].rgb.length).toBe(64 * 64 * 3);
        }
      } finally {
        await host.close();
      }
    });
  }

  it('reports "no model" (host and worker alike) when even the previous model cannot be loaded again', async () => {
    const host = new EngineHost();
    try {
      const doomed = copyOf('sd15-diffusers');
      await host.load(doomed, 'cpu');
      // The loaded model's files go away (a removed or moved folder); then a broken one is asked for.
      rmSync(join(doomed, 'unet'), { recursive: true });
      const broken = truncatedUnet();
      const err = await host.load(broken, 'cpu').then(() => null, (e: Error) => e);
      expect(err?.message).toMatch(/could not be loaded again either, so no model is loaded/);
      expect(host.loadedModel).toBeNull();
      await expect(host.generate(TINY, 0)).rejects.toThrow(/No model is loaded/);
      // And a good load afterwards works as usual.
      const good = copyOf('sd15-diffusers');
      await host.load(good, 'cpu');
      expect(host.loadedModel?.folder).toBe(good);
      expect((await host.generate(TINY, 0)).images).toHaveLength(1);
    } finally {
      await host.close();
    }
  });
});

describe('through the API', () => {
  const api = useInProcessApi(mkdtempSync(join(tmpdir(), 'atelier-txload-api-')));

  it('a failed loadModel leaves the previous model loaded, reported and generating', async () => {
    const { client } = api;
    const before = await client.loadModel({ modelId: 'atelier-demo', provider: 'cpu' });
    expect(before.modelId).toBe('atelier-demo');

    // Installed while healthy, then damaged on disk (an interrupted copy, a bad sync …).
    const folder = copyOf('sd15-diffusers');
    const imported = await client.importModel({ folder, id: 'damaged-later' });
    const unet = join(folder, 'unet/model.onnx');
    truncateSync(unet, Math.floor(statSync(unet).size / 2));

    await expect(client.loadModel({ modelId: imported.id, provider: 'cpu' })).rejects.toMatchObject({ code: 'model_error' });
    await expect(client.loadModel({ modelId: imported.id, provider: 'cpu' })).rejects.toThrow(/unet\/model\.onnx/);
    const info = await client.getSystemInfo();
    expect(info.loadedModel?.modelId).toBe('atelier-demo');

    // The next job runs on the demo model (already loaded: nothing to reload).
    const done = new Promise<string>((resolve, reject) => {
      const off = client.onEvent((e) => {
        if (e.type === 'job:done') {
          off();
          resolve(e.generations[0].modelId);
        } else if (e.type === 'job:failed') {
          off();
          reject(new Error(e.error.message));
        }
      });
    });
    await client.generate({ prompt: 'a small yellow circle at the top on a purple background', modelId: 'atelier-demo', steps: 3, seed: 5 });
    await expect(done).resolves.toBe('atelier-demo');
    expect((await client.getSystemInfo()).loadedModel?.modelId).toBe('atelier-demo');
  });
});
