/**
 * Inpainting, like diffusers' StableDiffusionInpaintPipeline.__call__ (and A1111's
 * "inpaint masked" / "only masked" modes):
 *  - 9-channel inpainting UNets: per step `[scale_model_input(x) | mask | masked-image latents]`;
 *  - 4-channel UNets: the legacy latent blending, after each step
 *    `x = (1−m)·add_noise(z0, noise, t_next) + m·x` (z0 itself after the last step);
 *  - the decoded result is composited onto the input outside the (feathered) mask in pixel
 *    space, so pixels the mask does not touch keep their exact bytes.
 */
import { pipelineResult } from './result';
import { repeatBatch } from '../cfg';
import { blurMask, compositeMasked, cropPixels, fitPixels, maskBoundingBox, maskCropRegion, pastePixels, resizeBilinear, resizeNearest, type Rect } from '../image-ops';
import type { LoadedModel } from '../loader';
import { createScheduler } from '../schedulers';
import type { Generator, Scheduler } from '../schedulers/types';
import { checkControlNets, prepareControlNets } from '../controlnet/prepare';
import { checkBatchMember, pipelineGenerators } from './batch-member';
import { bad, checkFit, checkImage, checkInputs, checkMask, checkStrength } from './check';
import { denoise } from './denoise';
import { encodePrompt, zeroNegativeFor } from './encode-prompt';
import { strengthSchedule } from './img2img';
import { rgbToNchw } from './tensors';
import { CancelledError, type GeneratedImage, type InpaintParams, type MaskImage, type PipelineHooks, type Txt2ImgResult } from './types';
import { decodeLatents, encodeImage } from './vae';

const MAX_MASK_BLUR = 64;

/** The region the model works on and how its output goes back. */
interface InpaintGeometry {
  /** width × height RGB the model sees. */
  pixels: Uint8Array;
  /** width × height feathered mask (0..255) for the model's view. */
  mask: Uint8Array;
  /** Generated width × height RGB → final image. */
  finish(generated: Uint8Array): { width: number; height: number; rgb: Uint8Array };
}

function prepareGeometry(p: InpaintParams, blurred: Uint8Array): InpaintGeometry {
  const { width, height } = p;
  const img = p.initImage;
  if (p.onlyMasked) {
    // A1111 "inpaint only masked": crop around the (blurred) mask + padding, grown to the model's aspect ratio.
    const box = maskBoundingBox(blurred, img.width, img.height, 1)!;
    const region: Rect = maskCropRegion(box, p.onlyMasked.padding, img.width, img.height, width, height);
    const pixels = resizeBilinear(cropPixels(img.rgb, img.width, img.height, 3, region), region.width, region.height, 3, width, height);
    const mask = resizeBilinear(cropPixels(blurred, img.width, img.height, 1, region), region.width, region.height, 1, width, height);
    return {
      pixels,
      mask,
      finish(generated) {
        const back = resizeBilinear(generated, width, height, 3, region.width, region.height);
        const pasted = pastePixels(img.rgb, img.width, img.height, 3, back, region);
        return { width: img.width, height: img.height, rgb: compositeMasked(img.rgb, pasted, blurred) };
      },
    };
  }
  const fit = checkFit(p.fit);
  const pixels = fitPixels(img.rgb, img.width, img.height, 3, width, height, fit);
  // 'pad': the new border has no source pixels, so it is repainted (outpainting).
  const mask = fitPixels(blurred, img.width, img.height, 1, width, height, fit, fit === 'pad' ? 255 : undefined);
  return { pixels, mask, finish: (generated) => ({ width, height, rgb: compositeMasked(pixels, generated, mask) }) };
}

/** Step 1 for inpaint: the shared checks, then the image, mask and options only inpaint has. */
function checkInpaintInputs(model: LoadedModel, params: InpaintParams) {
  const { batch, schedulerConfig } = checkInputs(model, params);
  const initImage = checkImage(params.initImage, 'initImage');
  const maskImage = checkMask(params.mask, initImage);
  const strength = checkStrength(params.strength ?? 1);
  checkFit(params.fit);
  const maskBlur = params.maskBlur ?? 0;
  if (typeof maskBlur !== 'number' || !(maskBlur >= 0 && maskBlur <= MAX_MASK_BLUR)) bad(`maskBlur must be a number of pixels from 0 to ${MAX_MASK_BLUR} (got ${String(maskBlur)}).`);
  if (params.onlyMasked !== undefined) {
    const pad = params.onlyMasked?.padding;
    if (!Number.isInteger(pad) || pad < 0) bad(`onlyMasked.padding must be an integer number of pixels ≥ 0 (got ${String(pad)}).`);
  }
  if (!model.hasComponent('vae_encoder')) bad('This model has no vae_encoder, so it cannot inpaint (vae_encoder/model.onnx is missing).');
  const controlUnits = checkControlNets(params.controlNets, params.annotatorsDir);
  const member = checkBatchMember(params);
  // The model would see a crop around the mask; the control image would need the same crop.
  if (controlUnits.length && params.onlyMasked) bad('ControlNet cannot be combined with "inpaint only masked" yet; inpaint the whole picture instead.');
  if (!maskBoundingBox(maskImage.data, maskImage.width, maskImage.height, 1)) bad('mask is empty (all black): nothing to repaint. White (255) marks the area to regenerate.');
  return { batch, schedulerConfig, maskImage, strength, maskBlur, controlUnits, member };
}

/** The model's view of the input after step 4's preprocessing. */
interface PreparedInput {
  geo: InpaintGeometry;
  /** width × height, 1 = repaint: the feathered mask binarized at 0.5. */
  binary: Uint8Array;
  /** The image the model sees, NCHW [1, 3, height, width] in [-1, 1]. */
  image: Float32Array;
  /** [batch, 1, h, w]: the binary mask nearest-resized to latent size (torch interpolate, mode "nearest"). */
  latentMask: Float32Array;
}

/** Step 4: feather the mask, fit the image and mask (or crop both around the mask), binarize the mask at 0.5. */
function prepareImageAndMask(params: InpaintParams, maskImage: MaskImage, maskBlur: number, batch: number): PreparedInput {
  const { width, height } = params;
  const blurred = blurMask(maskImage.data, maskImage.width, maskImage.height, maskBlur);
  const geo = prepareGeometry(params, blurred);
  const binary = new Uint8Array(width * height);
  for (let i = 0; i < binary.length; i++) binary[i] = geo.mask[i] / 255 >= 0.5 ? 1 : 0;
  const image = rgbToNchw(geo.pixels, width, height);
  const latentMaskBytes = resizeNearest(binary, width, height, 1, width / 8, height / 8);
  const latentMask = repeatBatch(Float32Array.from(latentMaskBytes), batch);
  return { geo, binary, image, latentMask };
}

/** What steps 4–6 of one run share (diffusers keeps these on `self`). */
interface InpaintRun {
  model: LoadedModel;
  params: InpaintParams;
  batch: number;
  strength: number;
  scheduler: Scheduler;
  timesteps: number[];
  /** Latent height and width (pixels / 8). */
  h: number;
  w: number;
  nineChannel: boolean;
  /** Batch-wide draws: the initial noise and the schedulers' step noise. */
  generator: Generator;
  /** Draws made once for the whole batch: the VAE encoder's posterior samples. */
  shared: Generator;
}

/**
 * Step 4's latents: pure noise at strength 1, else the image latents noised to the first timestep.
 * The image latents (also what 4-channel blending keeps outside the mask) are encoded once for the
 * whole batch, before the noise is drawn; 9-channel UNets at strength 1 need none.
 */
async function prepareLatents(run: InpaintRun, image: Float32Array): Promise<{ imageLatents: Float32Array | null; noise: Float32Array; latents: Float32Array }> {
  const { model, params, batch, scheduler, strength } = run;
  const needImageLatents = !run.nineChannel || strength < 1;
  const imageLatents = needImageLatents ? repeatBatch(await encodeImage(model, image, params.width, params.height, run.shared), batch) : null;
  const noise = run.generator.randn([batch, 4, run.h, run.w]);
  if (strength >= 1) {
    const latents = noise.slice();
    const s = scheduler.initNoiseSigma;
    if (s !== 1) for (let i = 0; i < latents.length; i++) latents[i] *= s;
    return { imageLatents, noise, latents };
  }
  return { imageLatents, noise, latents: scheduler.addNoise(imageLatents!, noise, run.timesteps[0]) };
}

/** Step 5, 9-channel UNets: the latent mask and the latents of the masked image (image · (mask < 0.5); 0 = grey in [-1, 1]). */
async function maskedImageConditioning(run: InpaintRun, input: PreparedInput): Promise<{ mask: Float32Array; maskedLatents: Float32Array }> {
  const { width, height } = run.params;
  const masked = input.image.slice();
  const px = width * height;
  for (let c = 0; c < 3; c++) for (let p = 0; p < px; p++) if (input.binary[p]) masked[c * px + p] = 0;
  const maskedLatents = await encodeImage(run.model, masked, width, height, run.shared);
  return { mask: input.latentMask, maskedLatents: repeatBatch(maskedLatents, run.batch) };
}

/**
 * 4-channel UNets: the legacy blending of the known region after every step,
 * `x = (1−m)·add_noise(z0, noise, t_next) + m·x`, with z0 itself after the last step.
 */
function knownRegionBlend(run: InpaintRun, imageLatents: Float32Array, noise: Float32Array, latentMask: Float32Array): (x: Float32Array, i: number) => Float32Array {
  const { scheduler, timesteps, batch } = run;
  const plane = run.h * run.w;
  return (x, i) => {
    const last = i === timesteps.length - 1;
    const known = last ? imageLatents : scheduler.addNoise(imageLatents, noise, timesteps[i + 1]);
    const out = new Float32Array(x.length);
    for (let b = 0; b < batch; b++) {
      for (let c = 0; c < 4; c++) {
        const o = (b * 4 + c) * plane;
        for (let p = 0; p < plane; p++) {
          const m = latentMask[b * plane + p];
          out[o + p] = (1 - m) * known[o + p] + m * x[o + p];
        }
      }
    }
    return out;
  };
}

export async function inpaint(model: LoadedModel, params: InpaintParams, hooks: PipelineHooks = {}): Promise<Txt2ImgResult> {
  const started = performance.now();
  const runMsAtStart = model.sessionRunMs();
  const sig = model.signature;

  // 1. Check inputs
  const { batch, schedulerConfig, maskImage, strength, maskBlur, controlUnits, member } = checkInpaintInputs(model, params);
  const scheduler = createScheduler(schedulerConfig);
  const { timesteps, stepsToRun } = strengthSchedule(scheduler, params.steps, strength);
  const { width, height } = params;
  const h = height / 8;
  const w = width / 8;
  const doCfg = params.guidanceScale > 1 && sig.timeCondProjDim === null;
  const nineChannel = sig.unetInChannels === 9;

  if (hooks.isCancelled?.()) throw new CancelledError(0);

  // 2. Encode prompt
  const cond = await encodePrompt(model, {
    prompt: params.prompt, negativePrompt: params.negativePrompt ?? '', steps: stepsToRun, batch, doCfg,
    clipSkip: params.clipSkip, zeroNegative: zeroNegativeFor(model, params.negativePrompt),
  });
  const encodeMs = performance.now() - started;

  // 3. Timesteps (cut by strength; strength 1 runs them all): prepared with the input checks (strengthSchedule)

  // 4. Preprocess image and mask (feather, fit or crop around the mask, binarize at 0.5), then the latents
  const input = prepareImageAndMask(params, maskImage, maskBlur, batch);
  const { batchWide: generator, shared } = pipelineGenerators(params, member);
  const run: InpaintRun = { model, params, batch, strength, scheduler, timesteps, h, w, nineChannel, generator, shared };
  const { imageLatents, noise, latents } = await prepareLatents(run, input.image);

  // 5. Extra conditioning: the masked image for 9-channel UNets, ControlNet units; 4-channel UNets blend instead
  const extra = nineChannel ? await maskedImageConditioning(run, input) : null;
  await model.finished('vae_encoder');
  const control = await prepareControlNets(model, controlUnits, { width, height, batch, doCfg });
  const afterStep = nineChannel ? undefined : knownRegionBlend(run, imageLatents!, noise, input.latentMask);

  // 6. Denoising loop
  const denoiseStarted = performance.now();
  const final = await denoise({
    model, hooks, started, doCfg, scheduler, timesteps, latents, batch, h, w, cond, generator,
    inpaint: extra,
    afterStep,
    control,
    guidanceScale: params.guidanceScale,
    guidanceRescale: params.guidanceRescale ?? 0,
    scheduleSteps: stepsToRun,
    micro: params.sdxl,
  });
  const denoiseMs = performance.now() - denoiseStarted;

  // 7. Decode, then composite onto the input outside the feathered mask
  const decodeStarted = performance.now();
  const decoded = await decodeLatents(model, final, batch, params, params.seed);
  const images: GeneratedImage[] = decoded.map((img) => ({ ...input.geo.finish(img.rgb), seed: img.seed }));
  const decodeMs = performance.now() - decodeStarted;

  return pipelineResult(model, images, scheduler.className, { started, runMsAtStart, encodeMs, denoiseMs, decodeMs, extraRunMs: control?.runMs() }, cond.truncated);
}
