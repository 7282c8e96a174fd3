/** Step 1 of every pipeline: validate parameters before any session runs. */
import type { LoadedModel } from '../loader';
import { SUPPORTED_SCHEDULERS } from '../model-info';
import { swapSchedulerClass } from '../schedulers';
import type { SchedulerConfig } from '../schedulers/types';
import { resolveMicroConditioning } from './conditioning';
import { checkClipSkip } from './text-encoders';
import { PipelineInputError, SCHEDULER_OPTION_KEYS, type ImageFit, type MaskImage, type RgbImage, type SchedulerOptions, type Txt2ImgParams } from './types';

export const MAX_BATCH = 16;

export function bad(msg: string): never {
  throw new PipelineInputError(msg);
}

export function checkInputs(model: LoadedModel, p: Txt2ImgParams): { batch: number; schedulerConfig: SchedulerConfig } {
  if (!model.signature.supported) bad(`${model.signature.family.toUpperCase()} models are detected but not supported.`);
  if (typeof p.prompt !== 'string') bad('prompt must be a string.');
  if (p.negativePrompt !== undefined && typeof p.negativePrompt !== 'string') bad('negativePrompt must be a string.');
  for (const [k, v] of [['width', p.width], ['height', p.height]] as const) {
    if (!Number.isInteger(v) || v < 8 || v % 8 !== 0) bad(`${k} must be a positive multiple of 8 (got ${v}); the VAE works on 8×8 pixel blocks.`);
    if (v > 4096) bad(`${k} must be at most 4096 (got ${v}).`);
  }
  if (!Number.isInteger(p.steps) || p.steps < 1 || p.steps > 1000) bad(`steps must be an integer from 1 to 1000 (got ${p.steps}).`);
  if (typeof p.guidanceScale !== 'number' || !Number.isFinite(p.guidanceScale) || p.guidanceScale < 0) {
    bad(`guidanceScale must be a number ≥ 0 (got ${p.guidanceScale}); values ≤ 1 disable classifier-free guidance.`);
  }
  const phi = p.guidanceRescale ?? 0;
  if (typeof phi !== 'number' || !(phi >= 0 && phi <= 1)) bad(`guidanceRescale must be between 0 and 1 (got ${phi}).`);
  if (!Number.isSafeInteger(p.seed)) bad(`seed must be an integer (got ${p.seed}).`);
  if (p.rng !== 'cpu' && p.rng !== 'cuda') bad(`rng must be "cpu" or "cuda" (got ${JSON.stringify(p.rng)}).`);
  const batch = p.batchSize ?? 1;
  if (!Number.isInteger(batch) || batch < 1 || batch > MAX_BATCH) bad(`batchSize must be an integer from 1 to ${MAX_BATCH} (got ${batch}).`);
  let schedulerConfig = model.schedulerConfig;
  if (p.scheduler !== undefined && p.scheduler !== schedulerConfig._class_name) {
    if (!SUPPORTED_SCHEDULERS.includes(p.scheduler)) bad(`Unknown scheduler "${p.scheduler}". Valid: ${SUPPORTED_SCHEDULERS.join(', ')}.`);
    // diffusers `Target.from_config(pipe.scheduler.config)`: the source's settings (with the source class's
    // defaults filled in, e.g. PNDM's "leading" spacing) carry over; only the algorithm changes.
    schedulerConfig = swapSchedulerClass(schedulerConfig, p.scheduler);
  }
  if (p.schedulerOptions) {
    for (const key of Object.keys(p.schedulerOptions)) {
      if (!SCHEDULER_OPTION_KEYS.includes(key as keyof SchedulerOptions)) bad(`Unknown scheduler option "${key}". Valid: ${SCHEDULER_OPTION_KEYS.join(', ')}.`);
    }
    schedulerConfig = { ...schedulerConfig, ...p.schedulerOptions };
  }
  checkClipSkip(p.clipSkip);
  if (model.signature.sdxl) resolveMicroConditioning(p.sdxl, p.width, p.height);
  if (schedulerConfig._class_name === 'LCMScheduler') {
    const original = lcmOriginalSteps(schedulerConfig);
    if (p.steps > original) bad(`LCMScheduler runs at most original_inference_steps = ${original} steps (got ${p.steps}); LCM models are meant for 2–8.`);
  }
  return { batch, schedulerConfig };
}

export function lcmOriginalSteps(config: SchedulerConfig): number {
  return typeof config.original_inference_steps === 'number' ? config.original_inference_steps : 50;
}

const MAX_INPUT_SIDE = 16384;

export function checkImage(img: RgbImage | undefined, what: string): RgbImage {
  if (!img || typeof img !== 'object') bad(`${what} is required: { width, height, rgb } with width·height·3 bytes.`);
  const { width, height, rgb } = img;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1 || width > MAX_INPUT_SIDE || height > MAX_INPUT_SIDE) {
    bad(`${what} must have integer width and height from 1 to ${MAX_INPUT_SIDE} (got ${width}×${height}).`);
  }
  if (!(rgb instanceof Uint8Array) || rgb.length !== width * height * 3) {
    bad(`${what}.rgb must be a Uint8Array of width·height·3 = ${width * height * 3} bytes (got ${rgb instanceof Uint8Array ? rgb.length : typeof rgb}).`);
  }
  return img;
}

export function checkMask(mask: MaskImage | undefined, image: RgbImage): MaskImage {
  if (!mask || typeof mask !== 'object') bad('mask is required: { width, height, data } with one byte per pixel (255 = repaint).');
  if (mask.width !== image.width || mask.height !== image.height) {
    bad(`mask must be the same size as the init image (mask ${mask.width}×${mask.height}, image ${image.width}×${image.height}).`);
  }
  if (!(mask.data instanceof Uint8Array) || mask.data.length !== mask.width * mask.height) {
    bad(`mask.data must be a Uint8Array of width·height = ${mask.width * mask.height} bytes (got ${mask.data instanceof Uint8Array ? mask.data.length : typeof mask.data}).`);
  }
  return mask;
}

export function checkFit(fit: unknown): ImageFit {
  const f = fit ?? 'crop';
  if (f !== 'crop' && f !== 'resize' && f !== 'pad') bad(`fit must be "crop", "resize" or "pad" (got ${JSON.stringify(fit)}).`);
  return f;
}

export function checkStrength(strength: unknown): number {
  if (typeof strength !== 'number' || !(strength >= 0 && strength <= 1)) bad(`strength must be a number from 0 to 1 (got ${String(strength)}).`);
  return strength;
}

/**
 * diffusers `get_timesteps`: how many of the `steps` run for a given strength.
 * `init = min(int(N·strength), N)`; `tStart = max(N − init, 0)`.
 */
export function strengthSteps(steps: number, strength: number): { init: number; tStart: number } {
  // Python int() truncation on the float product, exactly as diffusers and A1111 (10·0.3 → 2).
  const init = Math.min(Math.floor(steps * strength), steps);
  if (init < 1) {
    bad(
      `strength ${strength} with ${steps} step${steps === 1 ? '' : 's'} leaves no denoising step (int(steps·strength) = 0); ` +
        `raise strength or steps so that steps·strength ≥ 1 (Turbo models with 1–4 steps need e.g. strength ≥ ${Math.min(1, 1 / steps).toFixed(2)}).`,
    );
  }
  return { init, tStart: Math.max(steps - init, 0) };
}
