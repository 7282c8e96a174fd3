/**
 * End to end through the studio API (in-process backend, bundled demo model, real engine host):
 * `<lora:name:w>` in the prompt merges `<modelsDir>/loras/name.safetensors` at load, the image
 * changes, the prompt is recorded with its tag, weight 0 reproduces the plain image, and a LoRA
 * that is not installed fails the job with a message that says where the file goes.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { generateOne, useInProcessApi } from '../../helpers/in-process-api';
import { writeDemoLora } from '../../helpers/lora-files';
import { LoraStore } from '../../../main/models/lora-store';
import { modelId as workingCopyKey } from '../../../main/engine/lora';

const home = mkdtempSync(join(tmpdir(), 'atelier-studio-lora-'));
const api = useInProcessApi(home);

async function pixels(id: string): Promise<Buffer> {
  const sharp = (await import('sharp')).default;
  const file = await api.backend.resolveImage(id, 'image');
  return sharp(readFileSync(file!)).raw().toBuffer();
}

describe('<lora:…> in the studio prompt', () => {
  it('merges the LoRA at load, records the tag, and weight 0 gives the plain image', async () => {
    const settings = await api.client.getSettings();
    mkdirSync(join(settings.modelsDir, 'loras'), { recursive: true });
    writeDemoLora(join(settings.modelsDir, 'loras', 'demo style.safetensors'));
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

  it('removing a model deletes its LoRA merges (and only its)', async () => {
    const settings = await api.client.getSettings();
    mkdirSync(join(settings.modelsDir, 'loras'), { recursive: true });
    writeDemoLora(join(settings.modelsDir, 'loras', 'demo style.safetensors'));
    // A second install of the demo model (a copy), so it has its own graph paths and merges.
    const demo = join(process.cwd(), 'models', 'demo');
    await api.client.importModel({ folder: demo, mode: 'copy', id: 'demo-copy' });
    const prompt = 'a small yellow circle on a purple background <lora:demo style:0.7>';
    await generateOne(api.client, { steps: 2, seed: 3, width: 64, height: 64, prompt, modelId: 'demo-copy' });
    await generateOne(api.client, { steps: 2, seed: 3, width: 64, height: 64, prompt });
    const cache = join(settings.modelsDir, '.cache', 'lora-merged');
    const copyUnet = join(settings.modelsDir, 'demo-copy', 'unet', 'model.onnx');
    const demoUnet = join(demo, 'unet', 'model.onnx');
    expect(existsSync(join(cache, workingCopyKey(copyUnet)))).toBe(true);
    expect(existsSync(join(cache, workingCopyKey(demoUnet)))).toBe(true);
    const before = readdirSync(cache).length;
    expect(await api.client.removeModel({ modelId: 'demo-copy' })).toEqual({ removed: true });
    expect(existsSync(join(cache, workingCopyKey(copyUnet)))).toBe(false);
    expect(existsSync(join(cache, workingCopyKey(demoUnet)))).toBe(true);
    expect(readdirSync(cache).length).toBeLessThan(before);
  });

  it('a LoRA that is not installed fails the job and says where it goes', async () => {
    await expect(generateOne(api.client, { steps: 2, seed: 1, width: 64, height: 64, prompt: 'x <lora:not here:0.5>' })).rejects.toThrow(/LoRA "not here" is not installed: put not here.safetensors into .*loras/);
  });
});
