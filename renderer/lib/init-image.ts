/** img2img / inpainting: the pure parts (request fields, mask encoding, brush stroke geometry). */
import type { GenerateRequest } from '../../common/api/schemas';
import { grownSize, hasMargins, type Margins } from './outpaint';

export interface InitImageState {
  generationId: string;
  width: number;
  height: number;
  /** Shown in the left-panel chip. */
  thumbUrl: string;
  /** 0 keeps the init image, 1 ignores it. */
  strength: number;
  /** Mask PNG (white = repaint) without the data-URL prefix; null when nothing is painted. */
  maskBase64: string | null;
  /** The painted coverage (1 byte per image pixel) the mask was encoded from, for further painting. */
  maskCoverage: Uint8Array | null;
  maskBlur: number;
  /** How the init image is brought to the form's size (absent: the engine's default, crop). */
  fit?: 'crop' | 'resize' | 'pad';
  /** Inpaint only the masked area at full resolution, with `onlyMaskedPadding` px of context. */
  onlyMasked?: boolean;
  onlyMaskedPadding?: number;
  /** Outpainting: pixels to add per side; replaces any painted mask (the engine builds its own). */
  outpaint?: Margins | null;
  /** How the new area starts before diffusion (absent: the engine's default, edge). */
  outpaintFill?: 'edge' | 'noise' | 'blur';
}

export const DEFAULT_ONLY_MASKED_PADDING = 32;

export const DEFAULT_STRENGTH = 0.6;
export const DEFAULT_MASK_BLUR = 4;

const DATA_URL_PREFIX = /^data:[^,]*;base64,/;

/** `canvas.toDataURL()` → the bare base64 the API expects. */
export function stripDataUrl(dataUrl: string): string {
  return dataUrl.replace(DATA_URL_PREFIX, '');
}

/** The img2img/inpaint fields to merge into a generate request (none without an init image). */
export function initRequestFields(init: InitImageState | null): Partial<GenerateRequest> {
  if (!init) return {};
  const strength = Math.min(1, Math.max(0, init.strength));
  const base = { initImage: { generationId: init.generationId }, strength };
  if (hasMargins(init.outpaint)) {
    const { left, right, top, bottom } = init.outpaint;
    const fill = init.outpaintFill ? { fill: init.outpaintFill } : {};
    return { ...base, outpaint: { left, right, top, bottom, ...fill }, ...grownSize(init.width, init.height, init.outpaint) };
  }
  return {
    ...base,
    ...(init.fit ? { fit: init.fit } : {}),
    ...(init.maskBase64
      ? {
          mask: { base64: init.maskBase64 },
          maskBlur: Math.min(64, Math.max(0, init.maskBlur)),
          ...(init.onlyMasked ? { inpaintOnlyMasked: { padding: Math.round(Math.min(1024, Math.max(0, init.onlyMaskedPadding ?? DEFAULT_ONLY_MASKED_PADDING))) } } : {}),
        }
      : {}),
  };
}

export interface Point {
  x: number;
  y: number;
}

/** Maps a client (screen) point to image pixel coordinates, given where the image is drawn. */
export function clientToImage(client: Point, rect: { left: number; top: number; width: number; height: number }, imgW: number, imgH: number): Point {
  return {
    x: ((client.x - rect.left) / rect.width) * imgW,
    y: ((client.y - rect.top) / rect.height) * imgH,
  };
}

/**
 * Brush stamp centres from `a` to `b` (inclusive of both), spaced at most a quarter of the brush
 * radius apart so a fast stroke leaves no gaps.
 */
export function strokeStamps(a: Point, b: Point, radius: number): Point[] {
  const dist = Math.hypot(b.x - a.x, b.y - a.y);
  const spacing = Math.max(0.5, radius / 4);
  const n = Math.max(1, Math.ceil(dist / spacing));
  const out: Point[] = [];
  for (let i = 0; i <= n; i++) out.push({ x: a.x + ((b.x - a.x) * i) / n, y: a.y + ((b.y - a.y) * i) / n });
  return out;
}

/**
 * Rasterises round stamps into a coverage buffer (1 = painted), `erase` clears instead. Pixel
 * (px, py) is covered when its centre lies within `radius` of a stamp centre.
 */
export function rasterStamps(buf: Uint8Array, w: number, h: number, stamps: Point[], radius: number, erase = false): void {
  const r2 = radius * radius;
  const v = erase ? 0 : 1;
  for (const s of stamps) {
    const x0 = Math.max(0, Math.floor(s.x - radius));
    const x1 = Math.min(w - 1, Math.ceil(s.x + radius));
    const y0 = Math.max(0, Math.floor(s.y - radius));
    const y1 = Math.min(h - 1, Math.ceil(s.y + radius));
    for (let y = y0; y <= y1; y++) {
      const dy = y + 0.5 - s.y;
      for (let x = x0; x <= x1; x++) {
        const dx = x + 0.5 - s.x;
        if (dx * dx + dy * dy <= r2) buf[y * w + x] = v;
      }
    }
  }
}

/** Coverage → RGBA: white/black opaque for the API mask, or translucent red / clear for display. */
export function coverageToRgba(buf: Uint8Array, out: Uint8ClampedArray, mode: 'mask' | 'overlay'): void {
  for (let i = 0; i < buf.length; i++) {
    const on = buf[i] !== 0;
    const o = i * 4;
    if (mode === 'mask') {
      const c = on ? 255 : 0;
      out[o] = c;
      out[o + 1] = c;
      out[o + 2] = c;
      out[o + 3] = 255;
    } else {
      out[o] = 255;
      out[o + 1] = 0;
      out[o + 2] = 0;
      out[o + 3] = on ? 255 : 0;
    }
  }
}

/** A record's init image, when it was another generation of this project (not an uploaded file). */
export function initGenerationOf(r: { initImageRef?: string | null }): string | null {
  const ref = r.initImageRef;
  return ref && !ref.includes(':') ? ref : null;
}

/** Outpaint margins and fill from a record's mask reference (`outpaint:l,r,t,b:fill`), if it was outpainted. */
export function outpaintOf(r: { maskRef?: string | null }): { margins: Margins; fill?: 'edge' | 'noise' | 'blur' } | null {
  const m = /^outpaint:(\d+),(\d+),(\d+),(\d+)(?::(edge|noise|blur))?$/.exec(r.maskRef ?? '');
  if (!m) return null;
  const margins = { left: Number(m[1]), right: Number(m[2]), top: Number(m[3]), bottom: Number(m[4]) };
  return { margins, ...(m[5] ? { fill: m[5] as 'edge' | 'noise' | 'blur' } : {}) };
}

/** True when the record was inpainted with a painted mask (which the library does not keep). */
export function hadPaintedMask(r: { maskRef?: string | null }): boolean {
  return !!r.maskRef && !r.maskRef.startsWith('outpaint:');
}
