/**
 * The control-image drawing surface (ControlSketch): the pure parts. Scribble and edge ControlNets
 * take white lines on black, so the sketch is a black canvas at the output's aspect; this module sizes
 * it, fits an existing control image onto it ("Draw over"), keeps a bounded undo history and moves the
 * keyboard brush.
 */
import type { Point } from './init-image';

/** The sketch's long side in pixels: enough detail for a control map, small enough to send as base64. */
export const SKETCH_LONG_SIDE = 512;
export const SKETCH_BRUSH_MIN = 1;
export const SKETCH_BRUSH_MAX = 64;
export const SKETCH_BRUSH_DEFAULT = 8;
/** Each undo step is a full RGBA snapshot (1 MiB at 512²): the history stays bounded. */
export const SKETCH_UNDO_MAX = 30;

/** The sketch size for an output size: the same aspect, its long side `longSide` pixels. */
export function sketchSize(outW: number, outH: number, longSide = SKETCH_LONG_SIDE): { width: number; height: number } {
  const w = Number.isFinite(outW) && outW > 0 ? outW : 1;
  const h = Number.isFinite(outH) && outH > 0 ? outH : 1;
  const scale = longSide / Math.max(w, h);
  return { width: Math.max(1, Math.round(w * scale)), height: Math.max(1, Math.round(h * scale)) };
}

/**
 * Where to draw a `srcW`×`srcH` image so it covers a `dstW`×`dstH` sketch, centred, the overflow cut
 * off: the engine's default fit (crop), so what is drawn over lines up with what the ControlNet sees.
 */
export function coverRect(srcW: number, srcH: number, dstW: number, dstH: number): { x: number; y: number; width: number; height: number } {
  const scale = Math.max(dstW / Math.max(1, srcW), dstH / Math.max(1, srcH));
  const width = srcW * scale;
  const height = srcH * scale;
  return { x: (dstW - width) / 2, y: (dstH - height) / 2, width, height };
}

/** `history` with `snapshot` on top, the oldest dropped beyond `max` steps. */
export function pushUndo<T>(history: readonly T[], snapshot: T, max = SKETCH_UNDO_MAX): T[] {
  const next = [...history, snapshot];
  return next.length > max ? next.slice(next.length - max) : next;
}

export function clampBrush(size: number): number {
  if (!Number.isFinite(size)) return SKETCH_BRUSH_DEFAULT;
  return Math.min(SKETCH_BRUSH_MAX, Math.max(SKETCH_BRUSH_MIN, Math.round(size)));
}

const ARROWS: Record<string, [number, number]> = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, -1], ArrowDown: [0, 1] };

/**
 * The keyboard brush's next position for an arrow key (null for any other key): half a brush per
 * press, four times that with Shift, kept inside the `w`×`h` sketch.
 */
export function keyboardBrushMove(key: string, at: Point, brush: number, shift: boolean, w: number, h: number): Point | null {
  const dir = ARROWS[key];
  if (!dir) return null;
  const step = Math.max(1, brush / 2) * (shift ? 4 : 1);
  return { x: Math.max(0, Math.min(w - 1, at.x + dir[0] * step)), y: Math.max(0, Math.min(h - 1, at.y + dir[1] * step)) };
}
