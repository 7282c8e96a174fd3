import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CancelledError } from '../../main/engine/pipeline';
import { openUpscaler, upscaleImage, upscaleTiled, UpscaleError, type Upscaler } from '../../main/engine/upscale';
import { featherWeights, tileSpans } from '../../main/engine/tiling';

const DIR = join(__dirname, '..', 'fixtures', 'models', '_upscalers');

/** Deterministic picture with edges and texture, so seams would show. */
function testImage(width: number, height: number) {
  const rgb = new Uint8Array(width * height * 3);
  let s = 7;
  for (let i = 0; i < rgb.length; i++) {
    s = (s * 1103515245 + 12345) >>> 0;
    const p = Math.floor(i / 3);
    const x = p % width;
    const y = Math.floor(p / width);
    rgb[i] = ((x * 5 + y * 3 + (i % 3) * 60) % 200) + (s >>> 28);
  }
  return { width, height, rgb };
}

function maxDiff(a: Uint8Array, b: Uint8Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

describe('tiling math', () => {
  it('covers the axis with overlapping tiles, the last one ending at the edge', () => {
    expect(tileSpans(50, 64, 16)).toEqual([{ start: 0, size: 50 }]);
    expect(tileSpans(100, 40, 16)).toEqual([
      { start: 0, size: 40 },
      { start: 24, size: 40 },
      { start: 48, size: 40 },
      { start: 60, size: 40 },
    ]);
    expect(() => tileSpans(100, 30, 16)).toThrow(RangeError);
  });

  it('feathers only shared edges, with a zero-weight margin there', () => {
    const w = featherWeights({ start: 24, size: 40 }, 100, 16);
    expect(w[0]).toBe(0);
    expect(w[3]).toBe(0);
    expect(w[20]).toBe(1);
    expect(w[39]).toBe(0);
    const first = featherWeights({ start: 0, size: 40 }, 100, 16);
    expect(first[0]).toBe(1);
  });
});

describe('ONNX upscaler (tiny Real-ESRGAN-like fixtures)', () => {
  const ups = new Map<string, Upscaler>();
  beforeAll(async () => {
    for (const name of ['tiny-esrgan-x2', 'tiny-esrgan-x4', 'tiny-esrgan-x2-fp16']) ups.set(name, await openUpscaler(join(DIR, `${name}.onnx`), { provider: 'cpu', threads: 1 }));
  });
  afterAll(async () => {
    for (const u of ups.values()) await u.release();
  });

  it('reads the scale from the graph by probing (symbolic H/W), whatever the tensor names', () => {
    expect(ups.get('tiny-esrgan-x2')!.scale).toBe(2);
    expect(ups.get('tiny-esrgan-x4')!.scale).toBe(4);
    expect(ups.get('tiny-esrgan-x2-fp16')!.scale).toBe(2);
    expect(ups.get('tiny-esrgan-x2')!.fixedTile).toBeNull();
  });

  it('tiled output equals the untiled output (no seams) when the overlap covers the receptive field', async () => {
    const img = testImage(100, 70);
    for (const name of ['tiny-esrgan-x2', 'tiny-esrgan-x4', 'tiny-esrgan-x2-fp16']) {
      const u = ups.get(name)!;
      const whole = await upscaleTiled(u, img, { tile: 128, overlap: 0 });
      let tiles = 0;
      const tiled = await upscaleTiled(u, img, { tile: 40, overlap: 16, onTile: (_d, total) => (tiles = total) });
      expect(tiles).toBe(4 * 3);
      expect([tiled.width, tiled.height]).toEqual([100 * u.scale, 70 * u.scale]);
      expect(maxDiff(tiled.rgb, whole.rgb), name).toBeLessThanOrEqual(1);
    }
  });

  it('control: without overlap the tile borders differ (the equality above is not vacuous)', async () => {
    const img = testImage(100, 70);
    const u = ups.get('tiny-esrgan-x2')!;
    const whole = await upscaleTiled(u, img, { tile: 128, overlap: 0 });
    const seamed = await upscaleTiled(u, img, { tile: 40, overlap: 0 });
    expect(maxDiff(seamed.rgb, whole.rgb)).toBeGreaterThan(3);
  });

  it('a 4× model serves 2× (run, then Lanczos down); a 2× model refuses 4× with advice', async () => {
    const img = testImage(30, 20);
    const two = await upscaleImage(img, 2, ups.get('tiny-esrgan-x4')!, { tile: 64, overlap: 16 });
    expect([two.width, two.height]).toEqual([60, 40]);
    await expect(upscaleImage(img, 4, ups.get('tiny-esrgan-x2')!)).rejects.toThrow(UpscaleError);
    await expect(upscaleImage(img, 4, ups.get('tiny-esrgan-x2')!)).rejects.toThrow(/lanczos/);
    // 3000² at 2× is allowed (6000²), but not through a 4× model's 12000² intermediate.
    const huge = { width: 3000, height: 3000, rgb: new Uint8Array(0) };
    await expect(upscaleImage(huge, 2, ups.get('tiny-esrgan-x4')!)).rejects.toThrow(/before the step down to 2×.*use a 2× upscaler or "lanczos"/);
  });

  it('graphs with a fixed input size: tiles of that size (padded when the image is smaller), same result', async () => {
    const fixed = await openUpscaler(join(DIR, 'tiny-esrgan-x2-static32.onnx'), { provider: 'cpu', threads: 1 });
    try {
      expect(fixed.fixedTile).toEqual({ width: 32, height: 32 });
      expect(fixed.scale).toBe(2); // from the static output shape, no probe needed
      const img = testImage(50, 40);
      const whole = await upscaleTiled(ups.get('tiny-esrgan-x2')!, img, { tile: 128, overlap: 0 });
      const tiled = await upscaleTiled(fixed, img, { overlap: 16 });
      expect(maxDiff(tiled.rgb, whole.rgb)).toBeLessThanOrEqual(1);
      const small = await upscaleTiled(fixed, testImage(20, 12));
      expect([small.width, small.height]).toEqual([40, 24]);
    } finally {
      await fixed.release();
    }
  });

  it('stops between tiles when cancelled', async () => {
    const img = testImage(100, 70);
    let calls = 0;
    await expect(upscaleTiled(ups.get('tiny-esrgan-x2')!, img, { tile: 40, overlap: 16, isCancelled: () => ++calls > 2 })).rejects.toThrow(CancelledError);
  });
});

describe('Lanczos fallback', () => {
  it('upscales with sharp when no model is installed', async () => {
    const img = testImage(24, 16);
    const out = await upscaleImage(img, 4, null);
    expect([out.width, out.height, out.rgb.length]).toEqual([96, 64, 96 * 64 * 3]);
    // A flat image stays flat.
    const flat = await upscaleImage({ width: 8, height: 8, rgb: new Uint8Array(192).fill(90) }, 2, null);
    expect(flat.rgb.every((v) => v === 90)).toBe(true);
  });
});
