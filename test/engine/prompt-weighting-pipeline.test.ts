import { describe, expect, it } from 'vitest';
import type { LoadedModel } from '../../main/engine/loader';
import type { EngineTensor } from '../../main/engine/ort-backend';
import { encodePrompt, img2img, PipelineInputError, txt2img } from '../../main/engine/pipeline';
import { BASE_PARAMS as base, spySession as spy, useFixtureModels } from '../helpers/engine-fixtures';

const models = useFixtureModels(['sd15-diffusers', 'sd15-optimum-old', 'sd2-v']);

/** The encoding before prompt weighting: diffusers' truncating `encodePadded` + one text-encoder call. */
async function plainEncode(model: LoadedModel, text: string): Promise<Float32Array> {
  const { ids } = model.tokenizer.encodePadded(text, 77);
  const s = await model.session('text_encoder');
  const input: EngineTensor =
    model.signature.inputIdsType === 'int64'
      ? { type: 'int64', data: BigInt64Array.from(ids, (i) => BigInt(i)), dims: [1, 77] }
      : { type: 'int32', data: Int32Array.from(ids), dims: [1, 77] };
  return (await s.run({ input_ids: input })).last_hidden_state.data as Float32Array;
}

const words = (n: number, w = 'cat') => Array.from({ length: n }, () => w).join(' ');
const same = (a: Float32Array, b: Float32Array) => a.length === b.length && Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));

describe('prompt encoding with A1111 weighting', () => {
  for (const v of ['sd15-diffusers', 'sd2-v']) {
    it(`${v}: a plain prompt gives exactly the plain (truncating) encoder embeddings`, async () => {
      const model = models.get(v)!;
      for (const text of [base.prompt, '', 'blurry, low quality', 'Café  au   lait!']) {
        const cond = await encodePrompt(model, { prompt: text, negativePrompt: '', steps: 3, batch: 1, doCfg: false });
        expect(cond.seqLen).toBe(77);
        expect(cond.truncated).toBe(false);
        expect(same(cond.embedsAt(0), await plainEncode(model, text)), text).toBe(true);
      }
    });
  }

  it('txt2img with a plain prompt feeds the UNet exactly [plain(negative), plain(positive)] (same image as before weighting)', async () => {
    for (const v of ['sd15-optimum-old', 'sd2-v']) {
      const model = models.get(v)!;
      const s = spy(model, 'unet');
      try {
        await txt2img(model, { ...base, steps: 2 });
        const expected = new Float32Array([...(await plainEncode(model, base.negativePrompt!)), ...(await plainEncode(model, base.prompt))]);
        for (const f of s.feeds) {
          expect(f.encoder_hidden_states.dims).toEqual([2, 77, model.signature.hiddenSize]);
          expect(same(f.encoder_hidden_states.data as Float32Array, expected)).toBe(true);
        }
      } finally {
        s.restore();
      }
    }
  });

  it('CFG batch is [negative, positive] and repeats per image', async () => {
    const model = models.get('sd15-diffusers')!;
    const cond = await encodePrompt(model, { prompt: 'a cat', negativePrompt: 'a dog', steps: 3, batch: 2, doCfg: true });
    const e = cond.embedsAt(0);
    const one = 77 * cond.hidden;
    expect(e.length).toBe(4 * one);
    const neg = await plainEncode(model, 'a dog');
    const pos = await plainEncode(model, 'a cat');
    expect(same(e.subarray(0, one), neg) && same(e.subarray(one, 2 * one), neg)).toBe(true);
    expect(same(e.subarray(2 * one, 3 * one), pos) && same(e.subarray(3 * one), pos)).toBe(true);
  });

  it('(word:1.5) changes the embeddings; (word:1) does not', async () => {
    const model = models.get('sd15-diffusers')!;
    const enc = async (prompt: string) => (await encodePrompt(model, { prompt, negativePrompt: '', steps: 1, batch: 1, doCfg: false })).embedsAt(0);
    const plain = await enc('a photo of a cat');
    const weighted = await enc('a photo of a (cat:1.5)');
    const unit = await enc('a photo of a (cat:1)');
    expect(same(unit, plain)).toBe(true);
    expect(same(weighted, plain)).toBe(false);
    // Emphasis scales the token rows and then restores the overall mean.
    const mean = (z: Float32Array) => z.reduce((s, x) => s + x, 0) / z.length;
    expect(mean(weighted)).toBeCloseTo(mean(plain), 5);
    // Only the emphasised token's direction is changed relative to the others: row 5 ("cat") is scaled the most.
    const d = model.signature.hiddenSize!;
    const ratio = (row: number) => weighted[row * d + 3] / plain[row * d + 3];
    expect(ratio(5) / ratio(1)).toBeCloseTo(1.5, 4);
  });

  it('a 150-token prompt yields 2 chunks (sequence 154) and is not truncated', async () => {
    const model = models.get('sd15-optimum-old')!;
    const s = spy(model, 'unet');
    try {
      const res = await txt2img(model, { ...base, prompt: words(150), steps: 2 });
      expect(res.truncatedPrompt).toBe(false);
      expect(s.feeds[0].encoder_hidden_states.dims).toEqual([2, 154, 32]); // negative padded to 2 chunks as well
      expect(new Set(res.images[0].rgb).size).toBeGreaterThan(4);
    } finally {
      s.restore();
    }
  });

  it('a 75-token prompt stays one chunk; 76 tokens make two', async () => {
    const model = models.get('sd15-diffusers')!;
    const enc = async (prompt: string) => encodePrompt(model, { prompt, negativePrompt: '', steps: 1, batch: 1, doCfg: false });
    expect((await enc(words(75))).seqLen).toBe(77);
    expect((await enc(words(76))).seqLen).toBe(154);
  });

  it('the second chunk is encoded on its own and concatenated on the sequence axis', async () => {
    const model = models.get('sd15-diffusers')!;
    const cond = await encodePrompt(model, { prompt: `${words(75)} ${words(3, 'dog')}`, negativePrompt: '', steps: 1, batch: 1, doCfg: false });
    const e = cond.embedsAt(0);
    const one = 77 * cond.hidden;
    expect(same(e.subarray(0, one), await plainEncode(model, words(75)))).toBe(true);
    expect(same(e.subarray(one), await plainEncode(model, words(3, 'dog')))).toBe(true);
  });

  it('BREAK forces a new chunk', async () => {
    const model = models.get('sd15-diffusers')!;
    const cond = await encodePrompt(model, { prompt: 'a cat BREAK a dog', negativePrompt: '', steps: 1, batch: 1, doCfg: false });
    expect(cond.seqLen).toBe(154);
    const one = 77 * cond.hidden;
    expect(same(cond.embedsAt(0).subarray(one), await plainEncode(model, 'a dog'))).toBe(true);
  });

  it('the shorter of negative / positive is padded with empty-prompt chunks', async () => {
    const model = models.get('sd2-v')!; // pad id 0: the empty chunk is BOS EOS 0 0 …
    const cond = await encodePrompt(model, { prompt: 'a cat', negativePrompt: words(100), steps: 1, batch: 1, doCfg: true });
    expect(cond.seqLen).toBe(154);
    const e = cond.embedsAt(0);
    const one = 77 * cond.hidden;
    expect(same(e.subarray(2 * one, 3 * one), await plainEncode(model, 'a cat'))).toBe(true);
    expect(same(e.subarray(3 * one), await plainEncode(model, ''))).toBe(true);
  });

  it('prompt editing [cat:dog:0.5] switches the conditioning after half the steps', async () => {
    const model = models.get('sd15-optimum-old')!; // Euler: one UNet call per step
    const s = spy(model, 'unet');
    try {
      await txt2img(model, { ...base, prompt: 'a [cat:dog:0.5]', guidanceScale: 1, steps: 4 });
      const ehs = s.feeds.map((f) => f.encoder_hidden_states.data as Float32Array);
      const cat = await plainEncode(model, 'a cat');
      const dog = await plainEncode(model, 'a dog');
      // A1111: [[2, 'a cat'], [4, 'a dog']] → steps 0..2 cat, step 3 dog
      expect(ehs.map((e) => (same(e, cat) ? 'cat' : same(e, dog) ? 'dog' : '?'))).toEqual(['cat', 'cat', 'cat', 'dog']);
    } finally {
      s.restore();
    }
  });

  it('alternation [cat|dog] switches text per step as A1111 does, also in img2img over the steps that run', async () => {
    const model = models.get('sd15-optimum-old')!;
    const s = spy(model, 'unet');
    try {
      const cat = await plainEncode(model, 'a cat');
      const dog = await plainEncode(model, 'a dog');
      const label = () => s.feeds.map((f) => f.encoder_hidden_states.data as Float32Array).map((e) => (same(e, cat) ? 'cat' : same(e, dog) ? 'dog' : '?'));
      // A1111 compares its 0-based step counter with the 1-based schedule ends ([[1, cat], [2, dog], [3, cat], [4, dog]]),
      // so the first option covers steps 0 and 1.
      await txt2img(model, { ...base, prompt: 'a [cat|dog]', guidanceScale: 1, steps: 4 });
      expect(label()).toEqual(['cat', 'cat', 'dog', 'cat']);
      s.feeds.length = 0;
      const initImage = { width: 64, height: 64, rgb: new Uint8Array(64 * 64 * 3).fill(128) };
      await img2img(model, { ...base, prompt: 'a [cat|dog]', guidanceScale: 1, steps: 6, strength: 0.5, initImage });
      expect(label()).toEqual(['cat', 'cat', 'dog']); // schedule over the 3 steps that run
    } finally {
      s.restore();
    }
  });

  it('a UNet with a fixed 77-token sequence axis gets the first chunk and truncatedPrompt', async () => {
    const model = models.get('sd15-optimum-old')!;
    const s = spy(model, 'unet', (sess) =>
      sess.inputs.map((i) => (i.name === 'encoder_hidden_states' ? { ...i, shape: [i.shape[0], 77, i.shape[2]] } : i)),
    );
    try {
      const res = await txt2img(model, { ...base, prompt: words(150), steps: 1 });
      expect(res.truncatedPrompt).toBe(true);
      expect(s.feeds[0].encoder_hidden_states.dims).toEqual([2, 77, 32]);
      const first = (s.feeds[0].encoder_hidden_states.data as Float32Array).subarray(77 * 32);
      expect(same(first, await plainEncode(model, words(75)))).toBe(true);
      // a short prompt is not flagged
      const short = await txt2img(model, { ...base, steps: 1 });
      expect(short.truncatedPrompt).toBe(false);
    } finally {
      s.restore();
    }
  });

  it('prompt syntax A1111 rejects is a PipelineInputError naming the prompt, raised before any encoder run', async () => {
    const model = models.get('sd15-diffusers')!;
    const s = spy(model, 'text_encoder');
    try {
      const err = await txt2img(model, { ...base, prompt: 'a (cat:1.2.3)' }).catch((e) => e);
      expect(err).toBeInstanceOf(PipelineInputError);
      expect(err.message).toMatch(/^prompt has invalid syntax: could not convert string to float: '1.2.3'/);
      const neg = await txt2img(model, { ...base, negativePrompt: '(x:1..5)' }).catch((e) => e);
      expect(neg).toBeInstanceOf(PipelineInputError);
      expect(neg.message).toMatch(/^negativePrompt has invalid syntax/);
      expect(s.feeds).toHaveLength(0);
    } finally {
      s.restore();
    }
  });
});
