/**
 * The bundled demo model through the real pipeline: reproducibility and every scheduler producing
 * the prompted colours. (The full held-out adherence bars live in demo-adherence.test.ts.)
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { loadModel, txt2img, type LoadedModel } from '../../main/engine';
import { analyze } from './pixel-scoring';

const DEMO = join(process.cwd(), 'models', 'demo');
let model: LoadedModel;
beforeAll(async () => {
  model = await loadModel(DEMO, { provider: 'cpu' });
});
afterAll(async () => {
  await model?.release();
});

const base = () => ({ width: 64, height: 64, steps: 20, guidanceScale: 5, rng: 'cpu' as const });

describe('demo model', () => {
  it('gives bit-identical images for the same seed and parameters', async () => {
    const params = { ...base(), prompt: 'a small yellow circle at the top on a purple background', seed: 7, batchSize: 2 };
    const a = await txt2img(model, params);
    const b = await txt2img(model, params);
    expect(Buffer.from(a.images[0].rgb).equals(Buffer.from(b.images[0].rgb))).toBe(true);
    expect(Buffer.from(a.images[1].rgb).equals(Buffer.from(b.images[1].rgb))).toBe(true);
    expect(Buffer.from(a.images[0].rgb).equals(Buffer.from(a.images[1].rgb))).toBe(false);
    const c = await txt2img(model, { ...params, seed: 8 });
    expect(Buffer.from(a.images[0].rgb).equals(Buffer.from(c.images[0].rgb))).toBe(false);
  });

  const schedulers: [string, string, number, Record<string, unknown>?][] = [
    ['DDIM', 'DDIMScheduler', 20],
    ['Euler', 'EulerDiscreteScheduler', 20],
    ['Euler a', 'EulerAncestralDiscreteScheduler', 25],
    ['DPM++ 2M Karras', 'DPMSolverMultistepScheduler', 20, { use_karras_sigmas: true }],
    ['Heun', 'HeunDiscreteScheduler', 15],
    ['LMS', 'LMSDiscreteScheduler', 25],
    ['PNDM', 'PNDMScheduler', 25],
  ];
  it.each(schedulers)('%s produces an image that passes the colour check', async (_label, cls, steps, options) => {
    const prompts = [
      { prompt: 'a large red circle on a blue background', color: 'red', bg: 'blue' },
      { prompt: 'a large yellow square on a black background', color: 'yellow', bg: 'black' },
    ];
    for (const [i, p] of prompts.entries()) {
      const r = await txt2img(model, { ...base(), steps, scheduler: cls, schedulerOptions: options as never, prompt: p.prompt, seed: 11 + i });
      expect(r.scheduler).toBe(cls);
      const m = analyze(r.images[0].rgb, r.images[0].width, r.images[0].height);
      expect({ color: m.color, bg: m.bg }).toEqual({ color: p.color, bg: p.bg });
    }
  });

});
