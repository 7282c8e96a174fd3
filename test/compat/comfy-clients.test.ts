/**
 * ComfyUI compatibility, driven by the two ComfyUI client libraries from npm:
 * @saintno/comfyui-sdk 0.3.1 (ComfyApi + PromptBuilder + CallWrapper) and
 * @stable-canvas/comfyui-client 1.5.9 (Client + Workflow.invoke / enqueue), each running a default
 * txt2img graph and an img2img graph against a real server on loopback with the demo model.
 */
import { CallWrapper, ComfyApi, PromptBuilder } from '@saintno/comfyui-sdk';
import { Client, Workflow } from '@stable-canvas/comfyui-client';
import sharp from 'sharp';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { img2imgGraph, txt2imgGraph } from './fixtures/comfy-graphs';
import { DEMO_MODEL, DEMO_PROMPT, isPng, pngTextChunks, startCompat, taggedGenerations, within, type CompatHarness } from './helpers';

let h: CompatHarness;
let initPng: Buffer;
beforeAll(async () => {
  h = await startCompat();
  // An init image for img2img: a 96×80 picture with an orange disc (ImageScale brings it to 64×64).
  initPng = await sharp({ create: { width: 96, height: 80, channels: 3, background: '#3050c0' } })
    .composite([{ input: Buffer.from('<svg width="96" height="80"><circle cx="48" cy="40" r="20" fill="#ff9000"/></svg>'), left: 0, top: 0 }])
    .png()
    .toBuffer();
});
afterAll(async () => {
  await h?.close();
});

const comfyTagged = async () => taggedGenerations(h.client, 'api:comfyui');

describe('@saintno/comfyui-sdk 0.3.1', () => {
  let api: ComfyApi;
  beforeAll(async () => {
    api = new ComfyApi(h.base, 'sdk-test-client');
    api.init(5, 200);
    await within(30_000, 'ComfyApi.waitForReady', api.waitForReady());
  });
  afterAll(() => api?.destroy());

  it('reads checkpoints and sampler lists from object_info', async () => {
    expect(await api.getCheckpoints()).toEqual([DEMO_MODEL]);
    const info = await api.getSamplerInfo();
    expect(info.sampler?.[0]).toEqual(expect.arrayContaining(['euler', 'euler_ancestral', 'dpmpp_2m', 'ddim', 'lcm']));
    expect(info.scheduler?.[0]).toEqual(['normal', 'karras']);
    expect(await api.getLoras()).toEqual([]);
    expect((await api.getSystemStats()).system.os).toBe('posix');
  });

  it('runs the default txt2img graph with progress, fetches the image bytes, and the image is in the library', async () => {
    const workflow = new PromptBuilder(txt2imgGraph({ prompt: 'placeholder' }), ['prompt', 'seed', 'steps', 'checkpoint'], ['images'])
      .setInputNode('prompt', '6.inputs.text')
      .setInputNode('seed', '3.inputs.seed')
      .setInputNode('steps', '3.inputs.steps')
      .setInputNode('checkpoint', '4.inputs.ckpt_name')
      .setOutputNode('images', '9')
      .input('prompt', DEMO_PROMPT)
      .input('seed', 7)
      // Enough steps that the SDK has its progress listeners in place before the last one (it
      // registers them only after a /history round trip that follows the first `executing`).
      .input('steps', 40)
      .input('checkpoint', DEMO_MODEL);
    const progress: { value: number; max: number }[] = [];
    const previews: Blob[] = [];
    let failure: Error | undefined;
    let started = false;
    const output = await within(
      90_000,
      'SDK txt2img',
      new CallWrapper(api, workflow)
        .onStart(() => (started = true))
        .onProgress((p) => progress.push({ value: p.value, max: p.max }))
        .onPreview((b) => previews.push(b))
        .onFailed((e) => (failure = e))
        .run(),
    );
    expect(failure).toBeUndefined();
    expect(output).toBeTruthy();
    expect(started).toBe(true);
    expect(progress.at(-1)).toEqual({ value: 40, max: 40 });
    expect(previews.length).toBeGreaterThan(0);
    const images = (output as { images: { images: { filename: string; subfolder: string; type: string }[] } }).images.images;
    expect(images).toHaveLength(1);
    expect(images[0]).toMatchObject({ filename: 'ComfyUI_00001_.png', subfolder: '', type: 'output' });
    const bytes = Buffer.from(await (await api.getImage(images[0])).arrayBuffer());
    expect(isPng(bytes)).toBe(true);
    expect(pngTextChunks(bytes).parameters).toMatch(/Steps: 40, Sampler: DDIM, CFG scale: 1\.3, Seed: 7, Size: 64x64/);
    expect((await comfyTagged()).some((g) => g.seed === 7 && g.steps === 40 && g.prompt === DEMO_PROMPT)).toBe(true);
  });

  it('uploads an image and runs an img2img graph (LoadImage → ImageScale → VAEEncode, denoise 0.45)', async () => {
    const uploaded = await api.uploadImage(initPng, 'sdk-init.png');
    expect(uploaded).toBeTruthy();
    const name = (uploaded as { info: { filename: string } }).info.filename;
    expect(name).toBe('sdk-init.png');
    const workflow = new PromptBuilder(img2imgGraph({ prompt: DEMO_PROMPT, image: name, seed: 11 }), [], ['images']).setOutputNode('images', '9');
    let failure: Error | undefined;
    const output = await within(90_000, 'SDK img2img', new CallWrapper(api, workflow).onFailed((e) => (failure = e)).run());
    expect(failure).toBeUndefined();
    const images = (output as { images: { images: { filename: string; subfolder: string; type: string }[] } }).images.images;
    const bytes = Buffer.from(await (await api.getImage(images[0])).arrayBuffer());
    expect(pngTextChunks(bytes).parameters).toMatch(/Denoising strength: 0\.45/);
    const record = (await comfyTagged()).find((g) => g.seed === 11);
    expect(record).toMatchObject({ strength: 0.45, width: 64, height: 64 });
    expect(record?.initImageRef).toMatch(/^sha256:/);
  });
});

describe('@stable-canvas/comfyui-client 1.5.9', () => {
  let client: Client;
  beforeAll(async () => {
    client = new Client({ api_host: h.base.replace(/^http:\/\//, ''), clientId: 'scc-test-client', WebSocket: WebSocket as unknown as typeof globalThis.WebSocket });
    await within(30_000, 'Client.connect', client.connect());
  });
  afterAll(() => client?.close());

  it('invokes a txt2img Workflow with progress, and the output image is viewable and in the library', async () => {
    const workflow = new Workflow();
    const { KSampler, CheckpointLoaderSimple, EmptyLatentImage, CLIPTextEncode, VAEDecode, SaveImage } = workflow.classes;
    const [model, clip, vae] = CheckpointLoaderSimple({ ckpt_name: DEMO_MODEL });
    const [latent_image] = EmptyLatentImage({ width: 64, height: 64, batch_size: 2 });
    const [positive] = CLIPTextEncode({ text: DEMO_PROMPT, clip });
    const [negative] = CLIPTextEncode({ text: '', clip });
    const [samples] = KSampler({ seed: 2 ** 40 + 21, steps: 4, cfg: 1.3, sampler_name: 'euler', scheduler: 'karras', denoise: 1, model, positive, negative, latent_image });
    const [image] = VAEDecode({ samples, vae });
    SaveImage({ images: image, filename_prefix: 'scc/test' });
    const progress: number[] = [];
    const result = await within(90_000, 'Workflow.invoke', workflow.invoke(client, { progress: (p) => progress.push(p.value) }));
    expect(progress.at(-1)).toBe(4);
    const urls = result.images.filter((i) => i.type === 'url').map((i) => String(i.data));
    expect(urls).toHaveLength(2);
    expect(urls[0]).toContain('/view?filename=test_00001_.png&subfolder=scc&type=output');
    const res = await fetch(urls[0]);
    expect(res.headers.get('content-type')).toBe('image/png');
    const bytes = Buffer.from(await res.arrayBuffer());
    // A 64-bit ComfyUI seed runs as its low 32 bits: 2^40 + 21 → 21.
    expect(pngTextChunks(bytes).parameters).toMatch(/Sampler: Euler, Schedule type: Karras, CFG scale: 1\.3, Seed: 21,/);
    const made = (await comfyTagged()).filter((g) => g.seed === 21);
    expect(made).toHaveLength(2);
    expect(made[0].scheduler).toBe('EulerDiscreteScheduler+karras');
    // The prompt left the queue and its history is complete.
    expect(await client.getPromptStatus(result.prompt_id)).toMatchObject({ done: true });
  });

  it('enqueues an img2img graph uploaded the way Open WebUI uploads (multipart to /api/upload/image)', async () => {
    const form = new FormData();
    form.append('image', new Blob([new Uint8Array(initPng)], { type: 'image/png' }), 'scc-init.png');
    form.append('type', 'input');
    const up = await fetch(`${h.base}/api/upload/image`, { method: 'POST', body: form });
    expect(up.status).toBe(200);
    const { name } = (await up.json()) as { name: string };
    const progress: number[] = [];
    const result = await within(90_000, 'Client.enqueue', client.enqueue(img2imgGraph({ prompt: DEMO_PROMPT, image: name, seed: 12, denoise: 0.6 }), { progress: (p: { value: number }) => progress.push(p.value) }));
    expect(progress.length).toBeGreaterThan(0);
    const url = result.images.find((i) => i.type === 'url')?.data as string;
    const bytes = Buffer.from(await (await fetch(url)).arrayBuffer());
    expect(isPng(bytes)).toBe(true);
    expect((await comfyTagged()).find((g) => g.seed === 12)).toMatchObject({ strength: 0.6 });
  });
});
