/**
 * Prompt encoding pieces that the end-to-end tests reach only through one model each (mutation
 * testing, docs/TESTING.md): clip skip's range and which `hidden_states.N` it picks per family,
 * the ids tensor, one chunk through an encoder, the recovered final LayerNorm and its eps, the
 * per-token hidden concatenation of SDXL's two encoders, and `force_zeros_for_empty_prompt`.
 * Sessions are recording fakes; expected values are worked by hand from A1111's / diffusers' rules
 * quoted beside them, or from a LayerNorm written out independently here.
 */
import { describe, expect, it } from 'vitest';
import type { LoadedModel } from '../../main/engine/loader';
import type { EngineSession, EngineTensor } from '../../main/engine/ort-backend';
import { concatHidden, encodePrompt, zeroNegativeFor } from '../../main/engine/pipeline/encode-prompt';
import {
  checkClipSkip,
  finalLayerNorm,
  idsTensor,
  MAX_CLIP_SKIP,
  recoverFinalLayerNorm,
  runTextEncoder,
  textEncoderSpecs,
  type TextEncoderSpec,
} from '../../main/engine/pipeline/text-encoders';
import { PipelineInputError } from '../../main/engine/pipeline/types';
import { refusal, spySession, useFixtureModels } from '../helpers/engine-fixtures';

async function refusalAsync(p: Promise<unknown>): Promise<string> {
  const e = await p.then(
    () => null,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(PipelineInputError);
  return (e as Error).message;
}

/** An encoder graph exposing `outputs`; `run` answers with `answer(feeds)`. */
function encoderSession(outputs: string[], answer: (f: Record<string, EngineTensor>) => Record<string, EngineTensor> = () => ({})) {
  const feeds: Record<string, EngineTensor>[] = [];
  const session = {
    modelPath: 'text_encoder/model.onnx',
    inputs: [{ name: 'input_ids', type: 'int32', shape: [1, 77] }],
    outputs: outputs.map((name) => ({ name, type: 'float32', shape: [] })),
    run: async (f: Record<string, EngineTensor>) => {
      feeds.push(f);
      return answer(f);
    },
  } as unknown as EngineSession;
  return { session, feeds };
}

const TOK = { name: 'tok' };
const TOK2 = { name: 'tok2' };

function fakeModel(sessions: Record<string, EngineSession>, o: { sdxl?: boolean; layerNormEps?: unknown; forceZeros?: boolean } = {}) {
  return {
    tokenizer: TOK,
    tokenizer2: o.sdxl ? TOK2 : null,
    signature: {
      inputIdsType: 'int32',
      textEncoder2: o.sdxl ? { inputIdsType: 'int64' } : null,
      sdxl: o.forceZeros === undefined ? null : { forceZerosForEmptyPrompt: o.forceZeros },
    },
    // no layer_norm_eps given: a component without any config (config.json absent)
    info: { components: { text_encoder: o.layerNormEps === undefined ? {} : { config: { layer_norm_eps: o.layerNormEps } } } },
    session: async (name: string) => {
      const s = sessions[name];
      if (!s) throw new Error(`no ${name}`);
      return s;
    },
  } as unknown as LoadedModel;
}

/** hidden_states.0 … hidden_states.{n−1}, listed out of order (a graph need not sort them). */
function hiddenNames(n: number): string[] {
  return Array.from({ length: n }, (_, i) => `hidden_states.${n - 1 - i}`);
}

describe('checkClipSkip: 1 (absent) … 12', () => {
  it('accepts the range ends and defaults to the last layer', () => {
    expect(MAX_CLIP_SKIP).toBe(12);
    expect(checkClipSkip(undefined)).toBe(1);
    expect(checkClipSkip(null)).toBe(1);
    expect(checkClipSkip(1)).toBe(1);
    expect(checkClipSkip(12)).toBe(12);
  });

  it('refuses 0, 13, fractions and strings with the range in the message', () => {
    for (const bad of [0, 13, 1.5, '2', -1]) {
      expect(refusal(() => checkClipSkip(bad))).toBe(`clipSkip must be an integer from 1 to 12 (got ${String(bad)}); 1 = last CLIP layer.`);
    }
  });
});

describe('textEncoderSpecs: which output conditions the UNet', () => {
  it('single encoder, clip skip 1: last_hidden_state, no final norm', async () => {
    const te = encoderSession(['last_hidden_state']).session;
    expect(await textEncoderSpecs(fakeModel({ text_encoder: te }), 1)).toEqual([
      { component: 'text_encoder', tokenizer: TOK, inputIdsType: 'int32', output: 'last_hidden_state', finalNorm: false, pooled: false },
    ]);
  });

  it('single encoder, clip skip n ≥ 2: final_layer_norm(hidden_states[−n]), numerically sorted (…9 before 10)', async () => {
    // embeddings + 12 layers, and names that only contain the pattern (not exported layers)
    const te = encoderSession(['last_hidden_state', ...hiddenNames(13), 'text.hidden_states.99', 'hidden_states.12b']).session;
    const m = fakeModel({ text_encoder: te });
    expect(await textEncoderSpecs(m, 2)).toEqual([
      { component: 'text_encoder', tokenizer: TOK, inputIdsType: 'int32', output: 'hidden_states.11', finalNorm: true, pooled: false },
    ]);
    expect((await textEncoderSpecs(m, 12))[0].output).toBe('hidden_states.1');
    expect((await textEncoderSpecs(m, 4))[0].output).toBe('hidden_states.9');
  });

  it('clip skip past the first layer, or a gap in the numbering, is refused with the layer count', async () => {
    const three = fakeModel({ text_encoder: encoderSession(['last_hidden_state', ...hiddenNames(3)]).session });
    expect((await textEncoderSpecs(three, 3))[0].output).toBe('hidden_states.0');
    expect(await refusalAsync(textEncoderSpecs(three, 4))).toBe(
      'clipSkip 4 reaches past the first layer of text_encoder (it exposes 3 hidden states: 2 layers + embeddings); use a smaller clipSkip.',
    );
    // hidden_states.1 and .2 only (no .0): [−2] is .1 but sits at index 0, so the numbering is not the layer index
    const gap = fakeModel({ text_encoder: encoderSession(['hidden_states.2', 'hidden_states.1', 'last_hidden_state']).session });
    expect(await refusalAsync(textEncoderSpecs(gap, 2))).toContain('(it exposes 2 hidden states: 1 layers + embeddings)');
  });

  it('an encoder without hidden_states.N refuses clip skip ≥ 2 and lists what it has', async () => {
    const m = fakeModel({ text_encoder: encoderSession(['last_hidden_state', 'pooler_output', 'hidden_states_x']).session });
    expect(await refusalAsync(textEncoderSpecs(m, 2))).toBe(
      "clipSkip 2 needs the text encoder's intermediate layers, but text_encoder/model.onnx only outputs last_hidden_state, pooler_output, hidden_states_x. " +
        'Use clipSkip 1, or a text encoder exported with hidden_states.N outputs (optimum with output_hidden_states).',
    );
  });

  it('SDXL: both encoders at hidden_states[−(n+1)], no final norm, pooled from the second', async () => {
    const te = encoderSession(hiddenNames(13)).session;
    const te2 = encoderSession(['text_embeds', ...hiddenNames(33)]).session;
    const m = fakeModel({ text_encoder: te, text_encoder_2: te2 }, { sdxl: true });
    expect(await textEncoderSpecs(m, 1)).toEqual([
      { component: 'text_encoder', tokenizer: TOK, inputIdsType: 'int32', output: 'hidden_states.11', finalNorm: false, pooled: false },
      { component: 'text_encoder_2', tokenizer: TOK2, inputIdsType: 'int64', output: 'hidden_states.31', finalNorm: false, pooled: true },
    ]);
    expect((await textEncoderSpecs(m, 3)).map((s) => s.output)).toEqual(['hidden_states.9', 'hidden_states.29']);
    expect((await textEncoderSpecs(m, 12)).map((s) => s.output)).toEqual(['hidden_states.0', 'hidden_states.20']);
    const short = fakeModel({ text_encoder: encoderSession(hiddenNames(5)).session, text_encoder_2: te2 }, { sdxl: true });
    expect(await refusalAsync(textEncoderSpecs(short, 5))).toBe(
      'clipSkip 5 reaches past the first layer of text_encoder (it exposes 5 hidden states: 4 layers + embeddings); use a smaller clipSkip.',
    );
    const none = fakeModel({ text_encoder: te, text_encoder_2: encoderSession(['text_embeds']).session }, { sdxl: true });
    expect(await refusalAsync(textEncoderSpecs(none, 1))).toBe(
      'clipSkip 1 reaches past the first layer of text_encoder_2 (it exposes 0 hidden states: 0 layers + embeddings); use a smaller clipSkip.',
    );
  });
});

describe('idsTensor and runTextEncoder', () => {
  it('ids as [1, n] int32 or int64', () => {
    expect(idsTensor([49406, 320, 49407], 'int32')).toEqual({ type: 'int32', data: new Int32Array([49406, 320, 49407]), dims: [1, 3] });
    expect(idsTensor([49406, 49407], 'int64')).toEqual({ type: 'int64', data: new BigInt64Array([49406n, 49407n]), dims: [1, 2] });
  });

  const spec = (o: Partial<TextEncoderSpec>): TextEncoderSpec =>
    ({ component: 'text_encoder', tokenizer: TOK, inputIdsType: 'int64', output: 'last_hidden_state', finalNorm: false, pooled: false, ...o }) as unknown as TextEncoderSpec;

  it('returns the named output [tokens, D] with D from its dims, and a copy of text_embeds when pooled', async () => {
    const embeds = new Float32Array([7, 8]);
    const { session, feeds } = encoderSession([], () => ({
      'hidden_states.3': { type: 'float32', data: new Float32Array([1, 2, 3, 4, 5, 6]), dims: [1, 2, 3] },
      text_embeds: { type: 'float32', data: embeds, dims: [1, 2] },
    }));
    const m = fakeModel({ text_encoder_2: session });
    const out = await runTextEncoder(m, spec({ component: 'text_encoder_2', output: 'hidden_states.3', pooled: true }), [5, 6], null);
    expect(feeds[0].input_ids).toEqual({ type: 'int64', data: new BigInt64Array([5n, 6n]), dims: [1, 2] });
    expect(out.hidden).toBe(3);
    expect(Array.from(out.states)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(Array.from(out.pooled!)).toEqual([7, 8]);
    expect(out.pooled).not.toBe(embeds); // a copy: the session may reuse its output buffer
    const plain = await runTextEncoder(m, spec({ component: 'text_encoder_2', output: 'hidden_states.3' }), [5], null);
    expect(plain.pooled).toBeNull();
  });

  it('names a missing output, and refuses a final norm it was not given', async () => {
    const { session } = encoderSession([], () => ({ last_hidden_state: { type: 'float32', data: new Float32Array(4), dims: [1, 2, 2] } }));
    const m = fakeModel({ text_encoder: session });
    await expect(runTextEncoder(m, spec({ output: 'hidden_states.5' }), [1], null)).rejects.toThrow(new Error('text_encoder returned no "hidden_states.5" output.'));
    await expect(runTextEncoder(m, spec({ finalNorm: true }), [1], null)).rejects.toThrow(new Error('finalNorm requested without the recovered LayerNorm'));
  });

  it('applies the final norm when asked', async () => {
    const { session } = encoderSession([], () => ({ last_hidden_state: { type: 'float32', data: new Float32Array([1, 3, 0, 4]), dims: [1, 2, 2] } }));
    const norm = { gamma: new Float64Array(), beta: new Float64Array(), eps: 0, apply: (s: Float32Array, h: number) => s.map((v) => v * 10 + h) };
    const out = await runTextEncoder(fakeModel({ text_encoder: session }), spec({ finalNorm: true }), [1], norm);
    expect(Array.from(out.states)).toEqual([12, 32, 2, 42]);
  });
});

/** LayerNorm written out: (x − mean)/√(var + eps)·γ + β, biased variance, per row, in float64. */
function layerNorm(x: ArrayLike<number>, dim: number, gamma: number[], beta: number[], eps: number): number[] {
  const out: number[] = [];
  for (let r = 0; r < x.length / dim; r++) {
    const row = Array.from({ length: dim }, (_, d) => x[r * dim + d]);
    const mean = row.reduce((a, b) => a + b, 0) / dim;
    const v = row.reduce((a, b) => a + (b - mean) ** 2, 0) / dim;
    row.forEach((xv, d) => out.push(((xv - mean) / Math.sqrt(v + eps)) * gamma[d] + beta[d]));
  }
  return out;
}

describe('recoverFinalLayerNorm: γ and β from one input/output pair', () => {
  const dim = 3;
  // 5 rows with very different spreads (so a wrong eps or variance is not an affine change per channel)
  const x = new Float32Array([1, 2, 4, -3, 0.5, 0.25, 10, -10, 3, 0.01, 0.02, -0.05, 2, 2.5, -7]);
  const gamma = [1.5, -0.5, 2];
  const beta = [0.1, 0.2, -0.3];

  it('recovers them exactly with a large eps (0.5), and apply() is the LayerNorm', () => {
    const eps = 0.5;
    const y = new Float32Array(layerNorm(x, dim, gamma, beta, eps));
    const norm = recoverFinalLayerNorm(x, y, dim, eps);
    expect(norm.eps).toBe(0.5);
    Array.from(norm.gamma).forEach((g, d) => expect(g).toBeCloseTo(gamma[d], 5));
    Array.from(norm.beta).forEach((b, d) => expect(b).toBeCloseTo(beta[d], 5));
    const other = new Float32Array([0.3, -1, 2, 5, 5, 6]);
    const want = layerNorm(other, dim, gamma, beta, eps);
    Array.from(norm.apply(other, dim)).forEach((v, i) => expect(v).toBeCloseTo(want[i], 5));
  });

  it('refuses an output that is not that LayerNorm (wrong eps, or unrelated) with the error size', () => {
    const wrongEps = new Float32Array(layerNorm(x, dim, gamma, beta, 1e-5));
    expect(refusal(() => recoverFinalLayerNorm(x, wrongEps, dim, 0.5))).toMatch(
      /^clip skip is not possible with this text encoder: its last hidden_states output is not the input of the final LayerNorm \(reconstruction error \d\.\d\de[+-]\d+\)\. Use clipSkip 1\.$/,
    );
    // the bar scales with the output (1e-3 of the largest |y|, at least 1): float32 outputs near 10⁵ are
    // accepted (their rounding alone is ~10⁻², above an absolute 1e-3), an error of 2 % of the largest is not
    const g5 = gamma.map((g) => g * 1e5);
    const big = layerNorm(x, dim, g5, beta, 1e-5);
    Array.from(recoverFinalLayerNorm(x, new Float32Array(big), dim, 1e-5).gamma).forEach((g, d) => expect(g / g5[d]).toBeCloseTo(1, 5));
    const top = Math.max(...big.map(Math.abs));
    big[4] += 0.02 * top;
    expect(() => recoverFinalLayerNorm(x, new Float32Array(big), dim, 1e-5)).toThrow(PipelineInputError);
  });

  it('a channel that is constant after normalisation gets γ 0 and β its mean', () => {
    const x2 = new Float32Array([0, 2, 5, 7]); // each row: mean ± 1, var 1 → x̂ = (−1, 1)/√(1 + eps) in both rows
    const y2 = new Float32Array([3, 4, 3, 4]);
    const norm = recoverFinalLayerNorm(x2, y2, 2, 1e-5);
    expect(Array.from(norm.gamma)).toEqual([0, 0]);
    expect(Array.from(norm.beta)).toEqual([3, 4]);
  });
});

describe('finalLayerNorm: recovered once per model, with the config\'s eps', () => {
  const dim = 3;
  const x = new Float32Array([1, 2, 4, -3, 0.5, 0.25, 10, -10, 3]);
  const gamma = [2, 1, -1];
  const beta = [0, 0.5, 1];

  function model(eps: unknown, normEps: number) {
    const { session, feeds } = encoderSession(['last_hidden_state', 'hidden_states.0', 'hidden_states.1'], () => ({
      // hidden_states.1 is the last layer: the LayerNorm's input; .0 is unrelated
      'hidden_states.0': { type: 'float32', data: new Float32Array(9).fill(7), dims: [1, 3, dim] },
      'hidden_states.1': { type: 'float32', data: x, dims: [1, 3, dim] },
      last_hidden_state: { type: 'float32', data: new Float32Array(layerNorm(x, dim, gamma, beta, normEps)), dims: [1, 3, dim] },
    }));
    return { m: fakeModel({ text_encoder: session }, { layerNormEps: eps }), feeds };
  }

  it('uses layer_norm_eps from the config, feeds the empty prompt once, and caches per model', async () => {
    const { m, feeds } = model(0.25, 0.25);
    const norm = await finalLayerNorm(m, [49406, 49407, 49407]);
    expect(norm.eps).toBe(0.25);
    expect(feeds[0].input_ids).toEqual({ type: 'int32', data: new Int32Array([49406, 49407, 49407]), dims: [1, 3] });
    Array.from(norm.gamma).forEach((g, d) => expect(g).toBeCloseTo(gamma[d], 5));
    expect(await finalLayerNorm(m, [49406])).toBe(norm);
    expect(feeds.length).toBe(1);
  });

  it('falls back to CLIPTextConfig\'s 1e-5 without a usable eps (absent, 0, negative, a string)', async () => {
    for (const eps of [undefined, 0, -1, '0.25']) {
      const { m } = model(eps, 1e-5);
      expect((await finalLayerNorm(m, [1, 2, 3])).eps).toBe(1e-5);
    }
  });
});

describe('concatHidden and zeroNegativeFor', () => {
  it('concatenates per token along the hidden axis (SDXL 768 + 1280 in miniature: 1 + 2)', () => {
    const a = new Float32Array([1, 2, 3]); // 3 tokens × 1
    const b = new Float32Array([10, 11, 20, 21, 30, 31]); // 3 tokens × 2
    expect(Array.from(concatHidden([a, b], [1, 2]))).toEqual([1, 10, 11, 2, 20, 21, 3, 30, 31]);
    expect(concatHidden([a], [1])).toBe(a);
  });

  it('zeros for the negative only on force_zeros_for_empty_prompt models with no (or a blank) negative prompt', () => {
    const zeros = fakeModel({}, { forceZeros: true });
    expect(zeroNegativeFor(zeros, undefined)).toBe(true);
    expect(zeroNegativeFor(zeros, '')).toBe(true);
    expect(zeroNegativeFor(zeros, '  \n')).toBe(true);
    expect(zeroNegativeFor(zeros, 'blurry')).toBe(false);
    expect(zeroNegativeFor(fakeModel({}, { forceZeros: false }), '')).toBe(false);
    expect(zeroNegativeFor(fakeModel({}), undefined)).toBe(false);
  });
});

describe('encodePrompt on a real encoder (sd15-diffusers fixture): the conditioning object', () => {
  const models = useFixtureModels(['sd15-diffusers']);
  const words = (n: number) => Array.from({ length: n }, () => 'cat').join(' ');
  const plain = async (text: string) => (await encodePrompt(models.get('sd15-diffusers')!, { prompt: text, negativePrompt: '', steps: 1, batch: 1, doCfg: false })).embedsAt(0);
  const same = (a: Float32Array, b: Float32Array) => a.length === b.length && a.every((v, i) => Object.is(v, b[i]));

  it('sizes, texts and the [negative × batch, positive × batch] rows', async () => {
    const m = models.get('sd15-diffusers')!;
    const cond = await encodePrompt(m, { prompt: 'a red cube', negativePrompt: 'blurry', steps: 3, batch: 2, doCfg: true });
    expect([cond.chunkTokens, cond.seqLen, cond.chunks, cond.pooledSize, cond.truncated]).toEqual([77, 77, 1, 0, false]);
    expect(cond.texts).toEqual({ positive: ['a red cube'], negative: ['blurry'] });
    expect(cond.pooledAt(0)).toBeNull();
    const one = 77 * cond.hidden;
    const e = cond.embedsAt(0);
    expect(e.length).toBe(4 * one);
    const neg = await plain('blurry');
    const pos = await plain('a red cube');
    expect([0, 1, 2, 3].map((r) => (same(e.subarray(r * one, (r + 1) * one), neg) ? 'n' : same(e.subarray(r * one, (r + 1) * one), pos) ? 'p' : '?'))).toEqual(['n', 'n', 'p', 'p']);
    expect(cond.embedsAt(2)).toBe(e); // one text for every step: the same array
  });

  it('without CFG the negative is neither encoded nor fed; zeroNegative then changes nothing', async () => {
    const m = models.get('sd15-diffusers')!;
    const s = spySession(m, 'text_encoder');
    try {
      const cond = await encodePrompt(m, { prompt: 'a red cube', negativePrompt: 'blurry', steps: 1, batch: 1, doCfg: false, zeroNegative: true });
      expect(cond.texts.negative).toEqual([]);
      expect(s.feeds.length).toBe(1);
      expect(cond.embedsAt(0).length).toBe(77 * cond.hidden);
    } finally {
      s.restore();
    }
  });

  it('zeroNegative under CFG: zeros for the negative rows, no encoder run for it', async () => {
    const m = models.get('sd15-diffusers')!;
    const s = spySession(m, 'text_encoder');
    try {
      const cond = await encodePrompt(m, { prompt: 'a red cube', negativePrompt: 'ignored', steps: 1, batch: 1, doCfg: true, zeroNegative: true });
      expect(s.feeds.length).toBe(1);
      expect(cond.texts.negative).toEqual(['']);
      const one = 77 * cond.hidden;
      const e = cond.embedsAt(0);
      expect(e.length).toBe(2 * one);
      expect(e.subarray(0, one).every((v) => v === 0)).toBe(true);
      expect(same(e.subarray(one), await plain('a red cube'))).toBe(true);
    } finally {
      s.restore();
    }
  });

  it('keyAt follows the prompt schedule of each side; past the last step it keeps the last text', async () => {
    const m = models.get('sd15-diffusers')!;
    const cond = await encodePrompt(m, { prompt: 'a [cat:dog:2]', negativePrompt: '[x:y:3]', steps: 4, batch: 1, doCfg: true });
    // A1111: positive [[2, a cat], [4, a dog]], negative [[3, x], [4, y]]; 0-based step i is in the first entry with i ≤ end
    expect([0, 1, 2, 3, 9].map((i) => cond.keyAt(i))).toEqual(['0:0', '0:0', '0:0', '1:0', '1:1']);
    expect(cond.texts).toEqual({ positive: ['a cat', 'a dog'], negative: ['x', 'y'] });
    const e3 = cond.embedsAt(3);
    expect(same(e3.subarray(77 * cond.hidden), await plain('a dog'))).toBe(true);
    expect(same(e3.subarray(0, 77 * cond.hidden), await plain('x'))).toBe(true);
    const e2 = cond.embedsAt(2);
    expect(same(e2.subarray(77 * cond.hidden), await plain('a cat'))).toBe(true);
    expect(cond.embedsAt(0)).toBe(e2);
    expect(same(cond.embedsAt(9).subarray(0, 77 * cond.hidden), await plain('y'))).toBe(true);
    const solo = await encodePrompt(m, { prompt: 'a [cat:dog:2]', negativePrompt: '', steps: 4, batch: 1, doCfg: false });
    expect([0, 3].map((i) => solo.keyAt(i))).toEqual(['0:-', '1:-']);
  });

  it('limitSequence keeps whole chunks, flags lost text (positive or negative) and not lost padding', async () => {
    const m = models.get('sd15-diffusers')!;
    const longPos = await encodePrompt(m, { prompt: words(100), negativePrompt: '', steps: 1, batch: 1, doCfg: true });
    expect([longPos.chunks, longPos.seqLen]).toEqual([2, 154]);
    const before = longPos.embedsAt(0);
    expect(before.length).toBe(2 * 154 * longPos.hidden);
    longPos.limitSequence(200); // room for both: nothing changes
    expect([longPos.seqLen, longPos.truncated]).toEqual([154, false]);
    expect(longPos.embedsAt(0)).toBe(before);
    longPos.limitSequence(153); // ⌊153/77⌋ = 1 chunk
    expect([longPos.seqLen, longPos.truncated, longPos.chunks]).toEqual([77, true, 2]);
    const after = longPos.embedsAt(0);
    expect(after.length).toBe(2 * 77 * longPos.hidden);
    expect(same(after.subarray(0, 77 * longPos.hidden), await plain(''))).toBe(true);
    expect(same(after.subarray(77 * longPos.hidden), before.subarray(2 * 77 * longPos.hidden, 3 * 77 * longPos.hidden))).toBe(true);

    const longNeg = await encodePrompt(m, { prompt: 'a cat', negativePrompt: words(100), steps: 1, batch: 1, doCfg: true });
    longNeg.limitSequence(10); // at least one chunk
    expect([longNeg.seqLen, longNeg.truncated]).toEqual([77, true]);

    const short = await encodePrompt(m, { prompt: 'a cat', negativePrompt: 'x', steps: 1, batch: 1, doCfg: true });
    short.limitSequence(77);
    expect([short.seqLen, short.truncated]).toEqual([77, false]);
  });
});
