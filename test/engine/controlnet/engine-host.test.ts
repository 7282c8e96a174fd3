/**
 * ControlNet across the engine-host boundary: the units (control image pixels included) travel in
 * the generate message to the engine process and its worker thread, run there, and a unit that does
 * not fit comes back as a readable input error. Unloading frees the ControlNet sessions with the model.
 */
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EngineHost } from '../../../main/engine-host/engine-host';
import type { PipelineRequest } from '../../../main/engine-host/protocol';
import { cnPath, modelWithControlUnet, squareImage } from './helpers';

const fixture = modelWithControlUnet('sd15-diffusers', 'unet-additional');
const control = squareImage(64, 64);
const request = (weight: number, model = cnPath('cn-named')): PipelineRequest => ({
  mode: 'txt2img',
  params: {
    prompt: 'a photo of a cat', negativePrompt: 'blurry', width: 64, height: 64, steps: 3, guidanceScale: 7.5, seed: 5, rng: 'cpu',
    controlNets: [{ model: resolve(model), image: control, weight }],
  },
});

let host: EngineHost;
beforeAll(async () => {
  host = new EngineHost();
  await host.load(fixture.folder, 'cpu');
}, 120_000);
afterAll(async () => {
  await host?.close();
  fixture.cleanup();
});

describe('ControlNet through the engine host', () => {
  it('generates with a control image; the weight changes the picture', async () => {
    const on = await host.generate(request(1), 0);
    const off = await host.generate(request(0), 0);
    expect(on.images).toHaveLength(1);
    expect(on.images[0].rgb).toBeInstanceOf(Uint8Array);
    expect(Buffer.from(on.images[0].rgb).equals(Buffer.from(off.images[0].rgb))).toBe(false);
  }, 120_000);

  it('an SDXL ControlNet on an SD model fails as an input error naming the mismatch', async () => {
    await expect(host.generate(request(1, cnPath('cn-sdxl')), 0)).rejects.toMatchObject({ name: 'PipelineInputError', message: expect.stringMatching(/9 down-block residuals/) });
    // the engine is still usable
    expect((await host.generate(request(1), 0)).images).toHaveLength(1);
  }, 120_000);
});
