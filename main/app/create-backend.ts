/**
 * The one Node-side implementation of AtelierApi, wired from its slices (jobs, models, projects,
 * system). Both transports (Electron IPC, WebSocket) and the in-process contract tests call
 * exactly this object.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { AtelierApi } from '../../common/api/contract';
import { validateModelFolder, type EngineLauncher } from '../engine-host';
import { setSqliteNativeBinding } from '../library';
import type { AtelierBackend } from './backend';
import { createEventBus } from './event-bus';
import { createFarmApi, type FarmStatusSource } from './farm-api';
import type { GenerationExecutor } from './generation-service';
import { ExportDownloads } from './export-downloads';
import { createJobsApi } from './jobs-api';
import { createModelsApi, forwardModelEvents } from './models-api';
import { ProjectSession } from './project-session';
import { createProjectsApi } from './projects-api';
import { createRuntime } from './runtime';
import { createSystemApi } from './system-api';

export { APP_VERSION } from './runtime';

export interface BackendOptions {
  userDataDir: string;
  /** Prefix of image URLs handed to clients: '/' in server mode, 'atelier://' in Electron. */
  imageUrlBase: string;
  transport?: 'ipc' | 'websocket' | 'in-process';
  demoModelDir?: string;
  /** Hugging Face compatible endpoint (mirrors, tests); default $HF_ENDPOINT or huggingface.co. */
  hubEndpoint?: string;
  /** Electron-ABI better-sqlite3 binary (packaged desktop app); Node uses node_modules' build. */
  sqliteNativeBinding?: string;
  /** Starts engine processes (the Electron app passes a utilityProcess launcher); default child_process.fork. */
  engineLauncher?: EngineLauncher;
  /** Runs diffusions elsewhere instead of the local engine (`atelier serve --farm`: main/farm/coordinator.ts). */
  executor?: GenerationExecutor;
  /** The render farm's workers and events for the Farm panel (the same coordinator as `executor`). */
  farm?: FarmStatusSource;
}

export async function createBackend(opts: BackendOptions): Promise<AtelierBackend> {
  mkdirSync(opts.userDataDir, { recursive: true });
  if (opts.sqliteNativeBinding && existsSync(opts.sqliteNativeBinding)) setSqliteNativeBinding(opts.sqliteNativeBinding);
  const bus = createEventBus();
  const runtime = createRuntime({
    userDataDir: opts.userDataDir,
    demoModelDir: opts.demoModelDir,
    hubEndpoint: opts.hubEndpoint,
    // A model is installed only once every graph loads and runs once at a tiny size (its own worker).
    validateModel: (folder) => validateModelFolder(folder, { provider: runtime.settings.get().provider, launcher: opts.engineLauncher }),
    engineLauncher: opts.engineLauncher,
    ...(opts.executor ? { executor: opts.executor } : {}),
    onModelLoaded: (model) => bus.emit({ type: 'model:loaded', model }),
  });
  forwardModelEvents(runtime, bus);
  opts.farm?.attachEvents(bus.emit);
  const projects = await ProjectSession.open(opts.userDataDir, opts.imageUrlBase);
  const exportDownloads = new ExportDownloads();
  const jobs = createJobsApi(runtime, projects, bus, { journalDir: join(opts.userDataDir, 'jobs') });

  const api = {
    ...createSystemApi(runtime, { transport: opts.transport ?? 'in-process', userDataDir: opts.userDataDir }),
    ...createModelsApi(runtime),
    ...jobs.api,
    ...createFarmApi(opts.farm),
    ...createProjectsApi(projects, bus, { exports: exportDownloads, urlBase: opts.imageUrlBase }),
  } satisfies AtelierApi;

  return {
    api,
    onEvent: bus.subscribe,
    async resolveImage(id, kind) {
      return projects.resolveImageFile(id, kind);
    },
    resolveExport(token) {
      return exportDownloads.resolve(token);
    },
    async close() {
      exportDownloads.close();
      await runtime.modelManager.close();
      await jobs.queue.cancelAll(undefined, { keepJournal: true });
      await runtime.engine.close();
      projects.close();
    },
  };
}
