/**
 * Model families, declared once. Two different lists, two different names:
 * - PIPELINE_FAMILIES: what the engine detects from a model's graphs (it decides the pipeline:
 *   text encoders, prediction type, defaults);
 * - CATALOG_FAMILIES: what a catalog entry or installed model declares (latent space and kind:
 *   diffusion models, TAESD preview decoders, ESRGAN upscalers, the demo, ControlNet annotators).
 */
export const PIPELINE_FAMILIES = Object.freeze(['sd1', 'sd2', 'sd2-v', 'sd-turbo', 'sdxl', 'lcm'] as const);
export type PipelineFamily = (typeof PIPELINE_FAMILIES)[number];

export const CATALOG_FAMILIES = Object.freeze(['sd1', 'sd2', 'sdxl', 'taesd', 'esrgan', 'demo', 'annotator'] as const);
export type CatalogFamily = (typeof CATALOG_FAMILIES)[number];

/** What a catalog entry is: a pipeline, or a part installed beside one (see main/models/catalog.ts INSTALL_ROOTS). */
export const CATALOG_KINDS = Object.freeze(['pipeline', 'vae-decoder', 'upscaler', 'annotator', 'controlnet', 'controlnet-unet'] as const);
export type CatalogKind = (typeof CATALOG_KINDS)[number];
