/**
 * `<lora:name:w>` in prompts and `Lora hashes` in infotext, as AUTOMATIC1111 writes and reads them.
 */
import { describe, expect, it } from 'vitest';
import { formatInfotext, formatLoraHashes, infotextToParams, parseInfotext, parseLoraHashes, restoreLoraNames } from '../../../common/infotext';
import { extractPromptLoras, formatPromptLora } from '../../../common/lora-prompt';

describe('<lora:…> prompt syntax', () => {
  it('takes the tags out of the prompt and reads their weights', () => {
    const r = extractPromptLoras('a cat <lora:film grain:0.8>, studio light <lora:koda:1:0.5> <LORA:plain> <lyco:loha_x:0.3:unet=0.7>');
    expect(r.prompt).toBe('a cat , studio light   ');
    expect(r.loras).toEqual([
      { name: 'film grain', weight: 0.8 },
      { name: 'koda', weight: 1, unetWeight: 0.5 },
      { name: 'plain', weight: 1 },
      { name: 'loha_x', weight: 0.3, unetWeight: 0.7 },
    ]);
    expect(r.problems).toEqual([]);
  });

  it('adds up a LoRA named twice, and reports weights that are not numbers', () => {
    expect(extractPromptLoras('<lora:a:0.5> x <lora:a:0.25>').loras).toEqual([{ name: 'a', weight: 0.75 }]);
    const bad = extractPromptLoras('x <lora:a:strong>');
    expect(bad.loras).toEqual([]);
    expect(bad.problems[0]).toContain('must be a number');
    expect(extractPromptLoras('(a:1.2) <hypernet:x:1>').loras).toEqual([]); // other extra networks are left alone
    expect(formatPromptLora({ name: 'koda', weight: 0.8 })).toBe('<lora:koda:0.8>');
    expect(formatPromptLora({ name: 'koda', weight: 1, unetWeight: 0.5 })).toBe('<lora:koda:1:0.5>');
  });
});

describe('Lora hashes', () => {
  const HASH_A = 'a1b2c3d4e5f60718293a4b5c6d7e8f9012345678';
  it('writes A1111 infotext (quoted, 12-digit hashes, names without : or ,) and reads it back', () => {
    const text = formatInfotext({
      prompt: 'portrait <lora:film, grain:0.8>', steps: 20, guidanceScale: 7, seed: 1, width: 512, height: 512,
      loraHashes: [{ name: 'film, grain', hash: HASH_A }, { name: 'koda', hash: '00ff00ff00ff00ff' }],
    });
    expect(text).toContain('Lora hashes: "film grain: a1b2c3d4e5f6, koda: 00ff00ff00ff"');
    const parsed = parseInfotext(text);
    const notes: string[] = [];
    const params = infotextToParams(parsed, notes);
    expect(params.loraHashes).toEqual([{ name: 'film grain', hash: 'a1b2c3d4e5f6' }, { name: 'koda', hash: '00ff00ff00ff' }]);
    expect(params.prompt).toBe('portrait <lora:film, grain:0.8>');
    expect(notes).toEqual([]); // Lora hashes is read, not reported as an unknown setting
  });

  it('restores a real A1111 PNG text: aliases renamed to the local LoRA with the same hash, unknown ones listed', () => {
    // Shape of what A1111 1.10 writes (extensions-builtin/Lora): the tag in the prompt, the hash in the last line.
    const a1111 = [
      'masterpiece, 1girl <lora:add_detail:0.6> <lora:missing_one:1>',
      'Negative prompt: lowres',
      'Steps: 25, Sampler: DPM++ 2M, Schedule type: Karras, CFG scale: 6.5, Seed: 123, Size: 512x768, Model hash: 6ce0161689, Model: v1-5, Lora hashes: "add_detail: 7c6bad76eb54, missing_one: 0123456789ab", Version: v1.10.1',
    ].join('\n');
    const params = infotextToParams(parseInfotext(a1111));
    expect(params.loraHashes).toEqual([{ name: 'add_detail', hash: '7c6bad76eb54' }, { name: 'missing_one', hash: '0123456789ab' }]);
    const local: Record<string, string> = { '7c6bad76eb54': 'detail-tweaker' };
    const restored = restoreLoraNames(params.prompt!, params.loraHashes!, (h) => local[h] ?? null);
    expect(restored.prompt).toBe('masterpiece, 1girl <lora:detail-tweaker:0.6> <lora:missing_one:1>');
    expect(restored.missing).toEqual([{ name: 'missing_one', hash: '0123456789ab' }]);
    expect(extractPromptLoras(restored.prompt).loras).toEqual([{ name: 'detail-tweaker', weight: 0.6 }, { name: 'missing_one', weight: 1 }]);
  });

  it('parses leniently and formats what it parses', () => {
    expect(parseLoraHashes('a: 0123456789ab, broken, b:zz, c : ABCDEF012345')).toEqual([{ name: 'a', hash: '0123456789ab' }, { name: 'c', hash: 'abcdef012345' }]);
    expect(formatLoraHashes(parseLoraHashes('a: 0123456789ab'))).toBe('a: 0123456789ab');
    expect(parseLoraHashes(undefined)).toEqual([]);
  });
});
