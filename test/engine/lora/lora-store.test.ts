/**
 * LoRA import into `<modelsDir>/loras/`: hash (A1111 addnet: SHA-256 after the header), name, base
 * family from the header, refusals with reasons, lookup by name and by infotext short hash.
 */
import { createHash } from 'node:crypto';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readLoraFile } from '../../../main/engine/lora';
import { LoraStore } from '../../../main/models/lora-store';
import { ModelStore } from '../../../main/models/model-store';

const FIX = 'test/fixtures/lora';

function addnetHash(file: string): string {
  const buf = readFileSync(file);
  const len = Number(buf.readBigUInt64LE(0));
  return createHash('sha256').update(buf.subarray(8 + len)).digest('hex');
}

let models: string;
beforeEach(() => {
  models = mkdtempSync(join(tmpdir(), 'atelier-loras-'));
});
afterEach(() => rmSync(models, { recursive: true, force: true }));

describe('LoraStore', () => {
  it('imports LoRAs with hash, base family and metadata, and finds them by name or short hash', async () => {
    const store = new LoraStore(models);
    const kohya = await store.import(`${FIX}/kohya_sd15.safetensors`);
    expect(kohya).toMatchObject({ name: 'kohya_sd15', base: 'sd1', tensors: 5, rank: 4, hash: addnetHash(`${FIX}/kohya_sd15.safetensors`) });
    expect(kohya.file).toBe(join(models, 'loras', 'kohya_sd15.safetensors'));
    // The engine computes the same identity (it keys merged working copies and `Lora hashes` on it).
    expect(readLoraFile(kohya.file).hash).toBe(kohya.hash);

    await store.import(`${FIX}/kohya_sdxl.safetensors`, { name: 'my xl style' });
    await store.import(`${FIX}/peft_sd15.safetensors`);
    const { loras, problems } = await store.list();
    expect(problems).toEqual([]);
    expect(loras.map((l) => [l.name, l.base])).toEqual([['kohya_sd15', 'sd1'], ['my xl style', 'sdxl'], ['peft_sd15', null]]);

    expect((await store.find(kohya.hash.slice(0, 12)))?.name).toBe('kohya_sd15');
    expect((await store.find('KOHYA_SD15'))?.name).toBe('kohya_sd15');
    expect(await store.find('nothing')).toBeNull();
    // Importing the same file again is a no-op; another file under a taken name is refused.
    expect((await store.import(`${FIX}/kohya_sd15.safetensors`)).hash).toBe(kohya.hash);
    await expect(store.import(`${FIX}/peft_sd15.safetensors`, { name: 'kohya_sd15' })).rejects.toThrow(/already installed/);
    // loras/ is not a model folder: the model list does not show it.
    expect(await new ModelStore({ modelsDir: models }).list()).toEqual([]);
  });

  it('refuses what is not a readable LoRA, and lists a damaged file as a problem', async () => {
    const store = new LoraStore(models);
    await expect(store.import(`${FIX}/sd15/unet/model.onnx`)).rejects.toThrow(/only .safetensors/);
    const empty = join(models, 'empty.safetensors');
    const json = Buffer.from(JSON.stringify({ 'embedding.weight': { dtype: 'F32', shape: [1], data_offsets: [0, 4] } }));
    const len = Buffer.alloc(8);
    len.writeUInt32LE(json.length, 0);
    writeFileSync(empty, Buffer.concat([len, json, Buffer.alloc(4)]));
    await expect(store.import(empty)).rejects.toThrow(/holds no LoRA weights/);

    await store.import(`${FIX}/kohya_sd15.safetensors`);
    const truncated = join(models, 'loras', 'cut.safetensors');
    copyFileSync(`${FIX}/kohya_sd15.safetensors`, truncated);
    writeFileSync(truncated, readFileSync(truncated).subarray(0, 200));
    const { loras, problems } = await store.list();
    expect(loras.map((l) => l.name)).toEqual(['kohya_sd15']);
    expect(problems[0]).toMatch(/^cut.safetensors: .*(runs past|outside)/);
  });
});
