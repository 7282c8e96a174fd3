import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { canny, cannyControlImage, gaussianBlur } from '../../../main/engine/controlnet/canny';

// Goldens: OpenCV's cv2.Canny on a synthetic image (disk, rectangle, triangle, one-channel stripes,
// noise near the thresholds), written by models/tools/make_controlnet_fixtures.py.
const DIR = 'test/fixtures/controlnet/canny';
const meta = JSON.parse(readFileSync(`${DIR}/meta.json`, 'utf8')) as { width: number; height: number; edgePixels: number };
const { width: W, height: H } = meta;
const read = (f: string) => new Uint8Array(readFileSync(`${DIR}/${f}`));
const rgb = read('input.rgb');

/** Pixels where two edge maps disagree, as "x,y" (an empty list reads better in a failure than a count). */
function diff(a: Uint8Array, b: Uint8Array): string[] {
  const out: string[] = [];
  for (let p = 0; p < a.length; p++) if (a[p] !== b[p]) out.push(`${p % W},${Math.floor(p / W)}`);
  return out;
}

describe('Canny annotator (TypeScript) against OpenCV', () => {
  it('RGB, A1111 defaults (low 100, high 200): pixel-identical to cv2.Canny', () => {
    const golden = read('canny-100-200.gray');
    const edges = canny(rgb, W, H, 3);
    expect(diff(edges, golden)).toEqual([]);
    // the golden is not trivially empty or full
    expect(meta.edgePixels).toBeGreaterThan(200);
    expect(meta.edgePixels).toBeLessThan((W * H) / 4);
  });

  it('RGB, other thresholds (50/120): pixel-identical, and more edges than 100/200', () => {
    const golden = read('canny-50-120.gray');
    const edges = canny(rgb, W, H, 3, { low: 50, high: 120 });
    expect(diff(edges, golden)).toEqual([]);
    const count = (e: Uint8Array) => e.reduce((n, v) => n + (v ? 1 : 0), 0);
    expect(count(edges)).toBeGreaterThan(meta.edgePixels);
  });

  it('single channel (grey): pixel-identical to cv2.Canny(gray, 100, 200)', () => {
    const edges = canny(read('gray.gray'), W, H, 1, { low: 100, high: 200 });
    expect(diff(edges, read('gray-canny-100-200.gray'))).toEqual([]);
  });

  it('swapped thresholds are put in order (as OpenCV)', () => {
    expect(diff(canny(rgb, W, H, 3, { low: 200, high: 100 }), read('canny-100-200.gray'))).toEqual([]);
  });

  it('hysteresis: a weak edge survives only when connected to a strong one', () => {
    // 16×16 grey. A weak block (30: |dx|+|dy| is 120 on its sides, 180 at its corner: above low 100, below high 200) alone gives
    // no edge at all; put a strong block (255) right above it and the weak block's left edge, now
    // 8-connected to the strong block's left edge, is kept.
    const w = 16;
    const weakOnly = new Uint8Array(w * w);
    for (let y = 10; y < w; y++) for (let x = 10; x < w; x++) weakOnly[y * w + x] = 30;
    expect(canny(weakOnly, w, w, 1).every((v) => v === 0)).toBe(true);
    const joined = weakOnly.slice();
    for (let y = 3; y < 10; y++) for (let x = 10; x < w; x++) joined[y * w + x] = 255;
    const edges = canny(joined, w, w, 1);
    const leftEdge = (y: number) => edges[y * w + 9] || edges[y * w + 10];
    for (let y = 4; y < 9; y++) expect(leftEdge(y), `strong edge row ${y}`).toBeTruthy();
    for (let y = 11; y < 15; y++) expect(leftEdge(y), `weak edge row ${y}`).toBeTruthy();
  });

  it('cannyControlImage: white edges on black in all three channels', () => {
    const img = cannyControlImage(rgb, W, H);
    const golden = read('canny-100-200.gray');
    const want = new Uint8Array(W * H * 3);
    for (let p = 0; p < W * H; p++) want[p * 3] = want[p * 3 + 1] = want[p * 3 + 2] = golden[p];
    expect(Buffer.from(img).equals(Buffer.from(want))).toBe(true);
  });

  it('optional Gaussian pre-blur removes noise edges (fewer edge pixels), σ 0 is the identity', () => {
    expect(Buffer.from(gaussianBlur(rgb, W, H, 3, 0)).equals(Buffer.from(rgb))).toBe(true);
    const count = (e: Uint8Array) => e.reduce((n, v) => n + (v ? 1 : 0), 0);
    const blurred = canny(rgb, W, H, 3, { low: 50, high: 120, blurSigma: 1.4 });
    expect(count(blurred)).toBeLessThan(count(canny(rgb, W, H, 3, { low: 50, high: 120 })));
    expect(count(blurred)).toBeGreaterThan(50); // the shapes' outlines are still there
  });

  it('rejects a buffer of the wrong size and negative thresholds', () => {
    expect(() => canny(rgb, W, H, 1)).toThrow(/do not match/);
    expect(() => canny(rgb, W, H, 3, { low: -1 })).toThrow(/thresholds/);
  });
});
