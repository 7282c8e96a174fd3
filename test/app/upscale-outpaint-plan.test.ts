import { copyFileSync, mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AtelierApiError } from '../../common/api/contract';
import { GenerateRequest } from '../../common/api/schemas';
import { applyOutpaint, NO_IMAGE_INPUTS, planGeneration } from '../../main/app/generation-plan';
import { chooseUpscaler, installedUpscalers, LANCZOS } from '../../main/app/upscale-job';
import { ModelManager } from '../../main/models/manager';
import { writeManifest } from '../../main/models/manifest';

const UPSCALERS = join(__dirname, '..', 'fixtures', 'models', '_upscalers');
const init = { width: 64, height: 64, rgb: new Uint8Array(64 * 64 * 3).fill(100) };

describe('applyOutpaint + planGeneration', () => {
  it('turns an outpaint request into an inpaint of the grown canvas', () => {
    const req = GenerateRequest.parse({ prompt: 'p', initImage: { base64: 'eA==' }, outpaint: { left: 0, right: 32, top: 0, bottom: 0, fill: 'blur' } });
    const inputs = applyOutpaint(req, { ...NO_IMAGE_INPUTS, initImage: init, initRef: 'sha256:x' }, 1, 32);
    expect([inputs.initImage?.width, inputs.mask?.width, inputs.maskRef]).toEqual([96, 96, 'outpaint:0,32,0,0:blur']);
    const plan = planGeneration(req, 1, inputs);
    expect(plan.pipeline.mode).toBe('inpaint');
    expect([plan.pipeline.params.width, plan.pipeline.params.height, plan.strength]).toEqual([96, 64, 1]);
  });

  it('leaves requests without outpaint alone and explains sizes the model cannot take', () => {
    const plain = GenerateRequest.parse({ prompt: 'p' });
    expect(applyOutpaint(plain, NO_IMAGE_INPUTS, 1)).toBe(NO_IMAGE_INPUTS);
    const req = GenerateRequest.parse({ prompt: 'p', initImage: { base64: 'eA==' }, outpaint: { left: 8, right: 0, top: 0, bottom: 20, fill: 'edge' } });
    const err = (() => {
      try {
        applyOutpaint(req, { ...NO_IMAGE_INPUTS, initImage: init }, 1, 32);
      } catch (e) {
        return e as AtelierApiError;
      }
    })();
    expect(err).toBeInstanceOf(AtelierApiError);
    expect(err?.message).toMatch(/72×84.*multiples of 32: add 24 px more to left\+right and 12 px more to top\+bottom/);
    // With an 8-multiple model the same request is fine (72×84 is not a multiple of 8 either: 84 → refused).
    expect(() => applyOutpaint(req, { ...NO_IMAGE_INPUTS, initImage: init }, 1, 8)).toThrow(/add 0 px more to left\+right and 4 px more/);
  });

  it('the schema refuses outpaint without initImage, with a mask, or adding nothing; upscaler without upscale', () => {
    expect(GenerateRequest.safeParse({ prompt: 'p', outpaint: { left: 8, right: 0, top: 0, bottom: 0 } }).success).toBe(false);
    expect(GenerateRequest.safeParse({ prompt: 'p', initImage: { base64: 'eA==' }, mask: { base64: 'eA==' }, outpaint: { left: 8, right: 0, top: 0, bottom: 0 } }).success).toBe(false);
    expect(GenerateRequest.safeParse({ prompt: 'p', initImage: { base64: 'eA==' }, outpaint: { left: 0, right: 0, top: 0, bottom: 0 } }).success).toBe(false);
    expect(GenerateRequest.safeParse({ prompt: 'p', upscale: 3 }).success).toBe(false);
    expect(GenerateRequest.safeParse({ prompt: 'p', upscaler: 'lanczos' }).success).toBe(false);
    expect(GenerateRequest.safeParse({ prompt: 'p', upscale: 4, upscaler: 'lanczos' }).success).toBe(true);
  });
});

describe('choosing an upscaler', () => {
  async function modelsWith(...files: string[]) {
    const modelsDir = mkdtempSync(join(tmpdir(), 'atelier-upscalers-'));
    for (const f of files) {
      const id = f.replace('.onnx', '');
      mkdirSync(join(modelsDir, id));
      copyFileSync(join(UPSCALERS, f), join(modelsDir, id, f));
      await writeManifest(join(modelsDir, id), { formatVersion: 1, id, name: id, kind: 'upscaler', source: 'download', family: 'esrgan', installedAt: new Date().toISOString() });
    }
    return installedUpscalers(new ModelManager({ modelsDir }));
  }

  it('finds installed upscaler graphs through the model manager', async () => {
    const found = await modelsWith('tiny-esrgan-x2.onnx', 'tiny-esrgan-x4.onnx');
    expect(found.map((u) => u.id).sort()).toEqual(['tiny-esrgan-x2', 'tiny-esrgan-x4']);
    expect(found[0].modelPath).toMatch(/\.onnx$/);
  });

  it('automatic: the exact scale, else a multiple (4× serving 2×), else Lanczos', async () => {
    const both = await modelsWith('tiny-esrgan-x2.onnx', 'tiny-esrgan-x4.onnx');
    const two = await chooseUpscaler(both, 2, undefined, { provider: 'cpu' });
    const four = await chooseUpscaler(both, 4, undefined, { provider: 'cpu' });
    expect([two.label, two.upscaler?.scale, four.label, four.upscaler?.scale]).toEqual(['tiny-esrgan-x2', 2, 'tiny-esrgan-x4', 4]);
    await two.upscaler?.release();
    await four.upscaler?.release();

    const onlyFour = await chooseUpscaler(await modelsWith('tiny-esrgan-x4.onnx'), 2, undefined, { provider: 'cpu' });
    expect(onlyFour.label).toBe('tiny-esrgan-x4');
    await onlyFour.upscaler?.release();
    const onlyTwo = await chooseUpscaler(await modelsWith('tiny-esrgan-x2.onnx'), 4, undefined, { provider: 'cpu' });
    expect(onlyTwo).toEqual({ upscaler: null, label: LANCZOS });
    expect((await chooseUpscaler([], 2, undefined)).label).toBe(LANCZOS);
  });

  it('named: unknown ids and models that cannot make the factor are refused with what to pick', async () => {
    const two = await modelsWith('tiny-esrgan-x2.onnx');
    await expect(chooseUpscaler(two, 2, 'nope')).rejects.toMatchObject({ code: 'not_found', message: expect.stringMatching(/tiny-esrgan-x2, lanczos/) });
    await expect(chooseUpscaler(two, 4, 'tiny-esrgan-x2')).rejects.toMatchObject({ code: 'invalid_request', message: expect.stringMatching(/install a 4× .* or choose "lanczos"/) });
    expect((await chooseUpscaler(two, 4, LANCZOS)).upscaler).toBeNull();
  });
});
