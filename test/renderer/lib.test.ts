import { describe, expect, it } from 'vitest';
import { adjustWeight, highlightPrompt } from '../../renderer/lib/prompt-weight';
import { approximateTokenCount, chunkInfo } from '../../renderer/lib/tokens';
import { actualSizeView, fitScale, placeImage, zoomAround, FIT_VIEW, panBy } from '../../renderer/lib/view-transform';
import { aspectLabel, sizeForAspect, sizePresets } from '../../renderer/lib/sizes';
import { visibleRange } from '../../renderer/lib/virtual-list';
import { appendToPrompt, parseNumberList } from '../../renderer/lib/presets';
import { chooseAb, startAb } from '../../renderer/lib/ab';

const sel = (text: string, a: number, b = a) => ({ text, selectionStart: a, selectionEnd: b });

describe('adjustWeight', () => {
  it('wraps the selection in (text:1.1) and selects the inner text', () => {
    const r = adjustWeight(sel('a red cat', 2, 5), 0.1);
    expect(r.text).toBe('a (red:1.1) cat');
    expect(r.text.slice(r.selectionStart, r.selectionEnd)).toBe('red');
  });
  it('steps an existing weight when the inner text is selected', () => {
    const r = adjustWeight(sel('a (red:1.1) cat', 3, 6), 0.1);
    expect(r.text).toBe('a (red:1.2) cat');
    const down = adjustWeight(sel('a (red:1.1) cat', 3, 6), -0.1);
    expect(down.text).toBe('a red cat');
    expect(down.text.slice(down.selectionStart, down.selectionEnd)).toBe('red');
  });
  it('steps a weight when the whole group is selected', () => {
    expect(adjustWeight(sel('(red hat:0.9)', 0, 13), -0.1).text).toBe('(red hat:0.8)');
  });
  it('acts on the word at the caret with an empty selection', () => {
    expect(adjustWeight(sel('a red cat', 7), 0.1).text).toBe('a red (cat:1.1)');
  });
  it('lowers below 1 and trims whitespace in the selection', () => {
    expect(adjustWeight(sel('a red cat', 1, 6), -0.1).text).toBe('a (red:0.9) cat');
  });
  it('repeated presses keep stepping without float noise', () => {
    let e = sel('sky', 0, 3);
    for (let i = 0; i < 3; i++) e = adjustWeight(e, 0.1);
    expect(e.text).toBe('(sky:1.3)');
  });
  it('leaves whitespace-only selections alone', () => {
    const e = sel('a  b', 1, 3);
    expect(adjustWeight(e, 0.1)).toEqual(e);
  });
});

describe('highlightPrompt', () => {
  it('marks parens, weights, BREAK and commas, and keeps the text intact', () => {
    const text = 'a (cat:1.2), dog BREAK sky';
    const spans = highlightPrompt(text);
    expect(spans.map((s) => s.text).join('')).toBe(text);
    expect(spans.filter((s) => s.kind === 'weight').map((s) => s.text)).toEqual([':1.2']);
    expect(spans.filter((s) => s.kind === 'paren')).toHaveLength(2);
    expect(spans.some((s) => s.kind === 'break')).toBe(true);
  });
});

describe('token counting', () => {
  it('counts words and punctuation, ignoring weight syntax', () => {
    expect(approximateTokenCount('')).toBe(0);
    expect(approximateTokenCount('a red cat, sitting')).toBe(5);
    expect(approximateTokenCount('(red:1.3) cat')).toBe(2);
  });
  it('reports 75-token chunks', () => {
    expect(chunkInfo('cat')).toEqual({ tokens: 1, chunks: 1, capacity: 75, inLastChunk: 1 });
    const long = Array.from({ length: 80 }, () => 'word').join(' ');
    expect(chunkInfo(long)).toMatchObject({ tokens: 80, chunks: 2, capacity: 150, inLastChunk: 5 });
    expect(chunkInfo(Array.from({ length: 75 }, () => 'w').join(' ')).chunks).toBe(1);
  });
});

describe('view transform', () => {
  it('fits an image inside the padded viewport', () => {
    expect(fitScale(64, 64, 532, 432, 16)).toBe(400 / 64);
    const p = placeImage(FIT_VIEW, 64, 64, 532, 432);
    expect(p.width).toBe(400);
    expect(p.left).toBe((532 - 400) / 2);
    expect(p.top).toBe(16);
  });
  it('keeps the point under the cursor fixed when zooming', () => {
    const view = { zoom: 1, panX: 10, panY: -5 };
    const cx = 100;
    const cy = 40;
    const before = placeImage(view, 64, 64, 600, 400);
    const next = zoomAround(view, 2, cx, cy);
    const after = placeImage(next, 64, 64, 600, 400);
    // image coordinate under the cursor (viewport point 300+cx, 200+cy)
    const ix = (300 + cx - before.left) / before.scale;
    const ix2 = (300 + cx - after.left) / after.scale;
    const iy = (200 + cy - before.top) / before.scale;
    const iy2 = (200 + cy - after.top) / after.scale;
    expect(ix2).toBeCloseTo(ix, 9);
    expect(iy2).toBeCloseTo(iy, 9);
    expect(next.zoom).toBe(2);
  });
  it('clamps zoom and computes 100%', () => {
    expect(zoomAround(FIT_VIEW, 1e6, 0, 0, 1).zoom).toBe(256);
    const v = actualSizeView(6.25);
    expect(placeImage(v, 64, 64, 432, 432).scale).toBeCloseTo(1, 9);
    expect(panBy(FIT_VIEW, 3, 4)).toEqual({ zoom: 1, panX: 3, panY: 4 });
  });
});

describe('sizes', () => {
  it('keeps the area and snaps to multiples of 8', () => {
    expect(sizeForAspect(512, 1, 1)).toEqual({ width: 512, height: 512 });
    expect(sizeForAspect(512, 16, 9)).toEqual({ width: 680, height: 384 });
    for (const p of sizePresets(64)) {
      expect(p.width % 8).toBe(0);
      expect(p.height % 8).toBe(0);
    }
    expect(aspectLabel(640, 480)).toBe('4:3');
  });
});

describe('visibleRange', () => {
  it('renders only rows near the viewport', () => {
    expect(visibleRange(0, 300, 100, 1000, 2)).toEqual({ first: 0, last: 5 });
    expect(visibleRange(5000, 300, 100, 1000, 2)).toEqual({ first: 48, last: 55 });
    expect(visibleRange(0, 300, 100, 0)).toEqual({ first: 0, last: -1 });
  });
});

describe('presets', () => {
  it('appends phrases with a comma and parses number lists', () => {
    expect(appendToPrompt('a cat,  ', 'golden hour')).toBe('a cat, golden hour');
    expect(appendToPrompt('', 'golden hour')).toBe('golden hour');
    expect(parseNumberList('3, 5.5;x 7')).toEqual([3, 5.5, 7]);
  });
});

describe('winner-stays reducer', () => {
  it('needs two images and ends after the last challenger', () => {
    expect(startAb(['a'])).toBeNull();
    let st = startAb(['a', 'b'])!;
    st = chooseAb(st, 'right');
    expect(st).toEqual({ champion: 'b', challengers: [], round: 1, total: 1, done: true });
    expect(chooseAb(st, 'right')).toMatchObject({ champion: 'b', done: true });
  });
});
