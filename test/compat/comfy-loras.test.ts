/**
 * ComfyUI's LoraLoader on the real compatibility server: `/object_info` lists the LoRAs installed
 * in the backend's models folder as ComfyUI names them (`name.safetensors`), a graph with a
 * LoraLoader between the checkpoint and the sampler/text encoders generates with the LoRA merged
 * (the saved PNG's `parameters` carry `Lora hashes`), and an unknown lora_name is refused with
 * ComfyUI's "value not in list" node error.
 */
import { copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { txt2imgGraph } from './fixtures/comfy-graphs';
import { DEMO_PROMPT, pngTextChunks, REPO_ROOT, startCompat, within, type CompatHarness } from './helpers';
import { writeDemoLora } from '../helpers/lora-files';

let h: CompatHarness;
let lorasDir: string;
beforeAll(async () => {
  h = await startCompat();
  lorasDir = join((await h.client.getSettings()).modelsDir, 'loras');
  mkdirSync(lorasDir, { recursive: true });
  copyFileSync(join(REPO_ROOT, 'test', 'fixtures', 'lora', 'kohya_sd15.safetensors'), join(lorasDir, 'kohya_sd15.safetensors'));
  writeDemoLora(join(lorasDir, 'demo_style.safetensors'));
});
afterAll(async () => {
  await h?.close();
});

/** txt2imgGraph with a LoraLoader (#10) between the checkpoint and the sampler's MODEL / both encoders' CLIP. */
function loraGraph(loraName: string, strengthModel = 1, strengthClip = 1) {
  const g: Record<string, { class_type: string; inputs: Record<string, unknown>; _meta?: { title: string } }> = txt2imgGraph({ prompt: DEMO_PROMPT, seed: 5, steps: 3 });
  g['10'] = { class_type: 'LoraLoader', inputs: { lora_name: loraName, strength_model: strengthModel, strength_clip: strengthClip, model: ['4', 0], clip: ['4', 1] }, _meta: { title: 'Load LoRA' } };
  g['3'].inputs.model = ['10', 0];
  g['6'].inputs.clip = ['10', 1];
  g['7'].inputs.clip = ['10', 1];
  return g;
}

async function postPrompt(prompt: unknown) {
  const res = await fetch(`${h.base}/prompt`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ prompt }) });
  return { status: res.status, json: (await res.json()) as Record<string, any> };
}

async function historyOf(promptId: string): Promise<Record<string, any>> {
  return within(120_000, `history of ${promptId}`, (async () => {
    for (;;) {
      const item = ((await (await fetch(`${h.base}/history/${promptId}`)).json()) as Record<string, any>)[promptId];
      if (item) return item;
      await new Promise((r) => setTimeout(r, 200));
    }
  })());
}

describe('ComfyUI API — LoraLoader', () => {
  it('object_info lists the installed LoRAs as file names', async () => {
    const all = (await (await fetch(`${h.base}/object_info`)).json()) as Record<string, any>;
    expect(all.LoraLoader.input.required.lora_name[0]).toEqual(['demo_style.safetensors', 'kohya_sd15.safetensors']);
    const one = (await (await fetch(`${h.base}/object_info/LoraLoader`)).json()) as Record<string, any>;
    expect(one.LoraLoader.input.required.lora_name[0]).toContain('kohya_sd15.safetensors');
    expect(one.LoraLoader.input_order.required).toEqual(['model', 'clip', 'lora_name', 'strength_model', 'strength_clip']);
  });

  it('a graph with LoraLoader generates with the LoRA merged: the PNG parameters carry Lora hashes', async () => {
    const r = await postPrompt(loraGraph('demo_style.safetensors', 0.8, 0.5));
    expect(r.status, JSON.stringify(r.json)).toBe(200);
    const history = await historyOf(r.json.prompt_id);
    expect(history.status, JSON.stringify(history.status)).toMatchObject({ status_str: 'success', completed: true });
    const image = history.outputs['9'].images[0];
    const view = await fetch(`${h.base}/view?${new URLSearchParams(image)}`);
    expect(view.status).toBe(200);
    const params = pngTextChunks(Buffer.from(await view.arrayBuffer())).parameters;
    expect(params).toContain('<lora:demo_style:0.5:0.8>');
    expect(params).toMatch(/Lora hashes: "demo_style: [0-9a-f]{12}"/);
  });

  it('an unknown lora_name is a ComfyUI "value not in list" error on the LoraLoader node', async () => {
    const r = await postPrompt(loraGraph('missing.safetensors'));
    expect(r.status).toBe(400);
    expect(r.json.error).toMatchObject({ type: 'prompt_outputs_failed_validation' });
    expect(r.json.node_errors['10']).toMatchObject({ class_type: 'LoraLoader', errors: [expect.objectContaining({ type: 'value_not_in_list', details: expect.stringContaining("lora_name: 'missing.safetensors' not in") })] });
  });
});
