/**
 * AUTOMATIC1111 `/sdapi/v1` compatibility, driven with the exact requests Open WebUI and
 * SillyTavern send (fixtures/, each with its source path) and read back the way they read them,
 * against a real server on loopback with the bundled demo model.
 */
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AtelierEvent, GenerationRecord } from '../../common/api/contract';
import { openWebuiAuthHeader, openWebuiModels, openWebuiParseTxt2img, openWebuiTxt2img } from './fixtures/open-webui';
import { sillyTavernAuthHeader, sillyTavernTxt2img } from './fixtures/sillytavern';
import { DEMO_MODEL, DEMO_PROMPT, isPng, nextEvent, pngTextChunks, startCompat, taggedGenerations, within, type CompatHarness } from './helpers';

interface Txt2imgResponse {
  images: string[];
  parameters: Record<string, unknown>;
  info: string;
}
interface A1111Info {
  seed: number;
  all_seeds: number[];
  sampler_name: string;
  steps: number;
  width: number;
  height: number;
  sd_model_name: string;
  sd_model_hash: string | null;
  infotexts: string[];
  extra_generation_params: Record<string, string>;
  denoising_strength: number | null;
  atelier_notes: string[];
  atelier_generation_ids: string[];
}

let h: CompatHarness;
beforeAll(async () => {
  h = await startCompat();
});
afterAll(async () => {
  await h?.close();
});

const api = (path: string) => `${h.base}/sdapi/v1/${path}`;
async function post(path: string, body: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(api(path), { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body) });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}
async function get(path: string, headers: Record<string, string> = {}) {
  const res = await fetch(api(path), { headers });
  expect(res.headers.get('content-type')).toMatch(/^application\/json/);
  return { status: res.status, json: (await res.json()) as unknown };
}
const infoOf = (r: { json: Record<string, unknown> }) => JSON.parse((r.json as unknown as Txt2imgResponse).info) as A1111Info;
const historyCount = async () => (await h.client.queryHistory({ limit: 500 })).items.length;

describe('A1111 API — Open WebUI', () => {
  it('lists models, switches by title, and generates with its txt2img body; images land in the library, tagged, live', async () => {
    const auth = { authorization: openWebuiAuthHeader(null) };
    const models = await get('sd-models', auth);
    expect(models.status).toBe(200);
    expect(openWebuiModels(models.json as { title: string; model_name: string }[])).toContainEqual({ id: DEMO_MODEL, name: DEMO_MODEL });

    // set_image_model: GET options, set sd_model_checkpoint, POST the whole dict back.
    const options = (await get('options', auth)).json as Record<string, unknown>;
    expect(options.sd_model_checkpoint).toBe(DEMO_MODEL);
    expect('forge_preset' in options).toBe(false);
    const posted = await post('options', { ...options, sd_model_checkpoint: DEMO_MODEL }, auth);
    expect(posted.status).toBe(200);

    const before = h.events.length;
    const res = await post('txt2img', openWebuiTxt2img(DEMO_PROMPT, { cfg_scale: 1.3 }), auth);
    expect(res.status, JSON.stringify(res.json)).toBe(200);
    const images = openWebuiParseTxt2img(res.json as unknown as Txt2imgResponse);
    expect(images).toHaveLength(2);
    const info = infoOf(res);
    expect(info.all_seeds).toHaveLength(2);
    expect(info.sd_model_name).toBe(DEMO_MODEL);
    expect(info.sd_model_hash).toMatch(/^[0-9a-f]{10}$/);
    expect(info.width).toBe(64);
    expect(info.steps).toBe(4);
    for (const [i, img] of images.entries()) {
      expect(img.mime).toBe('image/png');
      expect(isPng(img.data)).toBe(true);
      const meta = await sharp(img.data).metadata();
      expect([meta.width, meta.height]).toEqual([64, 64]);
      // The PNG carries the infotext in its `parameters` chunk, the same text `info` lists.
      const params = pngTextChunks(img.data).parameters;
      expect(params).toBe(info.infotexts[i]);
      expect(params).toContain(DEMO_PROMPT);
      expect(params).toContain('Negative prompt: blurry');
      expect(params).toMatch(/Steps: 4, Sampler: DDIM, CFG scale: 1\.3, Seed: \d+, Size: 64x64, Model hash: [0-9a-f]{10}, Model: atelier-demo/);
    }

    // In the current project's library, tagged with the API that made them…
    const tagged = await taggedGenerations(h.client, 'api:a1111');
    for (const id of info.atelier_generation_ids) expect(tagged.map((g) => g.id)).toContain(id);
    // …and announced to every studio window as the job finished (the history strip shows them live).
    const done = h.events.slice(before).filter((e): e is Extract<AtelierEvent, { type: 'job:done' }> => e.type === 'job:done');
    expect(done.flatMap((e) => e.generations.map((g) => g.id))).toEqual(expect.arrayContaining(info.atelier_generation_ids));
    expect(done[0].generations[0].tags).toContain('api:a1111');
  });
});

describe('A1111 API — SillyTavern', () => {
  const auth = { Authorization: sillyTavernAuthHeader('') };

  it('passes its connection checks: options, upscalers + latent modes, VAEs, samplers, schedulers, models', async () => {
    expect((await get('options', auth)).status).toBe(200);
    const [upscalers, latent] = await Promise.all([get('upscalers', auth), get('latent-upscale-modes', auth)]);
    expect(upscalers.status).toBe(200);
    expect(latent.status).toBe(200);
    expect((upscalers.json as { name: string }[]).map((x) => x.name)).toEqual(expect.arrayContaining(['None', 'Lanczos']));
    expect(Array.isArray(latent.json)).toBe(true);
    const vaes = await get('sd-vae', auth);
    expect(vaes.status).toBe(200);
    expect(Array.isArray(vaes.json)).toBe(true);
    const samplers = (await get('samplers', auth)).json as { name: string; aliases: string[]; options: object }[];
    expect(samplers.map((x) => x.name)).toEqual(expect.arrayContaining(['Euler', 'Euler a', 'Heun', 'LMS', 'DPM++ 2M', 'DDIM', 'PLMS', 'LCM']));
    const schedulers = (await get('schedulers', auth)).json as { name: string; label: string }[];
    expect(schedulers.map((x) => x.name)).toEqual(['automatic', 'karras']);
    const models = (await get('sd-models', auth)).json as { title: string; model_name: string; hash: string | null; sha256: string | null; filename: string; config: null }[];
    expect(models.map((m) => ({ value: m.title, text: m.title }))).toContainEqual({ value: DEMO_MODEL, text: DEMO_MODEL });
    expect(Object.keys(models[0]).sort()).toEqual(['config', 'filename', 'hash', 'model_name', 'sha256', 'title']);
  });

  it('switches the model and sees the server idle (its /set-model poll)', async () => {
    const r = await post('options', { sd_model_checkpoint: DEMO_MODEL }, auth);
    expect(r.status).toBe(200);
    expect((await h.client.getSettings()).defaultModelId).toBe(DEMO_MODEL);
    // SillyTavern polls up to 10 times until progress 0 and job_count 0; idle answers at once.
    const progress = (await get('progress', auth)).json as { progress: number; state: { job_count: number } };
    expect(progress.progress).toBe(0);
    expect(progress.state.job_count).toBe(0);
  });

  it('generates with its txt2img body (url, auth, hires fields, override_settings) and reads images[0]', async () => {
    const body = sillyTavernTxt2img('http://localhost:7860', '', DEMO_PROMPT, { seed: 1234 });
    expect(body.seed).toBe(1234);
    const res = await post('txt2img', body, auth);
    expect(res.status, JSON.stringify(res.json)).toBe(200);
    const data = res.json as unknown as Txt2imgResponse;
    expect(isPng(Buffer.from(data.images[0], 'base64'))).toBe(true);
    const info = infoOf(res);
    expect(info.seed).toBe(1234);
    expect(info.sampler_name).toBe('DDIM');
    const record = await h.client.getGeneration({ id: info.atelier_generation_ids[0] });
    expect(record).toMatchObject({ seed: 1234, steps: 4, guidanceScale: 7, scheduler: 'DDIMScheduler', width: 64, height: 64 });
    expect(record.tags).toContain('api:a1111');
    // The echo of the request, as A1111 returns it.
    expect(data.parameters).toMatchObject({ prompt: DEMO_PROMPT, steps: 4, sampler_name: 'DDIM', hr_upscaler: 'Latent' });
    // SillyTavern's own `url` and `auth` (a password) are not A1111 fields and are not echoed back.
    expect(data.parameters).not.toHaveProperty('auth');
    expect(data.parameters).not.toHaveProperty('url');
  });
});

describe('A1111 API — samplers, img2img, progress, interrupt, png-info, extras', () => {
  it('splits "DPM++ 2M Karras" into sampler + schedule; an unknown sampler falls back and info says what ran', async () => {
    const karras = await post('txt2img', { prompt: DEMO_PROMPT, steps: 3, sampler_name: 'DPM++ 2M Karras' });
    expect(karras.status).toBe(200);
    const info = infoOf(karras);
    expect(info.sampler_name).toBe('DPM++ 2M');
    expect(info.extra_generation_params['Schedule type']).toBe('Karras');
    expect((await h.client.getGeneration({ id: info.atelier_generation_ids[0] })).scheduler).toBe('DPMSolverMultistepScheduler+karras');

    const split = await post('txt2img', { prompt: DEMO_PROMPT, steps: 3, sampler_name: 'Euler a', scheduler: 'Karras' });
    expect(infoOf(split).sampler_name).toBe('Euler a');
    expect((await h.client.getGeneration({ id: infoOf(split).atelier_generation_ids[0] })).scheduler).toBe('EulerAncestralDiscreteScheduler+karras');

    const unknown = await post('txt2img', { prompt: DEMO_PROMPT, steps: 3, sampler_name: 'DPM++ 3M SDE Exponential' });
    expect(unknown.status).toBe(200);
    const fallback = infoOf(unknown);
    expect(fallback.sampler_name).toBe('DDIM'); // the demo model's own sampler
    expect(fallback.atelier_notes.join(' ')).toMatch(/DPM\+\+ 3M SDE Exponential.*not one Atelier runs; used DDIM/);
  });

  it('ignores unknown keys and unknown alwayson_scripts, as A1111 clients expect', async () => {
    const r = await post('txt2img', { prompt: DEMO_PROMPT, steps: 2, alwayson_scripts: { ControlNet: { args: [] }, ADetailer: { args: [true] } }, use_deprecated_controlnet: false, script_args: [], foo: { bar: 1 } });
    expect(r.status, JSON.stringify(r.json)).toBe(200);
  });

  it('img2img: data: URL init image and mask (inpaint), raw base64 init image (img2img)', async () => {
    const source = (await taggedGenerations(h.client, 'api:a1111'))[0];
    const png = await readGeneration(source);
    const mask = await sharp({ create: { width: 64, height: 64, channels: 3, background: '#000000' } })
      .composite([{ input: await sharp({ create: { width: 32, height: 64, channels: 3, background: '#ffffff' } }).png().toBuffer(), left: 0, top: 0 }])
      .png()
      .toBuffer();
    const inpaint = await post('img2img', {
      prompt: DEMO_PROMPT,
      init_images: [`data:image/png;base64,${png.toString('base64')}`],
      mask: `data:image/png;base64,${mask.toString('base64')}`,
      mask_blur: 4,
      inpainting_fill: 1,
      inpaint_full_res: false,
      inpainting_mask_invert: 0,
      resize_mode: 1,
      denoising_strength: 0.6,
      steps: 4,
      width: 64,
      height: 64,
    });
    expect(inpaint.status, JSON.stringify(inpaint.json)).toBe(200);
    const info = infoOf(inpaint);
    expect(info.denoising_strength).toBe(0.6);
    const record = await h.client.getGeneration({ id: info.atelier_generation_ids[0] });
    expect(record.strength).toBe(0.6);
    expect(record.initImageRef).toMatch(/^sha256:/);
    expect(record.maskRef).toMatch(/^sha256:/);
    expect(record.tags).toContain('api:a1111');
    // Init images are not echoed back unless include_init_images is set.
    expect((inpaint.json as unknown as Txt2imgResponse).parameters.init_images).toBeNull();

    const img2img = await post('img2img', { prompt: DEMO_PROMPT, init_images: [png.toString('base64')], steps: 4 });
    expect(img2img.status).toBe(200);
    expect((await h.client.getGeneration({ id: infoOf(img2img).atelier_generation_ids[0] })).strength).toBe(0.75);
  });

  it('reports progress with a preview while a job runs, and interrupt stops it without saving anything', async () => {
    const before = await historyCount();
    const firstPreview = nextEvent(h.backend, (e): e is Extract<AtelierEvent, { type: 'job:preview' }> => e.type === 'job:preview');
    const running = post('txt2img', { prompt: DEMO_PROMPT, steps: 500 });
    await firstPreview;
    const busy = (await get('progress')).json as { progress: number; eta_relative: number; state: Record<string, number | string | boolean>; current_image: string | null };
    expect(busy.progress).toBeGreaterThan(0);
    expect(busy.progress).toBeLessThanOrEqual(1);
    expect(busy.state.job_count).toBe(1);
    expect(busy.state.sampling_steps).toBe(500);
    expect(isPng(Buffer.from(busy.current_image ?? '', 'base64'))).toBe(true);
    expect(((await get('progress?skip_current_image=true')).json as { current_image: unknown }).current_image).toBeNull();

    expect((await post('interrupt', {})).json).toEqual({});
    const res = await within(60_000, 'the interrupted txt2img', running);
    expect(res.status).toBe(200);
    expect((res.json as unknown as Txt2imgResponse).images).toEqual([]);
    expect(infoOf(res).atelier_notes.join(' ')).toMatch(/Interrupted/);
    expect(await historyCount()).toBe(before);
    const idle = (await get('progress')).json as { progress: number; state: { job_count: number } };
    expect([idle.progress, idle.state.job_count]).toEqual([0, 0]);
  });

  it('png-info reads an image’s parameters back', async () => {
    const source = (await taggedGenerations(h.client, 'api:a1111'))[0];
    const png = await readGeneration(source);
    const r = await post('png-info', { image: `data:image/png;base64,${png.toString('base64')}` });
    expect(r.status).toBe(200);
    expect(r.json.info).toBe(pngTextChunks(png).parameters);
    expect(r.json.parameters).toMatchObject({ Prompt: source.prompt, Steps: String(source.steps), Seed: String(source.seed), 'Size-1': '64', 'Size-2': '64' });
    expect(Object.keys(r.json.items as object)).toContain('atelier');
  });

  it('extra-single-image upscales 2× through the library', async () => {
    const source = (await taggedGenerations(h.client, 'api:a1111'))[0];
    const png = await readGeneration(source);
    const r = await post('extra-single-image', { image: png.toString('base64'), upscaling_resize: 2, upscaler_1: 'None', resize_mode: 0 });
    expect(r.status, JSON.stringify(r.json)).toBe(200);
    const meta = await sharp(Buffer.from(String(r.json.image), 'base64')).metadata();
    expect([meta.width, meta.height]).toEqual([128, 128]);
    expect(String(r.json.html_info)).toMatch(/64×64 → 128×128/);
    expect((await taggedGenerations(h.client, 'api:a1111')).some((g) => g.width === 128)).toBe(true);
  });
});

describe('A1111 API — bad input answers in A1111’s error shape and saves nothing', () => {
  it.each([
    ['missing prompt', 'txt2img', { steps: 2 }, 422, /prompt: field required/],
    ['prompt not a string', 'txt2img', { prompt: 5 }, 422, /prompt: str type expected/],
    ['bad base64 init image', 'img2img', { prompt: 'x', init_images: ['%%%not base64%%%'], steps: 2 }, 422, /init_images\.0: not valid base64/],
    ['base64 that is not an image', 'img2img', { prompt: 'x', init_images: [Buffer.from('hello world').toString('base64')], steps: 2 }, 422, /not a readable image/],
    ['bad base64 mask', 'img2img', { prompt: 'x', init_images: ['iVBORw0KGgo='], mask: 'a', steps: 2 }, 422, /Invalid encoded image/],
    ['no init image', 'img2img', { prompt: 'x', steps: 2 }, 404, /Init image not found/],
    ['huge batch_size', 'txt2img', { prompt: 'x', batch_size: 64 }, 422, /batch_size: must be from 1 to 16/],
    ['huge batch_size × n_iter', 'txt2img', { prompt: 'x', batch_size: 16, n_iter: 5 }, 422, /80 images; at most 64/],
    ['a size the model cannot take', 'txt2img', { prompt: 'x', width: 100, steps: 2 }, 422, /width/],
    ['too many steps', 'txt2img', { prompt: 'x', steps: 100000 }, 422, /steps: must be from 1 to 500/],
    ['unknown checkpoint override', 'txt2img', { prompt: 'x', override_settings: { sd_model_checkpoint: 'nope.safetensors' } }, 422, /no checkpoint "nope.safetensors"/],
    ['malformed JSON', 'txt2img', '{"prompt": ', 422, /not valid JSON/],
  ] as const)('%s', async (_what, path, body, status, detail) => {
    const before = await historyCount();
    const r = await post(path, body);
    expect(r.status).toBe(status);
    expect(Object.keys(r.json).sort()).toEqual(['body', 'detail', 'error', 'errors']);
    expect(String(r.json.detail)).toMatch(detail);
    expect(await historyCount()).toBe(before);
  });

  it('refuses an unknown checkpoint in POST options with A1111’s 500 RuntimeError', async () => {
    const r = await post('options', { sd_model_checkpoint: 'nope' });
    expect(r.status).toBe(500);
    expect(r.json).toMatchObject({ error: 'RuntimeError', detail: 'model "nope" not found' });
    expect((await h.client.getSettings()).defaultModelId).toBe(DEMO_MODEL);
  });

  it('answers an unknown path with a JSON 404', async () => {
    const r = await fetch(api('no-such-endpoint'));
    expect(r.status).toBe(404);
    expect(await r.json()).toMatchObject({ error: 'HTTPException', detail: 'Not Found' });
  });
});

async function readGeneration(g: GenerationRecord): Promise<Buffer> {
  const file = await h.backend.resolveImage(g.id, 'image');
  const { readFile } = await import('node:fs/promises');
  return readFile(file!);
}
