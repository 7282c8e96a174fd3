/** Step 6, shared by txt2img, img2img and inpaint: the denoising loop. */
import { cfgCombine, concatBatch, condHalf, rescaleNoiseCfg } from '../cfg';
import { timestepFor, type ControlNetStack } from '../controlnet/runner';
import { releaseControlNets } from '../controlnet/sessions';
import type { LoadedModel } from '../loader';
import type { EngineTensor } from '../ort-backend';
import type { Generator, Scheduler } from '../schedulers/types';
import { extraUnetInputs } from './conditioning';
import type { PromptConditioning } from './encode-prompt';
import { concatChannels, floatTensor, inputInfo, timestepTensor, toFloat32 } from './tensors';
import { CancelledError, type PipelineHooks, type SdxlMicroConditioning } from './types';

export interface DenoiseArgs {
  model: LoadedModel;
  hooks: PipelineHooks;
  /** performance.now() at the start of the request (for `elapsedMs`). */
  started: number;
  guidanceScale: number;
  guidanceRescale: number;
  doCfg: boolean;
  scheduler: Scheduler;
  /** The timesteps to run (already cut for img2img strength). */
  timesteps: number[];
  /** Initial latents [batch, 4, h, w]. */
  latents: Float32Array;
  batch: number;
  h: number;
  w: number;
  cond: PromptConditioning;
  /** Prompt-schedule steps the timesteps map onto (usually the steps that run). */
  scheduleSteps: number;
  generator: Generator;
  /** 9-channel UNets: mask [batch, 1, h, w] and masked-image latents [batch, 4, h, w]. */
  inpaint?: { mask: Float32Array; maskedLatents: Float32Array } | null;
  /** Called after each scheduler step with the loop index; returns the latents to continue with (legacy inpaint blending). */
  afterStep?: (latents: Float32Array, i: number) => Float32Array;
  /** SDXL `time_ids` inputs (diffusers defaults when absent). */
  micro?: SdxlMicroConditioning;
  /** ControlNet units and the UNet that takes their residuals; absent = the plain UNet path, unchanged. */
  control?: ControlNetStack | null;
}

/** 0-based prompt-schedule step for loop index `i` (Heun/PNDM run more UNet calls than steps). */
export function scheduleStep(i: number, loopLength: number, scheduleSteps: number): number {
  if (loopLength <= scheduleSteps) return i;
  return Math.min(scheduleSteps - 1, Math.floor((i * scheduleSteps) / loopLength));
}

export async function denoise(a: DenoiseArgs): Promise<Float32Array> {
  const { model, hooks, scheduler, timesteps, batch, h, w, doCfg, cond } = a;
  const plane = h * w;
  const latentShape = [batch, 4, h, w];
  const control = a.control ?? null;
  const unet = control ? control.unet : await model.session('unet');
  const ehsInfo = inputInfo(unet, 'encoder_hidden_states');
  // Fixed sequence axis (rare: static-shape exports): only whole chunks that fit are used.
  const fixedSeq = ehsInfo.shape[1];
  if (typeof fixedSeq === 'number' && fixedSeq > 0 && fixedSeq < cond.seqLen) cond.limitSequence(fixedSeq);
  const sampleInfo = inputInfo(unet, 'sample');
  const unetBatch = doCfg ? 2 * batch : batch;
  const ehsCache = new Map<string, EngineTensor>();
  const inpaint = a.inpaint
    ? {
        mask: doCfg ? concatBatch(a.inpaint.mask, a.inpaint.mask) : a.inpaint.mask,
        masked: doCfg ? concatBatch(a.inpaint.maskedLatents, a.inpaint.maskedLatents) : a.inpaint.maskedLatents,
      }
    : null;
  // SDXL text_embeds/time_ids, LCM timestep_cond (w-embedding; LCM never doubles the batch for CFG)
  const extra = extraUnetInputs({ model, unet, cond, batch, doCfg, width: w * 8, height: h * 8, guidanceScale: a.guidanceScale, micro: a.micro });
  let latents = a.latents;

  for (let i = 0; i < timesteps.length; i++) {
    const t = timesteps[i];
    if (hooks.isCancelled?.()) throw new CancelledError(i);

    // conditioning for this step (prompt editing / alternation switch texts between steps)
    const step = scheduleStep(i, timesteps.length, a.scheduleSteps);
    const key = cond.keyAt(step);
    let ehs = ehsCache.get(key);
    if (!ehs) ehsCache.set(key, (ehs = floatTensor(ehsInfo, cond.embedsAt(step), [unetBatch, cond.seqLen, cond.hidden])));

    // expand the latents for classifier-free guidance, then scale for the scheduler
    let modelInput = doCfg ? concatBatch(latents, latents) : latents;
    modelInput = scheduler.scaleModelInput(modelInput, t);
    const controlInput = modelInput;
    let channels = 4;
    if (inpaint) {
      modelInput = concatChannels(modelInput, inpaint.mask, inpaint.masked, unetBatch, plane);
      channels = 9;
    }

    // ControlNet(s): residuals from the same (4-channel) input, summed over the active units
    const extraFeeds = extra.feedsAt(step);
    const residuals = control
      ? await control.residualsAt({
          i, total: timesteps.length, t, sample: controlInput, extras: extraFeeds,
          embeds: cond.embedsAt(step), embedsKey: key, seqLen: cond.seqLen, hidden: cond.hidden,
        })
      : null;

    // predict the noise residual
    const out = await unet.run({
      sample: floatTensor(sampleInfo, modelInput, [unetBatch, channels, h, w]),
      // a ControlNet UNet may be a separate graph (Amuse controlnet/): its own timestep dtype
      timestep: control ? timestepFor(inputInfo(unet, 'timestep'), t) : timestepTensor(model, t),
      encoder_hidden_states: ehs,
      ...extraFeeds,
      ...residuals,
    });
    let noisePred = toFloat32(out.out_sample);

    // perform guidance (+ rescale, Lin et al. 2023)
    if (doCfg) {
      const guided = cfgCombine(noisePred, a.guidanceScale);
      noisePred = a.guidanceRescale > 0 ? rescaleNoiseCfg(guided, condHalf(noisePred), a.guidanceRescale, batch) : guided;
    }

    // compute the previous noisy sample x_t → x_t-1
    const res = scheduler.step(noisePred, t, latents, { generator: a.generator });
    const last = i === timesteps.length - 1;
    // LCM: the image is the last step's `denoised` (diffusers decodes `denoised`, not `latents`).
    latents = last && res.denoised ? res.denoised : res.prevSample;
    if (a.afterStep) latents = a.afterStep(latents, i);

    if (hooks.onStep) {
      const every = hooks.previewEvery ?? 0;
      const wantPreview = every > 0 && ((i + 1) % every === 0 || last);
      hooks.onStep({
        step: i + 1,
        total: timesteps.length,
        elapsedMs: performance.now() - a.started,
        latentShape,
        ...(wantPreview ? { previewLatents: (res.denoised ?? res.predOriginalSample ?? latents).slice() } : {}),
      });
    }
  }
  await model.finished('unet');
  if (control && model.lowMemory) await releaseControlNets(model);
  return latents;
}
