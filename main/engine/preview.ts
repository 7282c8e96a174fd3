/**
 * Cheap live preview: latent → RGB by a per-pixel linear map at latent resolution
 * (ComfyUI `comfy/latent_formats.py` coefficients; rows = latent channels, cols = R,G,B),
 * displayed as ComfyUI `preview_to_image`: clamp(−1, 1), (x + 1)·127.5, round.
 * Feed the predicted x0 (pred_original_sample), not the noisy latents, for a readable preview.
 */

export type PreviewFamily = 'sd1' | 'sd2' | 'sd2-v' | 'sd-turbo' | 'sdxl' | 'lcm' | string;

export interface PreviewImage {
  width: number;
  height: number;
  /** Interleaved RGB, width·height·3 bytes. */
  rgb: Uint8Array;
}

const SD15_FACTORS = [
  [0.3512, 0.2297, 0.3227],
  [0.325, 0.4974, 0.235],
  [-0.2829, 0.1762, 0.2721],
  [-0.212, -0.2616, -0.7177],
];
const SD15_BIAS = [0, 0, 0];
const SDXL_FACTORS = [
  [0.3651, 0.4232, 0.4341],
  [-0.2533, -0.0042, 0.1068],
  [0.1076, 0.1111, -0.0362],
  [-0.3165, -0.2492, -0.2188],
];
const SDXL_BIAS = [0.1084, -0.0175, -0.0011];

export function previewCoefficients(family: PreviewFamily): { factors: number[][]; bias: number[] } {
  return family === 'sdxl' ? { factors: SDXL_FACTORS, bias: SDXL_BIAS } : { factors: SD15_FACTORS, bias: SD15_BIAS };
}

/** Preview of the first sample of an NCHW latent batch (`shape` = [B, 4, h, w]). */
export function latentsToPreviewRgb(latents: Float32Array, shape: number[], family: PreviewFamily): PreviewImage {
  const [, c, h, w] = shape;
  if (shape.length !== 4 || c < 4) throw new Error(`latentsToPreviewRgb: expected [B, 4, h, w], got [${shape.join(', ')}]`);
  const { factors, bias } = previewCoefficients(family);
  const plane = h * w;
  const rgb = new Uint8Array(plane * 3);
  for (let p = 0; p < plane; p++) {
    for (let ch = 0; ch < 3; ch++) {
      let v = bias[ch];
      for (let l = 0; l < 4; l++) v += latents[l * plane + p] * factors[l][ch];
      v = Math.min(1, Math.max(-1, v));
      rgb[p * 3 + ch] = Math.round((v + 1) * 127.5);
    }
  }
  return { width: w, height: h, rgb };
}
