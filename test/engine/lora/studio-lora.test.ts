/**
 * End to end through the studio API (in-process backend, bundled demo model, real engine host):
 * `<lora:name:w>` in the prompt merges `<modelsDir>/loras/name.safetensors` at load, the image
 * changes, the prompt is recorded with its tag, weight 0 reproduces the plain image, and a LoRA
 * that is not installed fails the job with a message that says where the file goes.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { generateOne, useInProcessApi } from '../../helpers/in-process-api';
import { LoraStore } from '../../../main/models/lora-store';

const home = mkdtempSync(join(tmpdir(), 'atelier-studio-lora-'));
const api = useInProcessApi(home);

/** A kohya LoRA for the demo UNet's first cross-attention query (a0.cross.q, 48×48) and input conv (inp, 48×6×3×3). */
function writeDemoLora(dir: string): void {
  const wave = (n: number, k: number) => Array.from({ length: n }, (_, i) => 0.5 * Math.sin(i * k + 1));
  const tensors: Record<string, [number[], number[]]> = {
    'lora_unet_a0_cross_q.lora_down.weight': [[4, 48], wave(192, 0.37)],
    'lora_unet_a0_cross_q.lora_up.weight': [[48, 4], wave(192, 0.91)],
    'lora_unet_inp.lora_down.weight': [[2, 6, 3, 3], wave(108, 0.53)],
    'lora_unet_inp.lora_up.weight': [[48, 2, 1, 1], wave(96, 0.29)],
  };
  const header: Record<string, unknown> = {};
  const blobs: Buffer[] = [];
  let offset = 0;
  for (const [name, [shape, values]] of Object.entries(tensors)) {
    const b = Buffer.from(Float32Array.from(values).buffer);
    header[name] = { dtype: 'F32', shape, data_offsets: [offset, offset + b.length] };
    blobs.push(b);
    offset += b.length;
  }
  const json = Buffer.from(JSON.stringify(header));
  const len = Buffer.alloc(8);
  len.writeUInt32LE(json.length, 0);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'demo style.safetensors'), Buffer.concat([len, json, ...blobs]));
}

async function pixels(id: string): Promise<Buffer> {
  const sharp = (await import('sharp')).default;
  const file = await api.backend.resolveImage(id, 'image');
  return sharp(readFileSync(file!)).raw().toBuffer();
}

describe('<lora:…> in the studio prompt', () => {
  it('merges the LoRA at load, records the tag, and weight 0 gives the plain image', async () => {
    const settings = await api.client.getSettings();
    writeDemoLora(join(settings.modelsDir, 'loras'));
    const base = { steps: 3, seed: 7, width: 64, height: 64 };
    const plain = await generateOne(api.client, { ...base, prompt: 'a small yellow circle on a purple background' });
    const styled = await generateOne(api.client, { ...base, prompt: 'a small yellow circle on a purple background <lora:demo style:1>' });
    const zero = await generateOne(api.client, { ...base, prompt: 'a small yellow circle on a purple background <lora:demo style:0>' });
    expect(styled.prompt).toBe('a small yellow circle on a purple background <lora:demo style:1>');
    expect((await pixels(styled.id)).equals(await pixels(plain.id))).toBe(false);
    // The image's A1111 infotext (PNG `parameters`) names the LoRA with its 12-digit addnet hash, as A1111 writes it.
    const hash12 = (await new LoraStore(settings.modelsDir).find('demo style'))!.hash.slice(0, 12);
    const png = readFileSync((await api.backend.resolveImage(styled.id, 'image'))!).toString('latin1');
    expect(png).toContain(`Lora hashes: "demo style: ${hash12}"`);
    expect(readFileSync((await api.backend.resolveImage(plain.id, 'image'))!).toString('latin1')).not.toContain('Lora hashes');
    // The tag itself is not tokenized: at weight 0 nothing is merged and the text is the same as plain's.
    expect((await pixels(zero.id)).equals(await pixels(plain.id))).toBe(true);

    // Parameters imported from an A1111 PNG name the LoRA as it was called there; `Lora hashes` finds it here.
    const hash = (await new LoraStore(settings.modelsDir).find('demo style'))!.hash.slice(0, 12);
    const imported = await generateOne(api.client, {
      ...base,
      prompt: 'a small yellow circle on a purple background <lora:their_name:1>',
      loraHashes: [{ name: 'their_name', hash }],
    });
    expect((await pixels(imported.id)).equals(await pixels(styled.id))).toBe(true);
  });

  it('a LoRA that is not installed fails the job and says where it goes', async () => {
    await expect(generateOne(api.client, { steps: 2, seed: 1, width: 64, height: 64, prompt: 'x <lora:not here:0.5>' })).rejects.toThrow(/LoRA "not here" is not installed: put not here.safetensors into .*loras/);
  });
});
