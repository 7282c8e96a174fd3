/** Public surface of the engine host (the engine's process, seen from the API process). Everything else in main/ imports from here. */
export { EngineHost, EngineStoppedError, EngineWorkerError, MemoryLimitError, MAX_AUTO_RESTARTS, defaultMemoryCapBytes, resolveWorkerEntry } from './engine-host';
export type { EngineHostOptions, GenerateHooks, GenerationGuard } from './engine-host';
export { forkEngine } from './engine-launcher';
export type { EngineChild, EngineLauncher } from './engine-launcher';
export { validateModelFolder } from './validate-model';
export type { ValidateModelOptions } from './validate-model';
export type { EngineToHost, GenerateOutcome, HostToEngine, LoadedInfo, PipelineRequest, PreviewDecoderInfo, PreviewDecoderSpec } from './protocol';
