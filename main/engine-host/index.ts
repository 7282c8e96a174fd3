/** Public surface of the engine host (the engine's worker, seen from the API thread). Everything else in main/ imports from here. */
export { EngineHost, EngineWorkerError, resolveWorkerEntry } from './engine-host';
export type { EngineHostOptions, GenerateHooks } from './engine-host';
export { validateModelFolder } from './validate-model';
export type { ValidateModelOptions } from './validate-model';
export type { GenerateOutcome, LoadedInfo, PipelineRequest, PreviewDecoderInfo, PreviewDecoderSpec } from './protocol';
