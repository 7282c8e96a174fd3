import { describe, expect, it } from 'vitest';
import { latentsToPreviewRgb, previewCoefficients } from '../../main/engine/preview';

describe('latentsToPreviewRgb', () => {
  it('applies the SD15 linear map per pixel with ComfyUI display scaling', () => {
    // 1×4×1×2: pixel 0 = latent (1,0,0,0), pixel 1 = zeros
    const lat = new Float32Array([1, 0, 0, 0, 0, 0, 0, 0]);
    const img = latentsToPreviewRgb(lat, [1, 4, 1, 2], 'sd1');
    expect([img.width, img.height]).toEqual([2, 1]);
    const [r, g, b] = [0.3512, 0.2297, 0.3227].map((v) => Math.round((v + 1) * 127.5));
    expect(Array.from(img.rgb)).toEqual([r, g, b, 128, 128, 128]);
  });

  it('uses the SDXL factors and bias for sdxl, clamps to [-1, 1]', () => {
    const lat = new Float32Array([0, 0, 0, 0]);
    const img = latentsToPreviewRgb(lat, [1, 4, 1, 1], 'sdxl');
    expect(Array.from(img.rgb)).toEqual([0.1084, -0.0175, -0.0011].map((v) => Math.round((v + 1) * 127.5)));
    const hot = latentsToPreviewRgb(new Float32Array([100, 0, 0, 0]), [1, 4, 1, 1], 'sd2-v');
    expect(Array.from(hot.rgb)).toEqual([255, 255, 255]);
    expect(previewCoefficients('sd-turbo')).toEqual(previewCoefficients('sd1'));
  });

  it('previews the first sample of a batch and validates the shape', () => {
    const lat = new Float32Array(2 * 4 * 4).fill(0);
    lat.fill(5, 16); // second sample saturated
    expect(Array.from(latentsToPreviewRgb(lat, [2, 4, 2, 2], 'sd1').rgb).every((v) => v === 128)).toBe(true);
    expect(() => latentsToPreviewRgb(lat, [2, 4, 4], 'sd1')).toThrow(/expected \[B, 4, h, w\]/);
  });
});
