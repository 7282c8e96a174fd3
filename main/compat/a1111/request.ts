/**
 * A1111 `/sdapi/v1/txt2img` and `img2img` request bodies (modules/api/models.py, the
 * StableDiffusionProcessing dataclass fields) → Atelier GenerateRequests.
 *
 * As A1111 (pydantic) does: unknown keys are ignored (clients always send some: SillyTavern posts
 * its own `url`/`auth`/`clip_skip`, Open WebUI whatever its admin put in "A1111 params"), and so
 * are unknown `alwayson_scripts`; numbers may come as numeric strings. Where a field is absent the
 * current model's recommended setting is used (A1111's own defaults — 512×512, 50 steps, CFG 7 —
 * are Stable Diffusion 1.5's and would be wrong for Turbo, LCM or the 64×64 demo model).
 * Sampler names split into sampler + schedule as A1111 does ("DPM++ 2M Karras"); a sampler the
 * engine does not run falls back, as A1111 ≥ 1.9 does, and the response says what ran.
 */
import { randomInt } from 'node:crypto';
import type { ControlNetSummary, ModelSummary } from '../../../common/api/contract';
import type { GenerateRequest } from '../../../common/api/schemas';
import { fromA1111, resolveScheduler, schedulerLabel } from '../../../common/schedulers';
import { decodeBase64Image, ImageInputError, invertMask, toPng } from '../images';
import { seed32 } from '../jobs';
import type { CompatModels } from '../models';
import { A1111Error, invalidField } from './errors';
import { controlNetUnitsFromScripts } from './controlnet';

export type A1111Kind = 'txt2img' | 'img2img';

/** At most this many images per request (batch_size × n_iter); batch_size itself is at most 16. */
export const MAX_IMAGES_PER_REQUEST = 64;
const MAX_BATCH = 16;

/** One A1111 request, ready to queue as `nIter` generate requests. */
export interface A1111Plan {
  kind: A1111Kind;
  model: ModelSummary;
  /** The generate request of the first iteration; iteration i uses seed + i × batchSize. */
  request: GenerateRequest;
  seed: number;
  nIter: number;
  batchSize: number;
  sendImages: boolean;
  /** What the client asked for and what it got instead, in words (reported in `info`). */
  notes: string[];
  /** The request with A1111's defaults filled in, as A1111 echoes it in `parameters`. */
  echo: Record<string, unknown>;
}

type Body = Record<string, unknown>;

/** The fields of A1111's txt2img/img2img request models (modules/api/models.py), echoed in `parameters`. */
const ECHO_FIELDS = new Set(
  (
    'prompt negative_prompt styles seed subseed subseed_strength seed_resize_from_h seed_resize_from_w sampler_name scheduler ' +
    'batch_size n_iter steps cfg_scale width height restore_faces tiling do_not_save_samples do_not_save_grid eta ' +
    'denoising_strength s_min_uncond s_churn s_tmax s_tmin s_noise override_settings override_settings_restore_afterwards ' +
    'refiner_checkpoint refiner_switch_at disable_extra_networks comments enable_hr firstphase_width firstphase_height ' +
    'hr_scale hr_upscaler hr_second_pass_steps hr_resize_x hr_resize_y hr_checkpoint_name hr_sampler_name hr_scheduler ' +
    'hr_prompt hr_negative_prompt sampler_index script_name script_args send_images save_images alwayson_scripts infotext ' +
    'init_images resize_mode image_cfg_scale mask mask_blur_x mask_blur_y mask_blur mask_round inpainting_fill ' +
    'inpaint_full_res inpaint_full_res_padding inpainting_mask_invert initial_noise_multiplier latent_mask include_init_images'
  ).split(' '),
);

/** Coercions in pydantic's lenient style; absent (undefined/null) stays absent. */
function num(body: Body, key: string, loc: string[] = [key], opts: { integer?: boolean } = {}): number | undefined {
  const v = body[key];
  if (v === undefined || v === null || v === '') return undefined;
  const n = typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : NaN;
  if (!Number.isFinite(n)) throw invalidField(loc, 'value is not a valid number', 'type_error.number');
  if (opts.integer && !Number.isInteger(n)) throw invalidField(loc, 'value is not a valid integer', 'type_error.integer');
  return n;
}

function bool(body: Body, key: string): boolean | undefined {
  const v = body[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'boolean') return v;
  if (v === 1 || v === '1' || v === 'true' || v === 'True') return true;
  if (v === 0 || v === '0' || v === 'false' || v === 'False') return false;
  throw invalidField([key], 'value could not be parsed to a boolean', 'type_error.bool');
}

function str(body: Body, key: string): string | undefined {
  const v = body[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw invalidField([key], 'str type expected', 'type_error.str');
  return v;
}

function obj(body: Body, key: string): Body {
  const v = body[key];
  if (v === undefined || v === null) return {};
  if (typeof v !== 'object' || Array.isArray(v)) throw invalidField([key], 'value is not a valid dict', 'type_error.dict');
  return v as Body;
}

/**
 * `listControlNets`: the installed ControlNets, asked only when a request has ControlNet units.
 * Fields are read in a fixed order (prompt, settings, model, counts, seed, sampler, clip skip, size…)
 * so a body with several bad fields always gets the same error.
 */
export async function planA1111(kind: A1111Kind, raw: unknown, models: CompatModels, listControlNets?: () => Promise<ControlNetSummary[]>): Promise<A1111Plan> {
  const body = objectBody(raw);
  const notes: string[] = [];
  const prompt = promptOf(body);
  const negativePrompt = str(body, 'negative_prompt') ?? '';
  const overrides = obj(body, 'override_settings');
  // Must be a dict when present; only ControlNet runs (other scripts are ignored, as SD clients always send some).
  const scripts = obj(body, 'alwayson_scripts');

  const model = await resolveModel(overrides, models);
  const defaults = model.defaults ?? {};
  const { batchSize, nIter } = imageCounts(body);
  const seed = seedOf(body, notes);
  const sampler = samplerChoice(body, defaults, notes);
  const clipSkip = clipSkipOf(overrides, model, notes);
  noteUnsupportedFeatures(body, notes);
  const sendImages = bool(body, 'send_images') ?? true;

  const request: GenerateRequest = {
    modelId: model.id,
    prompt,
    negativePrompt,
    ...sizeStepsCfg(body, defaults),
    seed,
    batchSize,
    source: 'a1111',
    ...(sampler.scheduler ? { scheduler: sampler.scheduler } : {}),
    ...(clipSkip !== undefined ? { clipSkip } : {}),
  };
  const echo = echoParameters(body, request, { overrides, sampler, nIter, sendImages });

  if (kind === 'img2img') await addImg2img(body, request, echo, notes);
  const controlNets = listControlNets ? await controlNetUnitsFromScripts(scripts, listControlNets) : [];
  if (controlNets.length > 0) request.controlNets = controlNets;
  return { kind, model, request, seed, nIter, batchSize, sendImages, notes, echo };
}

type ModelDefaults = NonNullable<ModelSummary['defaults']>;

/** The sampler as the client named it, the schedule type it asked for, and the Atelier scheduler that runs. */
interface SamplerChoice {
  samplerName: string | undefined;
  scheduleType: string | undefined;
  scheduler: string | undefined;
}

/** The body as pydantic takes a request model: a JSON object, else 422 (also POST options' body). */
export function objectBody(raw: unknown): Body {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw invalidField([], 'the request body must be a JSON object', 'type_error.dict');
  return raw as Body;
}

/** The one required field: pydantic tells "missing" from "not a string". */
function promptOf(body: Body): string {
  if (typeof body.prompt !== 'string') {
    throw body.prompt === undefined || body.prompt === null ? invalidField(['prompt'], 'field required', 'value_error.missing') : invalidField(['prompt'], 'str type expected', 'type_error.str');
  }
  return body.prompt;
}

/** Model: override_settings.sd_model_checkpoint, else the current one. */
async function resolveModel(overrides: Body, models: CompatModels): Promise<ModelSummary> {
  const wanted = overrides.sd_model_checkpoint;
  let model: ModelSummary | null;
  if (typeof wanted === 'string' && wanted.trim() !== '') {
    model = await models.find(wanted);
    if (!model) {
      const known = (await models.list()).map((m) => m.id).join(', ');
      throw invalidField(['override_settings', 'sd_model_checkpoint'], `no checkpoint "${wanted}"; available: ${known}`);
    }
  } else model = await models.current();
  if (!model) throw new A1111Error(500, 'No model is installed');
  return model;
}

/** batch_size and n_iter, within what one request may ask for. */
function imageCounts(body: Body): { batchSize: number; nIter: number } {
  const batchSize = num(body, 'batch_size', ['batch_size'], { integer: true }) ?? 1;
  const nIter = num(body, 'n_iter', ['n_iter'], { integer: true }) ?? 1;
  if (batchSize < 1 || batchSize > MAX_BATCH) throw invalidField(['batch_size'], `must be from 1 to ${MAX_BATCH}`, 'value_error.number.not_le');
  if (nIter < 1) throw invalidField(['n_iter'], 'must be at least 1', 'value_error.number.not_ge');
  if (batchSize * nIter > MAX_IMAGES_PER_REQUEST) {
    throw invalidField(['n_iter'], `batch_size × n_iter = ${batchSize * nIter} images; at most ${MAX_IMAGES_PER_REQUEST} per request`, 'value_error.number.not_le');
  }
  return { batchSize, nIter };
}

/** -1 (or below) draws a random seed, as A1111 does; the engine's seeds are 32-bit, so larger ones are reduced and noted. */
function seedOf(body: Body, notes: string[]): number {
  let seed = num(body, 'seed', ['seed'], { integer: true }) ?? -1;
  if (seed < -1) seed = -1;
  if (seed === -1) seed = randomInt(0, 2 ** 32 - 1);
  else if (seed > 2 ** 32 - 1) {
    const reduced = seed32(seed);
    notes.push(`Seed ${seed} is larger than 32 bits; used ${reduced}`);
    seed = reduced;
  }
  return seed;
}

/** Sampler + schedule type (A1111 strips a trailing schedule label from the sampler name). */
function samplerChoice(body: Body, defaults: ModelDefaults, notes: string[]): SamplerChoice {
  const samplerName = str(body, 'sampler_name') ?? str(body, 'sampler_index');
  const scheduleType = str(body, 'scheduler');
  let scheduler: string | undefined = defaults.scheduler;
  if (samplerName && samplerName.trim() !== '') {
    const chosen = fromA1111(samplerName, scheduleType);
    if (chosen.runnable) {
      scheduler = chosen.scheduler;
      notes.push(...chosen.notes);
    } else {
      const fallback = defaults.scheduler ? schedulerLabel(defaults.scheduler) : 'the model’s own sampler';
      notes.push(`Sampler “${samplerName}” is not one Atelier runs; used ${fallback}`);
    }
  } else if (scheduleType && !['automatic', ''].includes(scheduleType.trim().toLowerCase()) && defaults.scheduler) {
    // Only a schedule type: apply it to the model's own sampler.
    const chosen = fromA1111(schedulerLabel(defaults.scheduler).replace(/ Karras$/, ''), scheduleType);
    if (chosen.runnable) scheduler = chosen.scheduler;
    notes.push(...chosen.notes);
  }
  if (scheduler && !resolveScheduler(scheduler).runnable) scheduler = undefined;
  return { samplerName, scheduleType, scheduler };
}

/** Clip skip: A1111's CLIP_stop_at_last_layers, within what this model's text encoder can do. */
function clipSkipOf(overrides: Body, model: ModelSummary, notes: string[]): number | undefined {
  let clipSkip = num(overrides, 'CLIP_stop_at_last_layers', ['override_settings', 'CLIP_stop_at_last_layers'], { integer: true });
  if (clipSkip !== undefined && model.clipSkipMax !== undefined && clipSkip > model.clipSkipMax) {
    notes.push(`Clip skip ${clipSkip} — ${model.name} supports at most ${model.clipSkipMax}; used ${model.clipSkipMax}`);
    clipSkip = model.clipSkipMax;
  }
  // A1111 reads 1 and below as no skip; leave the field out (Atelier's default) rather than send 0 or less, which it refuses.
  if (clipSkip !== undefined && clipSkip <= 1) clipSkip = undefined;
  return clipSkip;
}

/** A1111 features Atelier has no counterpart for: the request still runs, and the response says they were ignored. */
function noteUnsupportedFeatures(body: Body, notes: string[]): void {
  for (const [key, label] of [['enable_hr', 'Hires. fix'], ['restore_faces', 'Face restoration'], ['tiling', 'Tiling']] as const) {
    if (bool(body, key)) notes.push(`${label} is not supported by Atelier; ignored`);
  }
}

/** Size, steps and CFG: the client's, else the model's recommended ones, else A1111's. */
function sizeStepsCfg(body: Body, defaults: ModelDefaults): Pick<GenerateRequest, 'width' | 'height' | 'steps' | 'guidanceScale'> {
  return {
    width: num(body, 'width', ['width'], { integer: true }) ?? defaults.width ?? 512,
    height: num(body, 'height', ['height'], { integer: true }) ?? defaults.height ?? 512,
    steps: num(body, 'steps', ['steps'], { integer: true }) ?? defaults.steps ?? 20,
    guidanceScale: num(body, 'cfg_scale') ?? defaults.guidanceScale ?? 7,
  };
}

/** A1111's `parameters` echo: the body's own A1111 fields with the values the request resolved to. */
function echoParameters(
  body: Body,
  request: GenerateRequest,
  resolved: { overrides: Body; sampler: SamplerChoice; nIter: number; sendImages: boolean },
): Body {
  return {
    // Only A1111's own fields: what a client added (SillyTavern's `url` and `auth`…) is not echoed.
    ...Object.fromEntries(Object.entries(body).filter(([k]) => ECHO_FIELDS.has(k))),
    prompt: request.prompt,
    negative_prompt: request.negativePrompt,
    seed: request.seed,
    sampler_name: resolved.sampler.samplerName ?? null,
    scheduler: resolved.sampler.scheduleType ?? null,
    batch_size: request.batchSize,
    n_iter: resolved.nIter,
    steps: request.steps,
    cfg_scale: request.guidanceScale,
    width: request.width,
    height: request.height,
    override_settings: resolved.overrides,
    send_images: resolved.sendImages,
    save_images: bool(body, 'save_images') ?? false,
  };
}

/** init_images, mask and the inpainting fields (A1111 StableDiffusionProcessingImg2Img). */
async function addImg2img(body: Body, request: GenerateRequest, echo: Body, notes: string[]): Promise<void> {
  const init = body.init_images;
  if (!Array.isArray(init) || init.length === 0 || init[0] === null || init[0] === '') throw new A1111Error(404, 'Init image not found');
  if (init.length > 1) notes.push(`${init.length} init images given; Atelier uses the first`);
  const image = await decodeImage(init[0], ['init_images', 0]);
  request.initImage = { base64: (image.format === 'png' ? image.bytes : await toPng(image.bytes)).toString('base64') };
  request.strength = num(body, 'denoising_strength') ?? 0.75;

  // resize_mode: 0 just resize, 1 crop and resize, 2 resize and fill, 3 latent upscale.
  const resizeMode = num(body, 'resize_mode', ['resize_mode'], { integer: true }) ?? 0;
  request.fit = resizeMode === 1 ? 'crop' : resizeMode === 2 ? 'pad' : 'resize';

  if (body.mask !== undefined && body.mask !== null && body.mask !== '') {
    const mask = await decodeImage(body.mask, ['mask']);
    const invert = (num(body, 'inpainting_mask_invert', ['inpainting_mask_invert'], { integer: true }) ?? 0) === 1;
    request.mask = { base64: (invert ? await invertMask(mask.bytes) : mask.bytes).toString('base64') };
    request.maskBlur = Math.min(64, Math.max(0, num(body, 'mask_blur') ?? 4));
    if (bool(body, 'inpaint_full_res')) {
      request.inpaintOnlyMasked = { padding: Math.min(1024, Math.max(0, Math.round(num(body, 'inpaint_full_res_padding') ?? 32))) };
    }
    const fill = num(body, 'inpainting_fill', ['inpainting_fill'], { integer: true }) ?? 1;
    if (fill !== 1) notes.push(`inpainting_fill ${fill} — Atelier starts the masked area from the original image (A1111 "original")`);
  }
  if (!bool(body, 'include_init_images')) {
    echo.init_images = null;
    echo.mask = null;
  }
  echo.denoising_strength = request.strength;
  echo.resize_mode = resizeMode;
}

async function decodeImage(value: unknown, loc: (string | number)[]) {
  try {
    return await decodeBase64Image(value, loc.join('.'));
  } catch (err) {
    if (err instanceof ImageInputError) throw new A1111Error(422, `Invalid encoded image: ${err.message}`, 'RequestValidationError', [{ loc: ['body', ...loc], msg: err.message, type: 'value_error.image' }]);
    throw err;
  }
}
