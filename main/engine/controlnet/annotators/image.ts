/**
 * Pixel helpers the model annotators share: bilinear sampling with OpenCV's INTER_LINEAR geometry
 * (pixel centres at +0.5, no antialiasing, what `cv2.resize` / `cv2.warpAffine` do), planar float
 * resizes, and interleaved bytes → normalised NCHW. Everything works on plain typed arrays.
 */

/** Per-channel `(v / 255 − mean) / std` normalisation (ImageNet for Depth Anything). */
export interface Normalisation {
  mean: readonly [number, number, number];
  std: readonly [number, number, number];
}

export const IMAGENET: Normalisation = Object.freeze({ mean: [0.485, 0.456, 0.406] as const, std: [0.229, 0.224, 0.225] as const });

/** Source coordinate of an output pixel for a resize from `inSize` to `outSize` (half-pixel centres, clamped at 0). */
function sourceCoord(out: number, inSize: number, outSize: number): number {
  return Math.max(0, (out + 0.5) * (inSize / outSize) - 0.5);
}

/** Interleaved 8-bit (or float) image → float interleaved at dw × dh, bilinear with replicated borders (cv2.resize INTER_LINEAR). */
export function resizeInterleaved(src: ArrayLike<number>, sw: number, sh: number, channels: number, dw: number, dh: number): Float32Array {
  const out = new Float32Array(dw * dh * channels);
  for (let y = 0; y < dh; y++) {
    const fy = sourceCoord(y, sh, dh);
    const y0 = Math.min(Math.floor(fy), sh - 1);
    const y1 = Math.min(y0 + 1, sh - 1);
    const wy = fy - y0;
    for (let x = 0; x < dw; x++) {
      const fx = sourceCoord(x, sw, dw);
      const x0 = Math.min(Math.floor(fx), sw - 1);
      const x1 = Math.min(x0 + 1, sw - 1);
      const wx = fx - x0;
      for (let c = 0; c < channels; c++) {
        const top = src[(y0 * sw + x0) * channels + c] * (1 - wx) + src[(y0 * sw + x1) * channels + c] * wx;
        const bottom = src[(y1 * sw + x0) * channels + c] * (1 - wx) + src[(y1 * sw + x1) * channels + c] * wx;
        out[(y * dw + x) * channels + c] = top * (1 - wy) + bottom * wy;
      }
    }
  }
  return out;
}

/** Interleaved RGB (bytes or 0..255 floats) → NCHW [1, 3, H, W], each channel `(v/255 − mean)/std`. */
export function normalisedNchw(rgb: ArrayLike<number>, width: number, height: number, norm: Normalisation): Float32Array {
  const plane = width * height;
  const out = new Float32Array(3 * plane);
  for (let c = 0; c < 3; c++) {
    const mean = norm.mean[c];
    const std = norm.std[c];
    for (let p = 0; p < plane; p++) out[c * plane + p] = (rgb[p * 3 + c] / 255 - mean) / std;
  }
  return out;
}

/**
 * Inverse-mapped affine warp of an interleaved RGB image into a `dw × dh` float image: each output pixel
 * (x, y) samples the source at (x·sx + tx, y·sy + ty), bilinear, with 0 outside the source (cv2.warpAffine
 * with BORDER_CONSTANT 0 for a scale-and-shift matrix, the only kind DWPose uses).
 */
export function warpScaleShift(
  src: Uint8Array,
  sw: number,
  sh: number,
  dw: number,
  dh: number,
  map: { sx: number; sy: number; tx: number; ty: number },
): Float32Array {
  const out = new Float32Array(dw * dh * 3);
  const at = (x: number, y: number, c: number) => (x < 0 || y < 0 || x >= sw || y >= sh ? 0 : src[(y * sw + x) * 3 + c]);
  for (let y = 0; y < dh; y++) {
    const fy = y * map.sy + map.ty;
    const y0 = Math.floor(fy);
    const wy = fy - y0;
    for (let x = 0; x < dw; x++) {
      const fx = x * map.sx + map.tx;
      const x0 = Math.floor(fx);
      const wx = fx - x0;
      if (x0 < -1 || y0 < -1 || x0 >= sw || y0 >= sh) continue; // all four taps outside: stays 0
      for (let c = 0; c < 3; c++) {
        const top = at(x0, y0, c) * (1 - wx) + at(x0 + 1, y0, c) * wx;
        const bottom = at(x0, y0 + 1, c) * (1 - wx) + at(x0 + 1, y0 + 1, c) * wx;
        out[(y * dw + x) * 3 + c] = top * (1 - wy) + bottom * wy;
      }
    }
  }
  return out;
}

/** A single-channel float map → interleaved grey RGB bytes (the same value in R, G and B). */
export function greyToRgb(grey: Uint8Array): Uint8Array {
  const out = new Uint8Array(grey.length * 3);
  for (let p = 0; p < grey.length; p++) out[p * 3] = out[p * 3 + 1] = out[p * 3 + 2] = grey[p];
  return out;
}
