/**
 * Parameters round-trip: a dropped A1111 PNG maps every sampler/schedule the engine runs and names
 * what it cannot apply (never putting a value the model rejects into the form); "Load parameters"
 * of an img2img/outpaint result brings its init image and strength back; "Use as init" brings the
 * image's prompt; compare labels and lineage edges show strength.
 */
import { describe, expect, it } from 'vitest';
import type { ModelSummary } from '../../common/api/contract';
import { planImport } from '../../renderer/lib/import-plan';
import { edgeLabel, diffParams } from '../../renderer/lib/param-diff';
import { baseRequest } from '../../renderer/lib/variants';
import { createAtelierStore } from '../../renderer/state/store';
import { DEFAULT_PARAMS, requestFromParams } from '../../renderer/state/workspace-slice';
import { createFakeClient, record } from './fake-client';

const DEMO: ModelSummary = { id: 'atelier-demo', name: 'Atelier demo', family: 'sd1', source: 'bundled', sizeBytes: 1, sizeMultiple: 32, clipSkipMax: 1 };
const XL: ModelSummary = { id: 'xl', name: 'SDXL', family: 'sdxl', source: 'installed', sizeBytes: 1, clipSkipMax: 2 };
const current = { ...DEFAULT_PARAMS, modelId: 'atelier-demo', scheduler: 'DDIMScheduler', clipSkip: 1 };

describe('importing A1111 parameters', () => {
  it('maps "Euler a" and "Karras" (as the server passes them on, and as raw A1111 keys)', () => {
    const ctx = { models: [DEMO], current };
    expect(planImport({ params: { scheduler: 'EulerAncestralDiscreteScheduler+karras' } }, ctx).patch.scheduler).toBe('EulerAncestralDiscreteScheduler+karras');
    expect(planImport({ params: { Sampler: 'Euler a', 'Schedule type': 'Karras' } }, ctx).patch.scheduler).toBe('EulerAncestralDiscreteScheduler+karras');
    expect(planImport({ params: { Sampler: 'DPM++ 2M Karras' } }, ctx).patch.scheduler).toBe('DPMSolverMultistepScheduler+karras');
    const plan = planImport({ params: { Sampler: 'Euler a' } }, ctx);
    expect(plan.patch.scheduler).toBe('EulerAncestralDiscreteScheduler');
    expect(plan.applied).toContainEqual({ label: 'Sampler', value: 'Euler a' });
    expect(plan.notApplied).toEqual([]);
  });

  it('lists a clip skip the model cannot run, in words, and keeps it out of the form', () => {
    const plan = planImport({ source: 'a1111', params: { steps: 20, clipSkip: 2, modelId: 'whatever' } }, { models: [DEMO, XL], current });
    expect(plan.patch).not.toHaveProperty('clipSkip');
    expect(plan.patch.steps).toBe(20);
    expect(plan.notApplied).toEqual([
      'Model “whatever” — not installed here; the image will be made with Atelier demo',
      'Clip skip 2 — Atelier demo has only 1 text-encoder layer option (its text encoder exports no earlier layers); kept 1',
    ]);
    // A model that can run it takes it.
    expect(planImport({ params: { clipSkip: 2, modelId: 'xl' } }, { models: [DEMO, XL], current }).patch).toMatchObject({ modelId: 'xl', clipSkip: 2 });
    expect(planImport({ params: { clipSkip: 3 } }, { models: [XL], current: { ...current, modelId: 'xl' } }).notApplied).toEqual([
      'Clip skip 3 — SDXL goes up to clip skip 2; kept 1',
    ]);
  });

  it('names samplers, schedules, sizes and strengths it cannot apply', () => {
    const plan = planImport(
      {
        source: 'a1111',
        params: { scheduler: 'UniPCMultistepScheduler', width: 100, height: 64, strength: 0.4 },
        warnings: ['Schedule type “Exponential” — Atelier runs the Automatic and Karras schedules only; used Automatic', "Sampler “UniPC” — Atelier's engine cannot run this sampler"],
      },
      { models: [DEMO], current },
    );
    expect(plan.patch).toEqual({});
    expect(plan.notApplied).toEqual([
      'Size 100×64 — Atelier demo: width and height must be a multiple of 32; kept 64×64',
      "Sampler “UniPC” — Atelier's engine cannot run this sampler; kept DDIM",
      'Denoising strength 0.4 — the image was made from an init image the file does not carry; this generates from text',
      'Schedule type “Exponential” — Atelier runs the Automatic and Karras schedules only; used Automatic',
    ]);
  });

  it('the store applies only the plan, and its toast lists what was not applied', async () => {
    const fake = createFakeClient();
    const store = createAtelierStore(fake.client);
    await store.getState().init();
    await new Promise((r) => setTimeout(r, 0));
    store.getState().setParams({ modelId: 'demo', clipSkip: 1 });
    store.setState({ models: [{ ...DEMO, id: 'demo', name: 'Demo' }] });
    fake.client.readImageMetadata = async () => ({ source: 'a1111', prompt: 'p', params: { steps: 9, scheduler: 'EulerAncestralDiscreteScheduler', clipSkip: 2 }, warnings: [] });
    await store.getState().importImage('x.png', 'AAAA');
    store.getState().applyImport();
    expect(store.getState().params).toMatchObject({ prompt: 'p', steps: 9, scheduler: 'EulerAncestralDiscreteScheduler', clipSkip: 1 });
    expect(store.getState().toasts.at(-1)!.message).toContain('Not applied: Clip skip 2 — Demo has only 1 text-encoder layer option');
    // …so the next run is a valid request for this model.
    expect(requestFromParams(store.getState().params)).not.toHaveProperty('clipSkip');
  });
});

describe('load parameters / use as init', () => {
  async function ready(history = [record()]) {
    const fake = createFakeClient({ history });
    const store = createAtelierStore(fake.client);
    await store.getState().init();
    await new Promise((r) => setTimeout(r, 0));
    return { fake, s: () => store.getState() };
  }

  it('an img2img result comes back with its init image and strength: Generate remakes it', async () => {
    const init = record({ id: 'init', width: 64, height: 64, prompt: 'a red ball' });
    const child = record({ id: 'child', prompt: 'a red ball, golden hour', seed: 77, strength: 0.35, initImageRef: 'init', parentId: 'init', scheduler: 'DPMSolverMultistepScheduler+karras' });
    const { fake, s } = await ready([init, child]);
    s().loadParamsFrom(child);
    expect(s().initImage).toMatchObject({ generationId: 'init', strength: 0.35, thumbUrl: '/thumb/init', outpaint: null });
    await s().generate();
    expect(fake.callsTo('generate')[0]).toMatchObject({
      prompt: 'a red ball, golden hour', seed: 77, scheduler: 'DPMSolverMultistepScheduler+karras', initImage: { generationId: 'init' }, strength: 0.35,
    });
    // A text-to-image record clears the init image again.
    s().loadParamsFrom(init);
    expect(s().initImage).toBeNull();
  });

  it('an outpainted result comes back with its frame and fill; a painted mask is named as not restored', async () => {
    const src = record({ id: 'src', width: 64, height: 64 });
    const grown = record({ id: 'grown', width: 128, height: 64, strength: 1, initImageRef: 'src', maskRef: 'outpaint:32,32,0,0:noise' });
    const { fake, s } = await ready([src, grown]);
    s().loadParamsFrom(grown);
    await s().generate();
    expect(fake.callsTo('generate')[0]).toMatchObject({ initImage: { generationId: 'src' }, strength: 1, outpaint: { left: 32, right: 32, top: 0, bottom: 0, fill: 'noise' }, width: 128, height: 64 });

    s().loadParamsFrom(record({ id: 'inp', strength: 0.9, initImageRef: 'src', maskRef: 'sha256:00' }));
    expect(s().initImage).toMatchObject({ generationId: 'src', strength: 0.9, maskBase64: null });
    expect(s().toasts.at(-1)!.message).toContain('its inpainting mask is not saved with the image');
  });

  it('use as init brings the image\'s own prompt and settings', async () => {
    const { s } = await ready();
    s().setParams({ prompt: 'something else', negativePrompt: '' });
    s().setInitImage(record({ id: 'src', prompt: 'a blue vase', negativePrompt: 'text', steps: 12, guidanceScale: 3, scheduler: 'HeunDiscreteScheduler' }));
    expect(s().params).toMatchObject({ prompt: 'a blue vase', negativePrompt: 'text', steps: 12, guidanceScale: 3, scheduler: 'HeunDiscreteScheduler' });
    expect(s().initImage?.generationId).toBe('src');
  });

  it('vary keeps an img2img source\'s init image and strength', () => {
    expect(baseRequest(record({ id: 'c', strength: 0.5, initImageRef: 'i' }))).toMatchObject({ initImage: { generationId: 'i' }, strength: 0.5, parentId: 'c' });
    expect(baseRequest(record({ id: 'c', strength: 0.5, initImageRef: 'sha256:ab' }))).not.toHaveProperty('initImage');
  });
});

describe('compare labels and lineage show strength', () => {
  it('labels a strength difference, and edges name it', () => {
    const a = record({ id: 'a', strength: null });
    const b = record({ id: 'b', strength: 0.3 });
    expect(diffParams([a, b])[1]).toEqual([{ field: 'strength', label: 'Strength', value: '0.3' }]);
    expect(edgeLabel(a, record({ id: 'c', prompt: 'a lighthouse, golden hour', strength: 0.3 }))).toBe('+golden hour · Strength 0.3');
    expect(diffParams([record({ scheduler: 'DPMSolverMultistepScheduler+karras' }), record({ scheduler: 'EulerAncestralDiscreteScheduler' })])[0]).toEqual([
      { field: 'scheduler', label: 'Sampler', value: 'DPM++ 2M Karras' },
    ]);
  });
});
