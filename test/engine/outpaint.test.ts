import { describe, expect, it } from 'vitest';
import { outpaintCanvasSize, prepareOutpaint } from '../../main/engine/outpaint';

const W = 64;
const H = 48;
const image = { width: W, height: H, rgb: new Uint8Array(W * H * 3).map((_, i) => (i * 7) % 251) };

describe('prepareOutpaint', () => {
  it('grows the canvas and masks the new area, a seam band and a feather into the old picture', () => {
    const { image: grown, mask } = prepareOutpaint(image, { left: 0, right: 32, top: 16, bottom: 0 });
    expect(outpaintCanvasSize(image, { left: 0, right: 32, top: 16, bottom: 0 })).toEqual({ width: 96, height: 64 });
    expect([grown.width, grown.height, mask.width, mask.height]).toEqual([96, 64, 96, 64]);
    const m = (x: number, y: number) => mask.data[y * 96 + x];
    expect(m(95, 63)).toBe(255); // new area (right)
    expect(m(10, 0)).toBe(255); // new area (top)
    expect(m(64, 40)).toBe(255); // first new column stays fully white despite the feather
    expect(m(60, 40)).toBeGreaterThan(128); // overlap band into the old picture
    expect(m(50, 40)).toBeGreaterThan(0); // feathered (band 8 px + blur radius 10 px)
    expect(m(45, 40)).toBe(0);
    expect(m(20, 40)).toBe(0); // far from any grown side: untouched
    // The old picture sits at its offset, unchanged.
    expect(Array.from(grown.rgb.subarray((16 * 96 + 0) * 3, (16 * 96 + 64) * 3))).toEqual(Array.from(image.rgb.subarray(0, 64 * 3)));
  });

  it('fills the new area with edge pixels, seeded noise or a soft blur', () => {
    const sides = { left: 16, right: 0, top: 0, bottom: 0 };
    const edge = prepareOutpaint(image, sides, { fill: 'edge' }).image;
    expect(Array.from(edge.rgb.subarray(0, 3))).toEqual(Array.from(image.rgb.subarray(0, 3)));
    const noise1 = prepareOutpaint(image, sides, { fill: 'noise', seed: 5 }).image;
    const noise2 = prepareOutpaint(image, sides, { fill: 'noise', seed: 5 }).image;
    const noise3 = prepareOutpaint(image, sides, { fill: 'noise', seed: 6 }).image;
    expect(noise1.rgb).toEqual(noise2.rgb);
    expect(noise1.rgb).not.toEqual(noise3.rgb);
    const blur = prepareOutpaint(image, sides, { fill: 'blur' }).image;
    // Blur changes only the new area, and smooths it (neighbouring rows of the new strip differ less).
    const rowVariation = (img: { rgb: Uint8Array }) => {
      let s = 0;
      for (let y = 1; y < H; y++) s += Math.abs(img.rgb[(y * 80 + 4) * 3] - img.rgb[((y - 1) * 80 + 4) * 3]);
      return s;
    };
    expect(rowVariation(blur)).toBeLessThan(rowVariation(edge));
    expect(Array.from(blur.rgb.subarray(16 * 3, 80 * 3))).toEqual(Array.from(image.rgb.subarray(0, 64 * 3)));
  });

  it('refuses a request that adds nothing', () => {
    expect(() => prepareOutpaint(image, { left: 0, right: 0, top: 0, bottom: 0 })).toThrow(/at least one side/);
  });
});
