/** Public parameter/result types and errors shared by txt2img, img2img and inpaint. */
import type { ControlAnnotator } from '../../../common/params/controlnet';

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
  /** A1111 "Clip skip": 1 = last CLIP layer (default), 2 = penultimate, … (SDXL counts from its penultimate default). */
  clipSkip?: number;
  /** SDXL micro-conditioning (`time_ids`); defaults as diffusers. Ignored by other families. */
  sdxl?: SdxlMicroConditioning;
  /** ControlNet units (their residuals add up); needs a ControlNet-capable UNet (see controlnet/sessions.ts). Empty/absent = plain UNet path. */
  controlNets?: ControlNetUnit[];
  /** `<modelsDir>/annotators`: where the depth / pose annotator models are installed (controlnet/annotators/installed.ts). */
  annotatorsDir?: string;
  /**
   * Make only images index … index + count − 1 of a batch of `of` (batchSize must be count, default 1):
   * their noise is exactly what they had in the whole batch (pipeline/batch-member.ts). The render farm
   * splits batches with it; reproduce makes image k alone.
   */
  batchMember?: { index: number; of: number; count?: number };
}

/** One ControlNet: a graph, the image that conditions it, how strongly and on which steps. */
export interface ControlNetUnit {
  /** The ControlNet graph: a `model.onnx` path, or a folder holding one. */
  model: string;
  /** The control image (edges, depth, pose… or a photo when `annotator` is set), fitted to the output size like the init image. */
  image: RgbImage;
  /** Conditioning scale (diffusers `controlnet_conditioning_scale`, A1111 "Control Weight"); default 1, 0..2. */
  weight?: number;
  /** Fraction of the steps after which control starts (A1111 "Starting Control Step"); default 0. */
  start?: number;
  /** Fraction of the steps after which control stops (A1111 "Ending Control Step"); default 1. */
  end?: number;
  /**
   * Turn `image` (a photo) into the control image first: Canny (A1111 defaults low 100, high 200), depth
   * (Depth-Anything-v2) or pose (DWPose); depth and pose need their files under `annotatorsDir`.
   */
  annotator?: ControlAnnotator;
  /** How the image meets the output size; default 'crop' (as the init image, so both line up). */
  fit?: ImageFit;
}

/** SDXL `add_time_ids` inputs; sizes are [height, width] in pixels. */
export interface SdxlMicroConditioning {
  /** Default [height, width]. */
  originalSize?: [number, number];
  /** Default [0, 0]. */
  cropTopLeft?: [number, number];
  /** Default [height, width]. */
  targetSize?: [number, number];
  /** 5-column (aesthetic-score) UNets only; default 6. */
  aestheticScore?: number;
  /** 5-column UNets only, for the negative branch; default 2.5. */
  negativeAestheticScore?: number;
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

/** Invalid pipeline parameters (raised before any session runs). */
export class PipelineInputError extends Error {
  override name = 'PipelineInputError';
}

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

/** An interleaved 8-bit RGB image. */
export interface RgbImage {
  width: number;
  height: number;
  /** width·height·3 bytes, row-major, R G B. */
  rgb: Uint8Array;
}

/** A single-channel 8-bit mask: 255 (white) = repaint, 0 = keep. */
export interface MaskImage {
  width: number;
  height: number;
  /** width·height bytes. */
  data: Uint8Array;
}

/** How an input image is brought to the requested size. */
export type ImageFit = 'crop' | 'resize' | 'pad';

export type Img2ImgParams = Txt2ImgParams & {
  initImage: RgbImage;
  /** 0..1: how much of the schedule runs (diffusers `strength`); 1 = start from pure noise. */
  strength: number;
  /** Default 'crop': scale to cover, centre-crop. 'resize' stretches, 'pad' letterboxes (edge pixels repeated). */
  fit?: ImageFit;
};

export type InpaintParams = Txt2ImgParams & {
  initImage: RgbImage;
  /** Same size as initImage; white (≥ 128 after blur) = repaint. */
  mask: MaskImage;
  /** Default 1 (start from noise inside the mask). */
  strength?: number;
  /** Default 'crop'. With 'pad', the padded border is masked (repainted) too. Ignored with onlyMasked. */
  fit?: ImageFit;
  /** Gaussian feather of the mask in pixels (σ, as A1111's "mask blur"); default 0. */
  maskBlur?: number;
  /** A1111 "inpaint only masked": generate only a crop around the mask (plus padding px) at the model size, paste back. */
  onlyMasked?: { padding: number };
};
