import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ClipTokenizer } from '../../../main/engine/tokenizer';
import {
  PROMPT_BREAK,
  applyEmphasis,
  applyEmphasisNoNorm,
  chunkTokens,
  commaTokenId,
  concatChunkStates,
  emptyChunk,
  encodeWithoutSpecial,
  tokenizeWeightedPrompt,
  type PromptFragment,
} from '../../../main/engine/prompt';

const VOCAB = 'test/fixtures/clip-vocab/vocab.json';
const MERGES = 'test/fixtures/clip-vocab/merges.txt';
const tok = ClipTokenizer.fromFiles(VOCAB, MERGES);
const vocab = JSON.parse(readFileSync(VOCAB, 'utf8')) as Record<string, number>;
const BOS = 49406;
const EOS = 49407;
const id = (word: string): number => {
  const ids = encodeWithoutSpecial(tok, word);
  expect(ids).toHaveLength(1);
  return ids[0];
};
const A = id('a');
const B = id('b');
const COMMA = vocab[',</w>'];

/** `n` copies of `x`. */
const rep = <T>(x: T, n: number): T[] => new Array<T>(n).fill(x);

describe('tokenizer glue', () => {
  it('the comma id is the vocabulary id of ",</w>"', () => {
    expect(COMMA).toBe(267);
    expect(commaTokenId(tok)).toBe(COMMA);
  });

  it('encodeWithoutSpecial strips the BOS/EOS frame that ClipTokenizer.encode adds', () => {
    expect(tok.encode('a photo of a cat')).toEqual([BOS, 320, 1125, 539, 320, 2368, EOS]);
    expect(encodeWithoutSpecial(tok, 'a photo of a cat')).toEqual([320, 1125, 539, 320, 2368]);
    expect(encodeWithoutSpecial(tok, '')).toEqual([]);
    // An encoder that does not frame is left alone.
    expect(encodeWithoutSpecial({ bosId: BOS, eosId: EOS, encode: () => [5, 6] }, 'x')).toEqual([5, 6]);
  });

  it('a vocabulary without a comma token disables the backtrack', () => {
    expect(commaTokenId({ bosId: 1, eosId: 2, encode: () => [1, 7, 8, 2] })).toBeNull();
  });
});

describe('tokenizeWeightedPrompt (A1111 tokenize_line)', () => {
  it('a short prompt is one 77-token chunk padded with EOS, weights 1.0', () => {
    const r = tokenizeWeightedPrompt('a photo of a cat', tok);
    expect(r.chunks).toHaveLength(1);
    expect(r.chunks[0].tokens).toEqual([BOS, 320, 1125, 539, 320, 2368, ...rep(EOS, 71)]);
    expect(r.chunks[0].weights).toEqual(rep(1.0, 77));
    expect(r.tokenCount).toBe(5);
    expect(r.truncated).toBe(false);
    expect(r.totalChunks).toBe(1);
  });

  it('an empty prompt is one chunk of BOS + EOS padding (A1111 empty_chunk)', () => {
    const r = tokenizeWeightedPrompt('', tok);
    expect(r.chunks).toEqual([emptyChunk({ bosId: BOS, eosId: EOS })]);
    expect(r.chunks[0].tokens).toEqual([BOS, ...rep(EOS, 76)]);
    expect(r.tokenCount).toBe(0);
  });

  it('each token carries the weight of its attention run; BOS/EOS/padding stay 1.0', () => {
    const r = tokenizeWeightedPrompt('a (cat:1.5) on a [mat]', tok);
    const ids = [A, id('cat'), id('on'), A, id('mat')];
    expect(encodeWithoutSpecial(tok, 'a cat on a mat')).toEqual(ids);
    expect(r.parsed).toEqual([
      ['a ', 1.0],
      ['cat', 1.5],
      [' on a ', 1.0],
      ['mat', 0.9090909090909091],
    ]);
    expect(r.chunks[0].tokens.slice(0, 7)).toEqual([BOS, ...ids, EOS]);
    expect(r.chunks[0].weights).toEqual([1.0, 1.0, 1.5, 1.0, 1.0, 0.9090909090909091, ...rep(1.0, 71)]);
  });

  it('BREAK starts a new chunk', () => {
    const r = tokenizeWeightedPrompt('a cat BREAK a dog', tok);
    expect(r.chunks).toHaveLength(2);
    expect(r.chunks[0].tokens).toEqual([BOS, 320, 2368, ...rep(EOS, 74)]);
    expect(r.chunks[1].tokens).toEqual([BOS, 320, id('dog'), ...rep(EOS, 74)]);
    expect(r.tokenCount).toBe(75 + 2);
  });

  it('a leading BREAK gives an empty first chunk, as in A1111', () => {
    const r = tokenizeWeightedPrompt('BREAK a', tok);
    expect(r.chunks.map((c) => c.tokens.slice(0, 3))).toEqual([
      [BOS, EOS, EOS],
      [BOS, A, EOS],
    ]);
  });

  it('BREAK inside brackets is plain text (its weight is no longer -1)', () => {
    const r = tokenizeWeightedPrompt('a (b BREAK c)', tok);
    expect(r.chunks).toHaveLength(1);
    expect(r.chunks[0].tokens.slice(0, 6)).toEqual([BOS, A, B, id('BREAK'), id('c'), EOS]);
    expect(r.chunks[0].weights.slice(0, 6)).toEqual([1.0, 1.0, 1.1, -1.1, 1.1, 1.0]);
  });

  it('more than 75 tokens without commas: chunks of exactly 75', () => {
    const r = tokenizeWeightedPrompt(rep('a', 160).join(' '), tok);
    expect(r.chunks).toHaveLength(3);
    expect(r.chunks[0].tokens).toEqual([BOS, ...rep(A, 75), EOS]);
    expect(r.chunks[1].tokens).toEqual([BOS, ...rep(A, 75), EOS]);
    expect(r.chunks[2].tokens).toEqual([BOS, ...rep(A, 10), ...rep(EOS, 66)]);
    expect(r.tokenCount).toBe(160);
  });

  it('a full chunk breaks after a comma within its last 20 tokens (comma_padding_backtrack)', () => {
    const prompt = `${rep('a', 70).join(' ')}, ${rep('b', 10).join(' ')}`;
    const r = tokenizeWeightedPrompt(prompt, tok);
    expect(r.chunks).toHaveLength(2);
    expect(r.chunks[0].tokens).toEqual([BOS, ...rep(A, 70), COMMA, ...rep(EOS, 5)]);
    expect(r.chunks[1].tokens).toEqual([BOS, ...rep(B, 10), ...rep(EOS, 66)]);
    expect(r.tokenCount).toBe(85);

    // Backtrack disabled, or no comma id: cut at exactly 75.
    for (const opts of [{ commaPaddingBacktrack: 0 }, { commaId: null }]) {
      const hard = tokenizeWeightedPrompt(prompt, tok, opts);
      expect(hard.chunks[0].tokens).toEqual([BOS, ...rep(A, 70), COMMA, ...rep(B, 4), EOS]);
      expect(hard.chunks[1].tokens).toEqual([BOS, ...rep(B, 6), ...rep(EOS, 70)]);
    }
  });

  it('a comma further back than 20 tokens is not used', () => {
    const prompt = `${rep('a', 50).join(' ')}, ${rep('b', 30).join(' ')}`;
    const r = tokenizeWeightedPrompt(prompt, tok);
    expect(r.chunks[0].tokens).toEqual([BOS, ...rep(A, 50), COMMA, ...rep(B, 24), EOS]);
    expect(r.chunks[1].tokens.slice(0, 8)).toEqual([BOS, ...rep(B, 6), EOS]);
  });

  it('relocated tokens keep their weights', () => {
    const prompt = `${rep('a', 70).join(' ')}, (${rep('b', 10).join(' ')}:1.3)`;
    const r = tokenizeWeightedPrompt(prompt, tok);
    expect(r.chunks[1].tokens.slice(0, 12)).toEqual([BOS, ...rep(B, 10), EOS]);
    expect(r.chunks[1].weights.slice(0, 12)).toEqual([1.0, ...rep(1.3, 10), 1.0]);
    expect(r.chunks[0].weights).toEqual(rep(1.0, 77));
  });

  it('maxChunks drops the excess and reports truncation', () => {
    const prompt = rep('a', 160).join(' ');
    const r = tokenizeWeightedPrompt(prompt, tok, { maxChunks: 2 });
    expect(r.chunks).toHaveLength(2);
    expect(r.truncated).toBe(true);
    expect(r.totalChunks).toBe(3);
    expect(r.tokenCount).toBe(160);
    expect(tokenizeWeightedPrompt(prompt, tok, { maxChunks: 3 }).truncated).toBe(false);
  });

  it('literal text with parseAttention: false (A1111 emphasis "None")', () => {
    const r = tokenizeWeightedPrompt('(cat) BREAK dog', tok, { parseAttention: false });
    expect(r.parsed).toEqual([['(cat) BREAK dog', 1.0]]);
    expect(r.chunks).toHaveLength(1);
    expect(r.chunks[0].weights).toEqual(rep(1.0, 77));
  });

  it('a pad id other than EOS replaces everything after the first EOS (SD2 / SDXL tokenizer_2)', () => {
    const tok2 = ClipTokenizer.fromFiles(VOCAB, MERGES, { padToken: '!' });
    expect(tok2.padId).toBe(0);
    const r = tokenizeWeightedPrompt('a cat', tok2);
    expect(r.chunks[0].tokens).toEqual([BOS, A, 2368, EOS, ...rep(0, 73)]);
    expect(emptyChunk({ bosId: BOS, eosId: EOS, padId: 0 }).tokens).toEqual([BOS, EOS, ...rep(0, 75)]);
  });
});

describe('chunkTokens with synthetic ids', () => {
  const opts = { bosId: 100, eosId: 101, commaId: 9, chunkLength: 6, commaPaddingBacktrack: 3 };
  const w = (ids: number[], weight = 1.0): PromptFragment => ids.map((i) => ({ id: i, weight }));

  it('packs fragments, honours BREAK and the backtrack window', () => {
    const r = chunkTokens([w([1, 2, 3], 1.1), PROMPT_BREAK, w([4, 9, 5, 6, 7, 8, 10])], opts);
    expect(r.chunks.map((c) => c.tokens)).toEqual([
      [100, 1, 2, 3, 101, 101, 101, 101],
      // chunk full at [4,9,5,6,7,8] with the comma 4 back: > 3, so no backtrack
      [100, 4, 9, 5, 6, 7, 8, 101],
      [100, 10, 101, 101, 101, 101, 101, 101],
    ]);
    expect(r.chunks[0].weights).toEqual([1, 1.1, 1.1, 1.1, 1, 1, 1, 1]);
    expect(r.tokenCount).toBe(6 + 6 + 1);
  });

  it('moves the tokens after a near comma to the next chunk', () => {
    const r = chunkTokens([w([1, 2, 3, 9, 5, 6, 7])], opts);
    expect(r.chunks.map((c) => c.tokens)).toEqual([
      [100, 1, 2, 3, 9, 101, 101, 101],
      [100, 5, 6, 7, 101, 101, 101, 101],
    ]);
  });

  it('a comma that arrives when the chunk is full starts the next chunk without counting as a comma', () => {
    const r = chunkTokens([w([1, 2, 3, 4, 5, 6, 9, 1, 2, 3, 4, 5, 7])], opts);
    expect(r.chunks.map((c) => c.tokens)).toEqual([
      [100, 1, 2, 3, 4, 5, 6, 101],
      [100, 9, 1, 2, 3, 4, 5, 101],
      [100, 7, 101, 101, 101, 101, 101, 101],
    ]);
  });

  it('rejects a bad chunk length', () => {
    expect(() => chunkTokens([], { ...opts, chunkLength: 0 })).toThrow(RangeError);
  });
});

describe('emphasis kernels (A1111 EmphasisOriginal / EmphasisNoNorm)', () => {
  const rand = (n: number, seed: number): Float32Array => {
    let s = seed;
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      s = (s * 1103515245 + 12345) % 2147483648;
      out[i] = s / 2147483648 - 0.3;
    }
    return out;
  };

  it('scales each token vector by its weight, then restores the overall mean', () => {
    const dim = 768;
    const z = rand(77 * dim, 7);
    const weights = [1, ...rep(1.0, 3), 1.5, 1.5, 0.9090909090909091, ...rep(1.0, 70)];
    const out = applyEmphasis(z, weights, dim);
    const mean = (a: Float32Array): number => a.reduce((x, y) => x + y, 0) / a.length;
    const zw = applyEmphasisNoNorm(z, weights, dim);
    const ratio = mean(z) / mean(zw);
    for (let t = 0; t < 77; t++) {
      for (let d = 0; d < dim; d += 97) {
        const i = t * dim + d;
        expect(zw[i]).toBe(Math.fround(z[i] * Math.fround(weights[t])));
        expect(out[i]).toBeCloseTo(z[i] * weights[t] * ratio, 5);
      }
    }
    expect(mean(out)).toBeCloseTo(mean(z), 5);
    expect(out).not.toBe(z);
  });

  it('all-1.0 weights leave the states bit-identical', () => {
    const z = rand(77 * 16, 3);
    expect(applyEmphasis(z, rep(1.0, 77), 16)).toEqual(z);
  });

  it('a tiny worked example', () => {
    // mean 2.5; weighted [1,2,6,8] mean 4.25; × 2.5/4.25
    const out = applyEmphasis(new Float32Array([1, 2, 3, 4]), [1, 2], 2);
    const r = 2.5 / 4.25;
    [1 * r, 2 * r, 6 * r, 8 * r].forEach((v, i) => expect(out[i]).toBeCloseTo(v, 6));
  });

  it('checks shapes', () => {
    expect(() => applyEmphasis(new Float32Array(10), [1, 1], 4)).toThrow(RangeError);
    expect(() => applyEmphasisNoNorm(new Float32Array(8), [1, 1], 0)).toThrow(RangeError);
  });

  it('concatenates per-chunk states (torch.hstack)', () => {
    expect(Array.from(concatChunkStates([new Float32Array([1, 2]), new Float32Array([3]), new Float32Array(0)]))).toEqual([1, 2, 3]);
  });
});
