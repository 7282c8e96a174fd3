/**
 * Live previews on the app side: which decoder the engine worker uses for them (TAESD matched to
 * the pipeline's latent space, or the linear approximation), and the PNG data URL the UI shows.
 */
import sharp from 'sharp';
import type { PreviewDecoderSpec } from '../engine-host';
import type { InstalledModel } from '../models/model-store';
import type { ProviderChoiceName } from '../../common/providers';

export type PreviewDecoderSetting = 'auto' | 'taesd' | 'approx';
export type TaesdVariant = 'taesd' | 'taesdxl';

/** Previews bigger than this (TAESD decodes at full image size) are scaled down: the UI shows them small, and a 1024² PNG per step would flood the event stream. */
const MAX_PREVIEW_LONG_SIDE = 512;

/**
 * PNG data URL of a preview. Latent-resolution approximations (8× smaller than the image) are
 * upscaled by an integer factor to about `targetLongSide` with bilinear interpolation, so they read
 * as a soft image instead of 8×8-pixel blocks (the demo model's coefficients are fitted for exactly
 * this: see scripts/fit-preview-coefficients.ts); full-resolution TAESD previews are scaled down to
 * at most 512 px.
 */
export async function previewDataUrl(rgb: Uint8Array, width: number, height: number, targetLongSide = 256): Promise<string> {
  const longSide = Math.max(width, height);
  const input = sharp(Buffer.from(rgb.buffer, rgb.byteOffset, rgb.byteLength), { raw: { width, height, channels: 3 } });
  let resized: ReturnType<typeof sharp>;
  if (longSide > MAX_PREVIEW_LONG_SIDE) {
    const f = MAX_PREVIEW_LONG_SIDE / longSide;
    resized = input.resize(Math.max(1, Math.round(width * f)), Math.max(1, Math.round(height * f)));
  } else {
    const scale = Math.max(1, Math.floor(targetLongSide / longSide));
    resized = input.resize(width * scale, height * scale, { kernel: 'linear' });
  }
  const png = await resized.png({ compressionLevel: 1 }).toBuffer();
  return `data:image/png;base64,${png.toString('base64')}`;
}

/**
 * Which TAESD weights a pipeline's latents need: taesd_* for SD1/SD2-derived families (SD-Turbo and
 * LCM-Dreamshaper share SD1/2's VAE), taesdxl_* for SDXL. The bundled demo model has its own
 * autoencoder, so no TAESD matches it.
 */
export function taesdVariantFor(pipelineFamily: string, registryFamily?: string): TaesdVariant | null {
  if (registryFamily === 'demo') return null;
  if (pipelineFamily === 'sdxl') return 'taesdxl';
  if (['sd1', 'sd2', 'sd2-v', 'sd-turbo', 'lcm'].includes(pipelineFamily)) return 'taesd';
  return null;
}

/**
 * The variant an installed TAESD model provides. The catalog files both under family "taesd", so the
 * id/repo/name tell them apart (madebyollin's naming: taesd, taesdxl; taesd3/taef1 have 16 latent
 * channels and fit none of our pipelines).
 */
export function taesdVariantOf(m: Pick<InstalledModel, 'id' | 'name' | 'catalogId' | 'repo'>): TaesdVariant | null {
  const names = [m.catalogId, m.repo, m.id, m.name].filter((s): s is string => !!s).map((s) => s.toLowerCase());
  if (names.some((s) => /taesd3|taef1|sd3|flux/.test(s))) return null;
  if (names.some((s) => /taesdxl|tae-?sd-?xl|sdxl/.test(s))) return 'taesdxl';
  if (names.some((s) => /taesd/.test(s))) return 'taesd';
  return null;
}

/**
 * The preview decoder for a generation. 'approx' never uses TAESD; 'auto' and 'taesd' use an
 * installed TAESD that matches the pipeline's latent space and fall back to the approximation when
 * none does. They differ in cost: 'auto' spaces TAESD decodes so they take at most about a quarter
 * of the generation time (on a CPU a 512² decode costs ~0.8 s), 'taesd' decodes every preview.
 * 'auto' also stays with the approximation in low-memory mode: ORT keeps a TAESD session's working
 * memory between runs (measured on CPU: +270 MB RSS after a 512² decode, +1 GB after 1024²).
 */
export function choosePreviewDecoder(
  setting: PreviewDecoderSetting,
  pipeline: { family: string; registryFamily?: string },
  installed: readonly InstalledModel[],
  provider: ProviderChoiceName,
  opts: { lowMemory?: boolean } = {},
): PreviewDecoderSpec {
  if (setting === 'approx' || (setting === 'auto' && opts.lowMemory)) return { kind: 'approx' };
  const want = taesdVariantFor(pipeline.family, pipeline.registryFamily);
  if (!want) return { kind: 'approx' };
  const match = installed.find((m) => m.kind === 'vae-decoder' && m.family === 'taesd' && m.status === 'ok' && taesdVariantOf(m) === want);
  if (!match) return { kind: 'approx' };
  return { kind: 'taesd', path: match.path, provider, budget: setting === 'taesd' ? 'always' : 'auto' };
}
