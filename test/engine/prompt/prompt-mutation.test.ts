import { describe, expect, it } from 'vitest';
import {
  PROMPT_BREAK,
  applyEmphasis,
  applyEmphasisNoNorm,
  chunkTokens,
  getPromptSchedules,
  parsePromptAttention,
  PromptSyntaxError,
  tokenizeWeightedPrompt,
  type PromptFragment,
} from '../../../main/engine/prompt';
import { pyFloat } from '../../../main/engine/prompt/pychars';
import { ClipTokenizer } from '../../../main/engine/tokenizer';

// Cases added for holes a mutation run (docs/TESTING.md, "Mutation testing") found in the prompt
// parsers: each pins behaviour no earlier test reached. Expected values come from Python's
// float(), A1111's prompt_parser.py / sd_hijack_clip.py rules worked by hand, or numpy float32.

describe("pyFloat is Python's float() on the weights the attention regex captures", () => {
  it('parses every form of float literal Python accepts', () => {
    // Values printed by CPython: float('12.5'), float('.25'), …
    const cases: Array<[string, number]> = [
      ['12.5', 12.5],
      ['.25', 0.25],
      ['10', 10],
      ['1e5', 100000],
      ['1e05', 100000],
      ['1E+2', 100],
      ['2.5e10', 25000000000],
      ['.5e-3', 0.0005],
      ['.5E+2', 50],
      ['.5e10', 5000000000],
      [' 2.5 ', 2.5], // float() strips surrounding whitespace
    ];
    for (const [s, v] of cases) expect(pyFloat(s), s).toBe(v);
  });

  it("rejects what Python's float() rejects, with a PromptSyntaxError", () => {
    for (const s of ['1e', 'e5', '1e+', '.e1', '1.2.3', '.', '']) {
      let err: unknown;
      try {
        pyFloat(s);
      } catch (e) {
        err = e;
      }
      expect(err, s).toBeInstanceOf(PromptSyntaxError);
      expect((err as Error).name).toBe('PromptSyntaxError');
    }
  });

  it('multi-digit and dot-first weights in the attention syntax', () => {
    expect(parsePromptAttention('(a:12.5)')).toEqual([['a', 12.5]]);
    expect(parsePromptAttention('(a:.25)')).toEqual([['a', 0.25]]);
  });
});

describe('getPromptSchedules: brackets that do or do not form a group (text from A1111 rules)', () => {
  it('a round group inside an alternation or a schedule is kept as text of that option', () => {
    expect(getPromptSchedules('[(x)|y]', 2)).toEqual([
      [1, '(x)'],
      [2, 'y'],
    ]);
    expect(getPromptSchedules('[(a:1.2):b:2]', 3)).toEqual([
      [2, '(a:1.2)'],
      [3, 'b'],
    ]);
  });

  it('brackets that close nothing are literal text, unchanged on every step', () => {
    // No `scheduled`/`alternate` node can be formed, so A1111 returns the text as typed.
    for (const p of ['(a:b', '(a]b)', '[a)1]', '[a:b)2]']) expect(getPromptSchedules(p, 3), p).toEqual([[3, p]]);
  });

  it('deep round-bracket nesting is refused with a clear PromptSyntaxError, not a stack overflow', () => {
    const deep = '('.repeat(5000) + 'a' + ')'.repeat(5000);
    expect(() => getPromptSchedules(deep, 2)).toThrow(PromptSyntaxError);
    expect(() => getPromptSchedules(deep, 2)).toThrow(/nested too deeply/);
  });

  it('hiresSteps null means no hires pass (A1111 hires_steps=None)', () => {
    const plain = getPromptSchedules('[a:b:2]', 4);
    expect(plain).toEqual([
      [2, 'a'],
      [4, 'b'],
    ]);
    expect(getPromptSchedules('[a:b:2]', 4, { hiresSteps: null as unknown as undefined })).toEqual(plain);
  });
});

describe('chunking edge cases (A1111 tokenize_line, worked by hand)', () => {
  const tok = ClipTokenizer.fromFiles('test/fixtures/clip-vocab/vocab.json', 'test/fixtures/clip-vocab/merges.txt');
  const BOS = 49406;
  const EOS = 49407;
  const opts = { bosId: 100, eosId: 101, commaId: 9, chunkLength: 6 };
  const w = (ids: number[], weight = 1.0): PromptFragment => ids.map((i) => ({ id: i, weight }));
  const tokensOf = (fragments: PromptFragment[], o: Parameters<typeof chunkTokens>[1]) => chunkTokens(fragments, o).chunks.map((c) => c.tokens);

  it('a trailing BREAK adds no empty chunk (next_chunk(is_last) only runs when tokens remain)', () => {
    const r = chunkTokens([w([1]), PROMPT_BREAK], opts);
    expect(r.chunks.map((c) => c.tokens)).toEqual([[100, 1, 101, 101, 101, 101, 101, 101]]);
    expect(r.tokenCount).toBe(6);
    const t = tokenizeWeightedPrompt('a BREAK', tok);
    expect(t.chunks).toHaveLength(1);
    expect(t.tokenCount).toBe(75);
  });

  it('a run weighted -1 is text, not a BREAK (only the literal BREAK at weight -1 is)', () => {
    const r = tokenizeWeightedPrompt('(a:-1)', tok);
    expect(r.chunks).toHaveLength(1);
    expect(r.chunks[0].tokens.slice(0, 3)).toEqual([BOS, tok.encode('a')[1], EOS]);
    expect(r.chunks[0].weights.slice(0, 3)).toEqual([1.0, -1, 1.0]);
  });

  it('with the widest backtrack window, no comma means plain cuts at the chunk length', () => {
    // comma_padding_backtrack = chunk length − 1 (A1111's slider maximum is 74 for 75).
    const wide = { ...opts, commaPaddingBacktrack: 5 };
    expect(tokensOf([w([1, 2, 3, 4, 5, 6, 7, 8, 10, 11, 12, 13, 14])], wide)).toEqual([
      [100, 1, 2, 3, 4, 5, 6, 101],
      [100, 7, 8, 10, 11, 12, 13, 101],
      [100, 14, 101, 101, 101, 101, 101, 101],
    ]);
  });

  it('a comma at index 1 of a full chunk is within a window of 5: the chunk breaks after it', () => {
    // len(tokens) − last_comma = 6 − 1 = 5 ≤ 5 → break_location = 2.
    expect(tokensOf([w([1, 9, 2, 3, 4, 5, 6])], { ...opts, commaPaddingBacktrack: 5 })).toEqual([
      [100, 1, 9, 101, 101, 101, 101, 101],
      [100, 2, 3, 4, 5, 6, 101, 101],
    ]);
  });

  it('a chunk length of 1 is allowed; 0 is refused with a message', () => {
    const r = chunkTokens([w([1, 2])], { ...opts, chunkLength: 1, commaPaddingBacktrack: 0 });
    expect(r.chunks.map((c) => c.tokens)).toEqual([
      [100, 1, 101],
      [100, 2, 101],
    ]);
    expect(r.tokenCount).toBe(2);
    expect(() => chunkTokens([], { ...opts, chunkLength: 0 })).toThrow(/chunkLength must be a positive integer, got 0/);
  });
});

describe('emphasis kernels: shapes and float32 rounding', () => {
  it('refuses a zero or fractional dim even when the sizes would agree', () => {
    expect(() => applyEmphasis(new Float32Array(0), [], 0)).toThrow(/dim must be a positive integer, got 0/);
    expect(() => applyEmphasisNoNorm(new Float32Array(0), [], 0)).toThrow(RangeError);
    expect(() => applyEmphasisNoNorm(new Float32Array(3), [1, 1], 1.5)).toThrow(RangeError);
    expect(Array.from(applyEmphasisNoNorm(new Float32Array([1, 2]), [2, 3], 1))).toEqual([2, 6]);
    expect(() => applyEmphasis(new Float32Array(10), [1, 1], 4)).toThrow(/hidden states have 10 values; expected 2 tokens × 4/);
  });

  it('matches torch float32 bit for bit where the mean ratio rounds below its exact value', () => {
    // numpy float32: z=[[1],[2],[4]], w=[2,1,1]: mean 2.3333333, weighted mean 2.6666667,
    // ratio 0.87499994 (not 0.875), out = [1.7499998807907104, 1.7499998807907104, 3.499999761581421].
    const out = applyEmphasis(new Float32Array([1, 2, 4]), [2, 1, 1], 1);
    expect(Array.from(out)).toEqual([1.7499998807907104, 1.7499998807907104, 3.499999761581421]);
  });
});
