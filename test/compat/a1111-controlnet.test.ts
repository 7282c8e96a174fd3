/**
 * The sd-webui-controlnet extension's API on the real compatibility server (real HTTP, backend, engine):
 * `alwayson_scripts.controlnet.args` in txt2img / img2img, `/controlnet/model_list` and `module_list`.
 * Fixtures: the sd15-diffusers test model with a ControlNet-capable UNet (controlnet/) and a fixture
 * ControlNet graph installed as `edges`.
 */
import { cpSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { modelWithControlUnet, squareImage } from '../engine/controlnet/helpers';
import { pngTextChunks, REPO_ROOT, startCompat, taggedGenerations, type CompatHarness } from './helpers';

let h: CompatHarness;
let hash8 = '';
let control = '';
const fixture = modelWithControlUnet('sd15-diffusers', 'unet-additional');

beforeAll(async () => {
  h = await startCompat();
  const dir = join((await h.client.getSettings()).modelsDir, 'controlnets');
  mkdirSync(dir, { recursive: true });
  cpSync(join(REPO_ROOT, 'test/fixtures/controlnet/cn-named'), join(dir, 'edges'), { recursive: true });
  await h.client.importModel({ folder: fixture.folder, mode: 'reference', id: 'sd15-cn' });
  hash8 = (await h.client.listControlNets()).find((c) => c.name === 'edges')!.hash.slice(0, 8);
  const sq = squareImage(64, 64);
  control = (await sharp(Buffer.from(sq.rgb), { raw: { width: 64, height: 64, channels: 3 } }).png().toBuffer()).toString('base64');
});
afterAll(async () => {
  await h?.close();
  fixture.cleanup();
});

async function post(path: string, body: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(`${h.base}/sdapi/v1/${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

const body = (units?: unknown[], key = 'controlnet') => ({
  prompt: 'a photo of a cat, highly detailed',
  negative_prompt: 'blurry',
  steps: 3,
  cfg_scale: 7.5,
  seed: 5,
  width: 64,
  height: 64,
  override_settings: { sd_model_checkpoint: 'sd15-cn' },
  ...(units ? { alwayson_scripts: { [key]: { args: units } } } : {}),
});
const unit = (over: Record<string, unknown> = {}) => ({ enabled: true, input_image: control, module: 'none', model: `edges [${hash8}]`, weight: 0.9, guidance_start: 0, guidance_end: 0.8, resize_mode: 'Crop and Resize', ...over });
const pixels = async (b64: string) => sharp(Buffer.from(b64, 'base64')).raw().toBuffer();

describe('/controlnet routes', () => {
  it('model_list names installed ControlNets as the extension does ("name [hash8]"), module_list the preprocessors Atelier runs', async () => {
    const models = (await (await fetch(`${h.base}/controlnet/model_list`)).json()) as { model_list: string[] };
    // The user's first, then any bundled with the app (the demo's demo-edges, when present).
    expect(models.model_list[0]).toBe(`edges [${hash8}]`);
    const names = (await h.client.listControlNets()).map((c) => `${c.name} [${c.hash.slice(0, 8)}]`);
    expect(models.model_list).toEqual(names);
    const modules = (await (await fetch(`${h.base}/controlnet/module_list`)).json()) as { module_list: string[] };
    expect(modules.module_list).toEqual(['none', 'canny', 'depth_anything_v2', 'dw_openpose_full']);
  });
});

describe('alwayson_scripts.controlnet', () => {
  let plain: Buffer;

  it('txt2img: a unit changes the image, lands in the library and in the infotext', async () => {
    const without = await post('txt2img', body());
    expect(without.status).toBe(200);
    plain = await pixels((without.json.images as string[])[0]);
    const withCn = await post('txt2img', body([unit()]));
    expect(withCn.status).toBe(200);
    const image = (withCn.json.images as string[])[0];
    expect((await pixels(image)).equals(plain)).toBe(false);
    const infotext = pngTextChunks(Buffer.from(image, 'base64')).parameters;
    expect(infotext).toContain(`ControlNet 0: "Module: none, Model: edges [${hash8}], Weight: 0.9, Resize Mode: Crop and Resize, Guidance Start: 0.0, Guidance End: 0.8"`);
    const [latest] = await taggedGenerations(h.client, 'api:a1111');
    expect(latest.controlNets).toMatchObject([{ model: 'edges', weight: 0.9, start: 0, end: 0.8, fit: 'crop' }]);
  });

  it('disabled units and SD clients\' empty `ControlNet: { args: [] }` change nothing', async () => {
    const disabled = await post('txt2img', body([unit({ enabled: false })]));
    expect(disabled.status).toBe(200);
    expect((await pixels((disabled.json.images as string[])[0])).equals(plain)).toBe(true);
    const empty = await post('txt2img', body([], 'ControlNet'));
    expect(empty.status).toBe(200);
    expect((await pixels((empty.json.images as string[])[0])).equals(plain)).toBe(true);
  });

  it('img2img takes units too (`image`, a canny module with thresholds, resize_mode as a number)', async () => {
    const res = await post('img2img', { ...body([unit({ input_image: undefined, image: control, module: 'canny', threshold_a: 50, threshold_b: 120, resize_mode: 0 })]), init_images: [control], denoising_strength: 0.6 });
    expect(res.status).toBe(200);
    const [latest] = await taggedGenerations(h.client, 'api:a1111');
    expect(latest.strength).toBe(0.6);
    expect(latest.controlNets).toMatchObject([{ model: 'edges', annotator: { kind: 'canny', low: 50, high: 120 }, fit: 'resize' }]);
  });

  it('refuses what it cannot run with 422 and a message naming the field', async () => {
    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [{ model: 'nope' }, new RegExp(`ControlNet "nope" is not installed\\. Installed: edges \\[${hash8}\\]`)],
      [{ module: 'lineart_realistic' }, /preprocessor "lineart_realistic" is not one Atelier runs/],
      [{ input_image: undefined }, /this ControlNet unit has no image/],
      [{ weight: 3 }, /weight must be from 0 to 2 \(got 3\)/],
      [{ guidance_start: 0.9, guidance_end: 0.5 }, /guidance_start \(0\.9\) must be below guidance_end \(0\.5\)/],
      [{ resize_mode: 7 }, /resize_mode 7 is not one of/],
    ];
    for (const [over, message] of cases) {
      const res = await post('txt2img', body([unit(over)]));
      expect(res.status, JSON.stringify(over)).toBe(422);
      expect(String(res.json.detail), JSON.stringify(over)).toMatch(message);
    }
  });
});
