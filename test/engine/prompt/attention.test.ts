import { describe, expect, it } from 'vitest';
import { parsePromptAttention, PromptSyntaxError } from '../../../main/engine/prompt';

// Expected values are A1111's `parse_prompt_attention` output (modules/prompt_parser.py),
// the docstring examples verbatim and the edge cases as produced by running that function
// under CPython 3.11. Weights are compared with toEqual, i.e. bit-exact doubles.

describe('parsePromptAttention: A1111 doctests', () => {
  const doctests: Array<[string, Array<[string, number]>]> = [
    ['normal text', [['normal text', 1.0]]],
    ['an (important) word', [['an ', 1.0], ['important', 1.1], [' word', 1.0]]],
    ['(unbalanced', [['unbalanced', 1.1]]],
    ['\\(literal\\]', [['(literal]', 1.0]]],
    ['(unnecessary)(parens)', [['unnecessaryparens', 1.1]]],
    [
      'a (((house:1.3)) [on] a (hill:0.5), sun, (((sky))).',
      [
        ['a ', 1.0],
        ['house', 1.5730000000000004],
        [' ', 1.1],
        ['on', 1.0],
        [' a ', 1.1],
        ['hill', 0.55],
        [', sun, ', 1.1],
        ['sky', 1.4641000000000006],
        ['.', 1.1],
      ],
    ],
  ];
  for (const [text, expected] of doctests) {
    it(JSON.stringify(text), () => {
      expect(parsePromptAttention(text)).toEqual(expected);
    });
  }
});

describe('parsePromptAttention: edge cases (values from CPython running A1111 code)', () => {
  const cases: Array<[string, Array<[string, number]>]> = [
    // Repeated multiplication in Python's order.
    ['((a))', [['a', 1.2100000000000002]]],
    ['(((a)))', [['a', 1.3310000000000004]]],
    ['[[a]]', [['a', 0.8264462809917354]]],
    ['[[[a]]]', [['a', 0.7513148009015777]]],
    ['([a])', [['a', 1.0]]],
    ['[(a)]', [['a', 1.0]]],
    // Explicit weights.
    ['(a:1.3)', [['a', 1.3]]],
    ['(a: 1.3 )', [['a', 1.3]]],
    ['((a:1.3))', [['a', 1.4300000000000002]]],
    ['[(a:1.3)]', [['a', 1.1818181818181819]]],
    ['(a:0)', [['a', 0.0]]],
    ['(a:-1)', [['a', -1.0]]],
    ['(a:+.5)', [['a', 0.5]]],
    ['(a:1.)', [['a', 1.0]]],
    ['(a:1.21)((b))', [['a', 1.21], ['b', 1.2100000000000002]]],
    ['(a:1.1)(b)', [['ab', 1.1]]],
    ['(a:1.5)[b:0.5]', [['a', 1.5], ['b:0.5', 0.9090909090909091]]],
    // Python's \d is Unicode: an Arabic-Indic three is a valid weight.
    ['x (a:\u0663)', [['x ', 1.0], ['a', 3.0]]],
    // Stray closers and colons are text.
    ['a)', [['a)', 1.0]]],
    ['a]', [['a]', 1.0]]],
    ['a:b', [['a:b', 1.0]]],
    ['(a:b)', [['a:b', 1.1]]],
    ['(a:1.3', [['a:1.3', 1.1]]],
    ['x:1.5)', [['x:1.5)', 1.0]]],
    // Unbalanced openers apply to the end (round first, then square).
    ['((unbalanced', [['unbalanced', 1.2100000000000002]]],
    ['[unbalanced', [['unbalanced', 0.9090909090909091]]],
    ['[(unbalanced', [['unbalanced', 1.0]]],
    ['(([a]', [['a', 1.1]]],
    ['a [b (c] d)', [['a ', 1.0], ['b ', 0.9090909090909091], ['c', 1.0], [' d', 1.1]]],
    // Escapes.
    ['\\\\', [['\\', 1.0]]],
    ['a\\b', [['ab', 1.0]]],
    ['trailing\\', [['trailing', 1.0]]],
    ['\\(a\\)', [['(a)', 1.0]]],
    ['(\\()', [['(', 1.1]]],
    // BREAK.
    ['a BREAK b', [['a', 1.0], ['BREAK', -1], ['b', 1.0]]],
    ['aBREAK b', [['aBREAK b', 1.0]]],
    ['a BREAKb', [['a BREAKb', 1.0]]],
    ['BREAK', [['', 1.0], ['BREAK', -1], ['', 1.0]]],
    ['BREAK a', [['', 1.0], ['BREAK', -1], ['a', 1.0]]],
    ['a BREAK', [['a', 1.0], ['BREAK', -1], ['', 1.0]]],
    ['a BREAK BREAK b', [['a', 1.0], ['BREAK', -1], ['', 1.0], ['BREAK', -1], ['b', 1.0]]],
    ['a\nBREAK\tb', [['a', 1.0], ['BREAK', -1], ['b', 1.0]]],
    ['a(b BREAK c)', [['a', 1.0], ['b', 1.1], ['BREAK', -1.1], ['c', 1.1]]],
    ['break', [['break', 1.0]]],
    ['A BREAK_ B', [['A BREAK_ B', 1.0]]],
    // Python's \b is Unicode-aware: "é" is a word character, so this is no BREAK.
    ['\u00e9mBREAK x', [['\u00e9mBREAK x', 1.0]]],
    // Empty input and empty groups.
    ['', [['', 1.0]]],
    ['()', [['', 1.0]]],
    ['[]', [['', 1.0]]],
    ['(a)(b)', [['ab', 1.1]]],
    ['(a) (b)', [['a', 1.1], [' ', 1.0], ['b', 1.1]]],
    [
      'a ((b)) [c] (d:2) [[e]] f',
      [
        ['a ', 1.0],
        ['b', 1.2100000000000002],
        [' ', 1.0],
        ['c', 0.9090909090909091],
        [' ', 1.0],
        ['d', 2.0],
        [' ', 1.0],
        ['e', 0.8264462809917354],
        [' f', 1.0],
      ],
    ],
    [
      '(masterpiece:1.2), (best quality), [lowres], ((detailed face)), [[blurry]]',
      [
        ['masterpiece', 1.2],
        [', ', 1.0],
        ['best quality', 1.1],
        [', ', 1.0],
        ['lowres', 0.9090909090909091],
        [', ', 1.0],
        ['detailed face', 1.2100000000000002],
        [', ', 1.0],
        ['blurry', 0.8264462809917354],
      ],
    ],
  ];
  for (const [text, expected] of cases) {
    it(JSON.stringify(text), () => {
      expect(parsePromptAttention(text)).toEqual(expected);
    });
  }

  it('uses exact doubles, not rounded ones', () => {
    const [[, w]] = parsePromptAttention('((a))');
    expect(w).toBe(1.1 * 1.1);
    expect(w).not.toBe(1.21);
  });

  it('Python whitespace around BREAK: U+001C and U+0085 are whitespace, U+FEFF is not', () => {
    expect(parsePromptAttention('a\x1cBREAK\x85b')).toEqual([['a', 1.0], ['BREAK', -1], ['b', 1.0]]);
    expect(parsePromptAttention('a\ufeffBREAK b')).toEqual([['a\ufeff', 1.0], ['BREAK', -1], ['b', 1.0]]);
  });

  it('raises where A1111 raises ValueError on a malformed weight', () => {
    expect(() => parsePromptAttention('(a:1.2.3)')).toThrow(PromptSyntaxError);
    expect(() => parsePromptAttention('(a:.)')).toThrow(/could not convert string to float: '\.'/);
    expect(() => parsePromptAttention('(a:..5)')).toThrow(PromptSyntaxError);
    // Without an open round bracket the same text is harmless.
    expect(parsePromptAttention('a:1.2.3)')).toEqual([['a:1.2.3)', 1.0]]);
  });

  it('returns fresh arrays each call', () => {
    const a = parsePromptAttention('(x)');
    a[0][1] = 99;
    expect(parsePromptAttention('(x)')).toEqual([['x', 1.1]]);
  });
});
