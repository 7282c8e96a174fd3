/** Public surface of the diffusion engine. Everything else in main/ imports from here. */
export { createScheduler } from './schedulers';
export type { Scheduler, SchedulerConfig, SchedulerStepOptions, SchedulerStepResult, Generator } from './schedulers/types';
export { createGenerator } from './random';
export type { RngKind, SeededGenerator } from './random';
export { ClipTokenizer, loadTokenizer } from './tokenizer';
export type { ClipTokenizerOptions, PaddedIds } from './tokenizer';
export { inspectModel, SUPPORTED_SCHEDULERS } from './model-info';
export type { ModelInfo, ComponentFiles, ComponentName } from './model-info';
export { loadModel, detectSignature } from './loader';
export type { LoadedModel, LoadModelOptions, ModelSignature, ModelFamily, ComponentFallback } from './loader';
export { txt2img, CancelledError, PipelineInputError } from './pipeline';
export type { Txt2ImgParams, Txt2ImgResult, PipelineHooks, GeneratedImage } from './pipeline';
export { ModelLoadError, isModelLoadError } from './model-errors';
export type { ModelLoadErrorCode } from './model-errors';
export { listExecutionProviders, parseProviderChoice, PROVIDER_PREFERENCE } from './ort-backend';
export type { ProviderChoice, ProviderName, ExecutionProviderInfo, ProviderFallback, EngineSession, EngineTensor } from './ort-backend';
export { latentsToPreviewRgb } from './preview';
export type { PreviewImage } from './preview';
