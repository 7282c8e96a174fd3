/**
 * End-to-end parity with a torch run of the same tiny model (models/tools/make_fixtures.py
 * `write_reference`): diffusers StableDiffusionPipeline semantics with EulerDiscreteScheduler,
 * torch.Generator('cpu').manual_seed(42), CFG 7.5. ORT and torch differ only in float rounding.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadModel } from '../../main/engine/loader';
import { txt2img, type Txt2ImgParams } from '../../main/engine/pipeline';
import { createScheduler } from '../../main/engine/schedulers';

const REF = JSON.parse(readFileSync('test/fixtures/models/_reference/sd15-optimum-old.json', 'utf8')) as {
  params: Txt2ImgParams;
  timesteps: number[];
  sigmas: number[];
  initNoiseSigma: number;
  latents: number[];
  rgb: number[];
};

describe('txt2img parity with the torch reference (sd15-optimum-old, Euler)', () => {
  it('uses the same schedule as the reference', () => {
    const model = JSON.parse(readFileSync('test/fixtures/models/sd15-optimum-old/scheduler/scheduler_config.json', 'utf8'));
    const s = createScheduler(model);
    s.setTimesteps(REF.params.steps);
    expect(s.timesteps).toEqual(REF.timesteps);
    s.sigmas!.forEach((v, i) => expect(v).toBeCloseTo(REF.sigmas[i], 5));
    expect(s.initNoiseSigma).toBeCloseTo(REF.initNoiseSigma, 5);
  });

  it('produces the reference image (±1 level per channel)', async () => {
    const model = await loadModel('test/fixtures/models/sd15-optimum-old', { provider: 'cpu', threads: 1 });
    try {
      // Capture the final latents where they enter the VAE decoder (latents / scaling_factor).
      let decoded: Float32Array | undefined;
      const original = model.session.bind(model);
      (model as { session: typeof model.session }).session = async (name) => {
        const s = await original(name);
        if (name !== 'vae_decoder') return s;
        const proxy = Object.create(s);
        proxy.run = (feeds: Parameters<typeof s.run>[0]) => {
          decoded = Float32Array.from(feeds.latent_sample.data as Float32Array, (v) => v * model.scalingFactor);
          return s.run(feeds);
        };
        return proxy;
      };
      const res = await txt2img(model, REF.params);
      expect(decoded).toHaveLength(REF.latents.length);
      let maxLatentDiff = 0;
      decoded!.forEach((v, i) => (maxLatentDiff = Math.max(maxLatentDiff, Math.abs(v - REF.latents[i]))));
      expect(maxLatentDiff).toBeLessThan(1e-3);

      const rgb = res.images[0].rgb;
      expect(rgb).toHaveLength(REF.rgb.length);
      expect(new Set(REF.rgb).size).toBeGreaterThan(50); // a non-trivial image
      let maxDiff = 0;
      for (let i = 0; i < rgb.length; i++) maxDiff = Math.max(maxDiff, Math.abs(rgb[i] - REF.rgb[i]));
      expect(maxDiff).toBeLessThanOrEqual(1);
    } finally {
      await model.release();
    }
  });
});
