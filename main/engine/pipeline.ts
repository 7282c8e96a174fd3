/**
 * The diffusion pipelines: txt2img, img2img and inpaint (implementations in ./pipeline/).
 * This module is the stable import point for the engine worker, the CLI and the API.
 */
export { txt2img } from './pipeline/txt2img';
export { img2img } from './pipeline/img2img';
export { inpaint } from './pipeline/inpaint';
export { CancelledError, PipelineInputError, SCHEDULER_OPTION_KEYS } from './pipeline/types';
export { buildTimeIds, guidanceScaleEmbedding } from './pipeline/conditioning';
export { MAX_CLIP_SKIP } from './pipeline/text-encoders';
export { NonFiniteOutputError } from './pipeline/vae-precision';
export type { SdxlMicroConditioning } from './pipeline/types';
export type {
  ControlNetUnit,
  GeneratedImage,
  ImageFit,
  Img2ImgParams,
  InpaintParams,
  MaskImage,
  PipelineHooks,
  RgbImage,
  SchedulerOptions,
  Txt2ImgParams,
  Txt2ImgResult,
} from './pipeline/types';
export { encodePrompt } from './pipeline/encode-prompt';
export type { PromptConditioning, EncodePromptArgs } from './pipeline/encode-prompt';
