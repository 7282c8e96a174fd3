/**
 * The parameters of one generated image — the one schema of that concept. Every other shape is
 * derived from it by picking fields: the API's generate request (common/api/schemas.ts, with the
 * form's bounds), the API's GenerationRecord, the studio's workspace state, the infotext writer's
 * input, the library's stored record. Names are converted only where data leaves the program:
 * the database columns (`guidance_scale` is stored as `cfg`, snake_case) and the files' `atelier`
 * chunk (which keeps `cfg` so files written by older versions and read by older versions agree),
 * and the engine request (main/app/generation-plan.ts).
 *
 * Lenient on purpose: it also validates records read back from files written by older versions,
 * so bounds here are what a stored image can have, not what the form accepts (common/params/bounds.ts).
 * Pure code: no Node, no DOM.
 */
import { z } from 'zod';
import { CONTROL_UNITS_MAX, ControlUnitRecordSchema } from './controlnet';

export const RNG_KINDS = Object.freeze(['cpu', 'cuda'] as const);
export type RngKind = (typeof RNG_KINDS)[number];

/** A LoRA merged for an image, as A1111's `Lora hashes` records it (name + addnet hash, hex). */
export const LoraHashSchema = z.object({ name: z.string().min(1).max(200), hash: z.string().regex(/^[0-9a-fA-F]{10,64}$/) });
export type LoraHash = z.infer<typeof LoraHashSchema>;

export const generationParamsSchema = z.object({
  modelId: z.string(),
  /** Hash of the model's files (hex; A1111's "Model hash" shows its first 10 chars). */
  modelHash: z.string(),
  /** e.g. 'sd15', 'sdxl', 'sd-turbo'. */
  modelFamily: z.string(),
  /** Execution provider actually used, e.g. 'cuda', 'dml', 'cpu'. */
  provider: z.string(),
  /** Which GPU of that provider: the CUDA device / DXGI adapter index (settings.gpuDeviceId); absent for CPU and on older records. */
  deviceId: z.number().int().min(0).max(63).optional(),
  prompt: z.string(),
  negativePrompt: z.string().default(''),
  seed: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
  rng: z.enum(RNG_KINDS),
  /** Our scheduler string: diffusers class name, "+karras" for Karras sigmas (common/schedulers.ts). */
  scheduler: z.string(),
  steps: z.number().int().min(0),
  /** Classifier-free guidance scale (A1111 "CFG scale"; ≤ 1 turns guidance off). */
  guidanceScale: z.number().finite(),
  /** A1111 "Clip skip": 1 = last CLIP layer. Defaulted: records from before it was recorded say nothing, and 1 is what A1111 reads then. */
  clipSkip: z.number().int().min(1).max(12).default(1),
  width: z.number().int().positive(),
  height: z.number().int().positive(),
  /** Position in its batch (A1111 "Batch pos"). */
  batchIndex: z.number().int().min(0).default(0),
  /** Size of the batch it was made in (A1111 "Batch size"): image batchIndex of a batch of this size is redone exactly. Absent on older records. */
  batchSize: z.number().int().min(1).max(64).optional(),
  /** img2img / inpaint denoising strength; null for txt2img. */
  strength: z.number().finite().nullable().default(null),
  /** The inpainting mask: `sha256:…` of a painted mask, `outpaint:l,r,t,b:fill` for outpainting; null for none. */
  maskRef: z.string().nullable().default(null),
  /** The init image: a generation id of the same project, or `sha256:…` of an uploaded file; null for text-to-image. */
  initImageRef: z.string().nullable().default(null),
  /** Generation this one derives from (img2img, inpaint, upscale, "vary this"). */
  parentId: z.string().nullable().default(null),
  /** Free-form stage timings in ms, e.g. { textEncoder: 12, unet: 950, vae: 80 }. */
  timings: z.record(z.string(), z.number()).nullable().default(null),
  /** Milliseconds since the Unix epoch. */
  createdAt: z.number().int().nonnegative().optional(),
  appVersion: z.string().default('0.0.0'),
  /** LoRAs merged into the model for this image (A1111 `Lora hashes`); absent when none. */
  loraHashes: z.array(LoraHashSchema).max(64).optional(),
  /** ControlNet units that shaped the image (common/params/controlnet.ts); absent when none. */
  controlNets: z.array(ControlUnitRecordSchema).max(CONTROL_UNITS_MAX).optional(),
});

/** Everything needed to reproduce one generated image, as stored (its creation time known). */
export type GenerationParams = Omit<z.output<typeof generationParamsSchema>, 'createdAt'> & { createdAt: number };
/** What callers pass: defaults fill batchIndex, strength/mask/init/parent (null), createdAt (now). */
export type GenerationParamsInput = z.input<typeof generationParamsSchema>;

/** The parameters a request asks for (and the studio's form holds): the request side of the same names. */
export const REQUESTED_PARAM_KEYS = Object.freeze([
  'prompt', 'negativePrompt', 'width', 'height', 'steps', 'guidanceScale', 'clipSkip', 'scheduler', 'seed', 'rng',
] as const satisfies ReadonlyArray<keyof GenerationParams>);
export type RequestedParamKey = (typeof REQUESTED_PARAM_KEYS)[number];
export type RequestedParams = Pick<GenerationParams, RequestedParamKey>;

/**
 * The name this concept had before it was unified, still used where data is persisted (the `cfg`
 * column, the `atelier` PNG chunk, export manifests) and accepted when read back.
 */
export const LEGACY_GUIDANCE_KEY = 'cfg';

/** Record → the `atelier` chunk's params (file format: `cfg`, as every earlier version wrote it). */
export function paramsToFileJson<T extends { guidanceScale?: number }>(p: T): Omit<T, 'guidanceScale'> & { cfg?: number } {
  const { guidanceScale, ...rest } = p;
  return guidanceScale === undefined ? rest : { ...rest, [LEGACY_GUIDANCE_KEY]: guidanceScale };
}

/** The `atelier` chunk's params (either name) → the schema's names. Non-objects pass through for the schema to reject. */
export function paramsFromFileJson(json: unknown): unknown {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) return json;
  const o = json as Record<string, unknown>;
  if (!(LEGACY_GUIDANCE_KEY in o) || 'guidanceScale' in o) return o;
  const { [LEGACY_GUIDANCE_KEY]: cfg, ...rest } = o;
  return { ...rest, guidanceScale: cfg };
}

const GENERATION_PARAM_KEYS = Object.freeze(Object.keys(generationParamsSchema.shape) as Array<keyof GenerationParams>);

/** The image's parameters out of a larger record (a library row with rating, notes, paths…). */
export function pickGenerationParams(r: GenerationParams): GenerationParams {
  const out: Record<string, unknown> = {};
  for (const k of GENERATION_PARAM_KEYS) if (r[k] !== undefined) out[k] = r[k];
  return out as GenerationParams;
}
