/**
 * txt2img, read top to bottom like diffusers' StableDiffusionPipeline.__call__
 * (and its ONNX twin): 1. check inputs, 2. encode prompt, 3. timesteps,
 * 4. latents, 5. extra conditioning, 6. denoising loop, 7. decode.
 * All tensors are flat float32 NCHW here; fp16 graphs are converted at the
 * session boundary (exact bit conversion, see float16.ts).
 */
import { cfgCombine, concatBatch, condHalf, repeatBatch, rescaleNoiseCfg } from './cfg';
import { fromFloat16Array, toFloat16Array } from './float16';
import type { LoadedModel } from './loader';
import { SUPPORTED_SCHEDULERS } from './model-info';
import type { EngineSession, EngineTensor, TensorInfo } from './ort-backend';
import { createGenerator } from './random';
import { createScheduler, swapSchedulerClass } from './schedulers';
import type { SchedulerConfig } from './schedulers/types';

export interface Txt2ImgParams {
  prompt: string;
  negativePrompt?: string;
  width: number;
  height: number;
  steps: number;
  guidanceScale: number;
  guidanceRescale?: number;
  /** diffusers scheduler class name; default = the model's scheduler_config.json. */
  scheduler?: string;
  /** scheduler_config.json overrides on top of the (possibly swapped) config, e.g. { use_karras_sigmas: true } for DPM++ 2M Karras. */
  schedulerOptions?: SchedulerOptions;
  seed: number;
  rng: 'cpu' | 'cuda';
  batchSize?: number;
}

export interface PipelineHooks {
  onStep?(p: { step: number; total: number; elapsedMs: number; previewLatents?: Float32Array; latentShape: number[] }): void;
  isCancelled?(): boolean;
  /** Attach `previewLatents` every N steps (and on the last step); unset = no previews. */
  previewEvery?: number;
}

export interface GeneratedImage {
  width: number;
  height: number;
  rgb: Uint8Array;
  seed: number;
}

export interface Txt2ImgResult {
  images: GeneratedImage[];
  provider: string;
  scheduler: string;
  timings: { totalMs: number; sessionRunMs: number; overheadMs: number; encodeMs: number; denoiseMs: number; decodeMs: number };
  truncatedPrompt: boolean;
}

export class CancelledError extends Error {
  override name = 'CancelledError';
  constructor(readonly step: number) {
    super(`Generation cancelled before step ${step + 1}.`);
  }
}

/** Invalid txt2img parameters (raised before any session runs). */
export class PipelineInputError extends Error {
  override name = 'PipelineInputError';
}

const MAX_BATCH = 16;

/** The scheduler settings a user may change per generation (the rest stays the model's). */
export interface SchedulerOptions {
  use_karras_sigmas?: boolean;
  use_lu_lambdas?: boolean;
  timestep_spacing?: 'leading' | 'trailing' | 'linspace';
  solver_order?: number;
  final_sigmas_type?: 'zero' | 'sigma_min';
}
export const SCHEDULER_OPTION_KEYS: readonly (keyof SchedulerOptions)[] = Object.freeze([
  'use_karras_sigmas',
  'use_lu_lambdas',
  'timestep_spacing',
  'solver_order',
  'final_sigmas_type',
]);

// ---------------------------------------------------------------------------
// Session-boundary helpers: the only place that knows about fp16 / int dtypes.
// ---------------------------------------------------------------------------

function inputInfo(session: EngineSession, name: string): TensorInfo {
  const info = session.inputs.find((i) => i.name === name);
  if (!info) throw new Error(`${session.modelPath} has no input "${name}"`);
  return info;
}

function floatTensor(info: TensorInfo, data: Float32Array, dims: number[]): EngineTensor {
  return info.type === 'float16' ? { type: 'float16', data: toFloat16Array(data), dims } : { type: 'float32', data, dims };
}

function toFloat32(t: EngineTensor): Float32Array {
  if (t.type === 'float32') return t.data as Float32Array;
  if (t.type === 'float16') return fromFloat16Array(t.data as Uint16Array);
  throw new Error(`expected a float tensor, got ${t.type}`);
}

function timestepTensor(model: LoadedModel, t: number): EngineTensor {
  const { type, rank, length } = model.signature.timestep;
  const dims = rank === 0 ? [] : [length];
  const n = rank === 0 ? 1 : length;
  if (type === 'int64') return { type, data: new BigInt64Array(n).fill(BigInt(Math.round(t))), dims };
  const f = new Float32Array(n).fill(t);
  return type === 'float16' ? { type, data: toFloat16Array(f), dims } : { type: 'float32', data: f, dims };
}

// ---------------------------------------------------------------------------
// Steps
// ---------------------------------------------------------------------------

function checkInputs(model: LoadedModel, p: Txt2ImgParams): { batch: number; schedulerConfig: SchedulerConfig } {
  const bad = (msg: string): never => {
    throw new PipelineInputError(msg);
  };
  if (!model.signature.supported) {
    bad(`${model.signature.family.toUpperCase()} models are detected but not yet supported by txt2img.`);
  }
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
  return { batch, schedulerConfig };
}

/** Run the text encoder on one prompt → last_hidden_state [1, S, D] as float32. */
async function encodeText(model: LoadedModel, text: string): Promise<{ embeds: Float32Array; dims: number[]; truncated: boolean }> {
  const { ids, truncated } = model.tokenizer.encodePadded(text, model.signature.sequenceLength);
  const session = await model.session('text_encoder');
  const input: EngineTensor =
    model.signature.inputIdsType === 'int64'
      ? { type: 'int64', data: BigInt64Array.from(ids, (i) => BigInt(i)), dims: [1, ids.length] }
      : { type: 'int32', data: Int32Array.from(ids), dims: [1, ids.length] };
  const out = await session.run({ input_ids: input });
  const lhs = out.last_hidden_state;
  return { embeds: toFloat32(lhs), dims: lhs.dims, truncated };
}

/**
 * Grey-image latents per model and size. Encoders that output `latent_sample` sample inside the
 * graph (RandomNormalLike), so the first result is kept: same seed → same image within a session.
 */
const greyLatentCache = new WeakMap<LoadedModel, Map<string, Float32Array>>();

/** 9-channel UNets: txt2img = inpaint everything (mask = 1) over the latents of a neutral grey image (as A1111). */
async function inpaintConditioning(model: LoadedModel, batch: number, h: number, w: number): Promise<{ mask: Float32Array; maskedLatents: Float32Array }> {
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

/** Interleave per-sample [4ch latents | 1ch mask | 4ch masked latents] into a 9-channel NCHW batch. */
function concatChannels(latents: Float32Array, mask: Float32Array, masked: Float32Array, batch: number, plane: number): Float32Array {
  const out = new Float32Array(batch * 9 * plane);
  for (let b = 0; b < batch; b++) {
    const o = b * 9 * plane;
    out.set(latents.subarray(b * 4 * plane, (b + 1) * 4 * plane), o);
    out.set(mask.subarray(b * plane, (b + 1) * plane), o + 4 * plane);
    out.set(masked.subarray(b * 4 * plane, (b + 1) * 4 * plane), o + 5 * plane);
  }
  return out;
}

/** NCHW float in [-1, 1] (one sample) → interleaved RGB bytes: clip(x/2 + 0.5, 0, 1)·255, rounded. */
function toRgb(sample: Float32Array, width: number, height: number): Uint8Array {
  const plane = width * height;
  const rgb = new Uint8Array(plane * 3);
  for (let c = 0; c < 3; c++) {
    for (let p = 0; p < plane; p++) {
      const v = Math.min(1, Math.max(0, sample[c * plane + p] / 2 + 0.5));
      rgb[p * 3 + c] = Math.round(v * 255);
    }
  }
  return rgb;
}

// ---------------------------------------------------------------------------
// txt2img
// ---------------------------------------------------------------------------

export async function txt2img(model: LoadedModel, params: Txt2ImgParams, hooks: PipelineHooks = {}): Promise<Txt2ImgResult> {
  const started = performance.now();
  const runMsAtStart = model.sessionRunMs();
  const sig = model.signature;

  // 1. Check inputs
  const { batch, schedulerConfig } = checkInputs(model, params);
  const h = params.height / 8;
  const w = params.width / 8;
  const plane = h * w;
  const latentShape = [batch, 4, h, w];
  // CFG only when guidance > 1 and the UNet is not guidance-distilled (time_cond_proj_dim is None).
  const doCfg = params.guidanceScale > 1 && sig.timeCondProjDim === null;

  if (hooks.isCancelled?.()) throw new CancelledError(0); // cancelled while queued

  // 2. Encode prompt (+ negative, "" when none) → prompt_embeds [B or 2B, S, D]
  const pos = await encodeText(model, params.prompt);
  let truncatedPrompt = pos.truncated;
  let promptEmbeds = repeatBatch(pos.embeds, batch);
  if (doCfg) {
    const neg = await encodeText(model, params.negativePrompt ?? '');
    truncatedPrompt ||= neg.truncated;
    promptEmbeds = concatBatch(repeatBatch(neg.embeds, batch), promptEmbeds);
  }
  const [, seqLen, hidden] = pos.dims;
  await model.finished('text_encoder');
  const encodeMs = performance.now() - started;

  // 3. Prepare timesteps
  const scheduler = createScheduler(schedulerConfig);
  scheduler.setTimesteps(params.steps);
  const timesteps = scheduler.timesteps;

  // 4. Prepare latent variables: randn(B,4,h,w) · init_noise_sigma
  const generator = createGenerator(params.seed, params.rng);
  let latents = generator.randn(latentShape);
  if (scheduler.initNoiseSigma !== 1) {
    const s = scheduler.initNoiseSigma;
    for (let i = 0; i < latents.length; i++) latents[i] *= s;
  }

  // 5. Extra conditioning for 9-channel (inpainting) UNets
  const inpaint = sig.unetInChannels === 9 ? await inpaintConditioning(model, batch, h, w) : null;

  // 6. Denoising loop
  const denoiseStarted = performance.now();
  const unet = await model.session('unet');
  const unetBatch = doCfg ? 2 * batch : batch;
  const ehsTensor = floatTensor(inputInfo(unet, 'encoder_hidden_states'), promptEmbeds, [unetBatch, seqLen, hidden]);
  const sampleInfo = inputInfo(unet, 'sample');
  const phi = params.guidanceRescale ?? 0;
  for (let i = 0; i < timesteps.length; i++) {
    const t = timesteps[i];
    if (hooks.isCancelled?.()) throw new CancelledError(i);

    // expand the latents for classifier-free guidance, then scale for the scheduler
    let modelInput = doCfg ? concatBatch(latents, latents) : latents;
    modelInput = scheduler.scaleModelInput(modelInput, t);
    let channels = 4;
    if (inpaint) {
      const mask = doCfg ? concatBatch(inpaint.mask, inpaint.mask) : inpaint.mask;
      const masked = doCfg ? concatBatch(inpaint.maskedLatents, inpaint.maskedLatents) : inpaint.maskedLatents;
      modelInput = concatChannels(modelInput, mask, masked, unetBatch, plane);
      channels = 9;
    }

    // predict the noise residual
    const out = await unet.run({
      sample: floatTensor(sampleInfo, modelInput, [unetBatch, channels, h, w]),
      timestep: timestepTensor(model, t),
      encoder_hidden_states: ehsTensor,
    });
    let noisePred = toFloat32(out.out_sample);

    // perform guidance (+ rescale, Lin et al. 2023)
    if (doCfg) {
      const guided = cfgCombine(noisePred, params.guidanceScale);
      noisePred = phi > 0 ? rescaleNoiseCfg(guided, condHalf(noisePred), phi, batch) : guided;
    }

    // compute the previous noisy sample x_t → x_t-1
    const res = scheduler.step(noisePred, t, latents, { generator });
    latents = res.prevSample;

    if (hooks.onStep) {
      const every = hooks.previewEvery ?? 0;
      const last = i === timesteps.length - 1;
      const wantPreview = every > 0 && ((i + 1) % every === 0 || last);
      hooks.onStep({
        step: i + 1,
        total: timesteps.length,
        elapsedMs: performance.now() - started,
        latentShape,
        ...(wantPreview ? { previewLatents: (res.predOriginalSample ?? res.denoised ?? latents).slice() } : {}),
      });
    }
  }
  await model.finished('unet');
  const denoiseMs = performance.now() - denoiseStarted;

  // 7. Decode: vae_decoder(latents / scaling_factor), one sample at a time (fp16 VAEs misbehave at batch > 1)
  const decodeStarted = performance.now();
  const vae = await model.session('vae_decoder');
  const latentInfo = inputInfo(vae, 'latent_sample');
  const images: GeneratedImage[] = [];
  for (let b = 0; b < batch; b++) {
    const one = latents.slice(b * 4 * plane, (b + 1) * 4 * plane);
    for (let i = 0; i < one.length; i++) one[i] /= model.scalingFactor;
    const out = await vae.run({ latent_sample: floatTensor(latentInfo, one, [1, 4, h, w]) });
    const sample = out.sample;
    const [, , oh, ow] = sample.dims;
    if (oh !== params.height || ow !== params.width) {
      throw new Error(`vae_decoder returned ${ow}×${oh} for a ${params.width}×${params.height} request (expected an 8× upsampling VAE).`);
    }
    images.push({ width: ow, height: oh, rgb: toRgb(toFloat32(sample), ow, oh), seed: params.seed });
  }
  await model.finished('vae_decoder');
  const decodeMs = performance.now() - decodeStarted;

  const totalMs = performance.now() - started;
  const sessionRunMs = model.sessionRunMs() - runMsAtStart;
  return {
    images,
    provider: model.provider,
    scheduler: scheduler.className,
    timings: { totalMs, sessionRunMs, overheadMs: Math.max(0, totalMs - sessionRunMs), encodeMs, denoiseMs, decodeMs },
    truncatedPrompt,
  };
}
