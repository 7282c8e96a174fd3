/**
 * Canny edge annotator for ControlNet, in TypeScript so it runs in the engine without OpenCV.
 *
 * A1111's ControlNet extension (and lllyasviel's annotator) call `cv2.Canny(img, low, high)` on the
 * RGB image as it is: no blur, 3×3 Sobel, L1 magnitude |dx|+|dy|, per pixel the channel with the
 * largest magnitude, non-maximum suppression in four sectors (tan 22.5° in 15-bit fixed point), then
 * hysteresis (8-connected). This port follows that algorithm step for step so the edge map is
 * pixel-identical to OpenCV's (test/engine/controlnet/canny.test.ts compares against cv2 goldens
 * written by models/tools/make_controlnet_fixtures.py). An optional Gaussian pre-blur (σ > 0) is
 * available for noisy photos; it is ours, not OpenCV's, and off by default like A1111.
 */

export interface CannyOptions {
  /** Weak-edge threshold on |dx|+|dy| (A1111 default 100). */
  low?: number;
  /** Strong-edge threshold (A1111 default 200). */
  high?: number;
  /** Gaussian pre-blur σ in pixels; 0 (default) = none, as A1111. */
  blurSigma?: number;
}

export const CANNY_DEFAULTS = Object.freeze({ low: 100, high: 200 });

const CANNY_SHIFT = 15;
/** tan(22.5°) in CANNY_SHIFT fixed point, rounded (OpenCV's TG22 = 13573). */
const TG22 = Math.floor(0.4142135623730950488 * (1 << CANNY_SHIFT) + 0.5);

/** Separable Gaussian blur with replicated borders, rounded back to bytes (interleaved channels). */
export function gaussianBlur(src: Uint8Array, width: number, height: number, channels: number, sigma: number): Uint8Array {
  if (!(sigma > 0)) return src.slice();
  const radius = Math.max(1, Math.ceil(3 * sigma));
  const kernel = new Float64Array(2 * radius + 1);
  let sum = 0;
  for (let k = -radius; k <= radius; k++) sum += kernel[k + radius] = Math.exp(-(k * k) / (2 * sigma * sigma));
  for (let k = 0; k < kernel.length; k++) kernel[k] /= sum;
  const tmp = new Float64Array(src.length);
  const clampX = (x: number) => (x < 0 ? 0 : x >= width ? width - 1 : x);
  const clampY = (y: number) => (y < 0 ? 0 : y >= height ? height - 1 : y);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      for (let c = 0; c < channels; c++) {
        let acc = 0;
        for (let k = -radius; k <= radius; k++) acc += kernel[k + radius] * src[(y * width + clampX(x + k)) * channels + c];
        tmp[(y * width + x) * channels + c] = acc;
      }
    }
  }
  const out = new Uint8Array(src.length);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      for (let c = 0; c < channels; c++) {
        let acc = 0;
        for (let k = -radius; k <= radius; k++) acc += kernel[k + radius] * tmp[(clampY(y + k) * width + x) * channels + c];
        out[(y * width + x) * channels + c] = Math.min(255, Math.max(0, Math.round(acc)));
      }
    }
  }
  return out;
}

/**
 * 3×3 Sobel derivatives with replicated borders (OpenCV `Sobel(…, CV_16S, …, BORDER_REPLICATE)`) and,
 * per pixel, the L1 magnitude of the channel with the largest one (first channel on ties).
 */
function gradients(src: Uint8Array, width: number, height: number, channels: number): { dx: Int32Array; dy: Int32Array; mag: Int32Array } {
  const n = width * height;
  const dx = new Int32Array(n);
  const dy = new Int32Array(n);
  const mag = new Int32Array(n);
  const at = (x: number, y: number, c: number) => src[((y < 0 ? 0 : y >= height ? height - 1 : y) * width + (x < 0 ? 0 : x >= width ? width - 1 : x)) * channels + c];
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const p = y * width + x;
      let best = -1;
      for (let c = 0; c < channels; c++) {
        const gx = at(x + 1, y - 1, c) - at(x - 1, y - 1, c) + 2 * (at(x + 1, y, c) - at(x - 1, y, c)) + at(x + 1, y + 1, c) - at(x - 1, y + 1, c);
        const gy = at(x - 1, y + 1, c) + 2 * at(x, y + 1, c) + at(x + 1, y + 1, c) - (at(x - 1, y - 1, c) + 2 * at(x, y - 1, c) + at(x + 1, y - 1, c));
        const m = Math.abs(gx) + Math.abs(gy);
        if (m > best) {
          best = m;
          dx[p] = gx;
          dy[p] = gy;
        }
      }
      mag[p] = best;
    }
  }
  return { dx, dy, mag };
}

/**
 * Edge map (0 or 255 per pixel) of an interleaved 8-bit image with 1 or 3 channels.
 * Thresholds are floored and compared with `>` (OpenCV), and swapped when low > high.
 */
export function canny(src: Uint8Array, width: number, height: number, channels: 1 | 3, opts: CannyOptions = {}): Uint8Array {
  if (src.length !== width * height * channels) throw new Error(`canny: ${src.length} bytes do not match ${width}×${height}×${channels}.`);
  let lowT = opts.low ?? CANNY_DEFAULTS.low;
  let highT = opts.high ?? CANNY_DEFAULTS.high;
  if (!Number.isFinite(lowT) || !Number.isFinite(highT) || lowT < 0 || highT < 0) throw new Error(`canny thresholds must be numbers ≥ 0 (got ${lowT}, ${highT}).`);
  if (lowT > highT) [lowT, highT] = [highT, lowT];
  const low = Math.floor(lowT);
  const high = Math.floor(highT);
  const image = opts.blurSigma ? gaussianBlur(src, width, height, channels, opts.blurSigma) : src;
  const { dx, dy, mag } = gradients(image, width, height, channels);

  // Magnitude outside the image counts as 0; the map has a one-pixel border that can never be an edge.
  const m = (x: number, y: number) => (x < 0 || x >= width || y < 0 || y >= height ? 0 : mag[y * width + x]);
  const stride = width + 2;
  // 0: may be an edge (weak), 1: not an edge, 2: edge.
  const map = new Uint8Array(stride * (height + 2)).fill(1);
  const stack: number[] = [];

  // Non-maximum suppression: keep a pixel only if it beats its neighbours across the gradient
  // (strictly on one side, ≥ on the other, as OpenCV, so plateaus keep exactly one pixel).
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const p = y * width + x;
      const v = mag[p];
      const at = (y + 1) * stride + x + 1;
      let keep = false;
      if (v > low) {
        const xs = dx[p];
        const ys = dy[p];
        const ax = Math.abs(xs);
        const ay = Math.abs(ys) * (1 << CANNY_SHIFT);
        const tg22x = ax * TG22;
        if (ay < tg22x) {
          keep = v > m(x - 1, y) && v >= m(x + 1, y); // near-horizontal gradient: compare left/right
        } else {
          const tg67x = tg22x + ax * (1 << (CANNY_SHIFT + 1));
          if (ay > tg67x) {
            keep = v > m(x, y - 1) && v >= m(x, y + 1); // near-vertical: compare up/down
          } else {
            const s = xs < 0 !== ys < 0 ? -1 : 1; // diagonal: the two corners along the gradient
            keep = v > m(x - s, y - 1) && v > m(x + s, y + 1);
          }
        }
      }
      if (!keep) continue;
      if (v > high) {
        map[at] = 2;
        stack.push(at);
      } else {
        map[at] = 0;
      }
    }
  }

  // Hysteresis: grow strong edges through 8-connected weak candidates.
  const neighbours = [-1, 1, -stride - 1, -stride, -stride + 1, stride - 1, stride, stride + 1];
  while (stack.length) {
    const q = stack.pop()!;
    for (const d of neighbours) {
      if (map[q + d] === 0) {
        map[q + d] = 2;
        stack.push(q + d);
      }
    }
  }

  const out = new Uint8Array(width * height);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) if (map[(y + 1) * stride + x + 1] === 2) out[y * width + x] = 255;
  return out;
}

/** The control image ControlNet-Canny expects: edges white on black, as RGB (the edge map in all three channels). */
export function cannyControlImage(rgb: Uint8Array, width: number, height: number, opts: CannyOptions = {}): Uint8Array {
  const edges = canny(rgb, width, height, 3, opts);
  const out = new Uint8Array(width * height * 3);
  for (let p = 0; p < edges.length; p++) out[p * 3] = out[p * 3 + 1] = out[p * 3 + 2] = edges[p];
  return out;
}
