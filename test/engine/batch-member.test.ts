/**
 * `batchMember`: image k of a batch made alone is byte-identical to image k of the whole batch — on
 * the demo model (as the app runs it: default threads) and on exporter fixtures, for a deterministic
 * scheduler, an ancestral one (fresh noise every step), SDE-style multistep, img2img with an encoder
 * that samples its posterior (latent_parameters: a draw that is not batch-wide) and inpainting.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModel, type LoadedModel } from '../../main/engine/loader';
import { img2img, inpaint, PipelineInputError, txt2img, type Txt2ImgParams } from '../../main/engine/pipeline';
import { BASE_PARAMS, useFixtureModels } from '../helpers/engine-fixtures';

function picture(w = 64, h = 64): { width: number; height: number; rgb: Uint8Array } {
  const rgb = new Uint8Array(w * h * 3);
  for (let i = 0; i < w * h; i++) {
    const x = i % w;
    const y = Math.floor(i / w);
    rgb.set([(x * 4) & 255, (y * 4) & 255, x > 20 && x < 40 ? 230 : 40], i * 3);
  }
  return { width: w, height: h, rgb };
}

function mask(w = 64, h = 64): { width: number; height: number; data: Uint8Array } {
  const data = new Uint8Array(w * h);
  for (let i = 0; i < w * h; i++) data[i] = i % w > 32 ? 255 : 0;
  return { width: w, height: h, data };
}

type Run = (batchSize: number, batchMember?: { index: number; of: number }) => Promise<Uint8Array[]>;

/**
 * Every image of a batch of 3, then each made alone: the same bytes, and the three differ from each
 * other. `plainIsFirst`: whether batch size 1 without batchMember is image 0 too — true only when no
 * noise is drawn after the latents (an ancestral step draws the whole batch's noise every step).
 */
async function expectMembersMatch(run: Run, plainIsFirst: boolean): Promise<void> {
  const whole = await run(3);
  expect(whole).toHaveLength(3);
  expect(Buffer.from(whole[0]).equals(Buffer.from(whole[1]))).toBe(false);
  for (let k = 0; k < 3; k++) {
    const [alone] = await run(1, { index: k, of: 3 });
    expect(Buffer.from(alone).equals(Buffer.from(whole[k])), `image ${k} of the batch`).toBe(true);
  }
  const [plain] = await run(1);
  expect(Buffer.from(plain).equals(Buffer.from(whole[0]))).toBe(plainIsFirst);
}

describe('batchMember on the demo model (default threads, as the app and farm workers run it)', () => {
  let demo: LoadedModel;
  beforeAll(async () => {
    demo = await loadModel('models/demo', { provider: 'cpu' });
  });
  afterAll(async () => demo?.release());
  const params = (scheduler: string): Txt2ImgParams => ({ prompt: 'a large red star on a blue background, lit from the left', width: 64, height: 64, steps: 8, guidanceScale: 1.3, seed: 1234, rng: 'cpu', scheduler });

  for (const [scheduler, ancestral] of [['DDIMScheduler', false], ['DPMSolverMultistepScheduler', false], ['EulerAncestralDiscreteScheduler', true]] as const) {
    it(`txt2img with ${scheduler}`, async () => {
      await expectMembersMatch(async (batchSize, batchMember) => (await txt2img(demo, { ...params(scheduler), batchSize, batchMember })).images.map((i) => i.rgb), !ancestral);
    });
  }

  it('a run of consecutive images (count) is those images of the whole batch, ancestral scheduler included', async () => {
    const p = params('EulerAncestralDiscreteScheduler');
    const whole = (await txt2img(demo, { ...p, batchSize: 5 })).images.map((i) => Buffer.from(i.rgb));
    const run = (await txt2img(demo, { ...p, batchSize: 3, batchMember: { index: 1, of: 5, count: 3 } })).images.map((i) => Buffer.from(i.rgb));
    expect(run).toHaveLength(3);
    for (let k = 0; k < 3; k++) expect(run[k].equals(whole[k + 1]), `image ${k + 1}`).toBe(true);
  });

  it('txt2img with the CUDA (Philox) RNG and an ancestral scheduler', async () => {
    await expectMembersMatch(async (batchSize, batchMember) => (await txt2img(demo, { ...params('EulerAncestralDiscreteScheduler'), rng: 'cuda', batchSize, batchMember })).images.map((i) => i.rgb), true);
    // Philox numbers are indexed by position within a draw: image 0's are the same whatever the batch size.
  });
});

describe('batchMember on exporter fixtures', () => {
  const models = useFixtureModels(['sd15-optimum-new', 'sd15-inpaint']);

  it('img2img whose VAE encoder samples its posterior once for the whole batch (latent_parameters)', async () => {
    const m = models.get('sd15-optimum-new')!;
    expect(m.signature.vaeEncoderOutput).toBe('latent_parameters');
    await expectMembersMatch(async (batchSize, batchMember) =>
      (await img2img(m, { ...BASE_PARAMS, steps: 4, scheduler: 'EulerAncestralDiscreteScheduler', initImage: picture(), strength: 0.6, batchSize, batchMember })).images.map((i) => i.rgb),
      false,
    );
  });

  it('inpainting on a 9-channel UNet', async () => {
    const m = models.get('sd15-inpaint')!;
    await expectMembersMatch(async (batchSize, batchMember) =>
      (await inpaint(m, { ...BASE_PARAMS, steps: 3, scheduler: 'EulerAncestralDiscreteScheduler', initImage: picture(), mask: mask(), strength: 0.8, batchSize, batchMember })).images.map((i) => i.rgb),
      false,
    );
  });

  it.each([
    [{ batchMember: { index: 3, of: 3 } }, /batchMember\.index must be an integer from 0 to 2 \(got 3\)/],
    [{ batchMember: { index: 0, of: 17 } }, /batchMember\.of must be an integer from 1 to 16/],
    [{ batchMember: { index: 1, of: 3 }, batchSize: 2 }, /batchSize must be 1 \(got 2\)/],
    [{ batchMember: null as unknown as { index: number; of: number } }, /batchMember must be \{ index, of, count\? \}/],
    [{ batchMember: { index: 2, of: 3, count: 2 }, batchSize: 2 }, /batchMember\.count must be an integer from 1 to 1 \(got 2\)/],
    [{ batchMember: { index: 0, of: 3, count: 2 } }, /makes 2 images of a batch: batchSize must be 2 \(got undefined\)/],
  ])('refuses %j with a clear error before any session runs', async (extra, message) => {
    const m = models.get('sd15-optimum-new')!;
    const err = await txt2img(m, { ...BASE_PARAMS, ...extra }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PipelineInputError);
    expect((err as Error).message).toMatch(message);
  });
});
