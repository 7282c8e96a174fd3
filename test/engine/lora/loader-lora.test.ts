/**
 * loadModel with LoRAs on a whole fixture model (test/fixtures/models/sd15-diffusers, whose modules
 * are named q/k/v/o, conv_in, layers_0 …): sessions come from the merged working copy, the
 * pipeline's images change, weight 0 (or no LoRA) gives the pristine images to the bit, and
 * the model folder is untouched.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModel } from '../../../main/engine/loader';
import { txt2img } from '../../../main/engine/pipeline';
import { BASE_PARAMS } from '../../helpers/engine-fixtures';
import { writeSafetensors } from '../../helpers/lora-files';

const MODEL = 'test/fixtures/models/sd15-diffusers';

const wave = (n: number, k: number) => Array.from({ length: n }, (_, i) => 0.3 * Math.sin(i * k + 1));

function folderHash(dir: string): string {
  const h = createHash('sha256');
  const walk = (d: string) => {
    for (const f of readdirSync(d).sort()) {
      const p = join(d, f);
      if (statSync(p).isDirectory()) walk(p);
      else h.update(p).update(readFileSync(p));
    }
  };
  walk(dir);
  return h.digest('hex');
}

let tmp: string;
let lora: string;
beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'atelier-lora-load-'));
  lora = join(tmp, 'style.safetensors');
  writeSafetensors(lora, {
    'lora_unet_q.lora_down.weight': [[2, 16], wave(32, 0.7)],
    'lora_unet_q.lora_up.weight': [[16, 2], wave(32, 1.3)],
    'lora_unet_q.alpha': [[], [1]],
    'lora_unet_conv_in.lora_down.weight': [[2, 4, 3, 3], wave(72, 0.4)],
    'lora_unet_conv_in.lora_up.weight': [[16, 2, 1, 1], wave(32, 0.9)],
    'lora_te_layers_0.lora_down.weight': [[2, 32], wave(64, 0.2)],
    'lora_te_layers_0.lora_up.weight': [[32, 2], wave(64, 0.5)],
  }, { ss_base_model_version: 'sd_v1' });
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('loadModel with LoRAs', () => {
  it('merges at load, changes the image, and leaves the model folder as it was', async () => {
    const before = folderHash(MODEL);
    const cache = join(tmp, 'cache');
    const plain = await loadModel(MODEL, { provider: 'cpu', threads: 1 });
    const merged = await loadModel(MODEL, { provider: 'cpu', threads: 1, loras: [{ path: lora, weight: 1 }], loraCacheDir: cache });
    const zero = await loadModel(MODEL, { provider: 'cpu', threads: 1, loras: [{ path: lora, weight: 0 }], loraCacheDir: cache });
    try {
      expect(merged.loras?.reports).toEqual([{ name: 'style', matched: 3, total: 3, perComponent: { unet: { matched: 2, total: 2 }, text_encoder: { matched: 1, total: 1 } } }]);
      expect(merged.loras?.hashes[0].hash).toMatch(/^[0-9a-f]{64}$/);
      expect((await merged.session('unet')).modelPath.startsWith(cache)).toBe(true);
      expect((await merged.session('text_encoder')).modelPath.startsWith(cache)).toBe(true);
      expect((await merged.session('vae_decoder')).modelPath.startsWith(cache)).toBe(false);
      expect(merged.loras!.mergeMs).toBeGreaterThan(0);

      const a = await txt2img(plain, BASE_PARAMS);
      const b = await txt2img(merged, BASE_PARAMS);
      const c = await txt2img(zero, BASE_PARAMS);
      expect(Buffer.from(b.images[0].rgb).equals(Buffer.from(a.images[0].rgb))).toBe(false);
      expect(Buffer.from(c.images[0].rgb).equals(Buffer.from(a.images[0].rgb))).toBe(true);
      expect((await zero.session('unet')).modelPath.startsWith(cache)).toBe(false); // weight 0: nothing to merge
    } finally {
      await Promise.all([plain.release(), merged.release(), zero.release()]);
    }
    expect(folderHash(MODEL)).toBe(before);
  });

  it('a LoRA that matches nothing fails the load with counts', async () => {
    const other = join(tmp, 'other.safetensors');
    writeSafetensors(other, { 'lora_unet_mid_block_attentions_0_proj_out.lora_down.weight': [[1, 4], [1, 2, 3, 4]], 'lora_unet_mid_block_attentions_0_proj_out.lora_up.weight': [[4, 1], [1, 2, 3, 4]] }, {});
    await expect(loadModel(MODEL, { provider: 'cpu', threads: 1, loras: [{ path: other, weight: 1 }], loraCacheDir: join(tmp, 'c2') })).rejects.toThrow(
      /LoRA "other" matches none of this model's layers \(0 of 1 modules: unet 0\/1\)/,
    );
  });
});
