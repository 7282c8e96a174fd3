/**
 * One validated GenerateRequest → the engine's pipeline request, and each produced image → the
 * record that makes it reproducible. Shared by the API backend and the CLI so both run and record
 * generations identically.
 */
import { AtelierApiError } from '../../common/api/contract';
import type { GenerateParams } from '../../common/api/schemas';
import { formatSchedulerName, parseSchedulerName } from '../../common/api/scheduler-names';
import { outpaintCanvasSize, prepareOutpaint, type GeneratedImage, type MaskImage, type RgbImage, type SchedulerOptions, type ControlNetUnit } from '../engine';
import type { GenerateOutcome, PipelineRequest } from '../engine-host';
import type { GenerationParamsInput } from '../library';
import type { ControlUnitRecord } from '../../common/params/controlnet';

export interface ImageInputs {
  initImage: RgbImage | null;
  mask: MaskImage | null;
  /** Provenance of the init image: a generation id, a file path or a content hash. */
  initRef: string | null;
  maskRef: string | null;
  /** The generation the init image came from: the lineage parent. */
  initGenerationId: string | null;
  /** ControlNet units resolved from the request (installed graphs, decoded control images). */
  controlNets?: ControlNetUnit[];
  /** Where the engine finds the depth / pose annotator models (with controlNets). */
  annotatorsDir?: string;
}

export const NO_IMAGE_INPUTS: ImageInputs = { initImage: null, mask: null, initRef: null, maskRef: null, initGenerationId: null };

export interface GenerationPlan {
  pipeline: PipelineRequest;
  schedulerOptions: SchedulerOptions;
  /** Denoising strength actually used (null for txt2img). */
  strength: number | null;
}

/**
 * Only image `member.index` of the request's batch (`atelier reproduce` of image k of a batch): batch
 * size 1 with the whole batch's noise slice (engine batchMember), so it is the image the batch made.
 */
export function planBatchMember(plan: GenerationPlan, member: { index: number; of: number } | undefined): GenerationPlan {
  if (!member) return plan;
  const batchSize = plan.pipeline.params.batchSize ?? 1;
  if (member.of !== batchSize || member.index < 0 || member.index >= batchSize) {
    throw new AtelierApiError('invalid_request', `batch member ${member.index} of ${member.of} does not fit a batch of ${batchSize}`);
  }
  const pipeline = { ...plan.pipeline, params: { ...plan.pipeline.params, batchSize: 1, batchMember: member } } as PipelineRequest;
  return { ...plan, pipeline };
}

/** Largest canvas a request may ask for (GenerateRequest's width/height bound). */
const MAX_SIDE = 4096;

/**
 * Outpainting: the init image grown by `req.outpaint` on each side, and the mask that repaints the
 * new area plus a feathered seam into the old picture. Run before planGeneration, which then
 * inpaints at the grown canvas size (width/height of the request do not apply).
 */
export function applyOutpaint(req: GenerateParams, inputs: ImageInputs, seed: number, sizeMultiple = 8): ImageInputs {
  const o = req.outpaint;
  if (!o) return inputs;
  if (!inputs.initImage) throw new AtelierApiError('invalid_request', 'outpaint requires initImage (the picture to extend)', [{ path: 'outpaint', message: 'requires initImage' }]);
  if (inputs.mask) throw new AtelierApiError('invalid_request', 'outpaint builds its own mask; leave mask out', [{ path: 'mask', message: 'not allowed with outpaint' }]);
  const { width, height } = outpaintCanvasSize(inputs.initImage, o);
  const m = Math.max(8, sizeMultiple);
  if (width % m || height % m) {
    const more = (n: number) => (m - (n % m)) % m;
    throw new AtelierApiError(
      'invalid_request',
      `outpaint: the grown canvas would be ${width}×${height}, but this model needs multiples of ${m}: add ${more(width)} px more to left+right and ${more(height)} px more to top+bottom`,
      [{ path: 'outpaint', message: `canvas must be a multiple of ${m}` }],
    );
  }
  if (width > MAX_SIDE || height > MAX_SIDE) throw new AtelierApiError('invalid_request', `outpaint: the grown canvas would be ${width}×${height}; at most ${MAX_SIDE} px per side`, [{ path: 'outpaint', message: 'canvas too large' }]);
  const fill = o.fill ?? 'edge';
  const grown = prepareOutpaint(inputs.initImage, o, { fill, seed });
  return { ...inputs, initImage: grown.image, mask: grown.mask, maskRef: `outpaint:${o.left},${o.right},${o.top},${o.bottom}:${fill}` };
}

export function planGeneration(req: GenerateParams, seed: number, inputs: ImageInputs): GenerationPlan {
  // "DPMSolverMultistepScheduler+karras" (imported metadata, UI presets) → class + options.
  const chosen = req.scheduler ? parseSchedulerName(req.scheduler) : null;
  const schedulerOptions: SchedulerOptions = { ...chosen?.options, ...req.schedulerOptions };
  const base = {
    prompt: req.prompt,
    negativePrompt: req.negativePrompt,
    // Outpainting generates the whole grown canvas (applyOutpaint made it the init image).
    width: req.outpaint && inputs.initImage ? inputs.initImage.width : req.width,
    height: req.outpaint && inputs.initImage ? inputs.initImage.height : req.height,
    steps: req.steps,
    guidanceScale: req.guidanceScale,
    guidanceRescale: req.guidanceRescale,
    clipSkip: req.clipSkip,
    scheduler: chosen?.className,
    schedulerOptions,
    seed,
    rng: req.rng,
    batchSize: req.batchSize,
    ...(inputs.controlNets && inputs.controlNets.length > 0 ? { controlNets: inputs.controlNets, ...(inputs.annotatorsDir ? { annotatorsDir: inputs.annotatorsDir } : {}) } : {}),
  };
  const { initImage, mask } = inputs;
  if (!initImage) return { pipeline: { mode: 'txt2img', params: base }, schedulerOptions, strength: null };
  // Inpainting repaints the masked area fully by default; img2img keeps a quarter of the input.
  const strength = req.strength ?? (mask ? 1 : 0.75);
  const pipeline: PipelineRequest = mask
    ? { mode: 'inpaint', params: { ...base, initImage, mask, strength, fit: req.fit, maskBlur: req.maskBlur, onlyMasked: req.inpaintOnlyMasked } }
    : { mode: 'img2img', params: { ...base, initImage, strength, fit: req.fit } };
  return { pipeline, schedulerOptions, strength };
}

export interface RecordContext {
  req: GenerateParams;
  plan: GenerationPlan;
  inputs: ImageInputs;
  outcome: GenerateOutcome;
  model: { id: string; hash: string; family: string };
  appVersion: string;
  /** LoRAs the engine merged for this generation (name + addnet hash), recorded as A1111's `Lora hashes`. */
  loraHashes?: Array<{ name: string; hash: string }>;
  /** ControlNet units as recorded (installed name, graph hash, control image reference). */
  controlNets?: ControlUnitRecord[];
  /** The GPU index the engine's sessions were created on (cuda / dml); absent for CPU. */
  deviceId?: number;
}

export function generationRecord(ctx: RecordContext, img: GeneratedImage, batchIndex: number): GenerationParamsInput {
  const { req, plan, inputs, outcome, model } = ctx;
  return {
    modelId: model.id,
    modelHash: model.hash,
    modelFamily: model.family,
    provider: outcome.provider,
    ...(ctx.deviceId !== undefined ? { deviceId: ctx.deviceId } : {}),
    prompt: req.prompt,
    negativePrompt: req.negativePrompt,
    seed: img.seed,
    rng: req.rng,
    scheduler: formatSchedulerName(outcome.scheduler, plan.schedulerOptions),
    steps: req.steps,
    guidanceScale: req.guidanceScale,
    clipSkip: req.clipSkip ?? 1,
    width: img.width,
    height: img.height,
    batchIndex,
    batchSize: req.batchSize,
    strength: plan.strength,
    initImageRef: inputs.initRef,
    maskRef: inputs.maskRef,
    // Variants made from a generation (img2img, inpaint) hang under it in the lineage tree.
    parentId: req.parentId ?? inputs.initGenerationId ?? null,
    timings: outcome.timings,
    appVersion: ctx.appVersion,
    ...(ctx.loraHashes && ctx.loraHashes.length > 0 ? { loraHashes: ctx.loraHashes } : {}),
    ...(ctx.controlNets && ctx.controlNets.length > 0 ? { controlNets: ctx.controlNets } : {}),
  };
}
