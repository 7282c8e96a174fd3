import { describe, expect, it } from 'vitest';
import { extractPromptLoras } from '../../common/lora-prompt';
import { formatLoraWeight, hasLoraTag, insertLoraTag, promptLoras, removeLoraTag, setLoraWeight } from '../../renderer/lib/lora-tags';

describe('insertLoraTag', () => {
  it('appends <lora:name:1> after the prompt, or is the whole prompt when it is empty', () => {
    expect(insertLoraTag('a lighthouse at dusk', 'film_grain')).toBe('a lighthouse at dusk <lora:film_grain:1>');
    expect(insertLoraTag('a lighthouse, \n', 'film_grain')).toBe('a lighthouse, <lora:film_grain:1>');
    expect(insertLoraTag('', 'film_grain')).toBe('<lora:film_grain:1>');
    expect(insertLoraTag('   ', 'x', 0.75)).toBe('<lora:x:0.75>');
  });

  it('what it inserts is read back by the engine’s parser with the text untouched', () => {
    const p = insertLoraTag('a cat', 'kohya_sd15', 0.6);
    expect(extractPromptLoras(p)).toEqual({ prompt: 'a cat ', loras: [{ name: 'kohya_sd15', weight: 0.6 }], problems: [] });
  });

  it('leaves a prompt that already names the LoRA unchanged (no second, summed tag)', () => {
    const p = 'a cat <lora:x:0.4>';
    expect(insertLoraTag(p, 'x')).toBe(p);
    expect(insertLoraTag('a cat <lyco:x>', 'x')).toBe('a cat <lyco:x>');
  });

  it('refuses names and weights a tag cannot carry', () => {
    expect(() => insertLoraTag('a', 'bad:name')).toThrow(RangeError);
    expect(() => insertLoraTag('a', '  ')).toThrow(RangeError);
    expect(() => insertLoraTag('a', 'x', Number.NaN)).toThrow(RangeError);
  });
});

describe('setLoraWeight', () => {
  it('rewrites the weight of that LoRA’s tag only, keeping the rest of the prompt as typed', () => {
    const p = 'a cat,  <lora:x:1> on a mat <lora:y:0.5>';
    expect(setLoraWeight(p, 'x', 0.35)).toBe('a cat,  <lora:x:0.35> on a mat <lora:y:0.5>');
    expect(setLoraWeight(p, 'y', -1)).toBe('a cat,  <lora:x:1> on a mat <lora:y:-1>');
  });

  it('adds a weight to a bare tag and keeps a separate UNet weight or named arguments', () => {
    expect(setLoraWeight('<lora:x>', 'x', 0.8)).toBe('<lora:x:0.8>');
    expect(setLoraWeight('<lora:x:1:0.5>', 'x', 0.8)).toBe('<lora:x:0.8:0.5>');
    expect(setLoraWeight('<lora:x:unet=0.5>', 'x', 0.8)).toBe('<lora:x:0.8:unet=0.5>');
    expect(setLoraWeight('<lora:x:te=1:unet=0.5>', 'x', 0.8)).toBe('<lora:x:te=0.8:unet=0.5>');
    expect(setLoraWeight('<lyco:x:1>', 'x', 0.2)).toBe('<lyco:x:0.2>');
    expect(promptLoras(setLoraWeight('<lora:x:te=1:unet=0.5>', 'x', 0.8))).toEqual([{ name: 'x', weight: 0.8, unetWeight: 0.5 }]);
  });

  it('with the LoRA named twice, keeps one tag so the merged weight is the one set', () => {
    const p = setLoraWeight('<lora:x:0.5> a cat <lora:x:0.5>', 'x', 0.7);
    expect(p).toBe('<lora:x:0.7> a cat');
    expect(promptLoras(p)).toEqual([{ name: 'x', weight: 0.7 }]);
  });

  it('does not touch names that only start the same, and returns a prompt without the LoRA unchanged', () => {
    expect(setLoraWeight('<lora:xy:1> <lora:x:1>', 'x', 0.5)).toBe('<lora:xy:1> <lora:x:0.5>');
    expect(setLoraWeight('a cat', 'x', 0.5)).toBe('a cat');
  });

  it('writes at most 4 decimals (slider float noise does not reach the prompt)', () => {
    expect(setLoraWeight('<lora:x:1>', 'x', 0.1 + 0.2)).toBe('<lora:x:0.3>');
    expect(formatLoraWeight(1)).toBe('1');
    expect(formatLoraWeight(-0.123456)).toBe('-0.1235');
    expect(() => setLoraWeight('<lora:x:1>', 'x', Number.POSITIVE_INFINITY)).toThrow(RangeError);
  });
});

describe('removeLoraTag / hasLoraTag', () => {
  it('removes every tag of that LoRA and the blank it leaves', () => {
    expect(removeLoraTag('a cat <lora:x:1> on a mat <lora:y:1>', 'x')).toBe('a cat on a mat <lora:y:1>');
    expect(removeLoraTag('a cat, <lora:x:1>', 'x')).toBe('a cat');
    expect(removeLoraTag('a cat', 'x')).toBe('a cat');
  });

  it('knows which LoRAs a prompt names', () => {
    expect(hasLoraTag('a <lora:x:0.5>', 'x')).toBe(true);
    expect(hasLoraTag('a <lora:xy:0.5>', 'x')).toBe(false);
  });
});

describe('loras slice', () => {
  it('refreshLoras stores the listed LoRAs, and a failure as a sentence without dropping the last list', async () => {
    const { createAtelierStore } = await import('../../renderer/state/store');
    const { createFakeClient } = await import('./fake-client');
    const { AtelierApiError } = await import('../../common/api/contract');
    const fake = createFakeClient();
    const listed = [{ name: 'x', hash: '0123456789ab', baseFamily: 'sd1' as const, rank: 4, sizeBytes: 2804, hasPreview: false }];
    let fail = false;
    fake.client.listLoras = async () => {
      if (fail) throw new AtelierApiError('internal', 'disk on fire');
      return listed;
    };
    const store = createAtelierStore(fake.client);
    expect(store.getState().loras).toBeNull();
    await store.getState().refreshLoras();
    expect(store.getState().loras).toEqual(listed);
    expect(store.getState().lorasError).toBeNull();
    fail = true;
    await store.getState().refreshLoras();
    expect(store.getState().loras).toEqual(listed);
    expect(store.getState().lorasError).toMatch(/disk on fire/);
  });
});
