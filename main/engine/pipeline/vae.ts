/** VAE encode (both exporter output kinds) and decode, plus the 9-channel UNets' neutral conditioning. */
import { repeatBatch } from '../cfg';
import type { LoadedModel } from '../loader';
import type { Generator } from '../schedulers/types';
import { PipelineInputError, type GeneratedImage } from './types';
import { assertFiniteDecode } from './vae-precision';
import { floatTensor, inputInfo, toFloat32, toRgb } from './tensors';
import { decodeLatentSample, vaeTilingFor } from './vae-tiling';

/**
 * `scaling_factor · vae_encoder(image)` for one NCHW image in [-1, 1] → [4, H/8, W/8].
 * `latent_sample` graphs sample inside the graph; for `latent_parameters` (mean‖logvar) the
 * posterior is sampled here, `mean + exp(0.5·clamp(logvar, −30, 20))·randn`, from `generator`
 * (diffusers `DiagonalGaussianDistribution.sample`), or its mean when no generator is given.
 */
export async function encodeImage(model: LoadedModel, image: Float32Array, width: number, height: number, generator: Generator | null): Promise<Float32Array> {
  if (!model.hasComponent('vae_encoder')) {
    throw new PipelineInputError('This model has no vae_encoder, so it cannot start from an image (img2img / inpainting need vae_encoder/model.onnx).');
  }
  const enc = await model.session('vae_encoder');
  const out = await enc.run({ sample: floatTensor(inputInfo(enc, 'sample'), image, [1, 3, height, width]) });
  const kind = model.signature.vaeEncoderOutput ?? 'latent_sample';
  const t = out[kind];
  if (!t) throw new Error(`vae_encoder returned no "${kind}" output.`);
  const [, c, h, w] = t.dims;
  if (h !== height / 8 || w !== width / 8) throw new Error(`vae_encoder returned ${w}×${h} latents for a ${width}×${height} image (expected an 8× downsampling VAE).`);
  const data = toFloat32(t);
  const plane = h * w;
  let z: Float32Array;
  if (kind === 'latent_parameters') {
    if (c !== 8) throw new Error(`vae_encoder latent_parameters has ${c} channels; expected 8 (mean‖logvar).`);
    z = data.slice(0, 4 * plane);
    if (generator) {
      const eps = generator.randn([1, 4, h, w]);
      for (let i = 0; i < z.length; i++) {
        const logvar = Math.min(20, Math.max(-30, data[4 * plane + i]));
        z[i] += Math.exp(0.5 * logvar) * eps[i];
      }
    }
  } else {
    z = data.slice(0, 4 * plane);
  }
  for (let i = 0; i < z.length; i++) z[i] *= model.scalingFactor;
  return z;
}

/**
 * Grey-image latents per model and size. Encoders that output `latent_sample` sample inside the
 * graph (RandomNormalLike), so the first result is kept: same seed → same image within a session.
 */
const greyLatentCache = new WeakMap<LoadedModel, Map<string, Float32Array>>();

/** 9-channel UNets without a mask (txt2img, img2img): inpaint everything (mask = 1) over the latents of a neutral grey image (as A1111). */
export async function neutralInpaintConditioning(model: LoadedModel, batch: number, h: number, w: number): Promise<{ mask: Float32Array; maskedLatents: Float32Array }> {
  const mask = new Float32Array(batch * h * w).fill(1);
  let cache = greyLatentCache.get(model);
  if (!cache) greyLatentCache.set(model, (cache = new Map()));
  const key = `${h}x${w}`;
  const hit = cache.get(key);
  if (hit) return { mask, maskedLatents: repeatBatch(hit, batch) };
  let one = new Float32Array(4 * h * w);
  if (model.hasComponent('vae_encoder')) {
    const enc = await model.session('vae_encoder');
    const grey = new Float32Array(3 * h * 8 * w * 8); // 0 in [-1, 1] = mid grey (image · (mask < 0.5) with mask = 1)
    const out = await enc.run({ sample: floatTensor(inputInfo(enc, 'sample'), grey, [1, 3, h * 8, w * 8]) });
    const params = toFloat32(out[model.signature.vaeEncoderOutput ?? 'latent_sample']);
    one = params.slice(0, 4 * h * w); // latent_parameters: the mean is the first 4 channels
    for (let i = 0; i < one.length; i++) one[i] *= model.scalingFactor;
    await model.finished('vae_encoder');
  }
  cache.set(key, one);
  return { mask, maskedLatents: repeatBatch(one, batch) };
}

/** Step 7: vae_decoder(latents / scaling_factor), one sample at a time (fp16 VAEs misbehave at batch > 1). */
export async function decodeLatents(
  model: LoadedModel,
  latents: Float32Array,
  batch: number,
  size: { width: number; height: number },
  seed: number,
): Promise<GeneratedImage[]> {
  const h = size.height / 8;
  const w = size.width / 8;
  const plane = h * w;
  const vae = await model.session('vae_decoder');
  const latentInfo = inputInfo(vae, 'latent_sample');
  const images: GeneratedImage[] = [];
  for (let b = 0; b < batch; b++) {
    const one = latents.slice(b * 4 * plane, (b + 1) * 4 * plane);
    for (let i = 0; i < one.length; i++) one[i] /= model.scalingFactor;
    // Large images decode in overlapping tiles (vae-tiling.ts) so 2048² fits in memory.
    const sample = await decodeLatentSample(vae, latentInfo, one, h, w, vaeTilingFor(model, h, w));
    assertFiniteDecode(model, one, sample);
    images.push({ width: size.width, height: size.height, rgb: toRgb(sample, size.width, size.height), seed });
  }
  await model.finished('vae_decoder');
  return images;
}
