/**
 * The SDXL VAE overflows in fp16 (`force_upcast: true` in its config): diffusers upcasts it to
 * fp32 for the decode. Here the decode already runs in fp32 whenever the graph's I/O is fp32
 * (`floatTensor` feeds the graph's own input type, and fp32-I/O exports compute in fp32 or keep
 * their fp16 internals behind casts we cannot change). An fp16 graph cannot be upcast from the
 * outside, so its overflow is detected here and reported with the fix instead of saving a black
 * image (NaN clamps to 0 in the RGB conversion).
 */
import type { LoadedModel } from '../loader';

export class NonFiniteOutputError extends Error {
  override name = 'NonFiniteOutputError';
}

function firstNonFinite(x: Float32Array): number {
  for (let i = 0; i < x.length; i++) if (!Number.isFinite(x[i])) return i;
  return -1;
}

/** Throws when the latents or the decoded image contain NaN/±inf, naming the stage and the remedy. */
export function assertFiniteDecode(model: LoadedModel, latents: Float32Array, decoded: Float32Array): void {
  const sig = model.signature;
  if (firstNonFinite(latents) >= 0) {
    throw new NonFiniteOutputError(
      `The UNet produced NaN/inf latents${sig.io.unetOutput === 'float16' ? ' (an fp16 UNet overflowed)' : ''}; ` +
        'the image would be black. Use an fp32 (or fp16 with fp32 attention) UNet export, or fewer/other steps.',
    );
  }
  if (firstNonFinite(decoded) >= 0) {
    const fp16 = sig.io.vaeDecoderInput === 'float16' || sig.io.vaeDecoderOutput === 'float16';
    const why = sig.vaeForceUpcast || sig.family === 'sdxl'
      ? 'this VAE overflows in fp16 (its config says force_upcast)'
      : 'the VAE decoder overflowed';
    throw new NonFiniteOutputError(
      `vae_decoder returned NaN/inf: ${why}${fp16 ? ' and its graph takes fp16, so it cannot be upcast to fp32 here' : ''}. ` +
        'Use an fp32 vae_decoder export, or for SDXL the fp16-safe madebyollin/sdxl-vae-fp16-fix decoder.',
    );
  }
}
