/** Public surface of the engine host (the engine's process, seen from the API process). Everything else in main/ imports from here. */
export { EngineHost, EngineStoppedError, EngineWorkerError, MemoryLimitError, MAX_AUTO_RESTARTS, defaultMemoryCapBytes, resolveWorkerEntry } from './engine-host';
export type { EngineHostOptions, GenerateHooks, GenerationGuard } from './engine-host';
export { ENGINE_V8_FLAGS, forkEngine } from './engine-launcher';
export type { EngineChild, EngineLauncher } from './engine-launcher';
export { assertGenerationFits, checkGenerationMemory, createMemoryGuard, estimateGenerationMemory, modelMemoryFacts } from './memory-guard';
export type { GenerationShape, MemoryBudget, MemoryEstimate, ModelMemoryFacts } from './memory-guard';
export { validateModelFolder } from './validate-model';
export type { ValidateModelOptions } from './validate-model';
export type { EngineToHost, GenerateOutcome, HostToEngine, LoadedInfo, PipelineRequest, PreviewDecoderInfo, PreviewDecoderSpec } from './protocol';
export type { EngineLoraLoad, LoadedLora } from './protocol';
export { sameLoras } from './engine-host';
