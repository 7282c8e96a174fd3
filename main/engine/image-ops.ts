/**
 * Pure-TS pixel operations for img2img / inpainting: resampling (PIL-style antialiased
 * bilinear, nearest), fit to a target size (crop / resize / pad), mask feathering,
 * bounding boxes, A1111's "inpaint only masked" crop region, compositing and pasting.
 * All images are interleaved 8-bit, row-major, with `channels` values per pixel.
 */

export type FitMode = 'crop' | 'resize' | 'pad';

/** Pixel rectangle; x/y inclusive, width/height in pixels. */
export interface Rect {
  x: number;
  y: number;
  width: number;
  height: number;
}

function clampByte(v: number): number {
  return v <= 0 ? 0 : v >= 255 ? 255 : Math.round(v);
}

/** Per output coordinate: first source index and normalized weights (PIL `precompute_coeffs`, triangle filter). */
function coeffs(inSize: number, outSize: number): { start: Int32Array; weights: Float64Array[] } {
  const scale = inSize / outSize;
  const filterScale = Math.max(scale, 1);
  const support = filterScale; // triangle support 1, widened when downsampling (antialiasing)
  const start = new Int32Array(outSize);
  const weights: Float64Array[] = [];
  for (let o = 0; o < outSize; o++) {
    const center = (o + 0.5) * scale;
    const xmin = Math.max(Math.trunc(center - support + 0.5), 0);
    const xmax = Math.min(Math.trunc(center + support + 0.5), inSize);
    const w = new Float64Array(Math.max(1, xmax - xmin));
    let total = 0;
    for (let x = 0; x < xmax - xmin; x++) {
      const d = Math.abs((x + xmin - center + 0.5) / filterScale);
      const v = d < 1 ? 1 - d : 0;
      w[x] = v;
      total += v;
    }
    if (total > 0) for (let x = 0; x < w.length; x++) w[x] /= total;
    else w[0] = 1;
    start[o] = Math.min(xmin, inSize - 1);
    weights.push(w);
  }
  return { start, weights };
}

/** Antialiased bilinear resize (PIL `Image.resize(BILINEAR)` semantics). Same size → a copy. */
export function resizeBilinear(src: Uint8Array, sw: number, sh: number, channels: number, dw: number, dh: number): Uint8Array {
  if (sw === dw && sh === dh) return src.slice();
  // horizontal pass → float rows [sh, dw]
  const cx = coeffs(sw, dw);
  const tmp = new Float64Array(sh * dw * channels);
  for (let y = 0; y < sh; y++) {
    for (let x = 0; x < dw; x++) {
      const w = cx.weights[x];
      const s0 = cx.start[x];
      for (let c = 0; c < channels; c++) {
        let acc = 0;
        for (let k = 0; k < w.length; k++) acc += w[k] * src[((y * sw) + s0 + k) * channels + c];
        tmp[(y * dw + x) * channels + c] = acc;
      }
    }
  }
  // vertical pass
  const cy = coeffs(sh, dh);
  const out = new Uint8Array(dw * dh * channels);
  for (let y = 0; y < dh; y++) {
    const w = cy.weights[y];
    const s0 = cy.start[y];
    for (let x = 0; x < dw; x++) {
      for (let c = 0; c < channels; c++) {
        let acc = 0;
        for (let k = 0; k < w.length; k++) acc += w[k] * tmp[((s0 + k) * dw + x) * channels + c];
        out[(y * dw + x) * channels + c] = clampByte(acc);
      }
    }
  }
  return out;
}

/** Nearest-neighbour resize with torch `interpolate(mode="nearest")` indexing: src = floor(dst · in/out). */
export function resizeNearest(src: Uint8Array, sw: number, sh: number, channels: number, dw: number, dh: number): Uint8Array {
  const out = new Uint8Array(dw * dh * channels);
  for (let y = 0; y < dh; y++) {
    const sy = Math.min(sh - 1, Math.floor((y * sh) / dh));
    for (let x = 0; x < dw; x++) {
      const sx = Math.min(sw - 1, Math.floor((x * sw) / dw));
      for (let c = 0; c < channels; c++) out[(y * dw + x) * channels + c] = src[(sy * sw + sx) * channels + c];
    }
  }
  return out;
}

/** Copy a rectangle out of an image (the rectangle must lie inside it). */
export function cropPixels(src: Uint8Array, sw: number, sh: number, channels: number, r: Rect): Uint8Array {
  if (r.x < 0 || r.y < 0 || r.width < 1 || r.height < 1 || r.x + r.width > sw || r.y + r.height > sh) {
    throw new RangeError(`crop ${r.width}×${r.height}+${r.x}+${r.y} is outside the ${sw}×${sh} image`);
  }
  const out = new Uint8Array(r.width * r.height * channels);
  for (let y = 0; y < r.height; y++) {
    const from = ((r.y + y) * sw + r.x) * channels;
    out.set(src.subarray(from, from + r.width * channels), y * r.width * channels);
  }
  return out;
}

/** Write `patch` (patch.width × patch.height = r) into a copy of `base` at r. */
export function pastePixels(base: Uint8Array, bw: number, bh: number, channels: number, patch: Uint8Array, r: Rect): Uint8Array {
  const out = base.slice();
  for (let y = 0; y < r.height; y++) {
    const ty = r.y + y;
    if (ty < 0 || ty >= bh) continue;
    for (let x = 0; x < r.width; x++) {
      const tx = r.x + x;
      if (tx < 0 || tx >= bw) continue;
      for (let c = 0; c < channels; c++) out[(ty * bw + tx) * channels + c] = patch[(y * r.width + x) * channels + c];
    }
  }
  return out;
}

/** Where a fitted source lands: `placed` is the scaled source's rectangle in the output (may extend past it for 'crop'). */
export interface FitGeometry {
  placed: Rect;
}

export function fitGeometry(sw: number, sh: number, dw: number, dh: number, fit: FitMode): FitGeometry {
  if (fit === 'resize') return { placed: { x: 0, y: 0, width: dw, height: dh } };
  const scale = fit === 'crop' ? Math.max(dw / sw, dh / sh) : Math.min(dw / sw, dh / sh);
  const clampSize = (v: number, d: number) => (fit === 'crop' ? Math.max(d, Math.round(v)) : Math.max(1, Math.min(d, Math.round(v))));
  const width = clampSize(sw * scale, dw);
  const height = clampSize(sh * scale, dh);
  return { placed: { x: Math.floor((dw - width) / 2), y: Math.floor((dh - height) / 2), width, height } };
}

/**
 * Bring an image to dw × dh:
 *  - 'resize': stretch (aspect ratio not kept);
 *  - 'crop': scale to cover, centre-crop (A1111 "crop and resize");
 *  - 'pad': scale to fit, centre; the border repeats the edge pixels, or is `padValue` when given.
 */
export function fitPixels(src: Uint8Array, sw: number, sh: number, channels: number, dw: number, dh: number, fit: FitMode, padValue?: number): Uint8Array {
  const { placed } = fitGeometry(sw, sh, dw, dh, fit);
  const scaled = resizeBilinear(src, sw, sh, channels, placed.width, placed.height);
  if (placed.x === 0 && placed.y === 0 && placed.width === dw && placed.height === dh) return scaled;
  const out = new Uint8Array(dw * dh * channels);
  for (let y = 0; y < dh; y++) {
    const sy = y - placed.y;
    const inY = sy >= 0 && sy < placed.height;
    const cy = Math.min(placed.height - 1, Math.max(0, sy));
    for (let x = 0; x < dw; x++) {
      const sx = x - placed.x;
      const inside = inY && sx >= 0 && sx < placed.width;
      const cx = Math.min(placed.width - 1, Math.max(0, sx));
      for (let c = 0; c < channels; c++) {
        out[(y * dw + x) * channels + c] = !inside && padValue !== undefined ? padValue : scaled[(cy * placed.width + cx) * channels + c];
      }
    }
  }
  return out;
}

/** Separable Gaussian blur of a 1-channel mask (σ = `sigma` px, kernel radius ⌊2.5σ + 0.5⌋ as A1111's mask blur). */
export function blurMask(mask: Uint8Array, w: number, h: number, sigma: number): Uint8Array {
  if (!(sigma > 0)) return mask.slice();
  const radius = Math.max(1, Math.floor(2.5 * sigma + 0.5));
  const kernel = new Float64Array(2 * radius + 1);
  let sum = 0;
  for (let i = -radius; i <= radius; i++) sum += kernel[i + radius] = Math.exp(-(i * i) / (2 * sigma * sigma));
  for (let i = 0; i < kernel.length; i++) kernel[i] /= sum;
  const tmp = new Float64Array(w * h);
  // borders: reflect (cv2.BORDER_REFLECT_101)
  const reflect = (i: number, n: number) => {
    if (n === 1) return 0;
    while (i < 0 || i >= n) i = i < 0 ? -i : 2 * n - 2 - i;
    return i;
  };
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      let acc = 0;
      for (let k = -radius; k <= radius; k++) acc += kernel[k + radius] * mask[y * w + reflect(x + k, w)];
      tmp[y * w + x] = acc;
    }
  }
  const out = new Uint8Array(w * h);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      let acc = 0;
      for (let k = -radius; k <= radius; k++) acc += kernel[k + radius] * tmp[reflect(y + k, h) * w + x];
      out[y * w + x] = clampByte(acc);
    }
  }
  return out;
}

/** Bounding box of mask pixels ≥ threshold, or null when there are none. */
export function maskBoundingBox(mask: Uint8Array, w: number, h: number, threshold = 1): Rect | null {
  let x0 = w, y0 = h, x1 = -1, y1 = -1;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      if (mask[y * w + x] >= threshold) {
        if (x < x0) x0 = x;
        if (x > x1) x1 = x;
        if (y < y0) y0 = y;
        if (y > y1) y1 = y;
      }
    }
  }
  return x1 < 0 ? null : { x: x0, y: y0, width: x1 - x0 + 1, height: y1 - y0 + 1 };
}

/**
 * A1111 `get_crop_region` + `expand_crop_region`: the mask's box grown by `padding` px
 * (clamped to the image), then grown along one axis to the processing aspect ratio.
 */
export function maskCropRegion(box: Rect, padding: number, imageW: number, imageH: number, procW: number, procH: number): Rect {
  let x1 = Math.max(box.x - padding, 0);
  let y1 = Math.max(box.y - padding, 0);
  let x2 = Math.min(box.x + box.width + padding, imageW);
  let y2 = Math.min(box.y + box.height + padding, imageH);
  const ratioCrop = (x2 - x1) / (y2 - y1);
  const ratioProc = procW / procH;
  if (ratioCrop > ratioProc) {
    const diff = Math.trunc((x2 - x1) / ratioProc - (y2 - y1));
    y1 -= Math.floor(diff / 2);
    y2 += diff - Math.floor(diff / 2);
    if (y2 >= imageH) {
      const d = y2 - imageH;
      y2 -= d;
      y1 -= d;
    }
    if (y1 < 0) {
      y2 -= y1;
      y1 = 0;
    }
    if (y2 >= imageH) y2 = imageH;
  } else {
    const diff = Math.trunc((y2 - y1) * ratioProc - (x2 - x1));
    x1 -= Math.floor(diff / 2);
    x2 += diff - Math.floor(diff / 2);
    if (x2 >= imageW) {
      const d = x2 - imageW;
      x2 -= d;
      x1 -= d;
    }
    if (x1 < 0) {
      x2 -= x1;
      x1 = 0;
    }
    if (x2 >= imageW) x2 = imageW;
  }
  return { x: x1, y: y1, width: x2 - x1, height: y2 - y1 };
}

/** `base·(1 − m) + over·m` per pixel with m = mask/255 (RGB images, 1-channel mask). m = 0 keeps `base` bytes exactly. */
export function compositeMasked(base: Uint8Array, over: Uint8Array, mask: Uint8Array): Uint8Array {
  const out = base.slice();
  for (let p = 0; p < mask.length; p++) {
    const m = mask[p];
    if (m === 0) continue;
    for (let c = 0; c < 3; c++) {
      const i = p * 3 + c;
      out[i] = m === 255 ? over[i] : clampByte(base[i] + ((over[i] - base[i]) * m) / 255);
    }
  }
  return out;
}

/** Pixels to add on each side of a canvas (outpainting). */
export interface CanvasExtension {
  left?: number;
  right?: number;
  top?: number;
  bottom?: number;
}

/**
 * Outpainting building block: grow an RGB image by `ext` pixels per side and return the grown
 * image plus an inpainting mask (255 over the new area, and `overlap` px into the old picture
 * so the seam gets repainted too). The new area repeats the edge pixels (a neutral start for
 * the diffusion), or is a solid `fill` colour.
 */
export function extendCanvas(
  img: { width: number; height: number; rgb: Uint8Array },
  ext: CanvasExtension,
  opts: { fill?: 'edge' | [number, number, number]; overlap?: number } = {},
): { image: { width: number; height: number; rgb: Uint8Array }; mask: { width: number; height: number; data: Uint8Array } } {
  const [l, r, t, b] = [ext.left ?? 0, ext.right ?? 0, ext.top ?? 0, ext.bottom ?? 0];
  for (const v of [l, r, t, b]) if (!Number.isInteger(v) || v < 0) throw new RangeError(`canvas extension must be whole pixels ≥ 0, got ${v}`);
  const overlap = opts.overlap ?? 0;
  if (!Number.isInteger(overlap) || overlap < 0) throw new RangeError(`overlap must be whole pixels ≥ 0, got ${overlap}`);
  const width = img.width + l + r;
  const height = img.height + t + b;
  const rgb = new Uint8Array(width * height * 3);
  const data = new Uint8Array(width * height);
  const fill = opts.fill ?? 'edge';
  for (let y = 0; y < height; y++) {
    const sy = y - t;
    const cy = Math.min(img.height - 1, Math.max(0, sy));
    for (let x = 0; x < width; x++) {
      const sx = x - l;
      const inside = sy >= 0 && sy < img.height && sx >= 0 && sx < img.width;
      const o = (y * width + x) * 3;
      if (inside || fill === 'edge') {
        const cx = Math.min(img.width - 1, Math.max(0, sx));
        const i = (cy * img.width + cx) * 3;
        rgb[o] = img.rgb[i];
        rgb[o + 1] = img.rgb[i + 1];
        rgb[o + 2] = img.rgb[i + 2];
      } else {
        rgb[o] = fill[0];
        rgb[o + 1] = fill[1];
        rgb[o + 2] = fill[2];
      }
      // inside the old picture, only the sides that grew get the overlap band
      const nearNew =
        (l > 0 && sx < overlap) || (r > 0 && sx >= img.width - overlap) || (t > 0 && sy < overlap) || (b > 0 && sy >= img.height - overlap);
      data[y * width + x] = !inside || nearNew ? 255 : 0;
    }
  }
  return { image: { width, height, rgb }, mask: { width, height, data } };
}
