import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createSession, type EngineSession } from '../../main/engine/ort-backend';
import { inputInfo } from '../../main/engine/pipeline/tensors';
import { DEFAULT_VAE_TILING, decodeLatentSample, vaeTilingFor } from '../../main/engine/pipeline/vae-tiling';

const FIXTURES = join(__dirname, '..', 'fixtures', 'models');
const DEMO = join(__dirname, '..', '..', 'models', 'demo');

function latents(h: number, w: number): Float32Array {
  const z = new Float32Array(4 * h * w);
  let s = 11;
  for (let i = 0; i < z.length; i++) {
    s = (s * 1664525 + 1013904223) >>> 0;
    const p = i % (h * w);
    // smooth structure + noise, roughly unit variance like real latents
    z[i] = Math.sin((p % w) / 5 + Math.floor(i / (h * w))) + Math.cos(Math.floor(p / w) / 7) + ((s >>> 8) / 2 ** 24 - 0.5);
  }
  return z;
}

function diffStats(a: Float32Array, b: Float32Array): { max: number; mean: number } {
  let max = 0;
  let sum = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    sum += d;
    if (d > max) max = d;
  }
  return { max, mean: sum / a.length };
}

const sessions: EngineSession[] = [];
async function open(path: string): Promise<EngineSession> {
  const s = await createSession(path, { provider: 'cpu', threads: 1 });
  sessions.push(s);
  return s;
}
afterAll(async () => {
  for (const s of sessions) await s.release();
});

describe('VAE decode tiling', () => {
  it('is automatic above 1024² (512² in low-memory mode), forced by ATELIER_VAE_TILING', () => {
    expect(vaeTilingFor({ lowMemory: false }, 128, 128, undefined)).toBeNull();
    expect(vaeTilingFor({ lowMemory: false }, 256, 256, undefined)).toEqual(DEFAULT_VAE_TILING);
    expect(vaeTilingFor({ lowMemory: true }, 96, 96, undefined)).toEqual(DEFAULT_VAE_TILING);
    expect(vaeTilingFor({ lowMemory: false }, 96, 96, 'on')).toEqual(DEFAULT_VAE_TILING);
    expect(vaeTilingFor({ lowMemory: false }, 256, 256, 'off')).toBeNull();
    expect(vaeTilingFor({ lowMemory: false }, 8, 8, 'on')).toBeNull(); // one tile would be the whole image
  });

  for (const variant of ['sd15-diffusers', 'sd15-fp16']) {
    it(`tiled decode equals the untiled decode on the ${variant} fixture VAE (convolution only)`, async () => {
      const vae = await open(join(FIXTURES, variant, 'vae_decoder', 'model.onnx'));
      const info = inputInfo(vae, 'latent_sample');
      const [h, w] = [40, 56];
      const z = latents(h, w);
      const whole = await decodeLatentSample(vae, info, z, h, w, null);
      const tiled = await decodeLatentSample(vae, info, z, h, w, { tile: 24, overlap: 8 });
      expect(tiled.length).toBe(3 * h * 8 * w * 8);
      const { max } = diffStats(tiled, whole);
      expect(max).toBeLessThan(variant === 'sd15-fp16' ? 2e-3 : 1e-5);
    });
  }

  it('decodes a 2048² image in 512 px tiles (fixture VAE)', async () => {
    const vae = await open(join(FIXTURES, 'sd15-diffusers', 'vae_decoder', 'model.onnx'));
    const z = latents(256, 256);
    const out = await decodeLatentSample(vae, inputInfo(vae, 'latent_sample'), z, 256, 256, vaeTilingFor({ lowMemory: false }, 256, 256, undefined));
    expect(out.length).toBe(3 * 2048 * 2048);
    expect(out.every(Number.isFinite)).toBe(true);
  });

  it('the bundled demo VAE gives the same picture tiled and whole', async () => {
    const vae = await open(join(DEMO, 'vae_decoder', 'model.onnx'));
    const info = inputInfo(vae, 'latent_sample');
    const [h, w] = [48, 48];
    const z = latents(h, w);
    const whole = await decodeLatentSample(vae, info, z, h, w, null);
    const tiled = await decodeLatentSample(vae, info, z, h, w, { tile: 32, overlap: 12 });
    const { max, mean } = diffStats(tiled, whole);
    console.log(`demo VAE tiled vs whole: max |Δ| ${max.toFixed(4)}, mean |Δ| ${mean.toFixed(5)} (range ≈[-1,1])`);
    expect(max).toBeLessThan(0.01); // measured 0.0007
    expect(mean).toBeLessThan(1e-3);
  });
});
