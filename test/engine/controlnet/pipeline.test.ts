/**
 * ControlNet through the pipelines: fixture models copied with a ControlNet UNet in controlnet/
 * (Amuse layout), the fake ControlNets of test/fixtures/controlnet, real ORT sessions on the CPU.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { controlNetSession, controlUnetSession, releaseControlNets } from '../../../main/engine/controlnet/sessions';
import { loadModel, type LoadedModel } from '../../../main/engine/loader';
import { img2img, inpaint, PipelineInputError, txt2img, type ControlNetUnit, type Txt2ImgParams } from '../../../main/engine/pipeline';
import { BASE_PARAMS, FIX, spySession } from '../../helpers/engine-fixtures';
import { cnPath, modelWithControlUnet, modelWithResidualUnet, squareImage } from './helpers';

const control = squareImage(64, 64);
const base: Txt2ImgParams = { ...BASE_PARAMS, steps: 4 };
const unit = (over: Partial<ControlNetUnit> = {}): ControlNetUnit => ({ model: cnPath('cn-named'), image: control, ...over });
const same = (a: Uint8Array, b: Uint8Array) => Buffer.from(a).equals(Buffer.from(b));

const temp: Array<{ cleanup(): void }> = [];
let sd: LoadedModel;
let sdDownBlock: LoadedModel;
let sdxl: LoadedModel;
let plain: LoadedModel;

beforeAll(async () => {
  const a = modelWithControlUnet('sd15-diffusers', 'unet-additional');
  const b = modelWithControlUnet('sd15-diffusers', 'unet-down-block');
  const c = modelWithControlUnet('sdxl', 'unet-sdxl');
  temp.push(a, b, c);
  sd = await loadModel(a.folder, { provider: 'cpu', threads: 1 });
  sdDownBlock = await loadModel(b.folder, { provider: 'cpu', threads: 1 });
  sdxl = await loadModel(c.folder, { provider: 'cpu', threads: 1 });
  plain = await loadModel(`${FIX}/sd15-diffusers`, { provider: 'cpu', threads: 1 });
});
afterAll(async () => {
  for (const m of [sd, sdDownBlock, sdxl, plain]) {
    await releaseControlNets(m);
    await m.release();
  }
  for (const t of temp) t.cleanup();
});

describe('txt2img with ControlNet', () => {
  it('runs the ControlNet UNet from controlnet/ with the residuals; the control image changes the picture', async () => {
    const spy = spySession(sd, 'unet');
    try {
      const withCn = await txt2img(sd, { ...base, controlNets: [unit()] });
      // the plain unet/ is never run: the ControlNet UNet is a separate session
      expect(spy.feeds).toHaveLength(0);
      const off = await txt2img(sd, { ...base, controlNets: [unit({ weight: 0 })] });
      expect(withCn.images[0].rgb).toHaveLength(64 * 64 * 3);
      expect(same(withCn.images[0].rgb, off.images[0].rgb)).toBe(false);
      // reproducible
      const again = await txt2img(sd, { ...base, controlNets: [unit()] });
      expect(same(withCn.images[0].rgb, again.images[0].rgb)).toBe(true);
    } finally {
      spy.restore();
    }
  });

  it('weight 0 and a window outside every step give the same picture (zero residuals)', async () => {
    const zero = await txt2img(sd, { ...base, controlNets: [unit({ weight: 0 })] });
    // 4 steps, start 0.9: i/4 < 0.9 for every i → never active
    const late = await txt2img(sd, { ...base, controlNets: [unit({ start: 0.9, end: 1 })] });
    expect(same(zero.images[0].rgb, late.images[0].rgb)).toBe(true);
    // a partial window is between: differs from both "always" and "never"
    const always = await txt2img(sd, { ...base, controlNets: [unit()] });
    const half = await txt2img(sd, { ...base, controlNets: [unit({ start: 0, end: 0.5 })] });
    expect(same(half.images[0].rgb, always.images[0].rgb)).toBe(false);
    expect(same(half.images[0].rgb, zero.images[0].rgb)).toBe(false);
  });

  it('onnx-web naming: partly numbered ControlNet outputs into a UNet with down_block_{i} / mid_block_res_sample inputs', async () => {
    const on = await txt2img(sdDownBlock, { ...base, controlNets: [unit({ model: cnPath('cn-numbered'), weight: 0.6 })] });
    const off = await txt2img(sdDownBlock, { ...base, controlNets: [unit({ model: cnPath('cn-numbered'), weight: 0 })] });
    expect(same(on.images[0].rgb, off.images[0].rgb)).toBe(false);
  });

  it('two ControlNets at once, with CFG and batch 2', async () => {
    const res = await txt2img(sd, { ...base, batchSize: 2, controlNets: [unit({ weight: 0.5 }), unit({ model: cnPath('cn-numbered'), weight: 0.5, end: 0.5 })] });
    expect(res.images).toHaveLength(2);
    const one = await txt2img(sd, { ...base, batchSize: 2, controlNets: [unit({ weight: 0.5 })] });
    expect(same(res.images[0].rgb, one.images[0].rgb)).toBe(false);
  });

  it('timings count the ControlNet and ControlNet-UNet session time (not as overhead)', async () => {
    await txt2img(sd, { ...base, steps: 1, controlNets: [unit()] }); // sessions exist now
    const cn = await controlNetSession(sd, cnPath('cn-named'));
    const { session: cu, own } = await controlUnetSession(sd);
    expect(own).toBe(false);
    const [cnBefore, cuBefore, modelBefore] = [cn.runMs, cu.runMs, sd.sessionRunMs()];
    const res = await txt2img(sd, { ...base, controlNets: [unit()] });
    const spent = cn.runMs - cnBefore + (cu.runMs - cuBefore) + (sd.sessionRunMs() - modelBefore);
    expect(cn.runMs - cnBefore).toBeGreaterThan(0);
    expect(res.timings.sessionRunMs).toBeCloseTo(spent, 6);
  });

  it('a ControlNet folder (model.onnx inside) is accepted like the file', async () => {
    const a = await txt2img(sd, { ...base, controlNets: [unit({ model: 'test/fixtures/controlnet/cn-named' })] });
    const b = await txt2img(sd, { ...base, controlNets: [unit()] });
    expect(same(a.images[0].rgb, b.images[0].rgb)).toBe(true);
  });

  it('SDXL: the ControlNet gets text_embeds and time_ids too', async () => {
    const res = await txt2img(sdxl, { ...base, guidanceScale: 5, controlNets: [unit({ model: cnPath('cn-sdxl') })] });
    expect(res.images).toHaveLength(1);
    const off = await txt2img(sdxl, { ...base, guidanceScale: 5, controlNets: [unit({ model: cnPath('cn-sdxl'), weight: 0 })] });
    expect(same(res.images[0].rgb, off.images[0].rgb)).toBe(false);
  });
});

describe('img2img / inpaint with ControlNet', () => {
  it('img2img with a Canny-annotated photo ("lock structure: edges")', async () => {
    const photo = squareImage(96, 64);
    const a = await img2img(sd, { ...base, initImage: photo, strength: 0.75, controlNets: [unit({ image: photo, annotator: { kind: 'canny' } })] });
    const b = await img2img(sd, { ...base, initImage: photo, strength: 0.75, controlNets: [unit({ image: photo, weight: 0 })] });
    expect(a.images[0].width).toBe(64);
    expect(same(a.images[0].rgb, b.images[0].rgb)).toBe(false);
  });

  it('inpaint with ControlNet runs; "only masked" is refused with a reason', async () => {
    const mask = { width: 64, height: 64, data: new Uint8Array(64 * 64).fill(255) };
    const res = await inpaint(sd, { ...base, initImage: control, mask, controlNets: [unit()] });
    expect(res.images).toHaveLength(1);
    await expect(inpaint(sd, { ...base, initImage: control, mask, onlyMasked: { padding: 8 }, controlNets: [unit()] })).rejects.toThrow(/only masked/);
  });
});

describe('a model whose own unet/ takes residuals (onnx-web / Amblyopius layout)', () => {
  it('loads, generates without a ControlNet (zero residuals) and with one (into the same UNet)', async () => {
    const fixture = modelWithResidualUnet('sd15-diffusers', 'unet-down-block');
    const m = await loadModel(fixture.folder, { provider: 'cpu', threads: 1 });
    const spy = spySession(m, 'unet');
    try {
      const none = await txt2img(m, base);
      const zeroFeed = spy.feeds[0];
      expect(zeroFeed.mid_block_res_sample.dims).toEqual([2, 16, 1, 1]);
      expect((zeroFeed.down_block_4.data as Float32Array).every((v) => v === 0)).toBe(true);
      spy.feeds.length = 0;
      const withCn = await txt2img(m, { ...base, controlNets: [unit({ model: cnPath('cn-numbered') })] });
      expect(spy.feeds.length).toBeGreaterThan(0); // the model's own UNet, not a second one
      expect((spy.feeds[0].down_block_4.data as Float32Array).some((v) => v !== 0)).toBe(true);
      expect(same(none.images[0].rgb, withCn.images[0].rgb)).toBe(false);
      // weight 0 feeds the same zeros as no ControlNet at all
      const zero = await txt2img(m, { ...base, controlNets: [unit({ model: cnPath('cn-numbered'), weight: 0 })] });
      expect(same(none.images[0].rgb, zero.images[0].rgb)).toBe(true);
    } finally {
      spy.restore();
      await releaseControlNets(m);
      await m.release();
      fixture.cleanup();
    }
  });
});

describe('ControlNet in low-memory mode', () => {
  it('the ControlNet sessions are released after the denoising loop, like the model\'s own stages', async () => {
    const fixture = modelWithControlUnet('sd15-diffusers', 'unet-additional');
    const m = await loadModel(fixture.folder, { provider: 'cpu', threads: 1, lowMemory: true });
    try {
      const cn = await controlNetSession(m, cnPath('cn-named')); // the session the run will reuse
      const res = await txt2img(m, { ...base, controlNets: [unit()] });
      expect(res.images).toHaveLength(1);
      await expect(cn.run({})).rejects.toThrow(/was released/);
      // the next generation opens them again
      expect((await txt2img(m, { ...base, controlNets: [unit()] })).images).toHaveLength(1);
    } finally {
      await releaseControlNets(m);
      await m.release();
      fixture.cleanup();
    }
  });
});

describe('ControlNet input checks and plain models', () => {
  it('a model without a ControlNet-capable UNet says what it needs', async () => {
    await expect(txt2img(plain, { ...base, controlNets: [unit()] })).rejects.toThrow(PipelineInputError);
    await expect(txt2img(plain, { ...base, controlNets: [unit()] })).rejects.toThrow(/controlnet\/model\.onnx/);
  });

  it('no ControlNet (absent or []): the plain UNet path, bit-identical', async () => {
    const a = await txt2img(plain, base);
    const b = await txt2img(plain, { ...base, controlNets: [] });
    expect(same(a.images[0].rgb, b.images[0].rgb)).toBe(true);
    // a model that has a controlnet/ folder but is asked for no ControlNet runs its plain unet/
    const spy = spySession(sd, 'unet');
    try {
      await txt2img(sd, base);
      expect(spy.feeds.length).toBeGreaterThanOrEqual(4); // PNDM runs one extra UNet call
      expect(Object.keys(spy.feeds[0]).sort()).toEqual(['encoder_hidden_states', 'sample', 'timestep']);
    } finally {
      spy.restore();
    }
  });

  it.each([
    [{ weight: 3 }, /weight must be a number from 0 to 2/],
    [{ start: 0.6, end: 0.5 }, /start \(0.6\) must be below/],
    [{ end: 1.5 }, /end must be a fraction/],
    [{ model: '' }, /model must be the path/],
    [{ model: 'test/fixtures/controlnet/nope.onnx' }, /ControlNet model not found/],
    [{ annotator: { kind: 'hed' } } as unknown as Partial<ControlNetUnit>, /annotator.kind must be one of "canny", "depth", "pose"/],
    [{ image: { width: 2, height: 2, rgb: new Uint8Array(3) } }, /controlNets\[0\]\.image\.rgb/],
  ] as Array<[Partial<ControlNetUnit>, RegExp]>)('refuses %j', async (over, msg) => {
    await expect(txt2img(sd, { ...base, controlNets: [unit(over)] })).rejects.toThrow(msg);
  });
});
