/**
 * ComfyUI compatibility at the wire level: the WebSocket message sequence, /queue and /history
 * (written before a prompt leaves the queue), /view, /upload/image, object_info, the flows Open
 * WebUI and SillyTavern use, interrupt and queue deletion, and bad input answered in ComfyUI's
 * `{error, node_errors}` shape with nothing saved.
 */
import { request as httpRequest } from 'node:http';
import sharp from 'sharp';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { txt2imgGraph } from './fixtures/comfy-graphs';
import { DEMO_PROMPT, isPng, pngTextChunks, startCompat, taggedGenerations, within, type CompatHarness } from './helpers';

/** A received message: JSON (`type`, `data`) or a binary frame. */
type Message = { type?: string; data?: any; binary?: Buffer };

/** A ComfyUI socket that records every message and can wait (bounded) for one. */
class Socket {
  readonly messages: Message[] = [];
  private waiters: { pred: (m: Message) => boolean; resolve: (m: Message) => void }[] = [];
  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data, isBinary) => {
      const m: Message = isBinary ? { binary: Buffer.from(data as Buffer) } : (JSON.parse(String(data)) as Message);
      this.messages.push(m);
      for (const w of [...this.waiters]) if (w.pred(m)) {
        this.waiters.splice(this.waiters.indexOf(w), 1);
        w.resolve(m);
      }
    });
  }
  static async open(url: string): Promise<Socket> {
    const ws = new WebSocket(url);
    const s = new Socket(ws);
    await within(10_000, `open ${url}`, new Promise<void>((resolve, reject) => (ws.once('open', () => resolve()), ws.once('error', reject))));
    return s;
  }
  /** The first message since `from` (an index into `messages`) matching `pred`. */
  next(pred: (m: Message) => boolean, from = 0, ms = 60_000): Promise<Message> {
    const seen = this.messages.slice(from).find(pred);
    if (seen) return Promise.resolve(seen);
    return within(ms, 'waiting for a ComfyUI message', new Promise<Message>((resolve) => this.waiters.push({ pred, resolve })));
  }
  close() {
    this.ws.close();
  }
}
const isType = (type: string, promptId?: string) => (m: Message) => m.type === type && (promptId === undefined || m.data.prompt_id === promptId);
const isDone = (promptId: string) => (m: Message) => isType('executing', promptId)(m) && m.data.node === null;

let h: CompatHarness;
beforeAll(async () => {
  h = await startCompat();
});
afterAll(async () => {
  await h?.close();
});

async function postPrompt(body: unknown, headers: Record<string, string> = { 'content-type': 'application/json' }, path = '/prompt') {
  const res = await fetch(`${h.base}${path}`, { method: 'POST', headers, body: typeof body === 'string' ? body : JSON.stringify(body) });
  return { status: res.status, json: (await res.json()) as Record<string, any> };
}
const getJson = async (path: string) => (await (await fetch(`${h.base}${path}`)).json()) as Record<string, any>;
const historyCount = async () => (await h.client.queryHistory({ limit: 500 })).items.length;

describe('ComfyUI API — one prompt on the wire', () => {
  it('sends status on connect, then the per-prompt sequence to its client, history before it leaves the queue', async () => {
    const ws = await Socket.open(`${h.base.replace('http', 'ws')}/ws?clientId=wire-client`);
    const hello = (await ws.next(isType('status'))) as { data: { sid: string; status: { exec_info: { queue_remaining: number } } } };
    expect(hello.data.sid).toBe('wire-client');
    expect(hello.data.status.exec_info.queue_remaining).toBe(0);

    // A client-chosen prompt_id (Krita AI Diffusion needs it), posted with text/plain as the SDK's fetch does.
    const r = await postPrompt({ prompt: txt2imgGraph({ prompt: DEMO_PROMPT, seed: 99, steps: 4 }), client_id: 'wire-client', prompt_id: 'wire-prompt-1' }, { 'content-type': 'text/plain;charset=UTF-8' });
    expect(r.status, JSON.stringify(r.json)).toBe(200);
    expect(r.json).toEqual({ prompt_id: 'wire-prompt-1', number: expect.any(Number), node_errors: {} });

    const end = await ws.next(isDone('wire-prompt-1'));
    // When the last message arrives the history is written and the prompt is out of the queue.
    const history = (await getJson('/history/wire-prompt-1'))['wire-prompt-1'];
    expect(history.status).toMatchObject({ status_str: 'success', completed: true });
    expect(history.status.messages.map((m: [string]) => m[0])).toEqual(['execution_start', 'execution_cached', 'execution_success']);
    expect(history.prompt[1]).toBe('wire-prompt-1');
    expect(history.outputs['9'].images).toEqual([{ filename: 'ComfyUI_00001_.png', subfolder: '', type: 'output' }]);
    expect(await getJson('/queue')).toEqual({ queue_running: [], queue_pending: [] });
    expect(end).toBeTruthy();

    const seq = ws.messages
      .filter((m) => m.binary !== undefined || (m.type !== 'status' && m.data.prompt_id === 'wire-prompt-1'))
      .map((m) => (m.binary !== undefined ? 'binary' : m.type === 'executing' ? `executing:${String(m.data.node)}` : String(m.type)));
    const squeezed = seq.filter((s, i) => !(s === 'progress' || s === 'binary') || (seq[i - 1] !== 'progress' && seq[i - 1] !== 'binary'));
    // The nodes before the sampler in a dependency order (which one first is ComfyUI's choice too).
    expect([...squeezed.slice(2, 6)].sort()).toEqual(['executing:4', 'executing:5', 'executing:6', 'executing:7']);
    expect(squeezed.indexOf('executing:4')).toBeLessThan(squeezed.indexOf('executing:6'));
    squeezed.splice(2, 4);
    expect(squeezed).toEqual([
      'execution_start',
      'execution_cached',
      'executing:3',
      'progress',
      'executing:8',
      'executing:9',
      'executed',
      'execution_success',
      'executing:null',
    ]);
    const progress = ws.messages.filter(isType('progress', 'wire-prompt-1')).map((m) => (m as { data: { value: number; max: number; node: string } }).data);
    expect(progress.at(-1)).toMatchObject({ value: 4, max: 4, node: '3' });
    // Binary previews: u32be 1 (preview), u32be 2 (PNG), then a PNG.
    const frame = ws.messages.find((m) => m.binary !== undefined)!.binary!;
    expect([frame.readUInt32BE(0), frame.readUInt32BE(4)]).toEqual([1, 2]);
    expect(isPng(frame.subarray(8))).toBe(true);
    const executed = ws.messages.find(isType('executed', 'wire-prompt-1')) as { data: { node: string; output: unknown } };
    expect(executed.data).toMatchObject({ node: '9', output: { images: [{ filename: 'ComfyUI_00001_.png', subfolder: '', type: 'output' }] } });

    // /view serves it (extra query parameters, such as SCC's clientId, are ignored).
    const view = await fetch(`${h.base}/view?filename=ComfyUI_00001_.png&subfolder=&type=output&clientId=x&rand=1`);
    expect(view.headers.get('content-type')).toBe('image/png');
    expect(pngTextChunks(Buffer.from(await view.arrayBuffer())).parameters).toMatch(/Seed: 99/);
    ws.close();
  });

  it('serves every route under /api/… too', async () => {
    expect(await getJson('/api/prompt')).toEqual({ exec_info: { queue_remaining: 0 } });
    expect(Object.keys(await getJson('/api/object_info'))).toContain('KSampler');
    expect(Object.keys(await getJson('/api/history'))).toContain('wire-prompt-1');
    expect(await getJson('/api/embeddings')).toEqual([]);
    expect(await getJson('/extensions')).toEqual([]);
    const stats = await getJson('/system_stats');
    expect(stats.system).toMatchObject({ os: 'posix', comfyui_version: expect.any(String) });
    expect(stats.devices).toHaveLength(1);
  });

  it('lists exactly what runs in object_info, with installed checkpoints; unknown classes answer {}', async () => {
    const info = await getJson('/object_info');
    expect(Object.keys(info).sort()).toEqual(
      ['CheckpointLoaderSimple', 'CLIPTextEncode', 'EmptyLatentImage', 'KSampler', 'KSamplerAdvanced', 'VAEDecode', 'VAEEncode', 'VAEEncodeForInpaint', 'SetLatentNoiseMask', 'LoadImage', 'ImageScale', 'ImagePadForOutpaint', 'SaveImage', 'PreviewImage', 'UNETLoader', 'VAELoader', 'LoraLoader'].sort(),
    );
    expect(info.CheckpointLoaderSimple.input.required.ckpt_name[0]).toEqual(['atelier-demo']);
    expect(info.SaveImage.output_node).toBe(true);
    expect(info.UNETLoader.input.required.unet_name[0]).toEqual([]);
    expect(await getJson('/object_info/KSampler')).toHaveProperty('KSampler.input.required.sampler_name');
    expect(await getJson('/object_info/Crystools_Monitor')).toEqual({});
  });
});

describe('ComfyUI API — the flows Open WebUI and SillyTavern use', () => {
  it('Open WebUI: socket with its clientId, POST /prompt with `Authorization: Bearer ` (no key), wait for executing null, /history/{id}, /view', async () => {
    // open-webui backend/open_webui/utils/images/comfyui.py @02530d50 (comfyui_create_image / _ws_get_images).
    const headers = { 'User-Agent': 'Mozilla/5.0', Authorization: 'Bearer ' };
    const ws = await Socket.open(`${h.base.replace('http', 'ws')}/ws?clientId=ow-client`);
    const r = await postPrompt({ prompt: txt2imgGraph({ prompt: DEMO_PROMPT, seed: 5, batch: 2, prefix: 'OpenWebUI' }), client_id: 'ow-client' }, { ...headers, 'content-type': 'application/json' });
    expect(r.status).toBe(200);
    await ws.next(isDone(r.json.prompt_id));
    const history = (await (await fetch(`${h.base}/history/${r.json.prompt_id}`, { headers })).json())[r.json.prompt_id];
    const images = history.outputs['9'].images as { filename: string; subfolder: string; type: string }[];
    expect(images.map((i) => i.filename)).toEqual(['OpenWebUI_00001_.png', 'OpenWebUI_00002_.png']);
    for (const image of images) {
      const res = await fetch(`${h.base}/view?${new URLSearchParams(image)}`, { headers });
      expect(res.headers.get('content-type')?.split('/')[0]).toBe('image');
    }
    ws.close();
  });

  it('SillyTavern: a raw string body without Content-Type, then /history until the id appears', async () => {
    // SillyTavern src/endpoints/stable-diffusion.js @ba6f7b7a9 `comfy.post('/generate')`: body: '{"prompt": ' + workflow + '}'.
    const listener = await Socket.open(`${h.base.replace('http', 'ws')}/ws`);
    const workflow = JSON.stringify(txt2imgGraph({ prompt: DEMO_PROMPT, seed: 6, prefix: 'SillyTavern' }));
    const { status, body } = await rawPost('/prompt', `{"prompt": ${workflow}}`);
    expect(status).toBe(200);
    const id = (JSON.parse(body) as { prompt_id: string }).prompt_id;
    // No client_id: like ComfyUI, the prompt's messages go to every socket.
    await listener.next(isDone(id));
    const item = (await getJson('/history'))[id];
    expect(item.status.status_str, JSON.stringify(item.status.messages)).toBe('success');
    const img = Object.values(item.outputs as Record<string, { images: { filename: string; subfolder: string; type: string }[] }>).flatMap((o) => o.images)[0];
    const res = await fetch(`${h.base}/view?filename=${img.filename}&subfolder=${img.subfolder}&type=${img.type}`);
    expect(isPng(Buffer.from(await res.arrayBuffer()))).toBe(true);
    listener.close();
  });

  it('keeps a quiet socket alive with a status at least every few seconds (the SDK drops sockets silent for 10 s)', async () => {
    const ws = await Socket.open(`${h.base.replace('http', 'ws')}/ws?clientId=quiet`);
    await ws.next(isType('status'));
    const started = Date.now();
    await ws.next(isType('status'), 1, 9000);
    expect(Date.now() - started).toBeLessThan(9000);
    ws.close();
  });
});

describe('ComfyUI API — queue, interrupt, uploads', () => {
  it('shows the running prompt in /queue, deletes a pending one unseen, and interrupt ends the running one without saving', async () => {
    const before = await historyCount();
    const ws = await Socket.open(`${h.base.replace('http', 'ws')}/ws?clientId=queue-client`);
    const long = await postPrompt({ prompt: txt2imgGraph({ prompt: DEMO_PROMPT, steps: 500 }), client_id: 'queue-client' });
    const pending = await postPrompt({ prompt: txt2imgGraph({ prompt: DEMO_PROMPT, steps: 3 }), client_id: 'queue-client' });
    expect([long.status, pending.status]).toEqual([200, 200]);
    await ws.next(isType('progress', long.json.prompt_id));
    const queue = await getJson('/queue');
    expect(queue.queue_running.map((q: unknown[]) => q[1])).toEqual([long.json.prompt_id]);
    expect(queue.queue_pending.map((q: unknown[]) => q[1])).toEqual([pending.json.prompt_id]);
    const row = queue.queue_running[0];
    expect(row).toHaveLength(5);
    expect(row[2]['3'].class_type).toBe('KSampler');
    expect(row[3]).toEqual({ client_id: 'queue-client' });
    expect(row[4]).toEqual(['9']);
    expect((await getJson('/prompt')).exec_info.queue_remaining).toBe(2);

    await fetch(`${h.base}/queue`, { method: 'POST', body: JSON.stringify({ delete: [pending.json.prompt_id] }) });
    expect((await getJson('/queue')).queue_pending).toEqual([]);
    await fetch(`${h.base}/interrupt`, { method: 'POST', body: JSON.stringify({ prompt_id: long.json.prompt_id }) });
    const interrupted = (await ws.next(isType('execution_interrupted', long.json.prompt_id))) as { data: Record<string, unknown> };
    expect(interrupted.data).toMatchObject({ node_id: '3', node_type: 'KSampler', executed: expect.arrayContaining(['4', '5']) });
    await ws.next(isDone(long.json.prompt_id));
    expect((await getJson(`/history/${long.json.prompt_id}`))[long.json.prompt_id].status).toMatchObject({ status_str: 'error', completed: false });
    expect(await getJson(`/history/${pending.json.prompt_id}`)).toEqual({});
    expect(await getJson('/queue')).toEqual({ queue_running: [], queue_pending: [] });
    expect(await historyCount()).toBe(before);
    ws.close();
  });

  it('uploads into its input folder only: no traversal, no non-images, no overwrite unless asked', async () => {
    const png = await sharp({ create: { width: 8, height: 8, channels: 4, background: '#ff000080' } }).png().toBuffer();
    const upload = async (name: string, fields: Record<string, string> = {}, bytes: Buffer = png) => {
      const form = new FormData();
      form.append('image', new Blob([new Uint8Array(bytes)]), name);
      for (const [k, v] of Object.entries(fields)) form.append(k, v);
      const res = await fetch(`${h.base}/upload/image`, { method: 'POST', body: form });
      return { status: res.status, body: res.headers.get('content-type')?.startsWith('application/json') ? await res.json() : await res.text() };
    };
    expect(await upload('a.png')).toEqual({ status: 200, body: { name: 'a.png', subfolder: '', type: 'input' } });
    expect(await upload('a.png')).toEqual({ status: 200, body: { name: 'a (1).png', subfolder: '', type: 'input' } });
    expect(await upload('a.png', { overwrite: 'true' })).toEqual({ status: 200, body: { name: 'a.png', subfolder: '', type: 'input' } });
    expect(await upload('../../escape.png')).toEqual({ status: 200, body: { name: 'escape.png', subfolder: '', type: 'input' } });
    expect((await upload('b.png', { subfolder: '../outside' })).status).toBe(400);
    expect((await upload('c.png', { subfolder: 'sub' })).body).toEqual({ name: 'c.png', subfolder: 'sub', type: 'input' });
    expect((await upload('notes.png', {}, Buffer.from('not an image'))).status).toBe(400);
    const view = await fetch(`${h.base}/view?filename=c.png&subfolder=sub&type=input`);
    expect([view.status, view.headers.get('content-type')]).toEqual([200, 'image/png']);
    for (const bad of ['../../package.json', '..%2F..%2Fpackage.json', '/etc/passwd']) {
      expect((await fetch(`${h.base}/view?filename=${bad}&type=input`)).status).toBe(404);
    }
    expect((await fetch(`${h.base}/view?filename=x&subfolder=..&type=input`)).status).toBe(404);
    expect((await getJson('/object_info/LoadImage')).LoadImage.input.required.image[0]).toEqual(['a (1).png', 'a.png', 'escape.png']);
  });
});

describe('ComfyUI API — inpaint, outpaint, KSamplerAdvanced, PreviewImage', () => {
  /** Uploads `png`, runs `graph` (built with its name) for a client, resolves with the history entry. */
  async function run(name: string, png: Buffer, graph: (image: string) => Record<string, unknown>) {
    const form = new FormData();
    form.append('image', new Blob([new Uint8Array(png)]), name);
    const { name: stored } = (await (await fetch(`${h.base}/upload/image`, { method: 'POST', body: form })).json()) as { name: string };
    const ws = await Socket.open(`${h.base.replace('http', 'ws')}/ws?clientId=${name}`);
    const r = await postPrompt({ prompt: graph(stored), client_id: name });
    expect(r.status, JSON.stringify(r.json)).toBe(200);
    await ws.next(isDone(r.json.prompt_id));
    ws.close();
    return (await getJson(`/history/${r.json.prompt_id}`))[r.json.prompt_id];
  }
  const withAlpha = async () =>
    sharp({ create: { width: 64, height: 64, channels: 4, background: '#4060a0ff' } })
      // Cut the right half out: transparent pixels are the ones LoadImage's MASK marks for repainting.
      .composite([{ input: await sharp({ create: { width: 32, height: 64, channels: 4, background: '#000000ff' } }).png().toBuffer(), left: 32, top: 0, blend: 'dest-out' }])
      .png()
      .toBuffer();

  it('inpaints through VAEEncodeForInpaint with the LoadImage mask (transparent = repainted)', async () => {
    const item = await run('inpaint-client', await withAlpha(), (image) => {
      const g = txt2imgGraph({ prompt: DEMO_PROMPT, seed: 31 }) as Record<string, { class_type: string; inputs: Record<string, unknown> }>;
      delete g['5'];
      g['10'] = { class_type: 'LoadImage', inputs: { image } };
      g['11'] = { class_type: 'VAEEncodeForInpaint', inputs: { pixels: ['10', 0], vae: ['4', 2], mask: ['10', 1], grow_mask_by: 6 } };
      g['3'].inputs.latent_image = ['11', 0];
      return g;
    });
    expect(item.status.status_str, JSON.stringify(item.status.messages)).toBe('success');
    const record = (await taggedGenerations(h.client, 'api:comfyui')).find((g) => g.seed === 31)!;
    expect(record.maskRef).toMatch(/^sha256:/);
    expect(record.strength).toBe(1);
  });

  it('outpaints through ImagePadForOutpaint, and SetLatentNoiseMask inpaints', async () => {
    const png = await sharp({ create: { width: 64, height: 64, channels: 3, background: '#806020' } }).png().toBuffer();
    await run('outpaint-client', png, (image) => {
      const g = txt2imgGraph({ prompt: DEMO_PROMPT, seed: 32 }) as Record<string, { class_type: string; inputs: Record<string, unknown> }>;
      delete g['5'];
      g['10'] = { class_type: 'LoadImage', inputs: { image } };
      g['12'] = { class_type: 'ImagePadForOutpaint', inputs: { image: ['10', 0], left: 32, top: 0, right: 0, bottom: 0, feathering: 40 } };
      g['11'] = { class_type: 'VAEEncodeForInpaint', inputs: { pixels: ['12', 0], vae: ['4', 2], mask: ['12', 1], grow_mask_by: 6 } };
      g['3'].inputs.latent_image = ['11', 0];
      return g;
    });
    const outpainted = (await taggedGenerations(h.client, 'api:comfyui')).find((g) => g.seed === 32)!;
    expect([outpainted.width, outpainted.height]).toEqual([96, 64]);
    expect(outpainted.maskRef).toMatch(/^outpaint:32,0,0,0/);

    await run('noise-mask-client', await withAlpha(), (image) => {
      const g = txt2imgGraph({ prompt: DEMO_PROMPT, seed: 33 }) as Record<string, { class_type: string; inputs: Record<string, unknown> }>;
      delete g['5'];
      g['10'] = { class_type: 'LoadImage', inputs: { image } };
      g['11'] = { class_type: 'VAEEncode', inputs: { pixels: ['10', 0], vae: ['4', 2] } };
      g['13'] = { class_type: 'SetLatentNoiseMask', inputs: { samples: ['11', 0], mask: ['10', 1] } };
      g['3'].inputs.latent_image = ['13', 0];
      g['3'].inputs.denoise = 0.8;
      return g;
    });
    expect((await taggedGenerations(h.client, 'api:comfyui')).find((g) => g.seed === 33)).toMatchObject({ strength: 0.8, maskRef: expect.stringMatching(/^sha256:/) });
  });

  it('runs KSamplerAdvanced whole passes; PreviewImage outputs are temp images (kept in the library too)', async () => {
    const ws = await Socket.open(`${h.base.replace('http', 'ws')}/ws?clientId=advanced-client`);
    const g = txt2imgGraph({ prompt: DEMO_PROMPT }) as Record<string, { class_type: string; inputs: Record<string, unknown> }>;
    g['3'] = {
      class_type: 'KSamplerAdvanced',
      inputs: { add_noise: 'enable', noise_seed: 34, steps: 3, cfg: 1.3, sampler_name: 'lms', scheduler: 'normal', start_at_step: 0, end_at_step: 10000, return_with_leftover_noise: 'disable', model: ['4', 0], positive: ['6', 0], negative: ['7', 0], latent_image: ['5', 0] },
    };
    g['9'] = { class_type: 'PreviewImage', inputs: { images: ['8', 0] } };
    const r = await postPrompt({ prompt: g, client_id: 'advanced-client' });
    expect(r.status, JSON.stringify(r.json)).toBe(200);
    await ws.next(isDone(r.json.prompt_id));
    const item = (await getJson(`/history/${r.json.prompt_id}`))[r.json.prompt_id];
    const image = item.outputs['9'].images[0];
    expect(image).toMatchObject({ subfolder: '', type: 'temp', filename: expect.stringMatching(/^ComfyUI_temp_\d{5}_\.png$/) });
    expect((await fetch(`${h.base}/view?${new URLSearchParams(image)}`)).headers.get('content-type')).toBe('image/png');
    expect((await taggedGenerations(h.client, 'api:comfyui')).find((x) => x.seed === 34)?.scheduler).toBe('LMSDiscreteScheduler');
    const partial = structuredClone(g);
    partial['3'].inputs.start_at_step = 2;
    const refused = await postPrompt({ prompt: partial });
    expect(refused.status).toBe(400);
    expect(refused.json.node_errors['3'].errors[0].message).toMatch(/whole denoising passes only/);
    ws.close();
  });
});

describe('ComfyUI API — bad input answers {error, node_errors} and saves nothing', () => {
  const base = () => txt2imgGraph({ prompt: DEMO_PROMPT, steps: 2 }) as Record<string, { class_type: string; inputs: Record<string, unknown> }>;
  const cases: [string, () => unknown, string, string | null][] = [
    ['missing prompt', () => ({ client_id: 'x' }), 'no_prompt', null],
    ['a prompt that is not a graph', () => ({ prompt: [1, 2] }), 'invalid_prompt', null],
    ['an unknown node class', () => ({ prompt: { ...base(), '10': { class_type: 'UltimateSDUpscale', inputs: {} } } }), 'missing_node_type', null],
    ['no output node', () => ({ prompt: Object.fromEntries(Object.entries(base()).filter(([id]) => id !== '9')) }), 'prompt_no_outputs', null],
    ['a sampler not in the list', () => ({ prompt: txt2imgGraph({ prompt: 'x', sampler: 'dpmpp_sde' }) }), 'prompt_outputs_failed_validation', '3'],
    ['a scheduler not in the list', () => ({ prompt: txt2imgGraph({ prompt: 'x', scheduler: 'exponential' }) }), 'prompt_outputs_failed_validation', '3'],
    ['an unknown checkpoint', () => ({ prompt: txt2imgGraph({ prompt: 'x', ckpt: 'sd_xl_base_1.0.safetensors' }) }), 'prompt_outputs_failed_validation', '4'],
    ['a huge batch', () => ({ prompt: txt2imgGraph({ prompt: 'x', batch: 64 }) }), 'prompt_outputs_failed_validation', '5'],
    ['a dependency cycle', () => {
      const g = base();
      g['11'] = { class_type: 'VAEEncode', inputs: { pixels: ['8', 0], vae: ['4', 2] } };
      g['3'].inputs.latent_image = ['11', 0];
      return { prompt: g };
    }, 'prompt_outputs_failed_validation', null],
    ['a link to a missing node', () => {
      const g = base();
      g['3'].inputs.positive = ['99', 0];
      return { prompt: g };
    }, 'prompt_outputs_failed_validation', '3'],
    ['a link of the wrong type', () => {
      const g = base();
      g['3'].inputs.positive = ['4', 0];
      return { prompt: g };
    }, 'prompt_outputs_failed_validation', '3'],
    ['a missing required input', () => {
      const g = base();
      delete g['3'].inputs.steps;
      return { prompt: g };
    }, 'prompt_outputs_failed_validation', '3'],
    ['a LoadImage of a file never uploaded', () => {
      const g = base();
      g['10'] = { class_type: 'LoadImage', inputs: { image: 'never-uploaded.png' } };
      g['11'] = { class_type: 'VAEEncode', inputs: { pixels: ['10', 0], vae: ['4', 2] } };
      g['3'].inputs.latent_image = ['11', 0];
      return { prompt: g };
    }, 'prompt_outputs_failed_validation', '10'],
    ['a graph Atelier cannot map (saving a loaded image)', () => {
      const g = base();
      g['10'] = { class_type: 'EmptyLatentImage', inputs: { width: 64, height: 64, batch_size: 1 } };
      g['9'].inputs.images = ['12', 0];
      g['12'] = { class_type: 'VAEDecode', inputs: { samples: ['10', 0], vae: ['4', 2] } };
      return { prompt: g };
    }, 'unsupported_graph', '12'],
    ['a size the model cannot take', () => {
      const g = base();
      g['5'].inputs.width = 80;
      return { prompt: g };
    }, 'prompt_outputs_failed_validation', '5'],
  ];

  it.each(cases)('%s → 400', async (_what, body, type, node) => {
    const before = await historyCount();
    const historyBefore = Object.keys(await getJson('/history')).length;
    const r = await postPrompt(body());
    expect(r.status).toBe(400);
    expect(Object.keys(r.json).sort()).toEqual(['error', 'node_errors']);
    expect(r.json.error).toMatchObject({ type, message: expect.any(String) });
    if (node) expect(Object.keys(r.json.node_errors)).toContain(node);
    expect(await historyCount()).toBe(before);
    expect(Object.keys(await getJson('/history')).length).toBe(historyBefore);
    expect(await getJson('/queue')).toEqual({ queue_running: [], queue_pending: [] });
  });

  it('names what is wrong', async () => {
    const unknown = await postPrompt({ prompt: { ...base(), '10': { class_type: 'UltimateSDUpscale', inputs: {} } } });
    expect(unknown.json.error.message).toMatch(/Node 'UltimateSDUpscale' not found/);
    expect(unknown.json.error.details).toBe("Node ID '#10'");
    const sampler = await postPrompt({ prompt: txt2imgGraph({ prompt: 'x', sampler: 'dpmpp_sde' }) });
    expect(sampler.json.node_errors['3'].errors[0]).toMatchObject({ type: 'value_not_in_list', message: 'Value not in list', details: expect.stringMatching(/^sampler_name: 'dpmpp_sde' not in \[/) });
    const batch = await postPrompt({ prompt: txt2imgGraph({ prompt: 'x', batch: 64 }) });
    expect(batch.json.node_errors['5'].errors[0]).toMatchObject({ type: 'value_bigger_than_max', message: 'Value 64 bigger than max of 16' });
    const g = base();
    g['11'] = { class_type: 'VAEEncode', inputs: { pixels: ['8', 0], vae: ['4', 2] } };
    g['3'].inputs.latent_image = ['11', 0];
    const cycle = await postPrompt({ prompt: g });
    const errors = Object.values(cycle.json.node_errors as Record<string, { errors: { type: string; details: string }[] }>).flatMap((e) => e.errors);
    expect(errors.find((e) => e.type === 'dependency_cycle')?.details).toMatch(/#\d+ → .* → #\d+/);
    const size = await postPrompt({ prompt: { ...base(), '5': { class_type: 'EmptyLatentImage', inputs: { width: 80, height: 64, batch_size: 1 } } } });
    expect(size.json.node_errors['5'].errors[0].message).toMatch(/width: must be a multiple of 32/);
  });

  it('answers a body that is not JSON with a 400', async () => {
    const { status, body } = await rawPost('/prompt', '{"prompt": ');
    expect(status).toBe(400);
    expect(JSON.parse(body).error.type).toBe('invalid_prompt');
  });

  it('leaves the studio’s images alone: everything it made is tagged api:comfyui', async () => {
    const made = await taggedGenerations(h.client, 'api:comfyui');
    expect(made.length).toBeGreaterThanOrEqual(4);
    expect(made.every((g) => g.tags.includes('api:comfyui'))).toBe(true);
  });
});

/** A POST with no Content-Type at all (node:http sends none unless told). */
function rawPost(path: string, body: string): Promise<{ status: number; body: string }> {
  const url = new URL(path, h.base);
  return within(
    30_000,
    `POST ${path}`,
    new Promise((resolve, reject) => {
      const req = httpRequest({ host: url.hostname, port: url.port, path: url.pathname, method: 'POST', headers: { 'content-length': Buffer.byteLength(body) } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      });
      req.on('error', reject);
      req.end(body);
    }),
  );
}
