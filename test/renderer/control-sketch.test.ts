import { describe, expect, it } from 'vitest';
import { clampBrush, coverRect, keyboardBrushMove, pushUndo, SKETCH_BRUSH_DEFAULT, SKETCH_BRUSH_MAX, SKETCH_BRUSH_MIN, sketchSize } from '../../renderer/lib/control-sketch';

describe('control sketch size', () => {
  it('keeps the output aspect with a 512-pixel long side', () => {
    expect(sketchSize(512, 512)).toEqual({ width: 512, height: 512 });
    expect(sketchSize(1024, 768)).toEqual({ width: 512, height: 384 });
    expect(sketchSize(64, 128)).toEqual({ width: 256, height: 512 });
    expect(sketchSize(1000, 3)).toEqual({ width: 512, height: 2 });
  });
  it('takes another long side, and never collapses to zero pixels', () => {
    expect(sketchSize(1920, 1080, 256)).toEqual({ width: 256, height: 144 });
    expect(sketchSize(100000, 1)).toEqual({ width: 512, height: 1 });
  });
  it('falls back to a square for sizes that are not positive numbers', () => {
    expect(sketchSize(0, 0)).toEqual({ width: 512, height: 512 });
    expect(sketchSize(Number.NaN, 256)).toEqual({ width: 2, height: 512 });
  });
});

describe('drawing over an image: cover fit', () => {
  it('fills the sketch, centred, cutting the overflow of a wider image left and right', () => {
    expect(coverRect(200, 100, 100, 100)).toEqual({ x: -50, y: 0, width: 200, height: 100 });
  });
  it('cuts a taller image top and bottom, scaling a small one up', () => {
    expect(coverRect(32, 64, 256, 256)).toEqual({ x: 0, y: -128, width: 256, height: 512 });
  });
  it('draws a same-aspect image exactly over the sketch', () => {
    expect(coverRect(64, 48, 512, 384)).toEqual({ x: 0, y: 0, width: 512, height: 384 });
  });
});

describe('undo history', () => {
  it('stacks snapshots without changing the one it was given', () => {
    const before = ['a'];
    expect(pushUndo(before, 'b')).toEqual(['a', 'b']);
    expect(before).toEqual(['a']);
  });
  it('drops the oldest beyond the limit', () => {
    let h: number[] = [];
    for (let i = 1; i <= 5; i++) h = pushUndo(h, i, 3);
    expect(h).toEqual([3, 4, 5]);
  });
});

describe('brush', () => {
  it('clamps the size to whole pixels within the range, the default for junk', () => {
    expect(clampBrush(0)).toBe(SKETCH_BRUSH_MIN);
    expect(clampBrush(500)).toBe(SKETCH_BRUSH_MAX);
    expect(clampBrush(7.6)).toBe(8);
    expect(clampBrush(Number.NaN)).toBe(SKETCH_BRUSH_DEFAULT);
  });
  it('moves half a brush per arrow, four times that with Shift, only for arrows', () => {
    const at = { x: 100, y: 100 };
    expect(keyboardBrushMove('ArrowRight', at, 10, false, 512, 512)).toEqual({ x: 105, y: 100 });
    expect(keyboardBrushMove('ArrowUp', at, 10, true, 512, 512)).toEqual({ x: 100, y: 80 });
    expect(keyboardBrushMove('ArrowLeft', at, 1, false, 512, 512)).toEqual({ x: 99, y: 100 });
    expect(keyboardBrushMove('Enter', at, 10, false, 512, 512)).toBeNull();
  });
  it('stays inside the sketch', () => {
    expect(keyboardBrushMove('ArrowDown', { x: 10, y: 380 }, 20, true, 512, 384)).toEqual({ x: 10, y: 383 });
    expect(keyboardBrushMove('ArrowLeft', { x: 3, y: 0 }, 20, false, 512, 384)).toEqual({ x: 0, y: 0 });
  });
});
