import { describe, expect, it } from 'vitest';
import { a1111ToScheduler, formatInfotext, parseInfotext, schedulerToA1111 } from '../../main/library';
import { infotextToParams } from '../../main/library/infotext';

describe('parseInfotext (A1111 parse_generation_parameters)', () => {
  it('parses the canonical three-line infotext', () => {
    const text =
      "girl with an artist's beret, determined, blue eyes, desert scene\n" +
      'Negative prompt: ugly, fat, (((deformed))), [blurry]\n' +
      'Steps: 20, Sampler: Euler a, CFG scale: 7, Seed: 965400086, Size: 512x768, Model hash: 45dee52b';
    const r = parseInfotext(text);
    expect(r.prompt).toBe("girl with an artist's beret, determined, blue eyes, desert scene");
    expect(r.negativePrompt).toBe('ugly, fat, (((deformed))), [blurry]');
    expect(r.params).toEqual({
      Steps: '20', Sampler: 'Euler a', 'CFG scale': '7', Seed: '965400086', 'Size-1': '512', 'Size-2': '768', 'Model hash': '45dee52b',
    });
  });

  it('keeps multi-line prompts and multi-line negative prompts', () => {
    const text = 'line one\nline two\nNegative prompt: bad\nworse\nSteps: 4, Sampler: DDIM, Seed: 1';
    const r = parseInfotext(text);
    expect(r.prompt).toBe('line one\nline two');
    expect(r.negativePrompt).toBe('bad\nworse');
    expect(r.params.Steps).toBe('4');
  });

  it('treats a last line with fewer than three params as prompt text', () => {
    const r = parseInfotext('a cat\nStyle: cute, Mood: calm');
    expect(r.prompt).toBe('a cat\nStyle: cute, Mood: calm');
    expect(r.params).toEqual({});
  });

  it('unquotes JSON-quoted values containing commas and colons', () => {
    const r = parseInfotext('p\nSteps: 20, Lora hashes: "foo: abc, bar: def", Seed: 3, Hires resize: 1024x1536, Template: "a \\"quoted\\" word"');
    expect(r.params['Lora hashes']).toBe('foo: abc, bar: def');
    expect(r.params['Hires resize-1']).toBe('1024');
    expect(r.params['Hires resize-2']).toBe('1536');
    expect(r.params.Template).toBe('a "quoted" word');
  });

  it('handles CRLF, surrounding whitespace, empty input and no negative prompt', () => {
    expect(parseInfotext('  hello\r\nSteps: 1, Seed: 2, CFG scale: 3  \n').prompt).toBe('hello');
    expect(parseInfotext('')).toEqual({ prompt: '', negativePrompt: '', params: {} });
    expect(parseInfotext('only a prompt').negativePrompt).toBe('');
  });

  it('stays linear on hostile lines (no catastrophic backtracking)', () => {
    const t0 = performance.now();
    parseInfotext(`p\n${'ab '.repeat(100_000)}`);
    parseInfotext(`p\n${'key: "a\\'.repeat(50_000)}`);
    parseInfotext(`p\n${'key'.repeat(100_000)}: v, a: 1, b: 2`);
    expect(performance.now() - t0).toBeLessThan(2000); // was quadratic: 60 KB took 1.6 s
  });

  it('maps parsed params to ours', () => {
    const p = infotextToParams(parseInfotext('x\nNegative prompt: y\nSteps: 30, Sampler: DPM++ 2M, Schedule type: Karras, CFG scale: 6.5, Seed: 77, Size: 640x480, Model hash: abc, Model: m, RNG: CPU, Denoising strength: 0.4'));
    expect(p).toMatchObject({
      prompt: 'x', negativePrompt: 'y', steps: 30, guidanceScale: 6.5, seed: 77, width: 640, height: 480, modelId: 'm', modelHash: 'abc',
      rng: 'cpu', strength: 0.4, scheduler: 'DPMSolverMultistepScheduler+karras',
    });
  });
});

describe('formatInfotext', () => {
  it('writes A1111 format and round-trips through parseInfotext', () => {
    const text = formatInfotext({
      prompt: 'a castle, at night: moody', negativePrompt: 'text, watermark', steps: 20, scheduler: 'EulerAncestralDiscreteScheduler',
      guidanceScale: 7, seed: 1, width: 512, height: 512, modelHash: '0123456789abcdef', modelId: 'sd15', rng: 'cuda', appVersion: '0.1.0',
    });
    expect(text).toBe(
      'a castle, at night: moody\nNegative prompt: text, watermark\n' +
        'Steps: 20, Sampler: Euler a, CFG scale: 7, Seed: 1, Size: 512x512, Model hash: 0123456789, Model: sd15, RNG: GPU, Version: Atelier 0.1.0',
    );
    const back = parseInfotext(text);
    expect(back.prompt).toBe('a castle, at night: moody');
    expect(back.params.Sampler).toBe('Euler a');
  });

  it('writes Clip skip above 1 only (A1111 leaves its default out) and reads it back', () => {
    const base = { prompt: 'p', steps: 20, seed: 2, guidanceScale: 7, width: 1024, height: 1024, rng: 'cpu' as const };
    const two = formatInfotext({ ...base, clipSkip: 2 });
    expect(two).toBe('p\nSteps: 20, CFG scale: 7, Seed: 2, Size: 1024x1024, RNG: CPU, Clip skip: 2');
    expect(infotextToParams(parseInfotext(two)).clipSkip).toBe(2);
    expect(formatInfotext({ ...base, clipSkip: 1 })).not.toContain('Clip skip');
    expect(infotextToParams(parseInfotext(formatInfotext({ ...base, clipSkip: 1 }))).clipSkip).toBeUndefined();
    // A1111's own line (Clip skip after Model); out-of-range values are not taken.
    expect(infotextToParams(parseInfotext('x\nSteps: 20, Sampler: Euler a, CFG scale: 7, Seed: 1, Size: 512x512, Model: m, Clip skip: 2, Version: v1.10.1')).clipSkip).toBe(2);
    expect(infotextToParams(parseInfotext('x\nSteps: 20, CFG scale: 7, Seed: 1, Clip skip: 40')).clipSkip).toBeUndefined();
  });

  it('quotes values that contain separators', () => {
    const text = formatInfotext({ prompt: 'p', steps: 1, seed: 2, guidanceScale: 3, modelId: 'my, model: v2' });
    expect(text).toContain('Model: "my, model: v2"');
    expect(parseInfotext(text).params.Model).toBe('my, model: v2');
  });

  it('maps diffusers schedulers to A1111 samplers and back', () => {
    expect(schedulerToA1111('DPMSolverMultistepScheduler')).toEqual({ sampler: 'DPM++ 2M' });
    expect(schedulerToA1111('DPMSolverMultistepScheduler+karras')).toEqual({ sampler: 'DPM++ 2M', scheduleType: 'Karras' });
    expect(schedulerToA1111('EulerDiscreteScheduler')).toEqual({ sampler: 'Euler' });
    expect(schedulerToA1111('PNDMScheduler')).toEqual({ sampler: 'PLMS' });
    expect(schedulerToA1111('LCMScheduler')).toEqual({ sampler: 'LCM' });
    expect(schedulerToA1111('euler_a')).toEqual({ sampler: 'Euler a' });
    expect(schedulerToA1111('SomethingNew')).toEqual({ sampler: 'SomethingNew' });
    expect(a1111ToScheduler('DPM++ 2M Karras')).toBe('DPMSolverMultistepScheduler+karras');
    expect(a1111ToScheduler('Euler a')).toBe('EulerAncestralDiscreteScheduler');
    expect(a1111ToScheduler('UniPC')).toBe('UniPCMultistepScheduler');
  });
});
