/**
 * Cheap live preview: latent → RGB by a per-pixel affine map at latent resolution
 * (rows = latent channels, cols = R,G,B, plus a bias), displayed as ComfyUI `preview_to_image`:
 * clamp(−1, 1), (x + 1)·127.5, round.
 * Feed the predicted x0 (pred_original_sample, in the UNet's scaled latent space), not the noisy
 * latents, for a readable preview.
 *
 * The map belongs to the autoencoder, not to the pipeline: a model folder may declare its own in
 * `vae_decoder/config.json` (`latent_rgb_factors` [C][3], `latent_rgb_bias` [3], the names ComfyUI
 * uses) — the bundled demo model does, fitted by `scripts/fit-preview-coefficients.ts` on its own
 * decoder's outputs (SD's coefficients turn its white backgrounds magenta). A model without them gets
 * its family's (ComfyUI `comfy/latent_formats.py`): SDXL's for sdxl, SD 1.5's for every SD1/SD2-VAE family.
 */

export type PreviewFamily = 'sd1' | 'sd2' | 'sd2-v' | 'sd-turbo' | 'sdxl' | 'lcm' | string;

export interface PreviewImage {
  width: number;
  height: number;
  /** Interleaved RGB, width·height·3 bytes. */
  rgb: Uint8Array;
}

/** Latent → RGB affine map: rgb[k] = bias[k] + Σ_c latent[c]·factors[c][k], in [-1, 1]. */
export interface PreviewCoefficients {
  /** One row per latent channel: its contribution to R, G, B. */
  factors: number[][];
  bias: number[];
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

/** The family default (for models whose folder declares no coefficients). */
export function previewCoefficients(family: PreviewFamily): PreviewCoefficients {
  return family === 'sdxl' ? { factors: SDXL_FACTORS, bias: SDXL_BIAS } : { factors: SD15_FACTORS, bias: SD15_BIAS };
}

const finite = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/**
 * The coefficients a VAE config declares (`latent_rgb_factors`, optional `latent_rgb_bias`), or null
 * when it declares none or they are malformed (a broken preview must never stop a generation, so the
 * caller falls back to the family's).
 */
export function parsePreviewCoefficients(vaeConfig: Record<string, unknown> | undefined): PreviewCoefficients | null {
  const factors = vaeConfig?.latent_rgb_factors;
  const bias = vaeConfig?.latent_rgb_bias ?? [0, 0, 0];
  if (!Array.isArray(factors) || factors.length === 0) return null;
  if (!factors.every((row) => Array.isArray(row) && row.length === 3 && row.every(finite))) return null;
  if (!Array.isArray(bias) || bias.length !== 3 || !bias.every(finite)) return null;
  return { factors: factors.map((row: number[]) => [...row]), bias: [...bias] };
}

/** What a loaded model's previews use: its VAE's own coefficients, else its family's. */
export function modelPreviewCoefficients(model: {
  info: { components: { vae_decoder: { config?: Record<string, unknown> } } };
  signature: { family: PreviewFamily };
}): PreviewCoefficients {
  return parsePreviewCoefficients(model.info.components.vae_decoder.config) ?? previewCoefficients(model.signature.family);
}

/**
 * Preview of the first sample of an NCHW latent batch (`shape` = [B, C, h, w]), with a family's
 * default coefficients or a model's own.
 */
export function latentsToPreviewRgb(latents: Float32Array, shape: number[], coefficients: PreviewFamily | PreviewCoefficients): PreviewImage {
  const [, c, h, w] = shape;
  const { factors, bias } = typeof coefficients === 'string' ? previewCoefficients(coefficients) : coefficients;
  if (shape.length !== 4 || c < factors.length) {
    throw new Error(`latentsToPreviewRgb: expected [B, ${factors.length}, h, w], got [${shape.join(', ')}]`);
  }
  const plane = h * w;
  const rgb = new Uint8Array(plane * 3);
  for (let p = 0; p < plane; p++) {
    for (let ch = 0; ch < 3; ch++) {
      let v = bias[ch];
      for (let l = 0; l < factors.length; l++) v += latents[l * plane + p] * factors[l][ch];
      v = Math.min(1, Math.max(-1, v));
      rgb[p * 3 + ch] = Math.round((v + 1) * 127.5);
    }
  }
  return { width: w, height: h, rgb };
}
