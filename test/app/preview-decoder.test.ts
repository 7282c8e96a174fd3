/**
 * Which preview decoder a generation gets: an installed TAESD matching the pipeline's latent space
 * (taesd for SD1/2, taesdxl for SDXL, none for the demo model's own autoencoder) unless the
 * `previewDecoder` setting says 'approx' — checked on the installed-models listing and end to end
 * through the backend's job:preview events.
 */
import { cpSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import sharp from 'sharp';
import { createBackend } from '../../main/app/create-backend';
import type { AtelierBackend } from '../../main/app/backend';
import { choosePreviewDecoder, previewDataUrl, taesdVariantFor, taesdVariantOf } from '../../main/app/preview-image';
import { SettingsStore } from '../../main/app/settings-store';
import { ModelStore } from '../../main/models/model-store';
import { GenerateRequest, UpdateSettingsRequest } from '../../common/api/schemas';
import type { AtelierEvent } from '../../common/api/contract';

const FIXTURES = join(process.cwd(), 'test', 'fixtures', 'models');
const SD15 = join(FIXTURES, 'sd15-diffusers');

/** Puts the TAESD fixture where a catalog pull installs it (folder + atelier-model.json). */
function installTaesd(modelsDir: string, id: 'taesd' | 'taesdxl'): string {
  const folder = join(modelsDir, id);
  mkdirSync(folder, { recursive: true });
  cpSync(join(FIXTURES, '_taesd', 'taesd'), folder, { recursive: true });
  const manifest = {
    formatVersion: 1,
    id,
    name: id === 'taesd' ? 'TAESD tiny VAE (SD 1.x/2.x)' : 'TAESD tiny VAE (SDXL)',
    kind: 'vae-decoder',
    source: 'download',
    catalogId: id,
    repo: id === 'taesd' ? 'deinferno/taesd-onnx' : 'julienkay/taesdxl',
    revision: 'main',
    family: 'taesd',
    installedAt: new Date().toISOString(),
  };
  writeFileSync(join(folder, 'atelier-model.json'), JSON.stringify(manifest));
  return folder;
}

describe('choosePreviewDecoder', () => {
  it('matches taesd to SD1/2 families and taesdxl to SDXL, never the demo model', () => {
    for (const f of ['sd1', 'sd2', 'sd2-v', 'sd-turbo', 'lcm']) expect(taesdVariantFor(f)).toBe('taesd');
    expect(taesdVariantFor('sdxl')).toBe('taesdxl');
    expect(taesdVariantFor('sd1', 'demo')).toBeNull();
    expect(taesdVariantOf({ id: 'x', name: 'TAESD tiny VAE (SD 1.x/2.x)', catalogId: 'taesd', repo: 'deinferno/taesd-onnx' })).toBe('taesd');
    expect(taesdVariantOf({ id: 'julienkay-taesdxl', name: 'julienkay/taesdxl', repo: 'julienkay/taesdxl' })).toBe('taesdxl');
    expect(taesdVariantOf({ id: 'taesd3', name: 'taesd3' })).toBeNull();
  });

  it('picks the installed TAESD for the family, the approximation otherwise', async () => {
    const modelsDir = mkdtempSync(join(tmpdir(), 'atelier-taesd-models-'));
    const store = new ModelStore({ modelsDir });
    expect(choosePreviewDecoder('auto', { family: 'sd1' }, await store.list(), 'cpu')).toEqual({ kind: 'approx' });

    const sd = installTaesd(modelsDir, 'taesd');
    let installed = await store.list();
    expect(installed.find((m) => m.id === 'taesd')).toMatchObject({ kind: 'vae-decoder', family: 'taesd', status: 'ok' });
    expect(choosePreviewDecoder('auto', { family: 'sd1', registryFamily: 'sd1' }, installed, 'cpu')).toEqual({ kind: 'taesd', path: sd, provider: 'cpu', budget: 'auto' });
    expect(choosePreviewDecoder('taesd', { family: 'sd-turbo' }, installed, 'cuda')).toEqual({ kind: 'taesd', path: sd, provider: 'cuda', budget: 'always' });
    expect(choosePreviewDecoder('approx', { family: 'sd1' }, installed, 'cpu')).toEqual({ kind: 'approx' });
    // Low-memory mode: 'auto' does not add a TAESD session's working memory; an explicit 'taesd' still does.
    expect(choosePreviewDecoder('auto', { family: 'sd1' }, installed, 'cpu', { lowMemory: true })).toEqual({ kind: 'approx' });
    expect(choosePreviewDecoder('taesd', { family: 'sd1' }, installed, 'cpu', { lowMemory: true })).toMatchObject({ kind: 'taesd', path: sd });
    // SDXL latents need taesdxl, which is not installed yet; the demo model has its own latent space.
    expect(choosePreviewDecoder('auto', { family: 'sdxl' }, installed, 'cpu')).toEqual({ kind: 'approx' });
    expect(choosePreviewDecoder('taesd', { family: 'sd1', registryFamily: 'demo' }, installed, 'cpu')).toEqual({ kind: 'approx' });

    const xl = installTaesd(modelsDir, 'taesdxl');
    installed = await store.list();
    expect(choosePreviewDecoder('auto', { family: 'sdxl' }, installed, 'cpu')).toMatchObject({ kind: 'taesd', path: xl });
    expect(choosePreviewDecoder('auto', { family: 'sd2' }, installed, 'cpu')).toMatchObject({ kind: 'taesd', path: sd });
  });
});

describe('previewDecoder setting', () => {
  it("is validated ('auto' | 'taesd' | 'approx'), defaults to 'auto', and a bad stored value falls back", () => {
    expect(UpdateSettingsRequest.safeParse({ previewDecoder: 'taesd' }).success).toBe(true);
    expect(UpdateSettingsRequest.safeParse({ previewDecoder: 'vae' }).success).toBe(false);
    const dir = mkdtempSync(join(tmpdir(), 'atelier-settings-'));
    writeFileSync(join(dir, 'settings.json'), JSON.stringify({ previewDecoder: 'fancy', lowMemory: true }));
    const store = new SettingsStore(join(dir, 'settings.json'), dir);
    expect(store.get()).toMatchObject({ previewDecoder: 'auto', lowMemory: true });
    expect(store.update({ previewDecoder: 'approx' }).previewDecoder).toBe('approx');
    expect(new SettingsStore(join(dir, 'settings.json'), dir).get().previewDecoder).toBe('approx');
  });
});

describe('previewDataUrl', () => {
  it('upscales latent-size previews crisply and scales full-size TAESD previews down to 512 px', async () => {
    const size = async (w: number, h: number) => {
      const url = await previewDataUrl(new Uint8Array(w * h * 3).fill(90), w, h);
      expect(url.startsWith('data:image/png;base64,')).toBe(true);
      const meta = await sharp(Buffer.from(url.split(',')[1], 'base64')).metadata();
      return [meta.width, meta.height];
    };
    expect(await size(8, 8)).toEqual([256, 256]);
    expect(await size(64, 64)).toEqual([256, 256]);
    expect(await size(512, 512)).toEqual([512, 512]);
    expect(await size(1024, 768)).toEqual([512, 384]);
  });
});

describe('backend previews', () => {
  let backend: AtelierBackend;
  let userDataDir: string;
  beforeAll(async () => {
    userDataDir = mkdtempSync(join(tmpdir(), 'atelier-taesd-backend-'));
    installTaesd(join(userDataDir, 'models'), 'taesd');
    backend = await createBackend({ userDataDir, imageUrlBase: '/' });
    await backend.api.importModel({ folder: SD15, mode: 'reference', id: 'sd15-tiny' });
  });
  afterAll(async () => {
    await backend?.close();
  });

  async function previewsOf(modelId: string): Promise<Array<{ width: number; height: number }>> {
    const previews: Array<{ width: number; height: number }> = [];
    const { jobId } = await backend.api.generate(GenerateRequest.parse({ modelId, prompt: 'a photo of a cat', steps: 3, width: 64, height: 64, seed: 2 }));
    await new Promise<void>((resolve, reject) => {
      const off = backend.onEvent((e: AtelierEvent) => {
        if (e.type === 'job:preview' && e.jobId === jobId) previews.push({ width: e.width, height: e.height });
        if (e.type === 'job:done' && e.jobId === jobId) {
          off();
          resolve();
        }
        if (e.type === 'job:failed' && e.jobId === jobId) {
          off();
          reject(new Error(e.error.message));
        }
      });
    });
    // The data URL is encoded asynchronously after the worker's message: let it land.
    await new Promise((r) => setTimeout(r, 50));
    return previews;
  }

  it('decodes an SD1 model’s previews with the installed TAESD (image size), the demo model’s with the approximation', async () => {
    const taesd = await previewsOf('sd15-tiny');
    expect(taesd.length).toBeGreaterThan(0);
    expect(taesd.every((p) => p.width === 64 && p.height === 64)).toBe(true);
    const demo = await previewsOf('atelier-demo');
    expect(demo.length).toBeGreaterThan(0);
    expect(demo.every((p) => p.width === 8 && p.height === 8)).toBe(true);
  });

  it("falls back to latent-size approximations when the setting is 'approx'", async () => {
    await backend.api.updateSettings({ previewDecoder: 'approx' });
    const approx = await previewsOf('sd15-tiny');
    expect(approx.length).toBeGreaterThan(0);
    expect(approx.every((p) => p.width === 8 && p.height === 8)).toBe(true);
    await backend.api.updateSettings({ previewDecoder: 'auto' });
  });
});
