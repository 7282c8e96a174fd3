/**
 * img2img, like diffusers' StableDiffusionImg2ImgPipeline.__call__:
 * 1. check inputs, 2. encode prompt, 3. timesteps cut by strength (`get_timesteps`),
 * 4. preprocess + VAE-encode the init image, add noise at the first timestep,
 * 5. extra conditioning, 6. denoising loop, 7. decode.
 */
import { pipelineResult } from './result';
import { repeatBatch } from '../cfg';
import { fitPixels } from '../image-ops';
import type { LoadedModel } from '../loader';
import { createScheduler, LCMScheduler } from '../schedulers';
import type { Scheduler } from '../schedulers/types';
import { checkControlNets, prepareControlNets } from '../controlnet/prepare';
import { checkBatchMember, pipelineGenerators } from './batch-member';
import { bad, checkFit, checkImage, checkInputs, checkStrength, lcmOriginalSteps, strengthSteps } from './check';
import { denoise } from './denoise';
import { encodePrompt, zeroNegativeFor } from './encode-prompt';
import { rgbToNchw } from './tensors';
import { CancelledError, type Img2ImgParams, type PipelineHooks, type Txt2ImgResult } from './types';
import { decodeLatents, encodeImage, neutralInpaintConditioning } from './vae';

/**
 * diffusers `get_timesteps` + `set_begin_index`: the timesteps from `tStart·order` on.
 * Returns the timesteps to run.
 */
export function strengthTimesteps(scheduler: Scheduler, steps: number, tStart: number): number[] {
  scheduler.setTimesteps(steps);
  const begin = tStart * scheduler.order;
  scheduler.setBeginIndex?.(begin);
  return scheduler.timesteps.slice(begin);
}

/**
 * The timesteps a strength < 1 run uses, and the steps the prompt schedule spans.
 *  - LCMScheduler (diffusers LatentConsistencyModelImg2ImgPipeline): all N steps run, drawn from the
 *    first int(original_inference_steps·strength) training timesteps (`set_timesteps(N, strength=…)`);
 *  - every other scheduler: diffusers `get_timesteps`, i.e. the last int(N·strength) of N.
 */
export function strengthSchedule(scheduler: Scheduler, steps: number, strength: number): { timesteps: number[]; stepsToRun: number } {
  if (scheduler instanceof LCMScheduler) {
    const original = lcmOriginalSteps(scheduler.config);
    const available = Math.floor(original * strength);
    if (available < steps) {
      bad(
        `LCM with strength ${strength} draws its ${steps} steps from int(${original}·${strength}) = ${available} timesteps; ` +
          `raise strength to at least ${Math.min(1, steps / original).toFixed(2)} or lower steps.`,
      );
    }
    scheduler.setTimesteps(steps, strength);
    return { timesteps: scheduler.timesteps.slice(), stepsToRun: steps };
  }
  const { init, tStart } = strengthSteps(steps, strength);
  return { timesteps: strengthTimesteps(scheduler, steps, tStart), stepsToRun: init };
}

export async function img2img(model: LoadedModel, params: Img2ImgParams, hooks: PipelineHooks = {}): Promise<Txt2ImgResult> {
  const started = performance.now();
  const runMsAtStart = model.sessionRunMs();
  const sig = model.signature;

  // 1. Check inputs
  const { batch, schedulerConfig } = checkInputs(model, params);
  const initImage = checkImage(params.initImage, 'initImage');
  const strength = checkStrength(params.strength);
  const fit = checkFit(params.fit);
  const controlUnits = checkControlNets(params.controlNets, params.annotatorsDir);
  const member = checkBatchMember(params);
  if (!model.hasComponent('vae_encoder')) bad('This model has no vae_encoder, so it cannot do img2img (vae_encoder/model.onnx is missing).');
  const scheduler = createScheduler(schedulerConfig);
  const { timesteps, stepsToRun } = strengthSchedule(scheduler, params.steps, strength);
  const { width, height } = params;
  const h = height / 8;
  const w = width / 8;
  const doCfg = params.guidanceScale > 1 && sig.timeCondProjDim === null;

  if (hooks.isCancelled?.()) throw new CancelledError(0);

  // 2. Encode prompt; prompt-editing schedules span the steps that actually run
  const cond = await encodePrompt(model, {
    prompt: params.prompt, negativePrompt: params.negativePrompt ?? '', steps: stepsToRun, batch, doCfg,
    clipSkip: params.clipSkip, zeroNegative: zeroNegativeFor(model, params.negativePrompt),
  });
  const encodeMs = performance.now() - started;

  // 3. Timesteps, cut by strength: prepared with the input checks (strengthSchedule)

  // 4. Preprocess the image (fit to width × height, [-1, 1]), encode, noise it to the first timestep
  // The init image is encoded once for the whole batch; noise and step noise are drawn batch-wide.
  const { batchWide: generator, shared } = pipelineGenerators(params, member);
  const pixels = fitPixels(initImage.rgb, initImage.width, initImage.height, 3, width, height, fit);
  const imageLatents = await encodeImage(model, rgbToNchw(pixels, width, height), width, height, shared);
  await model.finished('vae_encoder');
  const noise = generator.randn([batch, 4, h, w]);
  const latents = scheduler.addNoise(repeatBatch(imageLatents, batch), noise, timesteps[0]);

  // 5. 9-channel UNets: mask everything over a neutral image (A1111's img2img with inpainting models)
  const inpaint = sig.unetInChannels === 9 ? await neutralInpaintConditioning(model, batch, h, w) : null;
  // ControlNet units: the control image is fitted like the init image, so structure and photo line up
  const control = await prepareControlNets(model, controlUnits, { width, height, batch, doCfg });

  // 6. Denoising loop
  const denoiseStarted = performance.now();
  const final = await denoise({
    model, hooks, started, doCfg, scheduler, timesteps, latents, batch, h, w, cond, generator, inpaint, control,
    guidanceScale: params.guidanceScale,
    guidanceRescale: params.guidanceRescale ?? 0,
    scheduleSteps: stepsToRun,
    micro: params.sdxl,
  });
  const denoiseMs = performance.now() - denoiseStarted;

  // 7. Decode
  const decodeStarted = performance.now();
  const images = await decodeLatents(model, final, batch, params, params.seed);
  const decodeMs = performance.now() - decodeStarted;

  return pipelineResult(model, images, scheduler.className, { started, runMsAtStart, encodeMs, denoiseMs, decodeMs, extraRunMs: control?.runMs() }, cond.truncated);
}
