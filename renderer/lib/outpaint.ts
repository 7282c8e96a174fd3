/**
 * Outpainting frame geometry, in init-image pixels. The frame is the image grown by a margin on
 * each side; every margin stays ≥ 0 (the frame always contains the picture it extends) and a
 * multiple of the model's size step, so the grown canvas stays a size the UNet accepts.
 */
export interface Margins {
  left: number;
  right: number;
  top: number;
  bottom: number;
}

export type Edge = keyof Margins;

export const NO_MARGINS: Margins = Object.freeze({ left: 0, right: 0, top: 0, bottom: 0 });

export interface FrameLimits {
  /** Size step of the model (width/height must be multiples of it). */
  step: number;
  /** Largest margin on the left/right and top/bottom sides. */
  maxX: number;
  maxY: number;
}

/** Margins may grow to the image's own size per side: up to a 3× canvas in each direction. */
export function frameLimits(width: number, height: number, step: number): FrameLimits {
  const s = Math.max(1, step);
  return { step: s, maxX: Math.max(s, Math.floor(width / s) * s), maxY: Math.max(s, Math.floor(height / s) * s) };
}

const snap = (v: number, step: number, max: number) => Math.max(0, Math.min(max, Math.round(v / step) * step));

/** A starting frame: one step wider on the left and right. */
export function defaultMargins(limits: FrameLimits): Margins {
  return { left: limits.step, right: limits.step, top: 0, bottom: 0 };
}

export function grownSize(width: number, height: number, m: Margins): { width: number; height: number } {
  return { width: width + m.left + m.right, height: height + m.top + m.bottom };
}

export function hasMargins(m: Margins | null | undefined): m is Margins {
  return !!m && m.left + m.right + m.top + m.bottom > 0;
}

/**
 * Moves the frame by (dx, dy) image pixels from where a drag started: what one side gains the
 * opposite side loses, so the canvas keeps its size; the move stops where a margin would go
 * negative (the picture must stay inside) or past the limit.
 */
export function moveFrame(start: Margins, dx: number, dy: number, lim: FrameLimits): Margins {
  const clamp = (v: number, lo: number, hi: number) => Math.max(lo, Math.min(hi, v));
  // Frame right by mx: the left margin shrinks by mx, the right one grows by it.
  const mx = clamp(Math.round(dx / lim.step) * lim.step, Math.max(-start.right, start.left - lim.maxX), Math.min(start.left, lim.maxX - start.right));
  const my = clamp(Math.round(dy / lim.step) * lim.step, Math.max(-start.bottom, start.top - lim.maxY), Math.min(start.top, lim.maxY - start.bottom));
  return { left: start.left - mx, right: start.right + mx, top: start.top - my, bottom: start.bottom + my };
}

/** Drags one edge by `delta` image pixels (positive = right/down), from the margins at drag start. */
export function resizeEdge(start: Margins, edge: Edge, delta: number, lim: FrameLimits): Margins {
  const max = edge === 'left' || edge === 'right' ? lim.maxX : lim.maxY;
  // Dragging the left/top edge leftwards/upwards (negative delta) grows that side.
  const grow = edge === 'left' || edge === 'top' ? -delta : delta;
  return { ...start, [edge]: snap(start[edge] + grow, lim.step, max) };
}

/** Sets one margin from a typed number (snapped and clamped). */
export function setMargin(m: Margins, edge: Edge, value: number, lim: FrameLimits): Margins {
  const max = edge === 'left' || edge === 'right' ? lim.maxX : lim.maxY;
  return { ...m, [edge]: snap(Number.isFinite(value) ? value : 0, lim.step, max) };
}
