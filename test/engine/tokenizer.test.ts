import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, writeFileSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ClipTokenizer, cleanPrompt, loadTokenizer, tokenString } from '../../main/engine/tokenizer';
import { decodeHtmlEntities } from '../../main/engine/html-entities';

const VOCAB = 'test/fixtures/clip-vocab/vocab.json';
const MERGES = 'test/fixtures/clip-vocab/merges.txt';

// Expected ids produced by an independent Python port of OpenAI simple_tokenizer.py
// (real html.unescape, str.lower, unicodedata categories for \p{L}/\p{N}) on the real CLIP vocab.
const REFERENCE: Array<[string, number[]]> = [
  ["a photo of a cat", [49406, 320, 1125, 539, 320, 2368, 49407]],
  ["A PHOTO OF A CAT", [49406, 320, 1125, 539, 320, 2368, 49407]],
  ["Hello, world!!! How's it going?", [49406, 3306, 267, 1002, 995, 829, 568, 585, 1245, 286, 49407]],
  ["it's 2024 and I'm 37 years old; they'll've", [49406, 585, 568, 273, 271, 273, 275, 537, 328, 880, 274, 278, 1151, 896, 282, 889, 1342, 1200, 49407]],
  ["astronaut   riding\ta\n\nhorse  ", [49406, 18376, 6765, 320, 4558, 49407]],
  ["tom &amp; jerry &lt;3 &amp;amp; &copy; &#39;quoted&#39; &#x1F600;", [49406, 2435, 261, 9164, 283, 274, 261, 5811, 262, 27706, 262, 7334, 49407]],
  ["caf\u00e9 na\u00efve r\u00e9sum\u00e9 \u00dcn\u00efc\u00f6d\u00e9", [49406, 15304, 1097, 35689, 563, 29106, 7054, 4166, 6522, 77, 35689, 66, 7255, 67, 4166, 49407]],
  ["\u6771\u4eac\u30bf\u30ef\u30fc \u591c\u666f", [49406, 48338, 21078, 105, 34941, 2429, 107, 30391, 23170, 250, 48132, 363, 49407]],
  ["\ud83d\udc31 cute cat \ud83d\udc36\ud83d\udc36 emoji \ud83d\udc4d\ud83c\udffd", [49406, 22979, 2242, 2368, 14466, 10631, 16327, 43722, 49407]],
  ["(masterpiece:1.2), [best quality], {{ultra-detailed}}", [49406, 263, 12066, 281, 272, 269, 273, 2361, 314, 949, 3027, 34067, 90, 346, 8118, 268, 12609, 92, 348, 49407]],
  ["3.14159 1,000,000 \u00bd \u00b2 \u0663", [49406, 274, 269, 272, 275, 272, 276, 280, 272, 267, 271, 271, 271, 267, 271, 271, 271, 33613, 41175, 149, 352, 49407]],
  ["don't DON'T we'D I'LL", [49406, 847, 713, 847, 713, 649, 1896, 328, 1342, 49407]],
  ["<|startoftext|>x<|endoftext|>", [49406, 49406, 343, 49407, 49407]],
  ["hello_world foo-bar e.g. u.s.a.", [49406, 3306, 318, 1002, 23435, 268, 2411, 324, 269, 326, 269, 340, 269, 338, 269, 320, 269, 49407]],
  ["", [49406, 49407]],
  ["   ", [49406, 49407]],
  ["Stra\u00dfe \u03a3\u038a\u03a3\u03a5\u03a6\u039f\u03a3 \u041f\u0440\u0438\u0432\u0435\u0442 \u043c\u0438\u0440", [49406, 1894, 127, 253, 324, 139, 225, 138, 107, 139, 225, 139, 227, 139, 228, 138, 123, 139, 480, 26302, 16370, 29503, 110, 22176, 141, 480, 38018, 16701, 141, 478, 49407]],
  ["tab\u00a0nbsp\u2003emsp zero\u200bwidth", [49406, 14724, 6459, 4393, 908, 4393, 5848, 9844, 23571, 49407]],
  ["&ampfoo &notit; &amp", [49406, 261, 23435, 126, 361, 585, 282, 261, 49407]],
  ["a,b;c:d!e?f'g\"h", [49406, 320, 267, 321, 282, 322, 281, 323, 256, 324, 286, 325, 262, 326, 257, 327, 49407]],
  ["8k uhd, dslr, soft lighting, high quality, film grain, Fujifilm XT3", [49406, 279, 330, 84, 4414, 267, 33740, 267, 3773, 5799, 267, 1400, 3027, 267, 1860, 12109, 267, 24765, 1052, 274, 49407]]
];

describe('ClipTokenizer (real CLIP vocabulary)', () => {
  const tok = ClipTokenizer.fromFiles(VOCAB, MERGES);

  it('encodes the README example', () => {
    expect(tok.encode('a photo of a cat')).toEqual([49406, 320, 1125, 539, 320, 2368, 49407]);
    expect(tok.vocabSize).toBe(49408);
    expect(tok.padId).toBe(49407);
  });

  it.each(REFERENCE)('matches simple_tokenizer for %j', (text, ids) => {
    expect(tok.encode(text)).toEqual(ids);
  });

  it('splits numbers per digit and keeps apostrophe suffixes', () => {
    const ids = tok.encode("2024's");
    // "2","0","2","4" each as a standalone digit token + "'s"
    expect(ids.slice(1, 5)).toEqual([273, 271, 273, 275]);
    expect(ids.length).toBe(7);
  });

  it('collapses whitespace and is stable under repeated calls (cache)', () => {
    const a = tok.encode('  red    apple  ');
    expect(tok.encode('red apple')).toEqual(a);
    expect(tok.encode('red apple')).toEqual(a);
  });

  it('treats curly quotes and full-width ASCII like their plain forms (ftfy)', () => {
    expect(tok.encode('the cat\u2019s toy')).toEqual(tok.encode("the cat's toy"));
    expect(tok.encode('\uff41\uff42\uff43')).toEqual(tok.encode('abc'));
    expect(tok.encode('\ufb01sh')).toEqual(tok.encode('fish'));
  });

  it('pads to 77 with the pad token and truncates to 75 content tokens + EOS', () => {
    const short = tok.encodePadded('a photo of a cat');
    expect(short.truncated).toBe(false);
    expect(short.ids).toHaveLength(77);
    expect(short.ids.slice(0, 7)).toEqual([49406, 320, 1125, 539, 320, 2368, 49407]);
    expect(short.ids.slice(7).every((i) => i === 49407)).toBe(true);

    const long = tok.encodePadded(Array.from({ length: 100 }, () => 'cat').join(' '));
    expect(long.truncated).toBe(true);
    expect(long.ids).toHaveLength(77);
    expect(long.ids[0]).toBe(49406);
    expect(long.ids[76]).toBe(49407);
    expect(long.ids.slice(1, 76).every((i) => i === 2368)).toBe(true);

    const exact = tok.encodePadded(Array.from({ length: 75 }, () => 'cat').join(' '));
    expect(exact.truncated).toBe(false);
    expect(exact.ids[76]).toBe(49407);
    const over = tok.encodePadded(Array.from({ length: 76 }, () => 'cat').join(' '));
    expect(over.truncated).toBe(true);
  });

  it('pads with "!" (id 0) when configured as SD2 / SDXL tokenizer_2', () => {
    const sd2 = ClipTokenizer.fromFiles(VOCAB, MERGES, { padToken: '!' });
    const { ids } = sd2.encodePadded('a cat');
    expect(ids.slice(0, 4)).toEqual([49406, 320, 2368, 49407]);
    expect(ids.slice(4).every((i) => i === 0)).toBe(true);
  });

  it('decodes back to the cleaned text', () => {
    expect(tok.decode(tok.encode('Hello, World! 東京'))).toBe('hello , world ! 東京');
  });
});

describe('text cleaning', () => {
  it('html-unescapes twice like simple_tokenizer.basic_clean', () => {
    expect(cleanPrompt('Tom &amp;amp; Jerry')).toBe('tom & jerry');
    expect(decodeHtmlEntities('&#128512; &#x41; &#150; &#0; &bogus; &eacute &eacute;')).toBe('\u{1F600} A \u2013 \ufffd &bogus; \u00e9 \u00e9');
  });
});

describe('loadTokenizer', () => {
  it('reads pad token from special_tokens_map.json as string or {content}', () => {
    const dir = mkdtempSync(join(tmpdir(), 'atelier-tok-'));
    copyFileSync(VOCAB, join(dir, 'vocab.json'));
    copyFileSync(MERGES, join(dir, 'merges.txt'));
    writeFileSync(join(dir, 'special_tokens_map.json'), JSON.stringify({ pad_token: { content: '!', lstrip: false } }));
    writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify({ model_max_length: 77 }));
    expect(loadTokenizer(dir).padId).toBe(0);
    writeFileSync(join(dir, 'special_tokens_map.json'), JSON.stringify({ pad_token: '<|endoftext|>' }));
    expect(loadTokenizer(dir).padId).toBe(49407);
    expect(tokenString({ content: 'x' })).toBe('x');
    expect(tokenString(3)).toBeUndefined();
  });

  it('loads the small fixture vocabulary', () => {
    const t = loadTokenizer('test/fixtures/models/sd2-v/tokenizer');
    expect(t.padToken).toBe('!');
    const ids = t.encode('a photo of a cat, 8k!');
    expect(ids[0]).toBe(t.bosId);
    expect(ids[ids.length - 1]).toBe(t.eosId);
    expect(t.decode(ids)).toBe('a photo of a cat , 8 k !');
    expect(readFileSync('test/fixtures/models/sd2-v/tokenizer/merges.txt', 'utf8').startsWith('#version')).toBe(true);
  });
});
