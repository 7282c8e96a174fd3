/**
 * Request/response schemas of the Atelier API. Pure code: imported by the Node side (to validate
 * every payload where it enters) and by the renderer (for types and client-side form checks).
 * It must not import anything from Node or the DOM (enforced by scripts/check-layers.mjs).
 */
import { z } from 'zod';
import { PROVIDER_CHOICES } from '../providers';
import { LoraHashSchema, RNG_KINDS, type RequestedParamKey } from '../params/generation';
import { CONTROL_FITS, CONTROL_UNITS_MAX, CONTROL_WEIGHT_MAX, ControlAnnotatorSchema } from '../params/controlnet';
import { GENERATE_BOUNDS as B, multipleProblem, rangeProblem, WHOLE_NUMBER_PROBLEM, type NumberBounds } from '../params/bounds';

export const RngKind = z.enum(RNG_KINDS);
export const ExecutionProviderChoice = z.enum(PROVIDER_CHOICES);

const id = z.string().min(1).max(200);
/** A number within one row of the shared bounds table (common/params/bounds.ts), with its messages. */
const bounded = (b: NumberBounds) => {
  let n = z.number().min(b.min, rangeProblem(b)).max(b.max, rangeProblem(b));
  if (b.integer) n = n.int(WHOLE_NUMBER_PROBLEM);
  const m = b.multipleOf;
  return m ? n.refine((v) => v % m === 0, { message: multipleProblem(m) }) : n;
};

export const SchedulerOptions = z
  .object({
    use_karras_sigmas: z.boolean().optional(),
    use_lu_lambdas: z.boolean().optional(),
    timestep_spacing: z.enum(['leading', 'trailing', 'linspace']).optional(),
    solver_order: z.number().int().min(1).max(3).optional(),
    final_sigmas_type: z.enum(['zero', 'sigma_min']).optional(),
  })
  .strict();

export const ImageSource = z.union([
  z.object({ generationId: id }).strict(),
  z.object({ base64: z.string().min(1).max(90_000_000) }).strict(),
]);

/** A control image the project keeps (`<project>/controls/`): the `imageRef` a ControlNet unit recorded for an opened file. */
const controlImageRef = z.string().regex(/^sha256:[0-9a-f]{64}$/, 'must be "sha256:" followed by 64 lowercase hex digits (the imageRef a ControlNet unit recorded for an opened file)');

/** A ControlNet unit's image: like any image input, or a control image the project already keeps (by its `sha256:` ref). */
export const ControlImageSource = z.union([...ImageSource.options, z.object({ ref: controlImageRef }).strict()]);

export const UpscaleFactor = z.union([z.literal(2), z.literal(4)]);

const outpaintSide = z.number().int().min(0).max(2048);
export const OutpaintRequest = z
  .object({
    left: outpaintSide,
    right: outpaintSide,
    top: outpaintSide,
    bottom: outpaintSide,
    /** How the new area starts before diffusion: repeated edge pixels (default), noise, or a blur of the edge. */
    fill: z.enum(['edge', 'noise', 'blur']).optional(),
  })
  .strict()
  .refine((o) => o.left + o.right + o.top + o.bottom > 0, { message: 'add pixels on at least one side' });

/** One ControlNet unit of a generate request (common/params/controlnet.ts says what each field means). */
export const ControlNetUnitRequest = z
  .object({
    /** An installed ControlNet's name (`listControlNets`). */
    model: id,
    /** The control image (edges, depth, pose… or a photo when `annotator` is set). */
    image: ControlImageSource,
    weight: z.number().min(0).max(CONTROL_WEIGHT_MAX).default(1),
    start: z.number().min(0).max(1).default(0),
    end: z.number().min(0).max(1).default(1),
    annotator: ControlAnnotatorSchema.optional(),
    fit: z.enum(CONTROL_FITS).optional(),
  })
  .strict()
  .refine((u) => u.start < u.end, { message: 'start must be below end (otherwise the ControlNet never runs)', path: ['start'] });

/**
 * The request side of the image parameters: the same names as the one GenerationParams schema
 * (`satisfies` fails the build on a missing or differently named field), with the form's bounds
 * and the request's defaults.
 */
const REQUESTED_PARAMS = {
  prompt: z.string().max(20_000),
  negativePrompt: z.string().max(20_000).default(''),
  width: bounded(B.width).default(64),
  height: bounded(B.height).default(64),
  steps: bounded(B.steps).default(20),
  guidanceScale: bounded(B.guidanceScale).default(5),
  /** A1111 "Clip skip": 1 = last CLIP layer (the default when absent), 2 = penultimate, … */
  clipSkip: bounded(B.clipSkip).optional(),
  /** Absent: the model's own default scheduler. */
  scheduler: z.string().max(100).optional(),
  /** -1 (or absent) picks a random seed; the chosen seed is reported with the result. */
  seed: bounded(B.seed).default(-1),
  rng: RngKind.default('cpu'),
} satisfies Record<RequestedParamKey, z.ZodType>;

export const GenerateRequest = z
  .object({
    modelId: id.optional(),
    ...REQUESTED_PARAMS,
    guidanceRescale: z.number().min(0).max(1).default(0),
    /** scheduler_config.json overrides, e.g. { use_karras_sigmas: true } for "DPM++ 2M Karras". */
    schedulerOptions: SchedulerOptions.optional(),
    batchSize: bounded(B.batchSize).default(1),
    parentId: id.optional(),
    /** img2img / inpainting source: a generation of the current project, or an image file's bytes. */
    initImage: ImageSource.optional(),
    /** How much of the init image to repaint (diffusers strength: 0 keeps it, 1 ignores it). */
    strength: z.number().min(0).max(1).optional(),
    /** How the init image is brought to width×height. */
    fit: z.enum(['crop', 'resize', 'pad']).optional(),
    /** Inpainting mask (white = repaint), any image format; requires initImage. */
    mask: z.object({ base64: z.string().min(1).max(90_000_000) }).strict().optional(),
    maskBlur: z.number().min(0).max(64).optional(),
    /** Inpaint only the masked area at full resolution, with this much context around it. */
    inpaintOnlyMasked: z.object({ padding: z.number().int().min(0).max(1024) }).strict().optional(),
    /** Upscale each result 2× or 4× after generating (an installed upscaler model, else Lanczos). */
    upscale: UpscaleFactor.optional(),
    /** Which upscaler: an installed upscaler model id, or 'lanczos'; default: the best installed one. */
    upscaler: z.string().min(1).max(200).optional(),
    /** Outpainting: pixels to add on each side of initImage; the result is the grown canvas. */
    outpaint: OutpaintRequest.optional(),
    /** Which compatibility API queued it (`atelier serve`'s A1111 / ComfyUI port); the library tags the images with it. */
    source: z.enum(['a1111', 'comfyui']).optional(),
    /**
     * A1111 `Lora hashes` of imported parameters: a `<lora:name:…>` whose name is not installed is found by
     * this hash instead (the LoRA may be installed under another name here).
     */
    loraHashes: z.array(LoraHashSchema.strict()).max(64).optional(),
    /** ControlNet units (their residuals add up); the model needs a ControlNet-capable UNet. */
    controlNets: z.array(ControlNetUnitRequest).max(CONTROL_UNITS_MAX).optional(),
  })
  .strict()
  .refine((r) => !r.mask || r.initImage, { message: 'mask requires initImage', path: ['mask'] })
  .refine((r) => !r.outpaint || r.initImage, { message: 'outpaint requires initImage (the picture to extend)', path: ['outpaint'] })
  .refine((r) => !r.outpaint || !r.mask, { message: 'outpaint builds its own mask; leave mask out', path: ['mask'] })
  .refine((r) => !r.upscaler || r.upscale, { message: 'upscaler requires upscale (2 or 4)', path: ['upscaler'] });
export type GenerateRequest = z.input<typeof GenerateRequest>;
export type GenerateParams = z.output<typeof GenerateRequest>;

export const JobIdRequest = z.object({ jobId: id }).strict();
export const UpscaleImageRequest = z
  .object({
    generationId: id,
    factor: UpscaleFactor,
    /** An installed upscaler model id, or 'lanczos'; default: the best installed one. */
    upscaler: z.string().min(1).max(200).optional(),
  })
  .strict();
export type UpscaleImageParams = z.output<typeof UpscaleImageRequest>;

/** Reorders the queue: `position` counts waiting jobs only (0 = runs next); larger values mean last. */
export const MoveJobRequest = z.object({ jobId: id, position: z.number().int().min(0).max(100_000) }).strict();
export const GenerationIdRequest = z.object({ id }).strict();
/** A control image the open project keeps: a ControlNet unit's `imageRef` when the image was an opened file. */
export const ControlImageRequest = z
  .object({
    ref: controlImageRef,
  })
  .strict();
export const LoadModelRequest = z
  .object({ modelId: id, provider: ExecutionProviderChoice.default('auto') })
  .strict();
export const CreateProjectRequest = z.object({ name: z.string().trim().min(1).max(120) }).strict();
export const OpenProjectRequest = z.object({ projectId: id }).strict();
export const RenameProjectRequest = z
  .object({ projectId: id, name: z.string().trim().min(1).max(120) })
  .strict();

export const DeleteProjectRequest = z.object({ projectId: id }).strict();
export const ArchiveProjectRequest = z.object({ projectId: id, archived: z.boolean() }).strict();
export const MoveGenerationsRequest = z.object({ ids: z.array(id).min(1).max(10_000), projectId: id }).strict();
export const GenerationIdsRequest = z.object({ ids: z.array(id).min(1).max(10_000) }).strict();
const tagName = z.string().trim().min(1).max(100);
export const SetTagsRequest = z
  .object({
    ids: z.array(id).min(1).max(10_000),
    add: z.array(tagName).max(100).default([]),
    remove: z.array(tagName).max(100).default([]),
  })
  .strict()
  .refine((r) => r.add.length + r.remove.length > 0, { message: 'give tags to add or remove', path: ['add'] });

export const HistoryQuery = z
  .object({
    limit: z.number().int().min(1).max(500).default(100),
    /** Opaque keyset cursor returned by the previous page. */
    cursor: z.string().max(200).optional(),
    /** Prompt words, plus `tag:`, `seed:`, `model:` and `scheduler:` terms (common/history-search.ts); a bare number also finds that seed. */
    search: z.string().max(500).optional(),
    minRating: z.number().int().min(0).max(5).optional(),
    flag: z.enum(['pick', 'reject', 'none']).optional(),
    tag: z.string().max(100).optional(),
    boardId: id.optional(),
    model: z.string().max(200).optional(),
    scheduler: z.string().max(100).optional(),
    seed: z.number().int().optional(),
    parentId: id.optional(),
    /** Show the trash instead of live generations. */
    trashed: z.boolean().optional(),
  })
  .strict();
export type HistoryQuery = z.input<typeof HistoryQuery>;

export const UpdateGenerationRequest = z
  .object({
    id,
    rating: z.number().int().min(0).max(5).optional(),
    flag: z.enum(['pick', 'reject', 'none']).optional(),
    tags: z.array(z.string().trim().min(1).max(100)).max(100).optional(),
    notes: z.string().max(10_000).optional(),
  })
  .strict();

export const ReadMetadataRequest = z
  .object({
    /** Base64 of the dropped file's bytes (at most ~64 MB decoded). */
    base64: z.string().max(90_000_000),
  })
  .strict();

/** Highest GPU index the settings accept (the probe tries 0..GPU_PROBE_COUNT-1). */
export const GPU_DEVICE_ID_MAX = 63;
/** How many GPU indices `probeGpuDevices` tries (0..7): more adapters than that is not a workstation we know of. */
export const GPU_PROBE_COUNT = 8;

export const Settings = z
  .object({
    provider: ExecutionProviderChoice,
    modelsDir: z.string().max(4096),
    defaultModelId: z.string().max(200),
    previewEvery: z.number().int().min(0).max(100),
    lowMemory: z.boolean(),
    /** Live-preview decoder: TAESD when one matching the model is installed ('auto': within a time budget), or the linear approximation. Absent = 'auto'. */
    previewDecoder: z.enum(['auto', 'taesd', 'approx']).optional(),
    /** The most memory the engine process may use, in MB: larger jobs are refused up front, and an engine above it is ended. Absent = 90% of physical memory. */
    maxEngineMemoryMB: z.number().int().min(256).max(16_777_216).optional(),
    /**
     * The GPU the CUDA and DirectML providers use (ORT's `deviceId`; for DirectML the DXGI adapter index,
     * 0 = the system's default adapter, often the integrated GPU on laptops). Absent = 0. Other providers ignore it.
     */
    gpuDeviceId: z
      .number({ error: 'gpuDeviceId must be a number: the GPU index (0, 1, 2…)' })
      .int({ error: 'gpuDeviceId must be a whole number: the GPU index (0, 1, 2…)' })
      .min(0, { error: 'gpuDeviceId cannot be negative: 0 is the first GPU' })
      .max(GPU_DEVICE_ID_MAX, { error: `gpuDeviceId must be at most ${GPU_DEVICE_ID_MAX}` })
      .optional(),
  })
  .strict();
export type Settings = z.infer<typeof Settings>;
export const UpdateSettingsRequest = Settings.partial().strict();
/** `probeGpuDevices`: which GPU indices (0..GPU_PROBE_COUNT-1) can start a session on a provider; default: the settings' provider. */
export const ProbeGpuDevicesRequest = z.union([z.undefined(), z.object({ provider: ExecutionProviderChoice.optional() }).strict()]);

export const ModelIdRequest = z.object({ modelId: id }).strict();
/** The model doctor (`doctorModel`): what a provider will do with a model's graphs, at a size. */
export const DoctorModelRequest = z
  .object({
    modelId: id,
    /** 'auto': the provider this machine would use first. */
    provider: ExecutionProviderChoice.default('auto'),
    /** Size the memory estimate is for; default the model's recommended size (else 512). */
    width: z.number().int().min(8).max(8192).multipleOf(8).optional(),
    height: z.number().int().min(8).max(8192).multipleOf(8).optional(),
    batch: z.number().int().min(1).max(64).optional(),
  })
  .strict();
export const PullModelRequest = z
  .object({
    /** A catalog id, a Hugging Face repo id (owner/name) or a hub URL. */
    source: z.string().trim().min(1).max(500),
    revision: z.string().max(200).optional(),
    id: z.string().max(100).optional(),
    token: z.string().max(500).optional(),
    /** Catalog models: a build by variant id, 'generic' (the entry's own files) or 'auto' (default: the build for the provider the app runs on). */
    variant: z.string().trim().min(1).max(100).optional(),
  })
  .strict();
export const ImportModelRequest = z
  .object({
    folder: z.string().min(1).max(4096),
    mode: z.enum(['reference', 'copy']).default('reference'),
    id: z.string().max(100).optional(),
    name: z.string().max(200).optional(),
  })
  .strict();

export const BoardIdRequest = z.object({ boardId: id }).strict();
export const CreateBoardRequest = z.object({ name: z.string().trim().min(1).max(120) }).strict();
export const RenameBoardRequest = z.object({ boardId: id, name: z.string().trim().min(1).max(120) }).strict();
export const BoardMembershipRequest = z
  .object({ boardId: id, ids: z.array(id).min(1).max(10_000), member: z.boolean() })
  .strict();
export const ExportRequest = z
  .object({
    ids: z.array(id).min(1).max(100_000).optional(),
    boardId: id.optional(),
    /** Destination on the machine running Atelier: a new/empty folder, or a path ending in .zip. */
    to: z.string().min(1).max(4096),
    format: z.enum(['png', 'jpeg', 'webp']).default('png'),
    quality: z.number().int().min(1).max(100).optional(),
  })
  .strict()
  .refine((r) => Boolean(r.ids) !== Boolean(r.boardId), { message: 'give either ids or boardId', path: ['ids'] });
export const ExportDownloadRequest = z
  .object({
    ids: z.array(id).min(1).max(100_000).optional(),
    boardId: id.optional(),
    format: z.enum(['png', 'jpeg', 'webp']).default('png'),
    quality: z.number().int().min(1).max(100).optional(),
  })
  .strict()
  .refine((r) => Boolean(r.ids) !== Boolean(r.boardId), { message: 'give either ids or boardId', path: ['ids'] });
export const ImportImagesRequest = z.object({ paths: z.array(z.string().min(1).max(4096)).min(1).max(10_000) }).strict();

export const EmptyRequest = z.union([z.undefined(), z.object({}).strict()]);
/** listLoras takes no arguments. */
export const ListLorasRequest = EmptyRequest;
/** listControlNets takes no arguments. */
export const ListControlNetsRequest = EmptyRequest;

/** Content credentials of a stored generation (`id`) or of a file's bytes (`base64`, e.g. a dropped file). */
export const VerifyImageRequest = z.union([z.object({ id }).strict(), z.object({ base64: z.string().max(90_000_000) }).strict()]);
/** What the open project's content credentials disclose: every parameter, or only the fact of AI generation. */
export const CredentialsDisclosure = z.enum(['full', 'ai-only']);
export const ProjectCredentialsRequest = z.object({ disclosure: CredentialsDisclosure }).strict();
