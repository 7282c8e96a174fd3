/**
 * The objects every entry point needs to generate: settings, the model manager and registry, the
 * engine host and the generation service over them. The studio backend and `atelier generate`
 * both start from here, so neither wires an engine or a model manager of its own.
 */
import { join } from 'node:path';
import type { LoadedModelInfo } from '../../common/api/contract';
import { createMemoryGuard, defaultMemoryCapBytes, EngineHost, type EngineLauncher } from '../engine-host';
import { ModelManager } from '../models/manager';
import { GenerationService, type GenerationExecutor } from './generation-service';
import { ModelRegistry } from './model-registry';
import { appRoot, bundledDemoModelDir } from './paths';
import { SettingsStore } from './settings-store';
import { installedUpscalers } from './upscale-job';

export const APP_VERSION = '0.1.0';

/** The engine's memory limit in bytes: `maxEngineMemoryMB` when set, else 90% of physical memory. */
export function engineMemoryCapBytes(s: { maxEngineMemoryMB?: number }): number {
  return s.maxEngineMemoryMB ? s.maxEngineMemoryMB * 1024 * 1024 : defaultMemoryCapBytes();
}

/** Where that limit comes from, as the memory guard's refusals name it. */
export function engineMemoryCapLabel(s: { maxEngineMemoryMB?: number }): string {
  return s.maxEngineMemoryMB ? 'maxEngineMemoryMB' : '90% of physical memory; settings.maxEngineMemoryMB changes it';
}

export interface RuntimeOptions {
  userDataDir: string;
  demoModelDir?: string;
  /** Hugging Face compatible endpoint (mirrors, tests); default $HF_ENDPOINT or huggingface.co. */
  hubEndpoint?: string;
  /** Runs before a downloaded or imported model is installed; throws to refuse it. */
  validateModel?: (folder: string) => Promise<void>;
  onModelLoaded?(model: LoadedModelInfo): void;
  /** Starts the engine process (the Electron app passes a utilityProcess launcher); default child_process.fork. */
  engineLauncher?: EngineLauncher;
  /** Runs diffusions elsewhere instead of the local engine host (`atelier serve --farm`: main/farm/). */
  executor?: GenerationExecutor;
}

export interface Runtime {
  settings: SettingsStore;
  modelManager: ModelManager;
  models: ModelRegistry;
  engine: EngineHost;
  generation: GenerationService;
  /** Stops downloads and the engine process. */
  close(): Promise<void>;
}

export function createRuntime(opts: RuntimeOptions): Runtime {
  const settings = new SettingsStore(join(opts.userDataDir, 'settings.json'), opts.userDataDir);
  const modelManager = new ModelManager({
    modelsDir: () => settings.get().modelsDir,
    demoModelDir: opts.demoModelDir ?? bundledDemoModelDir(appRoot()),
    endpoint: opts.hubEndpoint ?? process.env.HF_ENDPOINT,
    token: process.env.HF_TOKEN,
    validate: opts.validateModel,
  });
  const models = new ModelRegistry(modelManager);
  const engine = new EngineHost({
    launcher: opts.engineLauncher,
    // The GPU (CUDA device / DXGI adapter index) sessions are created on; a change reloads the model.
    deviceId: () => settings.get().gpuDeviceId,
    // The hard cap on the engine process: settings.maxEngineMemoryMB, else 90% of physical memory.
    memoryCapBytes: () => engineMemoryCapBytes(settings.get()),
    // Refuses a generation whose estimated peak does not fit (before it starts; see memory-guard.ts).
    guard: createMemoryGuard({ capBytes: () => engineMemoryCapBytes(settings.get()), capLabel: () => engineMemoryCapLabel(settings.get()) }),
  });
  const generation = new GenerationService({
    engine,
    models,
    settings: () => settings.get(),
    upscalers: () => installedUpscalers(modelManager),
    appVersion: APP_VERSION,
    onModelLoaded: opts.onModelLoaded,
    ...(opts.executor ? { executor: opts.executor } : {}),
  });
  return {
    settings,
    modelManager,
    models,
    engine,
    generation,
    async close() {
      await modelManager.close();
      await engine.close();
    },
  };
}
