/**
 * txt2img, read top to bottom like diffusers' StableDiffusionPipeline.__call__
 * (and its ONNX twin): 1. check inputs, 2. encode prompt, 3. timesteps,
 * 4. latents, 5. extra conditioning, 6. denoising loop, 7. decode.
 * All tensors are flat float32 NCHW here; fp16 graphs are converted at the
 * session boundary (exact bit conversion, see float16.ts).
 */
import { pipelineResult } from './result';
import type { LoadedModel } from '../loader';
import { createScheduler } from '../schedulers';
import { checkControlNets, prepareControlNets } from '../controlnet/prepare';
import { checkBatchMember, pipelineGenerators } from './batch-member';
import { checkInputs } from './check';
import { denoise } from './denoise';
import { encodePrompt, zeroNegativeFor } from './encode-prompt';
import { CancelledError, type PipelineHooks, type Txt2ImgParams, type Txt2ImgResult } from './types';
import { decodeLatents, neutralInpaintConditioning } from './vae';

export async function txt2img(model: LoadedModel, params: Txt2ImgParams, hooks: PipelineHooks = {}): Promise<Txt2ImgResult> {
  const started = performance.now();
  const runMsAtStart = model.sessionRunMs();
  const sig = model.signature;

  // 1. Check inputs
  const { batch, schedulerConfig } = checkInputs(model, params);
  const controlUnits = checkControlNets(params.controlNets, params.annotatorsDir);
  const member = checkBatchMember(params);
  const h = params.height / 8;
  const w = params.width / 8;
  // CFG only when guidance > 1 and the UNet is not guidance-distilled (time_cond_proj_dim is None).
  const doCfg = params.guidanceScale > 1 && sig.timeCondProjDim === null;

  if (hooks.isCancelled?.()) throw new CancelledError(0); // cancelled while queued

  // 2. Encode prompt (+ negative, "" when none) → prompt_embeds [B or 2B, S, D] per step
  const cond = await encodePrompt(model, {
    prompt: params.prompt, negativePrompt: params.negativePrompt ?? '', steps: params.steps, batch, doCfg,
    clipSkip: params.clipSkip, zeroNegative: zeroNegativeFor(model, params.negativePrompt),
  });
  const encodeMs = performance.now() - started;

  // 3. Prepare timesteps
  const scheduler = createScheduler(schedulerConfig);
  scheduler.setTimesteps(params.steps);
  const timesteps = scheduler.timesteps;

  // 4. Prepare latent variables: randn(B,4,h,w) · init_noise_sigma
  const generator = pipelineGenerators(params, member).batchWide;
  const latents = generator.randn([batch, 4, h, w]);
  if (scheduler.initNoiseSigma !== 1) {
    const s = scheduler.initNoiseSigma;
    for (let i = 0; i < latents.length; i++) latents[i] *= s;
  }

  // 5. Extra conditioning for 9-channel (inpainting) UNets
  const inpaint = sig.unetInChannels === 9 ? await neutralInpaintConditioning(model, batch, h, w) : null;
  // ControlNet units: sessions, control images at the output size (none: the plain UNet path)
  const control = await prepareControlNets(model, controlUnits, { width: params.width, height: params.height, batch, doCfg });

  // 6. Denoising loop
  const denoiseStarted = performance.now();
  const final = await denoise({
    model, hooks, started, doCfg, scheduler, timesteps, latents, batch, h, w, cond, generator, inpaint, control,
    guidanceScale: params.guidanceScale,
    guidanceRescale: params.guidanceRescale ?? 0,
    scheduleSteps: params.steps,
    micro: params.sdxl,
  });
  const denoiseMs = performance.now() - denoiseStarted;

  // 7. Decode
  const decodeStarted = performance.now();
  const images = await decodeLatents(model, final, batch, params, params.seed);
  const decodeMs = performance.now() - decodeStarted;

  return pipelineResult(model, images, scheduler.className, { started, runMsAtStart, encodeMs, denoiseMs, decodeMs, extraRunMs: control?.runMs() }, cond.truncated);
}
