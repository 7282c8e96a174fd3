/**
 * SDXL end to end on the fixture export (optimum I/O: two text encoders with hidden_states.N,
 * text_encoder_2 `text_embeds`, UNet `text_embeds` + `time_ids`), checked against direct runs of
 * the same sessions: what the pipeline feeds is what diffusers' StableDiffusionXLPipeline feeds.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inspectModel } from '../../main/engine/model-info';
import { detectSignature, loadModel, type LoadedModel } from '../../main/engine/loader';
import type { TensorInfo } from '../../main/engine/ort-backend';
import { img2img, inpaint, PipelineInputError, txt2img, type Txt2ImgParams } from '../../main/engine/pipeline';
import { buildTimeIds } from '../../main/engine/pipeline/conditioning';
import { encodePrompt } from '../../main/engine/pipeline/encode-prompt';
import { assertFiniteDecode, NonFiniteOutputError } from '../../main/engine/pipeline/vae-precision';
import { FIX, spySession } from '../helpers/engine-fixtures';
import { assembleModel, concatPerToken, f32, maxAbsDiff, removeAssembled, runEncoder, testImage } from './engine-breadth-helpers';

const base: Txt2ImgParams = { prompt: 'a red cube on a table', negativePrompt: '', width: 64, height: 48, steps: 3, guidanceScale: 5, seed: 7, rng: 'cpu' };

let xl: LoadedModel;
let xlWithEncoder: LoadedModel;
beforeAll(async () => {
  xl = await loadModel(`${FIX}/sdxl`, { provider: 'cpu', threads: 1 });
  // The SDXL fixture ships no vae_encoder (like many SDXL txt2img exports); img2img needs one,
  // so this copy borrows the sd-turbo fixture's (same 4-channel latent_parameters contract).
  xlWithEncoder = await loadModel(assembleModel('sdxl', { vae_encoder: 'sd-turbo' }), { provider: 'cpu', threads: 1 });
});
afterAll(async () => {
  await xl?.release();
  await xlWithEncoder?.release();
  removeAssembled();
});

describe('SDXL detection', () => {
  it('reads both encoders, the pooled width and the time_ids columns from the graphs', () => {
    expect(xl.signature).toMatchObject({
      family: 'sdxl', supported: true, turbo: false, sdxlConditioning: true, hiddenStatesOutputs: 3,
      textEncoder2: { inputIdsType: 'int64', hiddenSize: 32, pooledSize: 32, hiddenStatesOutputs: 3 },
      sdxl: { timeIdsLength: 6, pooledSize: 32, crossAttentionDim: 64, forceZerosForEmptyPrompt: true },
      vaeForceUpcast: true,
    });
    expect(xl.scalingFactor).toBe(0.13025);
  });

  it('each tokenizer pads with its own pad token: <|endoftext|> for tokenizer, "!" (id 0) for tokenizer_2', () => {
    expect(xl.tokenizer.padId).toBe(xl.tokenizer.eosId);
    expect(xl.tokenizer2!.padToken).toBe('!');
    expect(xl.tokenizer2!.padId).toBe(0);
    expect(xl.tokenizer2!.encodePadded('a cube').ids.slice(-3)).toEqual([0, 0, 0]);
  });

  it('recommends SDXL settings (guidance 5, size from unet sample_size) in inspect and load results', () => {
    expect(inspectModel(`${FIX}/sdxl`)).toMatchObject({ family: 'sdxl', turbo: false, forceZerosForEmptyPrompt: true, padToken2: '!' });
    expect(xl.defaults).toEqual({ steps: 30, guidanceScale: 5, scheduler: 'EulerDiscreteScheduler', width: 64, height: 64 });
  });

  it('5-column time_ids (aesthetic-score UNets) and missing pieces are read from metadata', () => {
    const info = inspectModel(`${FIX}/sdxl`);
    const t = (name: string, type: string, shape: Array<number | string>): TensorInfo => ({ name, type, shape });
    const hs = (D: number, n: number) => Array.from({ length: n }, (_, i) => t(`hidden_states.${i}`, 'float32', ['b', 's', D]));
    const meta = (timeIds: number, te2Outputs = [t('text_embeds', 'float32', ['b', 1280]), t('last_hidden_state', 'float32', ['b', 's', 1280]), ...hs(1280, 33)]) => ({
      text_encoder: { inputs: [t('input_ids', 'int32', ['b', 's'])], outputs: [t('last_hidden_state', 'float32', ['b', 's', 768]), t('pooler_output', 'float32', ['b', 768]), ...hs(768, 13)] },
      text_encoder_2: { inputs: [t('input_ids', 'int64', ['b', 's'])], outputs: te2Outputs },
      unet: {
        inputs: [t('sample', 'float32', ['b', 4, 'h', 'w']), t('timestep', 'float32', ['b']), t('encoder_hidden_states', 'float32', ['b', 's', 2048]), t('text_embeds', 'float32', ['b', 1280]), t('time_ids', 'float32', ['b', timeIds])],
        outputs: [t('out_sample', 'float32', ['b', 4, 'h', 'w'])],
      },
      vae_decoder: { inputs: [t('latent_sample', 'float32', ['b', 4, 'h', 'w'])], outputs: [t('sample', 'float32', ['b', 3, 'H', 'W'])] },
    });
    expect(detectSignature(info, meta(6)).sdxl).toMatchObject({ timeIdsLength: 6, pooledSize: 1280, crossAttentionDim: 2048 });
    expect(detectSignature(info, meta(5)).sdxl!.timeIdsLength).toBe(5);
    expect(() => detectSignature(info, meta(6, [t('text_embeds', 'float32', ['b', 1280]), t('last_hidden_state', 'float32', ['b', 's', 1280])]))).toThrow(
      /text_encoder_2 has no hidden_states\.N outputs/,
    );
    const wrongWidth = meta(6);
    wrongWidth.unet.inputs[2] = t('encoder_hidden_states', 'float32', ['b', 's', 1024]);
    expect(() => detectSignature(info, wrongWidth)).toThrow(/text_encoder \(768\) \+ text_encoder_2 \(1280\) give 2048/);
  });
});

describe('SDXL conditioning', () => {
  it('buildTimeIds: (orig h, w, crop top, left, target h, w), or the aesthetic-score variant', () => {
    const input = { originalSize: [1024, 768] as const, cropTopLeft: [16, 32] as const, targetSize: [896, 640] as const, aestheticScore: 6 };
    expect(Array.from(buildTimeIds(input, 6))).toEqual([1024, 768, 16, 32, 896, 640]);
    expect(Array.from(buildTimeIds(input, 5))).toEqual([1024, 768, 16, 32, 6]);
  });

  it('feeds penultimate hidden states of both encoders (concatenated), text_embeds from text_encoder_2 and time_ids', async () => {
    const spy = spySession(xl, 'unet');
    try {
      await txt2img(xl, { ...base, negativePrompt: 'blurry', steps: 2 });
    } finally {
      spy.restore();
    }
    const feed = spy.feeds[0];
    expect(feed.sample.dims).toEqual([2, 4, 6, 8]);
    expect(feed.encoder_hidden_states.dims).toEqual([2, 77, 64]);
    expect(feed.text_embeds.dims).toEqual([2, 32]);
    expect(feed.time_ids.dims).toEqual([2, 6]);
    expect(Array.from(f32(feed.time_ids))).toEqual([48, 64, 0, 0, 48, 64, 48, 64, 0, 0, 48, 64]);

    // The same thing computed directly: hidden_states[-2] of each encoder, each tokenizer's own padding.
    const expected = async (text: string) => {
      const o1 = await runEncoder(xl, 'text_encoder', xl.tokenizer.encodePadded(text).ids);
      const o2 = await runEncoder(xl, 'text_encoder_2', xl.tokenizer2!.encodePadded(text).ids);
      return { ehs: concatPerToken(f32(o1['hidden_states.1']), 32, f32(o2['hidden_states.1']), 32), pooled: f32(o2.text_embeds) };
    };
    const pos = await expected(base.prompt);
    const neg = await expected('blurry');
    const ehs = f32(feed.encoder_hidden_states);
    const per = 77 * 64;
    expect(maxAbsDiff(ehs.subarray(per), pos.ehs)).toBe(0);
    expect(maxAbsDiff(ehs.subarray(0, per), neg.ehs)).toBe(0);
    const pooled = f32(feed.text_embeds);
    expect(maxAbsDiff(pooled.subarray(32), pos.pooled)).toBe(0);
    expect(maxAbsDiff(pooled.subarray(0, 32), neg.pooled)).toBe(0);
  });

  it('an empty negative prompt is exact zeros (force_zeros_for_empty_prompt); model_index false encodes ""', async () => {
    const spy = spySession(xl, 'unet');
    try {
      await txt2img(xl, { ...base, steps: 1 });
    } finally {
      spy.restore();
    }
    const ehs = f32(spy.feeds[0].encoder_hidden_states);
    const pooled = f32(spy.feeds[0].text_embeds);
    expect(Array.from(ehs.subarray(0, 77 * 64)).every((x) => x === 0)).toBe(true);
    expect(Array.from(pooled.subarray(0, 32)).every((x) => x === 0)).toBe(true);
    expect(Array.from(ehs.subarray(77 * 64)).some((x) => x !== 0)).toBe(true);

    const index = JSON.parse((await import('node:fs')).readFileSync(`${FIX}/sdxl/model_index.json`, 'utf8'));
    const noZeros = await loadModel(assembleModel('sdxl', {}, { 'model_index.json': { ...index, force_zeros_for_empty_prompt: false } }), { provider: 'cpu', threads: 1 });
    try {
      expect(noZeros.signature.sdxl!.forceZerosForEmptyPrompt).toBe(false);
      const cond = await encodePrompt(noZeros, { prompt: 'x', negativePrompt: '', steps: 1, batch: 1, doCfg: true });
      expect(Array.from(cond.embedsAt(0).subarray(0, 77 * 64)).some((x) => x !== 0)).toBe(true);
      expect(Array.from(cond.pooledAt(0)!.subarray(0, 32)).some((x) => x !== 0)).toBe(true);
    } finally {
      await noZeros.release();
    }
  });

  it('long prompts: both encoders chunk to 75 tokens, pooled output from the first chunk of text_encoder_2', async () => {
    const long = Array.from({ length: 50 }, (_, i) => (i % 2 ? 'cube' : 'red')).join(' ');
    const tokens = xl.tokenizer.encode(long).length - 2;
    expect(tokens).toBeGreaterThan(75);
    expect(tokens).toBeLessThanOrEqual(150);
    const cond = await encodePrompt(xl, { prompt: long, negativePrompt: '', steps: 1, batch: 1, doCfg: false });
    expect(cond.chunks).toBe(2);
    expect(cond.embedsAt(0).length).toBe(2 * 77 * 64);
    const firstChunkIds = xl.tokenizer2!.encodePadded(long).ids; // the first 75 tokens, framed and padded like chunk 1
    const direct = await runEncoder(xl, 'text_encoder_2', firstChunkIds);
    expect(maxAbsDiff(cond.pooledAt(0)!, f32(direct.text_embeds))).toBe(0);
    // A1111 weighting applies to SDXL too: (red:1.5) changes the embeddings of both encoders.
    const plain = (await encodePrompt(xl, { prompt: 'red cube', negativePrompt: '', steps: 1, batch: 1, doCfg: false })).embedsAt(0);
    const weighted = (await encodePrompt(xl, { prompt: '(red:1.5) cube', negativePrompt: '', steps: 1, batch: 1, doCfg: false })).embedsAt(0);
    const tok = 1; // the "red" token row
    const row = (e: Float32Array, from: number, to: number) => e.subarray(tok * 64 + from, tok * 64 + to);
    expect(maxAbsDiff(row(plain, 0, 32), row(weighted, 0, 32))).toBeGreaterThan(0);
    expect(maxAbsDiff(row(plain, 32, 64), row(weighted, 32, 64))).toBeGreaterThan(0);
  });

  it('is deterministic per seed; another size gives other time_ids; micro-conditioning changes the image', async () => {
    const a = await txt2img(xl, base);
    const b = await txt2img(xl, base);
    expect(Buffer.from(a.images[0].rgb).equals(Buffer.from(b.images[0].rgb))).toBe(true);
    const spy = spySession(xl, 'unet');
    try {
      await txt2img(xl, { ...base, width: 32, height: 40, steps: 1 });
      await txt2img(xl, { ...base, steps: 1, sdxl: { originalSize: [1024, 1024], cropTopLeft: [8, 0] } });
    } finally {
      spy.restore();
    }
    expect(Array.from(f32(spy.feeds[0].time_ids)).slice(6)).toEqual([40, 32, 0, 0, 40, 32]);
    expect(Array.from(f32(spy.feeds[1].time_ids)).slice(6)).toEqual([1024, 1024, 8, 0, 48, 64]);
    const c = await txt2img(xl, { ...base, sdxl: { originalSize: [1024, 1024] } });
    expect(Buffer.from(a.images[0].rgb).equals(Buffer.from(c.images[0].rgb))).toBe(false);
  });
});

describe('SDXL pipelines', () => {
  it('txt2img produces an image of the requested size', async () => {
    const res = await txt2img(xl, { ...base, width: 80, height: 48 });
    expect([res.images[0].width, res.images[0].height]).toEqual([80, 48]);
    expect(new Set(res.images[0].rgb).size).toBeGreaterThan(4);
  });

  it('batches: text_embeds and time_ids are repeated per image, negatives first', async () => {
    const spy = spySession(xl, 'unet');
    let res;
    try {
      res = await txt2img(xl, { ...base, steps: 1, batchSize: 2, negativePrompt: 'blurry' });
    } finally {
      spy.restore();
    }
    const feed = spy.feeds[0];
    expect(feed.text_embeds.dims).toEqual([4, 32]);
    expect(feed.time_ids.dims).toEqual([4, 6]);
    const pooled = f32(feed.text_embeds);
    expect(maxAbsDiff(pooled.subarray(0, 32), pooled.subarray(32, 64))).toBe(0); // negative, repeated
    expect(maxAbsDiff(pooled.subarray(64, 96), pooled.subarray(96, 128))).toBe(0); // positive, repeated
    expect(maxAbsDiff(pooled.subarray(0, 32), pooled.subarray(64, 96))).toBeGreaterThan(0);
    expect(res.images).toHaveLength(2);
  });

  it('low-memory mode (each of the five sessions created per stage) gives the same image', async () => {
    const low = await loadModel(`${FIX}/sdxl`, { provider: 'cpu', threads: 1, lowMemory: true });
    try {
      const a = await txt2img(xl, { ...base, negativePrompt: 'blurry' });
      const b = await txt2img(low, { ...base, negativePrompt: 'blurry' });
      expect(Buffer.from(a.images[0].rgb).equals(Buffer.from(b.images[0].rgb))).toBe(true);
    } finally {
      await low.release();
    }
  });

  it('img2img and inpaint without a vae_encoder fail with a clear message', async () => {
    const init = testImage(64, 48);
    const err = await img2img(xl, { ...base, initImage: init, strength: 0.5 }).catch((e) => e);
    expect(err).toBeInstanceOf(PipelineInputError);
    expect(err.message).toMatch(/no vae_encoder, so it cannot do img2img/);
    const mask = { width: 64, height: 48, data: new Uint8Array(64 * 48).fill(255) };
    await expect(inpaint(xl, { ...base, initImage: init, mask })).rejects.toThrow(/no vae_encoder, so it cannot inpaint/);
  });

  it('img2img with a vae_encoder feeds SDXL conditioning on the strength-cut schedule', async () => {
    const spy = spySession(xlWithEncoder, 'unet');
    let res;
    try {
      res = await img2img(xlWithEncoder, { ...base, steps: 4, strength: 0.5, initImage: testImage(64, 48) });
    } finally {
      spy.restore();
    }
    expect(spy.feeds).toHaveLength(2);
    expect(spy.feeds.every((f) => f.time_ids.dims[0] === 2 && f.text_embeds.dims[0] === 2)).toBe(true);
    expect([res.images[0].width, res.images[0].height]).toEqual([64, 48]);
  });

  it('inpaint (4-channel SDXL UNet, latent blending) keeps unmasked pixels', async () => {
    const init = testImage(64, 48);
    const data = new Uint8Array(64 * 48);
    for (let y = 0; y < 48; y++) for (let x = 32; x < 64; x++) data[y * 64 + x] = 255;
    const res = await inpaint(xlWithEncoder, { ...base, initImage: init, mask: { width: 64, height: 48, data } });
    const out = res.images[0].rgb;
    let same = true;
    for (let y = 0; y < 48; y++) for (let x = 0; x < 32; x++) for (let c = 0; c < 3; c++) same &&= out[(y * 64 + x) * 3 + c] === init.rgb[(y * 64 + x) * 3 + c];
    expect(same).toBe(true);
  });
});

describe('SDXL VAE overflow', () => {
  it('NaN/inf from the decoder is reported with the fp16 fix instead of a black image', () => {
    const latents = new Float32Array(16).fill(0.5);
    const decoded = new Float32Array(48).fill(0.1);
    expect(() => assertFiniteDecode(xl, latents, decoded)).not.toThrow();
    decoded[7] = Number.POSITIVE_INFINITY;
    expect(() => assertFiniteDecode(xl, latents, decoded)).toThrow(NonFiniteOutputError);
    expect(() => assertFiniteDecode(xl, latents, decoded)).toThrow(/force_upcast.*sdxl-vae-fp16-fix/);
    latents[3] = Number.NaN;
    expect(() => assertFiniteDecode(xl, latents, decoded)).toThrow(/UNet produced NaN\/inf latents/);
  });
});
