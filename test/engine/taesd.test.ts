/**
 * TAESD preview decoder on the tiny TAESD-shaped fixtures (models/tools/make_taesd_fixture.py):
 * ONNX Runtime's decode matches torch's, the output range is read from the graph, and the latents
 * go in unscaled.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { detectTaesdOutputRange, loadTaesdDecoder, resolveTaesdModelFile, taesdToRgb, type TaesdDecoder } from '../../main/engine/taesd';

const DIR = join(process.cwd(), 'test', 'fixtures', 'models', '_taesd');
const reference = JSON.parse(readFileSync(join(DIR, 'reference.json'), 'utf8')) as {
  latentShape: number[];
  latent: number[];
  taesd: { shape: number[]; sample: number[] };
  'taesd-signed': { shape: number[]; sample: number[] };
};

const opened: TaesdDecoder[] = [];
async function open(name: string): Promise<TaesdDecoder> {
  const d = await loadTaesdDecoder(join(DIR, name), { provider: 'cpu', threads: 1 });
  opened.push(d);
  return d;
}
afterAll(async () => {
  for (const d of opened) await d.release();
});

describe('TAESD decoder', () => {
  it('reads the output range from the graph tail: raw TAESD [0,1], diffusers AutoencoderTiny [-1,1]', () => {
    expect(detectTaesdOutputRange(readFileSync(join(DIR, 'taesd', 'vae_decoder', 'model.onnx')))).toBe('unit');
    expect(detectTaesdOutputRange(readFileSync(join(DIR, 'taesd-signed', 'vae_decoder', 'model.onnx')))).toBe('signed');
    expect(() => detectTaesdOutputRange(new Uint8Array([1, 2, 3]))).toThrow();
  });

  for (const name of ['taesd', 'taesd-signed'] as const) {
    it(`${name}: decodes the latent as-is to 8× its size, matching torch`, async () => {
      const d = await open(name);
      expect(d.outputRange).toBe(name === 'taesd' ? 'unit' : 'signed');
      const img = await d.decode(new Float32Array(reference.latent), reference.latentShape);
      const [, , oh, ow] = reference[name].shape;
      expect([img.width, img.height]).toEqual([ow, oh]);
      expect([ow, oh]).toEqual([reference.latentShape[3] * 8, reference.latentShape[2] * 8]);
      const expected = taesdToRgb(new Float32Array(reference[name].sample), ow, oh, d.outputRange);
      let maxDiff = 0;
      for (let i = 0; i < expected.length; i++) maxDiff = Math.max(maxDiff, Math.abs(expected[i] - img.rgb[i]));
      expect(maxDiff).toBeLessThanOrEqual(1);
      expect(d.lastRunMs).toBeGreaterThan(0);
    });
  }

  it('both conventions give the same picture (same weights, x·2−1 undone)', async () => {
    const lat = new Float32Array(reference.latent);
    const a = await (await open('taesd')).decode(lat, reference.latentShape);
    const b = await (await open('taesd-signed')).decode(lat, reference.latentShape);
    let maxDiff = 0;
    for (let i = 0; i < a.rgb.length; i++) maxDiff = Math.max(maxDiff, Math.abs(a.rgb[i] - b.rgb[i]));
    expect(maxDiff).toBeLessThanOrEqual(1);
  });

  it('previews the first sample of a batch; the latent is not divided by a scaling factor', async () => {
    const d = await open('taesd');
    const one = new Float32Array(reference.latent);
    const batch = new Float32Array(one.length * 2);
    batch.set(one);
    batch.fill(2.5, one.length);
    const fromBatch = await d.decode(batch, [2, ...reference.latentShape.slice(1)]);
    const single = await d.decode(one, reference.latentShape);
    expect(Buffer.from(fromBatch.rgb).equals(Buffer.from(single.rgb))).toBe(true);
    // Feeding latent/0.18215 (what the real VAE wants) would be a different picture.
    const scaled = await d.decode(one.map((v) => v / 0.18215), reference.latentShape);
    expect(Buffer.from(scaled.rgb).equals(Buffer.from(single.rgb))).toBe(false);
  });

  it('maps each range to bytes with clamping', () => {
    expect(Array.from(taesdToRgb(new Float32Array([-0.2, 0.5, 1.3]), 1, 1, 'unit'))).toEqual([0, 128, 255]);
    expect(Array.from(taesdToRgb(new Float32Array([-1.5, 0, 1]), 1, 1, 'signed'))).toEqual([0, 128, 255]);
  });

  it('finds vae_decoder/model.onnx in an installed folder and refuses graphs that are not TAESD decoders', async () => {
    expect(resolveTaesdModelFile(join(DIR, 'taesd'))).toBe(join(DIR, 'taesd', 'vae_decoder', 'model.onnx'));
    expect(() => resolveTaesdModelFile(join(DIR, 'nothing-here'))).toThrow(/vae_decoder\/model\.onnx/);
    // An image→image graph (input `image` [1,3,H,W]) is not a latent decoder.
    const upscaler = join(process.cwd(), 'test', 'fixtures', 'models', '_upscalers', 'tiny-esrgan-x2.onnx');
    await expect(loadTaesdDecoder(upscaler, { provider: 'cpu' })).rejects.toThrow(/TAESD input must be \[B, 4, h, w\]/);
  });
});
