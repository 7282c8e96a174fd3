/**
 * Clip skip (A1111 numbering: 1 = last layer) on real fixture graphs:
 *  - SD1 text encoders without hidden_states outputs refuse clipSkip ≥ 2 with a clear message;
 *  - an SD1 export with hidden_states.N (the fixture's CLIP-L graph that exposes them) uses
 *    final_layer_norm(hidden_states[-n]), the LayerNorm recovered from the graph's own outputs;
 *  - SDXL steps back from its penultimate default: hidden_states[-(n+1)] of both encoders.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GenerateRequest } from '../../common/api/schemas';
import { NO_IMAGE_INPUTS, planGeneration } from '../../main/app/generation-plan';
import { loadModel, type LoadedModel } from '../../main/engine/loader';
import { PipelineInputError, txt2img, type Txt2ImgParams } from '../../main/engine/pipeline';
import { encodePrompt } from '../../main/engine/pipeline/encode-prompt';
import { finalLayerNorm, recoverFinalLayerNorm } from '../../main/engine/pipeline/text-encoders';
import { createGenerator } from '../../main/engine/random';
import { FIX, spySession } from '../helpers/engine-fixtures';
import { assembleModel, concatPerToken, f32, maxAbsDiff, removeAssembled, runEncoder } from './engine-breadth-helpers';

const base: Txt2ImgParams = { prompt: 'a green cone', negativePrompt: 'dark', width: 64, height: 48, steps: 2, guidanceScale: 5, seed: 3, rng: 'cpu' };

let sd1: LoadedModel;
let sd1Hidden: LoadedModel;
let xl: LoadedModel;
beforeAll(async () => {
  const opts = { provider: 'cpu' as const, threads: 1 };
  sd1 = await loadModel(`${FIX}/sd15-optimum-new`, opts);
  // Same SD1 model with a CLIP-L text encoder exported with output_hidden_states (the SDXL
  // fixture's text_encoder: same vocabulary, width 32 and int64 ids as sd15-optimum-new's).
  sd1Hidden = await loadModel(assembleModel('sd15-optimum-new', { text_encoder: 'sdxl' }), opts);
  xl = await loadModel(`${FIX}/sdxl`, opts);
});
afterAll(async () => {
  for (const m of [sd1, sd1Hidden, xl]) await m?.release();
  removeAssembled();
});

/** torch.nn.LayerNorm over the last axis with explicit γ, β. */
function layerNorm(x: Float32Array, dim: number, gamma: number[], beta: number[], eps = 1e-5): Float32Array {
  const out = new Float32Array(x.length);
  for (let r = 0; r < x.length / dim; r++) {
    const row = x.subarray(r * dim, (r + 1) * dim);
    const mean = row.reduce((a, b) => a + b, 0) / dim;
    const v = row.reduce((a, b) => a + (b - mean) ** 2, 0) / dim;
    for (let d = 0; d < dim; d++) out[r * dim + d] = ((row[d] - mean) / Math.sqrt(v + eps)) * gamma[d] + beta[d];
  }
  return out;
}

describe('recoverFinalLayerNorm', () => {
  it('recovers γ and β of a LayerNorm from one input/output pair and refuses unrelated outputs', () => {
    const dim = 16;
    const g = createGenerator(5, 'cpu');
    const x = g.randn([77, dim]);
    const gamma = Array.from({ length: dim }, (_, i) => 0.5 + i / 10);
    const beta = Array.from({ length: dim }, (_, i) => i / 20 - 0.3);
    const norm = recoverFinalLayerNorm(x, layerNorm(x, dim, gamma, beta), dim, 1e-5);
    expect(maxAbsDiff(norm.gamma, gamma)).toBeLessThan(1e-5);
    expect(maxAbsDiff(norm.beta, beta)).toBeLessThan(1e-5);
    const other = g.randn([5, dim]);
    expect(maxAbsDiff(norm.apply(other, dim), layerNorm(other, dim, gamma, beta))).toBeLessThan(1e-5);
    const unrelated = x.map((v, i) => v * 2 + (i % 3));
    expect(() => recoverFinalLayerNorm(x, unrelated, dim, 1e-5)).toThrow(PipelineInputError);
  });

  it('the norm recovered from the empty prompt reproduces the graph\'s last_hidden_state for other prompts', async () => {
    const norm = await finalLayerNorm(sd1Hidden, sd1Hidden.tokenizer.encodePadded('').ids);
    const out = await runEncoder(sd1Hidden, 'text_encoder', sd1Hidden.tokenizer.encodePadded('a yellow banana on a plate').ids);
    expect(maxAbsDiff(norm.apply(f32(out['hidden_states.2']), 32), f32(out.last_hidden_state))).toBeLessThan(1e-4);
  });
});

describe('clip skip on SD1', () => {
  it('graphs without hidden_states outputs: clipSkip ≥ 2 is refused, clipSkip 1 is the default', async () => {
    const err = await txt2img(sd1, { ...base, clipSkip: 2 }).catch((e) => e);
    expect(err).toBeInstanceOf(PipelineInputError);
    expect(err.message).toMatch(/clipSkip 2 needs the text encoder's intermediate layers, but text_encoder\/model\.onnx only outputs last_hidden_state, pooler_output/);
    const a = await txt2img(sd1, base);
    const b = await txt2img(sd1, { ...base, clipSkip: 1 });
    expect(Buffer.from(a.images[0].rgb).equals(Buffer.from(b.images[0].rgb))).toBe(true);
  });

  it('with hidden_states: 1 = last_hidden_state, 2 = final_layer_norm(hidden_states[-2]); the image changes', async () => {
    const ids = sd1Hidden.tokenizer.encodePadded(base.prompt).ids;
    const direct = await runEncoder(sd1Hidden, 'text_encoder', ids);
    const last = (await encodePrompt(sd1Hidden, { prompt: base.prompt, negativePrompt: '', steps: 1, batch: 1, doCfg: false })).embedsAt(0);
    expect(maxAbsDiff(last, f32(direct.last_hidden_state))).toBe(0);
    const skip2 = (await encodePrompt(sd1Hidden, { prompt: base.prompt, negativePrompt: '', steps: 1, batch: 1, doCfg: false, clipSkip: 2 })).embedsAt(0);
    const norm = await finalLayerNorm(sd1Hidden, sd1Hidden.tokenizer.encodePadded('').ids);
    expect(maxAbsDiff(skip2, norm.apply(f32(direct['hidden_states.1']), 32))).toBeLessThan(1e-6);
    expect(maxAbsDiff(skip2, last)).toBeGreaterThan(1e-3);

    const img1 = await txt2img(sd1Hidden, base);
    const img2 = await txt2img(sd1Hidden, { ...base, clipSkip: 2 });
    expect(Buffer.from(img1.images[0].rgb).equals(Buffer.from(img2.images[0].rgb))).toBe(false);
    // 2 layers + embeddings: clip skip 3 reaches the embeddings, 4 is past them
    await expect(txt2img(sd1Hidden, { ...base, steps: 1, clipSkip: 3 })).resolves.toBeDefined();
    await expect(txt2img(sd1Hidden, { ...base, steps: 1, clipSkip: 4 })).rejects.toThrow(/clipSkip 4 reaches past the first layer of text_encoder/);
  });
});

describe('clip skip on SDXL', () => {
  it('steps back from the penultimate layer in both encoders', async () => {
    const spy = spySession(xl, 'unet');
    try {
      await txt2img(xl, { ...base, negativePrompt: '', steps: 1, clipSkip: 2 });
    } finally {
      spy.restore();
    }
    const ehs = f32(spy.feeds[0].encoder_hidden_states).subarray(77 * 64);
    const o1 = await runEncoder(xl, 'text_encoder', xl.tokenizer.encodePadded(base.prompt).ids);
    const o2 = await runEncoder(xl, 'text_encoder_2', xl.tokenizer2!.encodePadded(base.prompt).ids);
    expect(maxAbsDiff(ehs, concatPerToken(f32(o1['hidden_states.0']), 32, f32(o2['hidden_states.0']), 32))).toBe(0);
    // the pooled embedding does not depend on clip skip
    expect(maxAbsDiff(f32(spy.feeds[0].text_embeds).subarray(32), f32(o2.text_embeds))).toBe(0);

    const a = await txt2img(xl, base);
    const b = await txt2img(xl, { ...base, clipSkip: 2 });
    expect(Buffer.from(a.images[0].rgb).equals(Buffer.from(b.images[0].rgb))).toBe(false);
    await expect(txt2img(xl, { ...base, clipSkip: 3 })).rejects.toThrow(/clipSkip 3 reaches past the first layer of text_encoder/);
  });
});

describe('clipSkip parameter', () => {
  it('is validated by the pipeline and the API schema, and reaches the pipeline params', async () => {
    for (const bad of [0, 13, 1.5]) {
      await expect(txt2img(sd1, { ...base, clipSkip: bad })).rejects.toThrow(/clipSkip must be an integer from 1 to 12/);
      expect(GenerateRequest.safeParse({ prompt: 'x', clipSkip: bad }).success).toBe(false);
    }
    const req = GenerateRequest.parse({ prompt: 'x', clipSkip: 2 });
    expect(req.clipSkip).toBe(2);
    const plan = planGeneration(req, 1, NO_IMAGE_INPUTS);
    expect(plan.pipeline.params.clipSkip).toBe(2);
    expect(planGeneration(GenerateRequest.parse({ prompt: 'x' }), 1, NO_IMAGE_INPUTS).pipeline.params.clipSkip).toBeUndefined();
  });
});
