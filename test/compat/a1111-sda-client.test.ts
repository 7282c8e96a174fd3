/**
 * The one AUTOMATIC1111 client on npm, stable-diffusion-api 0.0.7 (jaschahuisman/sd-api; its sharp
 * ^0.32 is overridden to the project's sharp in package.json, since 0.32 downloads libvips at
 * install), against the A1111 port: txt2img, img2img with a mask (data: URLs, ControlNet always in
 * alwayson_scripts), extra-single-image, progress/waitForReady, and HTTP Basic auth.
 */
import sharp from 'sharp';
import { StableDiffusionApi } from 'stable-diffusion-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_MODEL, DEMO_PROMPT, startCompat, taggedGenerations, within, type CompatHarness } from './helpers';

describe('stable-diffusion-api 0.0.7', () => {
  let h: CompatHarness;
  let api: StableDiffusionApi;
  let firstPng: Buffer;
  beforeAll(async () => {
    h = await startCompat();
    api = new StableDiffusionApi({ baseUrl: h.base, timeout: 120_000, defaultStepCount: 4 });
  });
  afterAll(async () => {
    await h?.close();
  });

  it('reads the model, samplers and upscalers, and waits for an idle server', async () => {
    expect(await api.getCurrentModel()).toBe(DEMO_MODEL);
    expect((await api.getSdModels()).map((m) => m.title)).toEqual([DEMO_MODEL]);
    expect((await api.getSamplers()).map((s) => s.name)).toContain('Euler a');
    expect((await api.getUpscalers()).map((u) => u.name)).toContain('Lanczos');
    expect(await api.getPromptStyles()).toEqual([]);
    expect(await within(10_000, 'waitForReady', api.waitForReady(0.05))).toBe(true);
  });

  it('txt2img returns sharp images and info', async () => {
    const result = await api.txt2img({ prompt: DEMO_PROMPT, width: 64, height: 64, seed: 321, sampler_name: 'Euler a' });
    expect(result.images).toHaveLength(1);
    const meta = await result.image.metadata();
    expect([meta.width, meta.height, meta.format]).toEqual([64, 64, 'png']);
    // The PNG as sent (result.image is a sharp object; re-encoding it would drop the text chunks).
    firstPng = Buffer.from((result.response.data as { images: string[] }).images[0], 'base64');
    const info = JSON.parse(result.info as string) as { seed: number; sampler_name: string; steps: number };
    expect(info).toMatchObject({ seed: 321, sampler_name: 'Euler a', steps: 4 });
  });

  it('img2img with a mask, and extra-single-image', async () => {
    const mask = sharp({ create: { width: 64, height: 64, channels: 3, background: '#ffffff' } });
    const result = await api.img2img({ init_images: [sharp(firstPng)], mask_image: mask, prompt: DEMO_PROMPT, width: 64, height: 64, denoising_strength: 0.5, seed: 322 });
    expect(result.images).toHaveLength(1);
    const record = (await taggedGenerations(h.client, 'api:a1111')).find((g) => g.seed === 322);
    expect(record).toMatchObject({ strength: 0.5, width: 64, height: 64 });
    expect(record?.maskRef).toMatch(/^sha256:/);

    // (Its pngInfo() re-encodes the image with sharp first, dropping the text chunks, so it cannot
    // read parameters from any server; png-info is covered in a1111.test.ts.)
    const upscaled = await api.extraSingle({ image: sharp(firstPng), upscaler_1: 'Lanczos', upscaling_resize: 2 });
    const meta = await upscaled.image.metadata();
    expect([meta.width, meta.height]).toEqual([128, 128]);
  });

  it('authenticates with setAuth (HTTP Basic) when the server has a token', async () => {
    const secured = await startCompat({ token: 'sda-secret-token' });
    try {
      const client = new StableDiffusionApi({ baseUrl: secured.base, timeout: 60_000, defaultStepCount: 2 });
      await expect(client.getOptions()).rejects.toThrow(/401/);
      client.setAuth('user', 'sda-secret-token');
      expect(await client.getCurrentModel()).toBe(DEMO_MODEL);
      const result = await client.txt2img({ prompt: DEMO_PROMPT, width: 64, height: 64 });
      expect(result.images).toHaveLength(1);
    } finally {
      await secured.close();
    }
  });
});
