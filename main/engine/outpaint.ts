/**
 * Outpainting building block: grow the init image's canvas, fill the new area with a neutral
 * start for the diffusion, and build the inpainting mask (the new area white, reaching a little
 * into the old picture so the seam is repainted, with a feathered edge so it blends). The
 * inpaint pipeline then does the rest; its composite keeps the untouched picture exactly.
 */
import { blurMask, extendCanvas, type CanvasExtension } from './image-ops';
import type { MaskImage, RgbImage } from './pipeline';

export type OutpaintFill = 'edge' | 'noise' | 'blur';

export interface OutpaintMargins {
  left: number;
  right: number;
  top: number;
  bottom: number;
}

export interface OutpaintOptions {
  fill?: OutpaintFill;
  /** Old-picture pixels next to each grown side that are repainted too (default 8). */
  overlap?: number;
  /** Feather width of the mask edge inside the old picture, px (default 8). */
  feather?: number;
  /** Seed of the 'noise' fill (same seed → same canvas). */
  seed?: number;
}

export function outpaintCanvasSize(image: { width: number; height: number }, m: OutpaintMargins): { width: number; height: number } {
  return { width: image.width + m.left + m.right, height: image.height + m.top + m.bottom };
}

/** The grown canvas and its mask (255 = repaint). */
export function prepareOutpaint(image: RgbImage, margins: OutpaintMargins, opts: OutpaintOptions = {}): { image: RgbImage; mask: MaskImage } {
  const ext: CanvasExtension = margins;
  if (margins.left + margins.right + margins.top + margins.bottom === 0) throw new RangeError('outpaint: give at least one side a number of pixels to add');
  const overlap = Math.min(opts.overlap ?? 8, Math.floor(Math.min(image.width, image.height) / 4));
  const grown = extendCanvas(image, ext, { fill: 'edge', overlap });
  const fill = opts.fill ?? 'edge';
  const newArea = newAreaMask(image, margins, grown.image.width, grown.image.height);
  if (fill === 'blur') blurNewArea(grown.image, newArea, Math.max(margins.left, margins.right, margins.top, margins.bottom));
  else if (fill === 'noise') noiseNewArea(grown.image, newArea, opts.seed ?? 0);

  // Feather the seam: blur the hard mask, but keep the whole new area fully white.
  const feather = opts.feather ?? 8;
  const soft = blurMask(grown.mask.data, grown.mask.width, grown.mask.height, feather / 2);
  for (let p = 0; p < soft.length; p++) if (newArea[p]) soft[p] = 255;
  return { image: grown.image, mask: { width: grown.mask.width, height: grown.mask.height, data: soft } };
}

/** 1 where the pixel lies outside the original picture. */
function newAreaMask(image: { width: number; height: number }, m: OutpaintMargins, width: number, height: number): Uint8Array {
  const out = new Uint8Array(width * height);
  for (let y = 0; y < height; y++) {
    const sy = y - m.top;
    for (let x = 0; x < width; x++) {
      const sx = x - m.left;
      out[y * width + x] = sy < 0 || sy >= image.height || sx < 0 || sx >= image.width ? 1 : 0;
    }
  }
  return out;
}

/** Replace the repeated edge pixels with a strong blur of them: soft colour fields, no streaks. */
function blurNewArea(img: RgbImage, newArea: Uint8Array, margin: number): void {
  const sigma = Math.max(2, margin / 3);
  const plane = new Uint8Array(img.width * img.height);
  for (let c = 0; c < 3; c++) {
    for (let p = 0; p < plane.length; p++) plane[p] = img.rgb[p * 3 + c];
    const blurred = blurMask(plane, img.width, img.height, sigma);
    for (let p = 0; p < plane.length; p++) if (newArea[p]) img.rgb[p * 3 + c] = blurred[p];
  }
}

/** Seeded noise around the edge colours (±48): gives the sampler texture to work from. */
function noiseNewArea(img: RgbImage, newArea: Uint8Array, seed: number): void {
  let s = (seed ^ 0x9e3779b9) >>> 0;
  for (let p = 0; p < newArea.length; p++) {
    if (!newArea[p]) continue;
    for (let c = 0; c < 3; c++) {
      s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
      const v = img.rgb[p * 3 + c] + ((s >>> 24) - 128) * 0.375;
      img.rgb[p * 3 + c] = v <= 0 ? 0 : v >= 255 ? 255 : Math.round(v);
    }
  }
}
