/**
 * Guidance-distilled models on the fixture exports:
 *  - LCM: no CFG batch, the guidance scale enters as `timestep_cond` (w-embedding), LCMScheduler
 *    timesteps, `denoised` decoded; img2img draws its steps from the strength-limited schedule;
 *  - SD-Turbo / SDXL-Turbo: guidance 0 runs one UNet pass per step, trailing spacing, 1–4 steps.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModel, type LoadedModel } from '../../main/engine/loader';
import { inspectModel } from '../../main/engine/model-info';
import { img2img, inpaint, PipelineInputError, txt2img, type Txt2ImgParams } from '../../main/engine/pipeline';
import { guidanceScaleEmbedding } from '../../main/engine/pipeline/conditioning';
import { FIX, spySession } from '../helpers/engine-fixtures';
import { assembleModel, f32, maxAbsDiff, removeAssembled, testImage } from './engine-breadth-helpers';

const base: Txt2ImgParams = { prompt: 'a blue sphere', negativePrompt: 'blurry', width: 64, height: 48, steps: 4, guidanceScale: 8.5, seed: 11, rng: 'cpu' };

let lcm: LoadedModel;
let lcmWithEncoder: LoadedModel;
let turbo: LoadedModel;
let xlTurbo: LoadedModel;
beforeAll(async () => {
  const opts = { provider: 'cpu' as const, threads: 1 };
  lcm = await loadModel(`${FIX}/lcm`, opts);
  // The LCM fixture has no vae_encoder; this copy borrows the sd-turbo fixture's for img2img/inpaint.
  lcmWithEncoder = await loadModel(assembleModel('lcm', { vae_encoder: 'sd-turbo' }), opts);
  turbo = await loadModel(`${FIX}/sd-turbo`, opts);
  // SDXL-Turbo = the SDXL layout with stabilityai/sdxl-turbo's scheduler config (EulerAncestral, trailing),
  // plus the sd-turbo fixture's vae_encoder for img2img/inpaint.
  const sdxlTurboScheduler = {
    _class_name: 'EulerAncestralDiscreteScheduler', beta_start: 0.00085, beta_end: 0.012, beta_schedule: 'scaled_linear',
    num_train_timesteps: 1000, prediction_type: 'epsilon', steps_offset: 1, timestep_spacing: 'trailing',
  };
  xlTurbo = await loadModel(assembleModel('sdxl', { vae_encoder: 'sd-turbo' }, { 'scheduler/scheduler_config.json': sdxlTurboScheduler }), opts);
});
afterAll(async () => {
  for (const m of [lcm, lcmWithEncoder, turbo, xlTurbo]) await m?.release();
  removeAssembled();
});

/** diffusers get_guidance_scale_embedding, written out independently in double precision. */
function referenceEmbedding(w: number, dim: number): number[] {
  const half = Math.floor(dim / 2);
  const out: number[] = [];
  const freqs = Array.from({ length: half }, (_, k) => Math.exp((-k * Math.log(10000)) / (half - 1)));
  for (const f of freqs) out.push(Math.sin(w * 1000 * f));
  for (const f of freqs) out.push(Math.cos(w * 1000 * f));
  if (dim % 2 === 1) out.push(0);
  return out;
}

function timestepValues(feeds: Array<Record<string, { data: unknown }>>): number[] {
  return feeds.map((f) => Number((f.timestep.data as ArrayLike<number | bigint>)[0]));
}

describe('LCM', () => {
  it('is detected with its timestep_cond width and LCM defaults', () => {
    expect(lcm.signature).toMatchObject({ family: 'lcm', supported: true, turbo: false, timeCondProjDim: 32, sdxl: null });
    expect(lcm.defaults).toEqual({ steps: 4, guidanceScale: 8.5, scheduler: 'LCMScheduler', width: 64, height: 64 });
    expect(inspectModel(`${FIX}/lcm`).defaults).toEqual(lcm.defaults);
  });

  it('guidanceScaleEmbedding matches the diffusers formula (even and odd widths)', () => {
    for (const [w, dim] of [[7.5, 32], [7.5, 256], [0.5, 33], [0, 16]] as const) {
      const got = guidanceScaleEmbedding(w, dim);
      expect(got).toHaveLength(dim);
      expect(maxAbsDiff(got, referenceEmbedding(w, dim))).toBeLessThan(2e-3);
    }
    expect(guidanceScaleEmbedding(0.5, 33)[32]).toBe(0);
    // w = 0: sin(0) = 0 and cos(0) = 1 in every frequency
    expect(Array.from(guidanceScaleEmbedding(0, 8))).toEqual([0, 0, 0, 0, 1, 1, 1, 1]);
  });

  it('guidanceScaleEmbedding matches torch running the diffusers code (fixtures/make_lcm_embedding.py)', () => {
    const ref = JSON.parse(readFileSync('test/engine/fixtures/lcm-embedding.json', 'utf8')) as { cases: Array<{ guidanceScale: number; dim: number; embedding: number[] }> };
    expect(ref.cases.length).toBeGreaterThan(0);
    for (const c of ref.cases) {
      const got = guidanceScaleEmbedding(c.guidanceScale - 1, c.dim);
      // torch's vectorised float32 exp is not always correctly rounded: a frequency 1 ulp off moves
      // an argument of up to w·1000 = 7500 rad by one float32 ulp (4.9e-4), hence that bound; most
      // elements agree to 1e-6.
      expect(maxAbsDiff(got, c.embedding)).toBeLessThan(4.9e-4);
      const close = Array.from(got).filter((v, i) => Math.abs(v - c.embedding[i]) < 1e-6).length;
      expect(close / c.dim).toBeGreaterThan(0.9);
    }
  });

  it('runs without a CFG batch, feeds the w-embedding as timestep_cond, and uses LCM timesteps', async () => {
    const spy = spySession(lcm, 'unet');
    try {
      await txt2img(lcm, base);
    } finally {
      spy.restore();
    }
    expect(spy.feeds.map((f) => f.sample.dims[0])).toEqual([1, 1, 1, 1]);
    expect(spy.feeds[0].encoder_hidden_states.dims).toEqual([1, 77, 32]);
    expect(spy.feeds[0].timestep_cond.dims).toEqual([1, 32]);
    expect(Array.from(f32(spy.feeds[0].timestep_cond))).toEqual(Array.from(guidanceScaleEmbedding(7.5, 32)));
    expect(timestepValues(spy.feeds)).toEqual([999, 759, 499, 259]);
  });

  it('the guidance scale changes the image through timestep_cond alone', async () => {
    const a = await txt2img(lcm, base);
    const b = await txt2img(lcm, { ...base, guidanceScale: 2 });
    const again = await txt2img(lcm, base);
    expect(Buffer.from(a.images[0].rgb).equals(Buffer.from(again.images[0].rgb))).toBe(true);
    expect(Buffer.from(a.images[0].rgb).equals(Buffer.from(b.images[0].rgb))).toBe(false);
  });

  it('matches the diffusers loop written out independently: torch noise, diffusers LCM coefficients, float64 step', async () => {
    // Independent of our encoder wrapper, scheduler, RNG and decoder: the noise, timesteps and LCM
    // coefficients come from torch + diffusers' LCMScheduler (fixtures/make_lcm_loop.py, diffusers
    // 0.40.0.dev0 on torch 1.13); the step is written out below in float64 (diffusers
    // LCMScheduler.step, epsilon prediction); the sessions are fed by hand.
    const ref = JSON.parse(readFileSync('test/engine/fixtures/lcm-loop.json', 'utf8')) as {
      seed: number; shape: number[]; timesteps: number[];
      steps: Array<{ t: number; alpha_prod_t: number; alpha_prod_t_prev: number; c_skip: number; c_out: number }>;
      latents: number[]; noise: number[][];
    };
    const steps = ref.timesteps.length;
    const [, , h, w] = ref.shape;
    expect(ref.seed).toBe(base.seed);
    const te = spySession(lcm, 'text_encoder');
    const un = spySession(lcm, 'unet');
    let res;
    try {
      res = await txt2img(lcm, { ...base, steps, width: w * 8, height: h * 8 });
    } finally {
      te.restore();
      un.restore();
    }
    expect(timestepValues(un.feeds)).toEqual(ref.timesteps);
    // the pipeline's first latents are torch's randn for this seed
    expect(maxAbsDiff(f32(un.feeds[0].sample), ref.latents)).toBeLessThan(1e-6);

    // text embedding: the CLIP text encoder on the prompt's ids (BOS … EOS, padded to 77), run by hand
    expect(te.feeds).toHaveLength(1);
    const ids = te.feeds[0].input_ids;
    const idList = Array.from(ids.data as ArrayLike<number | bigint>, Number);
    expect(idList).toHaveLength(77);
    const vocab = JSON.parse(readFileSync(`${FIX}/lcm/tokenizer/vocab.json`, 'utf8')) as Record<string, number>;
    expect(idList[0]).toBe(vocab['<|startoftext|>']);
    expect(idList).toContain(vocab['<|endoftext|>']);
    expect(new Set(idList).size).toBeGreaterThan(3); // the prompt's own tokens are in there
    const textEncoder = await lcm.session('text_encoder');
    const teOut = await textEncoder.run({ input_ids: ids });
    const embeds = f32(teOut[Object.keys(teOut)[0]]);

    const unet = await lcm.session('unet');
    const timestepInput = unet.inputs.find((i) => i.name === 'timestep')!;
    const wEmb = Float32Array.from(referenceEmbedding(base.guidanceScale - 1, 32));
    let x = Float64Array.from(ref.latents);
    let denoised = new Float64Array(x.length);
    for (let k = 0; k < steps; k++) {
      const { t, alpha_prod_t: aT, alpha_prod_t_prev: aP, c_skip: cSkip, c_out: cOut } = ref.steps[k];
      const timestep = timestepInput.type === 'int64'
        ? { type: 'int64' as const, data: BigInt64Array.from([BigInt(t)]), dims: timestepInput.shape.length ? [1] : [] }
        : { type: 'float32' as const, data: Float32Array.from([t]), dims: timestepInput.shape.length ? [1] : [] };
      const out = await unet.run({
        sample: { type: 'float32', data: Float32Array.from(x), dims: [1, 4, h, w] },
        timestep,
        encoder_hidden_states: { type: 'float32', data: embeds, dims: [1, 77, 32] },
        timestep_cond: { type: 'float32', data: wEmb, dims: [1, 32] },
      });
      const eps = f32(out[Object.keys(out)[0]]);
      const next = new Float64Array(x.length);
      for (let i = 0; i < x.length; i++) {
        const x0 = (x[i] - Math.sqrt(1 - aT) * eps[i]) / Math.sqrt(aT);
        denoised[i] = cOut * x0 + cSkip * x[i];
        next[i] = k < steps - 1 ? Math.sqrt(aP) * denoised[i] + Math.sqrt(1 - aP) * ref.noise[k][i] : denoised[i];
      }
      if (k + 1 < steps) expect(maxAbsDiff(f32(un.feeds[k + 1].sample), Array.from(next)), `latents after step ${k}`).toBeLessThan(1e-4);
      x = next;
    }
    // decode `denoised`: vae_decoder(denoised / scaling_factor) → (x/2 + 0.5).clamp(0, 1) · 255, rounded
    const vae = await lcm.session('vae_decoder');
    const dec = await vae.run({ latent_sample: { type: 'float32', data: Float32Array.from(denoised, (v) => v / lcm.scalingFactor), dims: [1, 4, h, w] } });
    const img = f32(dec[Object.keys(dec)[0]]);
    const W = w * 8;
    const H = h * 8;
    const rgb = res.images[0].rgb;
    expect(rgb).toHaveLength(W * H * 3);
    let worst = 0;
    for (let y = 0; y < H; y++)
      for (let xx = 0; xx < W; xx++)
        for (let c = 0; c < 3; c++) {
          const v = Math.round(Math.min(1, Math.max(0, img[(c * H + y) * W + xx] / 2 + 0.5)) * 255);
          worst = Math.max(worst, Math.abs(v - rgb[(y * W + xx) * 3 + c]));
        }
    expect(worst, 'largest RGB difference (levels)').toBeLessThanOrEqual(1);
    expect(new Set(rgb).size).toBeGreaterThan(20); // a non-trivial image
  });

  it('img2img draws all steps from the strength-limited schedule; too little strength is an input error', async () => {
    const spy = spySession(lcmWithEncoder, 'unet');
    let res;
    try {
      res = await img2img(lcmWithEncoder, { ...base, initImage: testImage(64, 48), strength: 0.5 });
    } finally {
      spy.restore();
    }
    expect(timestepValues(spy.feeds)).toEqual([499, 379, 259, 139]);
    expect(spy.feeds.every((f) => f.sample.dims[0] === 1)).toBe(true);
    expect([res.images[0].width, res.images[0].height]).toEqual([64, 48]);
    const err = await img2img(lcmWithEncoder, { ...base, initImage: testImage(64, 48), strength: 0.05 }).catch((e) => e);
    expect(err).toBeInstanceOf(PipelineInputError);
    expect(err.message).toMatch(/int\(50·0\.05\) = 2 timesteps; raise strength to at least 0\.08/);
    await expect(img2img(lcm, { ...base, initImage: testImage(64, 48), strength: 0.5 })).rejects.toThrow(/no vae_encoder/);
  });

  it('inpaint works and keeps the unmasked pixels; more than original_inference_steps is refused', async () => {
    const init = testImage(64, 48);
    const data = new Uint8Array(64 * 48);
    for (let i = 0; i < data.length / 2; i++) data[i] = 255; // top half repainted
    const res = await inpaint(lcmWithEncoder, { ...base, initImage: init, mask: { width: 64, height: 48, data } });
    const out = res.images[0].rgb;
    expect(Buffer.from(out.subarray(out.length / 2)).equals(Buffer.from(init.rgb.subarray(init.rgb.length / 2)))).toBe(true);
    await expect(txt2img(lcm, { ...base, steps: 51 })).rejects.toThrow(/at most original_inference_steps = 50/);
  });
});

describe('SD-Turbo', () => {
  it('is detected as Turbo with guidance-0, trailing, few-step defaults', () => {
    expect(turbo.signature).toMatchObject({ family: 'sd-turbo', turbo: true });
    expect(turbo.defaults).toEqual({
      steps: 4, guidanceScale: 0, scheduler: 'EulerAncestralDiscreteScheduler', schedulerOptions: { timestep_spacing: 'trailing' }, width: 64, height: 64,
    });
  });

  it('guidance 0: one UNet pass per step, no negative-prompt encoding; 1 step starts at t = 999', async () => {
    const unetSpy = spySession(turbo, 'unet');
    const teSpy = spySession(turbo, 'text_encoder');
    let res;
    try {
      res = await txt2img(turbo, { ...base, steps: 1, guidanceScale: 0, negativePrompt: 'something else' });
    } finally {
      teSpy.restore();
      unetSpy.restore();
    }
    expect(unetSpy.feeds).toHaveLength(1);
    expect(unetSpy.feeds[0].sample.dims[0]).toBe(1);
    expect(timestepValues(unetSpy.feeds)).toEqual([999]);
    expect(teSpy.feeds).toHaveLength(1);
    expect(new Set(res.images[0].rgb).size).toBeGreaterThan(4);
  });

  it('img2img needs int(steps·strength) ≥ 1; with it, runs that many steps', async () => {
    const err = await img2img(turbo, { ...base, guidanceScale: 0, steps: 1, strength: 0.5, initImage: testImage(64, 48) }).catch((e) => e);
    expect(err).toBeInstanceOf(PipelineInputError);
    expect(err.message).toMatch(/int\(steps·strength\) = 0.*Turbo models with 1–4 steps need e\.g\. strength ≥ 1\.00/);
    const spy = spySession(turbo, 'unet');
    try {
      const res = await img2img(turbo, { ...base, guidanceScale: 0, steps: 2, strength: 0.5, initImage: testImage(64, 48) });
      expect([res.images[0].width, res.images[0].height]).toEqual([64, 48]);
    } finally {
      spy.restore();
    }
    expect(spy.feeds).toHaveLength(1);
    expect(spy.feeds[0].sample.dims[0]).toBe(1);
  });

  it('inpaint in 2 steps keeps unmasked pixels', async () => {
    const init = testImage(64, 48);
    const data = new Uint8Array(64 * 48);
    for (let i = data.length / 2; i < data.length; i++) data[i] = 255;
    const res = await inpaint(turbo, { ...base, guidanceScale: 0, steps: 2, initImage: init, mask: { width: 64, height: 48, data } });
    const out = res.images[0].rgb;
    expect(Buffer.from(out.subarray(0, out.length / 2)).equals(Buffer.from(init.rgb.subarray(0, init.rgb.length / 2)))).toBe(true);
  });
});

describe('SDXL-Turbo', () => {
  it('SDXL layout + trailing scheduler → Turbo defaults; guidance 0 feeds batch-1 SDXL conditioning', async () => {
    expect(xlTurbo.signature).toMatchObject({ family: 'sdxl', turbo: true });
    expect(xlTurbo.defaults).toMatchObject({ steps: 4, guidanceScale: 0, scheduler: 'EulerAncestralDiscreteScheduler', schedulerOptions: { timestep_spacing: 'trailing' } });
    const spy = spySession(xlTurbo, 'unet');
    let res;
    try {
      res = await txt2img(xlTurbo, { ...base, steps: 1, guidanceScale: 0 });
    } finally {
      spy.restore();
    }
    expect(spy.feeds).toHaveLength(1);
    const feed = spy.feeds[0];
    expect(feed.sample.dims[0]).toBe(1);
    expect(feed.text_embeds.dims).toEqual([1, 32]);
    expect(Array.from(f32(feed.time_ids))).toEqual([48, 64, 0, 0, 48, 64]);
    expect(timestepValues(spy.feeds)).toEqual([999]);
    expect([res.images[0].width, res.images[0].height]).toEqual([64, 48]);
  });

  it('img2img (2 steps × strength 0.5 = 1 UNet pass) and inpaint run at guidance 0', async () => {
    const spy = spySession(xlTurbo, 'unet');
    try {
      const res = await img2img(xlTurbo, { ...base, steps: 2, strength: 0.5, guidanceScale: 0, initImage: testImage(64, 48) });
      expect([res.images[0].width, res.images[0].height]).toEqual([64, 48]);
    } finally {
      spy.restore();
    }
    expect(spy.feeds.map((f) => f.sample.dims[0])).toEqual([1]);
    const init = testImage(64, 48);
    const data = new Uint8Array(64 * 48);
    for (let i = 0; i < data.length / 2; i++) data[i] = 255;
    const res = await inpaint(xlTurbo, { ...base, steps: 2, guidanceScale: 0, initImage: init, mask: { width: 64, height: 48, data } });
    const out = res.images[0].rgb;
    expect(Buffer.from(out.subarray(out.length / 2)).equals(Buffer.from(init.rgb.subarray(init.rgb.length / 2)))).toBe(true);
  });
});
