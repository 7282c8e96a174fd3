import { analyze } from '../models/pixel-scoring';
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  blurMask,
  compositeMasked,
  cropPixels,
  fitGeometry,
  fitPixels,
  maskBoundingBox,
  maskCropRegion,
  pastePixels,
  resizeBilinear,
  resizeNearest,
} from '../../main/engine/image-ops';
import { loadModel, type LoadedModel } from '../../main/engine/loader';
import { CancelledError, img2img, PipelineInputError, txt2img, type Img2ImgParams } from '../../main/engine/pipeline';
import { encodeImage } from '../../main/engine/pipeline/vae';
import { rgbToNchw } from '../../main/engine/pipeline/tensors';
import { createGenerator } from '../../main/engine/random';
import { createScheduler } from '../../main/engine/schedulers';
import { BASE_PARAMS, SD_VARIANTS as VARIANTS, spySession as spy, useFixtureModels } from '../helpers/engine-fixtures';

/** A 100×60 test picture: gradients plus a bright square. */
function picture(w = 100, h = 60): { width: number; height: number; rgb: Uint8Array } {
  const rgb = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const i = (y * w + x) * 3;
      const sq = x > 30 && x < 60 && y > 15 && y < 45;
      rgb[i] = sq ? 250 : Math.round((x / w) * 255);
      rgb[i + 1] = sq ? 240 : Math.round((y / h) * 255);
      rgb[i + 2] = sq ? 20 : 128;
    }
  }
  return { width: w, height: h, rgb };
}

const base: Img2ImgParams = { ...BASE_PARAMS, steps: 10, initImage: picture(), strength: 0.5 };

const models = useFixtureModels(VARIANTS);

const hash = (b: Uint8Array) => Buffer.from(b).toString('base64');

describe('img2img on every fixture variant', () => {
  for (const v of VARIANTS) {
    it(`${v}: image of the requested size, reproducible, strength·steps UNet steps`, async () => {
      const model = models.get(v)!;
      const turbo = v === 'sd-turbo';
      const params: Img2ImgParams = { ...base, width: 80, height: 48, guidanceScale: turbo ? 0 : 7.5 };
      let steps = 0;
      const a = await img2img(model, params, { onStep: (p) => (steps = p.total) });
      const b = await img2img(model, params);
      expect(a.images).toHaveLength(1);
      expect([a.images[0].width, a.images[0].height]).toEqual([80, 48]);
      expect(a.images[0].rgb).toHaveLength(80 * 48 * 3);
      expect(new Set(a.images[0].rgb).size).toBeGreaterThan(4);
      expect(hash(a.images[0].rgb)).toBe(hash(b.images[0].rgb));
      expect(a.truncatedPrompt).toBe(false);
      // int(10 · 0.5) = 5 steps; PNDM (PLMS) runs one extra warm-up call
      expect(steps).toBe(model.schedulerConfig._class_name === 'PNDMScheduler' ? 6 : 5);
    });
  }
});

describe('img2img behaviour', () => {
  it('runs int(steps·strength) UNet calls starting at timesteps[t_start] (diffusers get_timesteps)', async () => {
    const model = models.get('sd15-optimum-old')!; // Euler, int64 timesteps
    const s = spy(model, 'unet');
    try {
      for (const [steps, strength, calls] of [[10, 0.5, 5], [10, 1, 10], [8, 0.25, 2], [10, 0.99, 9], [4, 0.3, 1]] as const) {
        s.feeds.length = 0;
        await img2img(model, { ...base, steps, strength });
        expect(s.feeds.length, `${steps}·${strength}`).toBe(calls);
        const sched = createScheduler(model.schedulerConfig);
        sched.setTimesteps(steps);
        const expected = sched.timesteps.slice(steps - calls).map((t) => BigInt(Math.round(t)));
        expect(s.feeds.map((f) => (f.timestep.data as BigInt64Array)[0])).toEqual(expected);
      }
    } finally {
      s.restore();
    }
  });

  it('second-order and multistep schedulers follow diffusers (Heun 2·init−1 calls, DDIM init)', async () => {
    const model = models.get('sd15-optimum-new')!;
    const s = spy(model, 'unet');
    try {
      await img2img(model, { ...base, steps: 4, strength: 0.5, scheduler: 'HeunDiscreteScheduler' });
      expect(s.feeds).toHaveLength(3);
      s.feeds.length = 0;
      await img2img(model, { ...base, steps: 6, strength: 0.5 }); // DDIMScheduler
      expect(s.feeds).toHaveLength(3);
      s.feeds.length = 0;
      await img2img(model, { ...base, steps: 6, strength: 0.5, scheduler: 'DPMSolverMultistepScheduler' });
      expect(s.feeds).toHaveLength(3);
    } finally {
      s.restore();
    }
  });

  it('Turbo: a clear error when int(steps·strength) < 1, one step otherwise', async () => {
    const model = models.get('sd-turbo')!;
    const err = await img2img(model, { ...base, guidanceScale: 0, steps: 1, strength: 0.5 }).catch((e) => e);
    expect(err).toBeInstanceOf(PipelineInputError);
    expect(err.message).toMatch(/strength 0\.5 with 1 step leaves no denoising step.*steps·strength ≥ 1/);
    let total = 0;
    const res = await img2img(model, { ...base, guidanceScale: 0, steps: 2, strength: 0.5 }, { onStep: (p) => (total = p.total) });
    expect(total).toBe(1);
    expect(res.images[0].rgb).toHaveLength(64 * 64 * 3);
  });

  it('seed and init image both matter', async () => {
    const model = models.get('sd15-optimum-new')!;
    const a = await img2img(model, base);
    const b = await img2img(model, { ...base, seed: 43 });
    const c = await img2img(model, { ...base, initImage: picture(100, 61) });
    expect(hash(a.images[0].rgb)).not.toBe(hash(b.images[0].rgb));
    expect(hash(a.images[0].rgb)).not.toBe(hash(c.images[0].rgb));
  });

  it('the init image is fitted to the target with crop / resize / pad', async () => {
    const model = models.get('sd15-optimum-old')!;
    const s = spy(model, 'vae_encoder');
    try {
      const out = new Map<string, string>();
      for (const fit of ['crop', 'resize', 'pad'] as const) {
        s.feeds.length = 0;
        const res = await img2img(model, { ...base, fit });
        expect([res.images[0].width, res.images[0].height]).toEqual([64, 64]);
        expect(s.feeds[0].sample.dims).toEqual([1, 3, 64, 64]);
        const px = fitPixels(base.initImage.rgb, 100, 60, 3, 64, 64, fit);
        expect(Array.from(s.feeds[0].sample.data as Float32Array)).toEqual(Array.from(rgbToNchw(px, 64, 64)));
        out.set(fit, hash(res.images[0].rgb));
      }
      expect(new Set(out.values()).size).toBe(3);
    } finally {
      s.restore();
    }
  });

  it('latent_parameters encoders: the posterior is sampled from our generator (mean + exp(logvar/2)·ε)', async () => {
    const model = models.get('sd15-optimum-new')!;
    expect(model.signature.vaeEncoderOutput).toBe('latent_parameters');
    const img = rgbToNchw(fitPixels(base.initImage.rgb, 100, 60, 3, 64, 64, 'crop'), 64, 64);
    const enc = await model.session('vae_encoder');
    const params = (await enc.run({ sample: { type: 'float32', data: img, dims: [1, 3, 64, 64] } })).latent_parameters.data as Float32Array;
    const eps = createGenerator(7, 'cpu').randn([1, 4, 8, 8]);
    const z = await encodeImage(model, img, 64, 64, createGenerator(7, 'cpu'));
    const mean = await encodeImage(model, img, 64, 64, null);
    const sf = model.scalingFactor;
    for (let i = 0; i < 4 * 64; i++) {
      const logvar = Math.min(20, Math.max(-30, params[4 * 64 + i]));
      expect(z[i]).toBeCloseTo((params[i] + Math.exp(0.5 * logvar) * eps[i]) * sf, 5);
      expect(mean[i]).toBeCloseTo(params[i] * sf, 6);
    }
    expect(Array.from(z)).not.toEqual(Array.from(mean));
  });

  it('latent_sample encoders: the graph output × scaling_factor', async () => {
    const model = models.get('sd15-optimum-old')!;
    expect(model.signature.vaeEncoderOutput).toBe('latent_sample');
    const img = rgbToNchw(fitPixels(base.initImage.rgb, 100, 60, 3, 64, 64, 'crop'), 64, 64);
    const enc = await model.session('vae_encoder');
    const raw = (await enc.run({ sample: { type: 'float32', data: img, dims: [1, 3, 64, 64] } })).latent_sample.data as Float32Array;
    const z = await encodeImage(model, img, 64, 64, createGenerator(7, 'cpu'));
    expect(z).toHaveLength(4 * 64);
    for (let i = 0; i < z.length; i += 7) expect(z[i]).toBeCloseTo(raw[i] * model.scalingFactor, 5);
  });

  it('9-channel UNets get mask = 1 over a neutral image, as A1111 img2img with inpainting models', async () => {
    const model = models.get('sd15-inpaint')!;
    const s = spy(model, 'unet');
    try {
      await img2img(model, { ...base, steps: 2, strength: 0.5 });
      expect(s.feeds).toHaveLength(1);
      expect(s.feeds[0].sample.dims).toEqual([2, 9, 8, 8]);
      const d = s.feeds[0].sample.data as Float32Array;
      expect(Array.from(d.subarray(4 * 64, 5 * 64)).every((x) => x === 1)).toBe(true);
    } finally {
      s.restore();
    }
  });

  it('batches give different images; fp16 graphs work; cancel is honoured', async () => {
    const res = await img2img(models.get('sd15-fp16')!, { ...base, batchSize: 2 });
    expect(res.images).toHaveLength(2);
    expect(hash(res.images[0].rgb)).not.toBe(hash(res.images[1].rgb));
    const err = await img2img(models.get('sd15-diffusers')!, base, { isCancelled: () => true }).catch((e) => e);
    expect(err).toBeInstanceOf(CancelledError);
  });

  it('rejects bad parameters with clear messages', async () => {
    const model = models.get('sd15-diffusers')!;
    const cases: Array<[Partial<Img2ImgParams> | Record<string, unknown>, RegExp]> = [
      [{ strength: 1.5 }, /strength must be a number from 0 to 1/],
      [{ strength: Number.NaN }, /strength must be a number from 0 to 1/],
      [{ strength: 0 }, /leaves no denoising step/],
      [{ fit: 'zoom' }, /fit must be "crop", "resize" or "pad"/],
      [{ initImage: undefined }, /initImage is required/],
      [{ initImage: { width: 10, height: 10, rgb: new Uint8Array(10) } }, /initImage.rgb must be a Uint8Array of width·height·3 = 300 bytes/],
      [{ initImage: { width: 0, height: 10, rgb: new Uint8Array(0) } }, /initImage must have integer width and height/],
      [{ width: 65 }, /width must be a positive multiple of 8/],
    ];
    for (const [patch, msg] of cases) {
      const err = await img2img(model, { ...base, ...patch } as Img2ImgParams).catch((e) => e);
      expect(err, String(msg)).toBeInstanceOf(PipelineInputError);
      expect(err.message).toMatch(msg);
    }
    const noEncoder: LoadedModel = Object.create(model);
    (noEncoder as { hasComponent: LoadedModel['hasComponent'] }).hasComponent = (n) => n !== 'vae_encoder' && model.hasComponent(n);
    await expect(img2img(noEncoder, base)).rejects.toThrow(/no vae_encoder/);
  });
});

const DEMO = 'models/demo';
// The demo model ships in the repository: missing, these tests fail (never skip).
describe('img2img with the demo model', () => {
  it('the demo model is present', () => {
    expect(existsSync(`${DEMO}/unet/model.onnx`), `${DEMO}/unet/model.onnx`).toBe(true);
  });

  it('low strength keeps the picture (object colour, background); strength 1 departs from it', async () => {
    const model = await loadModel(DEMO, { provider: 'cpu', threads: 1 });
    try {
      const p = { prompt: 'a large red circle in the middle on a blue background', width: 64, height: 64, steps: 20, guidanceScale: 5, seed: 3, rng: 'cpu' as const };
      const init = (await txt2img(model, p)).images[0];
      const diff = (rgb: Uint8Array) => rgb.reduce((s, v, i) => s + Math.abs(v - init.rgb[i]), 0) / rgb.length;
      const low = (await img2img(model, { ...p, prompt: `${p.prompt}, lit from the right`, seed: 9, strength: 0.3, initImage: init })).images[0];
      const full = (await img2img(model, { ...p, prompt: `${p.prompt}, lit from the right`, seed: 9, strength: 1, initImage: init })).images[0];
      expect(diff(low.rgb)).toBeLessThan(diff(full.rgb));
      expect(diff(low.rgb)).toBeLessThan(20);
      // the centre stays the dominant colour it was
      const centre = (rgb: Uint8Array) => {
        const s = [0, 0, 0];
        for (let y = 26; y < 38; y++) for (let x = 26; x < 38; x++) for (let c = 0; c < 3; c++) s[c] += rgb[(y * 64 + x) * 3 + c];
        return s.indexOf(Math.max(...s));
      };
      expect(centre(low.rgb)).toBe(centre(init.rgb));
    } finally {
      await model.release();
    }
  });
});

describe('img2img relighting with the demo model', () => {
  it('strength 0.4 keeps the object (colour, position) while "lit from the right" moves the light; the same prompt keeps it', async () => {
    const model = await loadModel(DEMO, { provider: 'cpu', threads: 1 });
    try {
      const subject = 'a large red circle in the middle on a blue background';
      for (const seed of [1, 2, 3, 4]) {
        const p = { prompt: `${subject}, lit from the left`, width: 64, height: 64, steps: 20, guidanceScale: 5, seed, rng: 'cpu' as const };
        const init = (await txt2img(model, p)).images[0];
        const before = analyze(init.rgb, 64, 64);
        expect(before).toMatchObject({ color: 'red', bg: 'blue', light: 'left' });
        const relit = (await img2img(model, { ...p, prompt: `${subject}, lit from the right`, seed: seed + 100, strength: 0.4, initImage: init })).images[0];
        const after = analyze(relit.rgb, 64, 64);
        expect(after, `seed ${seed}`).toMatchObject({ color: 'red', bg: 'blue', light: 'right' });
        expect(Math.hypot(after.cx! - before.cx!, after.cy! - before.cy!), `seed ${seed}: object moved`).toBeLessThan(3);
        // control: the unchanged prompt at the same strength keeps the light where it was
        const same = (await img2img(model, { ...p, seed: seed + 100, strength: 0.4, initImage: init })).images[0];
        expect(analyze(same.rgb, 64, 64).light, `seed ${seed}: control`).toBe('left');
      }
    } finally {
      await model.release();
    }
  });
});

describe('image-ops', () => {
  const grad = picture(20, 12).rgb;

  it('resizeBilinear: same size is a copy, constants stay constant, 2× down averages blocks', () => {
    expect(Array.from(resizeBilinear(grad, 20, 12, 3, 20, 12))).toEqual(Array.from(grad));
    const grey = new Uint8Array(7 * 5 * 3).fill(77);
    expect(resizeBilinear(grey, 7, 5, 3, 31, 2).every((v) => v === 77)).toBe(true);
    expect(resizeBilinear(grey, 7, 5, 3, 3, 9).every((v) => v === 77)).toBe(true);
    const checker = Uint8Array.from({ length: 16 }, (_, i) => ((i % 4) + Math.floor(i / 4)) % 2 ? 200 : 0);
    const down = resizeBilinear(checker, 4, 4, 1, 2, 2); // PIL's widened triangle filter: close to the block mean
    expect(down.every((v) => Math.abs(v - 100) <= 3)).toBe(true);
    expect(down.reduce((a, v) => a + v, 0)).toBe(400);
    const up = resizeBilinear(Uint8Array.from([0, 255]), 2, 1, 1, 4, 1);
    expect(Array.from(up)).toEqual([0, 64, 191, 255]);
  });

  it('resizeNearest follows torch nearest indexing', () => {
    const src = Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(Array.from(resizeNearest(src, 8, 1, 1, 3, 1))).toEqual([1, 3, 6]);
    expect(Array.from(resizeNearest(Uint8Array.from([1, 2]), 2, 1, 1, 4, 1))).toEqual([1, 1, 2, 2]);
  });

  it('fitGeometry / fitPixels: crop covers, pad letterboxes, resize stretches', () => {
    expect(fitGeometry(100, 60, 64, 64, 'crop').placed).toEqual({ x: -22, y: 0, width: 107, height: 64 });
    expect(fitGeometry(100, 60, 64, 64, 'pad').placed).toEqual({ x: 0, y: 13, width: 64, height: 38 });
    expect(fitGeometry(100, 60, 64, 64, 'resize').placed).toEqual({ x: 0, y: 0, width: 64, height: 64 });
    const mask = new Uint8Array(100 * 60);
    const padded = fitPixels(mask, 100, 60, 1, 64, 64, 'pad', 255);
    expect(padded.subarray(0, 13 * 64).every((v) => v === 255)).toBe(true);
    expect(padded.subarray(13 * 64, 51 * 64).every((v) => v === 0)).toBe(true);
    expect(padded.subarray(51 * 64).every((v) => v === 255)).toBe(true);
    // edge-repeat padding without a pad value
    const img = picture();
    const px = fitPixels(img.rgb, 100, 60, 3, 64, 64, 'pad');
    expect(Array.from(px.subarray(0, 64 * 3))).toEqual(Array.from(px.subarray(13 * 64 * 3, 14 * 64 * 3)));
    const cropped = fitPixels(img.rgb, 100, 60, 3, 50, 30, 'crop');
    expect(Array.from(cropped)).toEqual(Array.from(resizeBilinear(img.rgb, 100, 60, 3, 50, 30)));
  });

  it('crop / paste / composite', () => {
    const r = { x: 3, y: 2, width: 5, height: 4 };
    const c = cropPixels(grad, 20, 12, 3, r);
    expect(Array.from(c.subarray(0, 3))).toEqual(Array.from(grad.subarray((2 * 20 + 3) * 3, (2 * 20 + 3) * 3 + 3)));
    expect(Array.from(pastePixels(grad, 20, 12, 3, c, r))).toEqual(Array.from(grad));
    expect(() => cropPixels(grad, 20, 12, 3, { x: 18, y: 0, width: 5, height: 1 })).toThrow(RangeError);
    const white = new Uint8Array(grad.length).fill(255);
    const m = new Uint8Array(20 * 12);
    m[5] = 255;
    m[6] = 128;
    const out = compositeMasked(grad, white, m);
    for (let p = 0; p < m.length; p++) {
      for (let ch = 0; ch < 3; ch++) {
        const i = p * 3 + ch;
        if (p === 5) expect(out[i]).toBe(255);
        else if (p === 6) expect(out[i]).toBe(Math.round(grad[i] + ((255 - grad[i]) * 128) / 255));
        else expect(out[i]).toBe(grad[i]);
      }
    }
  });

  it('blurMask feathers within ⌊2.5σ+0.5⌋ px and keeps constants', () => {
    const w = 40;
    const m = new Uint8Array(w * w);
    for (let y = 10; y < 30; y++) for (let x = 10; x < 30; x++) m[y * w + x] = 255;
    const b = blurMask(m, w, w, 2);
    expect(b[20 * w + 20]).toBe(255);
    expect(b[20 * w + 10]).toBeGreaterThan(64);
    expect(b[20 * w + 10]).toBeLessThan(255);
    expect(b[20 * w + 4]).toBe(0); // 6 px outside, radius 5
    expect(b[20 * w + 9]).toBeGreaterThan(0);
    expect(blurMask(new Uint8Array(100).fill(255), 10, 10, 3).every((v) => v === 255)).toBe(true);
    expect(Array.from(blurMask(m, w, w, 0))).toEqual(Array.from(m));
  });

  it('maskBoundingBox and maskCropRegion (A1111 get_crop_region + expand_crop_region)', () => {
    const m = new Uint8Array(100 * 60);
    for (let y = 20; y < 30; y++) for (let x = 40; x < 50; x++) m[y * 100 + x] = 255;
    const box = maskBoundingBox(m, 100, 60)!;
    expect(box).toEqual({ x: 40, y: 20, width: 10, height: 10 });
    expect(maskBoundingBox(new Uint8Array(4), 2, 2)).toBeNull();
    // padding 8 → 26×26 box, square target keeps it square
    expect(maskCropRegion(box, 8, 100, 60, 64, 64)).toEqual({ x: 32, y: 12, width: 26, height: 26 });
    // a 2:1 target widens it
    expect(maskCropRegion(box, 8, 100, 60, 128, 64)).toEqual({ x: 19, y: 12, width: 52, height: 26 });
    // against the image border it shifts inward
    const edge = maskCropRegion({ x: 0, y: 0, width: 10, height: 30 }, 0, 100, 60, 64, 64);
    expect(edge).toEqual({ x: 0, y: 0, width: 30, height: 30 });
  });
});
