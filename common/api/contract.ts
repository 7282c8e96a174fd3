/**
 * The one Atelier API contract: every method the renderer (or any client) may call, and every
 * event the Node side pushes. Implemented once on the Node side (main/app/atelier-service.ts),
 * reached through Electron IPC (preload) or WebSocket (server mode) — same interface either way.
 */
import type { GenerationParams } from '../params/generation';
import type { ModelDoctorReport } from '../model-doctor';
import type { ExecutionProviderName } from '../providers';
import type { z } from 'zod';
import type { ApiErrorCode, ApiErrorShape } from './error-shape';
import type { CatalogModel, ControlNetSummary, DownloadSummary, GpuProbeReport, LoadedModelInfo, LoraSummary, ModelSummary } from './model-types';
import type { CredentialsInfo, ImageMetadataInfo, ReproducibilityReceipt } from './provenance-types';
import * as S from './schemas';

export type { ApiErrorCode, ApiErrorShape } from './error-shape';
export type { CatalogModel, CatalogVariantSummary, ControlNetSummary, DownloadSummary, GpuProbeReport, LoadedModelInfo, LoraSummary, ModelSummary } from './model-types';
export type { CredentialSignerInfo, CredentialsInfo, ImageMetadataInfo, ReproducibilityReceipt } from './provenance-types';

export type ExecutionProvider = ExecutionProviderName;
export type { ModelDoctorReport, DoctorGraph, DoctorVerdict, DoctorLevel } from '../model-doctor';

export interface SystemInfo {
  appVersion: string;
  platform: string;
  arch: string;
  /** Execution providers onnxruntime-node reports as available on this machine, in preference order. */
  executionProviders: { name: string; bundled: boolean }[];
  transport: 'ipc' | 'websocket' | 'in-process';
  userDataDir: string;
  /** The model the engine holds now (with the provider actually used), or null. */
  loadedModel: LoadedModelInfo | null;
}

export interface ProjectSummary {
  id: string;
  name: string;
  path: string;
  isCurrent: boolean;
  /** When this project was last opened (ISO 8601), kept in the server's project registry so every
   *  window and browser sees the same "recent" list; null if it was listed but never opened. */
  lastOpenedAt: string | null;
  /** Archived projects stay on disk and in the list, out of the switcher's way (ISO 8601 when archived). */
  archivedAt?: string | null;
}

/**
 * A stored image as the API returns it: the image's parameters under the one schema's names
 * (common/params/generation.ts), plus what the library knows about it.
 */
export type GenerationRecord = Pick<
  GenerationParams,
  'width' | 'height' | 'prompt' | 'negativePrompt' | 'seed' | 'rng' | 'steps' | 'guidanceScale' | 'clipSkip' | 'scheduler' | 'modelId' | 'modelFamily' | 'provider' | 'parentId'
> &
  // controlNets: the recorded units (absent when none), so the studio can restore them.
  Partial<Pick<GenerationParams, 'modelHash' | 'strength' | 'initImageRef' | 'maskRef' | 'batchIndex' | 'batchSize' | 'appVersion' | 'deviceId' | 'controlNets'>> & {
    id: string;
    imageUrl: string;
    thumbUrl: string;
    rating: number;
    flag: 'pick' | 'reject' | 'none';
    tags: string[];
    notes: string;
    /** ISO 8601. */
    createdAt: string;
    timings: Record<string, number>;
  };

export interface MoveReport {
  moved: number;
  projectId: string;
  projectName: string;
  /** Lineage links to images that stayed behind (a parent not moved, or children left in this project), cut by the move. */
  cutLinks: number;
}

export interface ExportDownload {
  /** Relative to the server (`/export/<token>`); valid for a while, for this server's clients only. */
  url: string;
  fileName: string;
  count: number;
  bytes: number;
}

export interface BoardSummary {
  id: string;
  name: string;
  itemCount: number;
}

export interface Lineage {
  /** Nearest first. */
  ancestors: GenerationRecord[];
  children: GenerationRecord[];
  sameSeed: GenerationRecord[];
}

export interface HistoryPage {
  items: GenerationRecord[];
  nextCursor: string | null;
}

/** `interrupted`: queued or running when the server stopped; retryJob runs it again with its parameters. */
export type JobState = 'queued' | 'running' | 'done' | 'failed' | 'cancelled' | 'interrupted';

/** A render-farm worker as the studio's Farm panel lists it (`atelier worker --farm`). */
export interface FarmWorkerSummary {
  name: string;
  providers: string[];
  provider: string;
  freeMemoryBytes: number;
  totalMemoryBytes: number;
  models: { id: string; name: string; hash: string }[];
  busy: boolean;
  /** The studio job it runs now. */
  jobId: string | null;
  jobsDone: number;
  /** Denoising steps per second of its last job (0 before the first). */
  itPerSec: number;
  seenAt: number;
}

/** Whether this studio coordinates a render farm (`atelier serve --farm`), through which Redis, and who works. */
export interface FarmStatus {
  enabled: boolean;
  /** The Redis URL with the password redacted; null without a farm. */
  redis: string | null;
  workers: FarmWorkerSummary[];
}

export interface JobSummary {
  jobId: string;
  state: JobState;
  request: S.GenerateParams;
  /** Set for upscaleImage jobs: `request` then describes the source generation at its new size. */
  upscale?: S.UpscaleImageParams;
  /** The project the job was submitted from: its images are saved there, whichever project is open when it ends. */
  projectId?: string;
  projectName?: string;
  step: number;
  total: number;
  error?: ApiErrorShape;
  generationIds: string[];
  /**
   * Inline (base64) init image / mask the job was submitted with: `request` lists the job without
   * them (they can be tens of MB; the server keeps them only until the job ends). A retry needs the
   * submitter's own copy. An initImage given by generationId stays in `request`.
   */
  omittedInputs?: { initImage?: { bytes: number }; mask?: { bytes: number } };
}

/** Events pushed from the Node side. */
export type AtelierEvent =
  | { type: 'job:queued'; jobId: string; position: number; projectId?: string; projectName?: string }
  | { type: 'job:progress'; jobId: string; step: number; total: number; elapsedMs: number; etaMs: number }
  | { type: 'job:preview'; jobId: string; step: number; width: number; height: number; /** PNG data URL */ dataUrl: string }
  | { type: 'job:done'; jobId: string; generations: GenerationRecord[]; provider: string; timings: Record<string, number>; /** Where the generations were saved. */ projectId?: string }
  | { type: 'job:failed'; jobId: string; error: ApiErrorShape }
  | { type: 'job:cancelled'; jobId: string }
  /** Render farm: the worker that took a job (again, after a retry or a takeover), and the worker list. */
  | { type: 'job:worker'; jobId: string; worker: string }
  | { type: 'farm:workers'; workers: FarmWorkerSummary[] }
  | { type: 'model:loaded'; model: LoadedModelInfo }
  | { type: 'model:download-progress'; modelId: string; state: string; bytesDone: number; bytesTotal: number; rateBps: number; etaMs: number; /** Catalog models: the build being downloaded. */ variant?: string }
  | { type: 'model:download-finished'; modelId: string }
  | { type: 'model:download-failed'; modelId: string; error: ApiErrorShape; resumable: boolean }
  | { type: 'models:changed' }
  | { type: 'project:changed'; project: ProjectSummary };

type In<K extends keyof typeof S> = (typeof S)[K] extends z.ZodType ? z.input<(typeof S)[K]> : never;

/** Every method: request in, response out. Requests are validated by the schema in `apiMethods`. */
export interface AtelierApi {
  getSystemInfo(): Promise<SystemInfo>;
  listModels(): Promise<ModelSummary[]>;
  loadModel(req: In<'LoadModelRequest'>): Promise<LoadedModelInfo>;
  unloadModel(): Promise<{ unloaded: boolean }>;
  listCatalog(): Promise<CatalogModel[]>;
  /** Catalog models: `variant` is the build chosen (for the provider the app runs on, or as asked) and `variantReason` says why. */
  pullModel(req: In<'PullModelRequest'>): Promise<{ modelId: string; bytesTotal: number; variant?: string; variantReason?: string }>;
  pauseDownload(req: In<'ModelIdRequest'>): Promise<{ ok: boolean }>;
  resumeDownload(req: In<'ModelIdRequest'>): Promise<{ ok: boolean }>;
  cancelDownload(req: In<'ModelIdRequest'>): Promise<{ ok: boolean }>;
  listDownloads(): Promise<DownloadSummary[]>;
  importModel(req: In<'ImportModelRequest'>): Promise<ModelSummary>;
  removeModel(req: In<'ModelIdRequest'>): Promise<{ removed: boolean }>;
  /** The model doctor: precision, external data, shapes, ops the provider cannot run, memory estimate, verdict. Reads headers only. */
  doctorModel(req: In<'DoctorModelRequest'>): Promise<ModelDoctorReport>;
  /** Installed LoRAs (`<modelsDir>/loras/*.safetensors`), by name; unreadable files are left out. */
  listLoras(): Promise<LoraSummary[]>;
  /** Installed ControlNets (`<modelsDir>/controlnets/`), by name; unreadable ones are left out. */
  listControlNets(): Promise<ControlNetSummary[]>;
  generate(req: In<'GenerateRequest'>): Promise<{ jobId: string; seed: number }>;
  /** Queue a 2×/4× upscale of a generation; the result is a new generation whose parent is the source. */
  upscaleImage(req: In<'UpscaleImageRequest'>): Promise<{ jobId: string }>;
  cancel(req: In<'JobIdRequest'>): Promise<{ cancelled: boolean }>;
  /** Queues an interrupted job again with its own parameters (seed included), into its own project. */
  retryJob(req: In<'JobIdRequest'>): Promise<{ jobId: string; seed: number }>;
  /** false when the job is not waiting (running, finished or unknown). */
  moveJob(req: In<'MoveJobRequest'>): Promise<{ moved: boolean }>;
  listJobs(): Promise<JobSummary[]>;
  /** The render farm's Redis and live workers (`enabled: false` when the studio runs jobs on its own engine). */
  getFarmStatus(): Promise<FarmStatus>;
  listProjects(): Promise<ProjectSummary[]>;
  createProject(req: In<'CreateProjectRequest'>): Promise<ProjectSummary>;
  openProject(req: In<'OpenProjectRequest'>): Promise<ProjectSummary>;
  renameProject(req: In<'RenameProjectRequest'>): Promise<ProjectSummary>;
  /** Deletes a project's folder for good (never one that queued or running jobs save into); the open project moves to another one first. */
  deleteProject(req: In<'DeleteProjectRequest'>): Promise<{ deleted: boolean; current: ProjectSummary }>;
  /** Archives (hides from the switcher) or unarchives a project; the open project cannot be archived. */
  archiveProject(req: In<'ArchiveProjectRequest'>): Promise<ProjectSummary>;
  /** Moves images of the open project to another project: files, parameters, rating, tags and the lineage links between them. */
  moveGenerations(req: In<'MoveGenerationsRequest'>): Promise<MoveReport>;
  queryHistory(req: In<'HistoryQuery'>): Promise<HistoryPage>;
  getGeneration(req: In<'GenerationIdRequest'>): Promise<GenerationRecord>;
  updateGeneration(req: In<'UpdateGenerationRequest'>): Promise<GenerationRecord>;
  deleteGeneration(req: In<'GenerationIdRequest'>): Promise<{ deleted: boolean }>;
  /** Moves many images to the trash at once (restorable until the trash is emptied). */
  trashGenerations(req: In<'GenerationIdsRequest'>): Promise<{ trashed: number }>;
  /** Adds and/or removes tags on many images at once; returns their updated records. */
  setTags(req: In<'SetTagsRequest'>): Promise<{ records: GenerationRecord[] }>;
  restoreGeneration(req: In<'GenerationIdRequest'>): Promise<GenerationRecord>;
  emptyTrash(): Promise<{ purged: number }>;
  getLineage(req: In<'GenerationIdRequest'>): Promise<Lineage>;
  listBoards(): Promise<BoardSummary[]>;
  createBoard(req: In<'CreateBoardRequest'>): Promise<BoardSummary>;
  renameBoard(req: In<'RenameBoardRequest'>): Promise<BoardSummary>;
  deleteBoard(req: In<'BoardIdRequest'>): Promise<{ deleted: boolean }>;
  setBoardMembership(req: In<'BoardMembershipRequest'>): Promise<BoardSummary>;
  exportGenerations(req: In<'ExportRequest'>): Promise<{ path: string; count: number }>;
  /**
   * Server mode: builds the export as a .zip in a temporary folder on the server and returns a
   * one-time URL (`/export/<token>`, same access rules as images) the browser downloads it from.
   */
  prepareExportDownload(req: In<'ExportDownloadRequest'>): Promise<ExportDownload>;
  importImages(req: In<'ImportImagesRequest'>): Promise<{ imported: GenerationRecord[]; skipped: { path: string; reason: string }[] }>;
  readImageMetadata(req: In<'ReadMetadataRequest'>): Promise<ImageMetadataInfo>;
  /** Verifies the content credentials of a generation of the open project, or of a file's bytes. */
  verifyImage(req: In<'VerifyImageRequest'>): Promise<CredentialsInfo>;
  /** What the open project's content credentials disclose ('full' parameters, or 'ai-only'). */
  getProjectCredentials(): Promise<{ disclosure: 'full' | 'ai-only' }>;
  setProjectCredentials(req: In<'ProjectCredentialsRequest'>): Promise<{ disclosure: 'full' | 'ai-only' }>;
  /** The stored reproducibility receipt of a generation (`atelier reproduce`), or null. */
  getReceipt(req: In<'GenerationIdRequest'>): Promise<ReproducibilityReceipt | null>;
  /**
   * A control image the open project keeps (`<project>/controls/`), by the `sha256:` ref a ControlNet unit
   * recorded: its bytes as stored (a data URL), its size as shown (EXIF orientation applied) and its type.
   */
  getControlImage(req: In<'ControlImageRequest'>): Promise<{ ref: string; dataUrl: string; width: number; height: number; mime: string }>;
  /**
   * Regenerates a generation of the open project from the parameters in its own file (model found by
   * hash), compares the pixels with the file's, stores the receipt beside it and returns it. Takes its
   * turn with queued jobs; the image itself is not added to the library.
   */
  reproduceGeneration(req: In<'GenerationIdRequest'>): Promise<ReproducibilityReceipt>;
  getSettings(): Promise<S.Settings>;
  updateSettings(req: In<'UpdateSettingsRequest'>): Promise<S.Settings>;
  /** Tries a tiny session on GPU indices 0..7 of a CUDA/DirectML provider (default: the settings' provider) and says which start. */
  probeGpuDevices(req?: In<'ProbeGpuDevicesRequest'>): Promise<GpuProbeReport>;
}

export type ApiMethodName = keyof AtelierApi;

/** Request schema per method: the single table both transports and the preload are built from. */
export const apiMethods = Object.freeze({
  getSystemInfo: S.EmptyRequest,
  listModels: S.EmptyRequest,
  loadModel: S.LoadModelRequest,
  unloadModel: S.EmptyRequest,
  listCatalog: S.EmptyRequest,
  pullModel: S.PullModelRequest,
  pauseDownload: S.ModelIdRequest,
  resumeDownload: S.ModelIdRequest,
  cancelDownload: S.ModelIdRequest,
  listDownloads: S.EmptyRequest,
  importModel: S.ImportModelRequest,
  removeModel: S.ModelIdRequest,
  doctorModel: S.DoctorModelRequest,
  listLoras: S.ListLorasRequest,
  listControlNets: S.ListControlNetsRequest,
  generate: S.GenerateRequest,
  upscaleImage: S.UpscaleImageRequest,
  cancel: S.JobIdRequest,
  retryJob: S.JobIdRequest,
  moveJob: S.MoveJobRequest,
  listJobs: S.EmptyRequest,
  getFarmStatus: S.EmptyRequest,
  listProjects: S.EmptyRequest,
  createProject: S.CreateProjectRequest,
  openProject: S.OpenProjectRequest,
  renameProject: S.RenameProjectRequest,
  deleteProject: S.DeleteProjectRequest,
  archiveProject: S.ArchiveProjectRequest,
  moveGenerations: S.MoveGenerationsRequest,
  queryHistory: S.HistoryQuery,
  getGeneration: S.GenerationIdRequest,
  updateGeneration: S.UpdateGenerationRequest,
  deleteGeneration: S.GenerationIdRequest,
  trashGenerations: S.GenerationIdsRequest,
  setTags: S.SetTagsRequest,
  restoreGeneration: S.GenerationIdRequest,
  emptyTrash: S.EmptyRequest,
  getLineage: S.GenerationIdRequest,
  listBoards: S.EmptyRequest,
  createBoard: S.CreateBoardRequest,
  renameBoard: S.RenameBoardRequest,
  deleteBoard: S.BoardIdRequest,
  setBoardMembership: S.BoardMembershipRequest,
  exportGenerations: S.ExportRequest,
  prepareExportDownload: S.ExportDownloadRequest,
  importImages: S.ImportImagesRequest,
  readImageMetadata: S.ReadMetadataRequest,
  verifyImage: S.VerifyImageRequest,
  getProjectCredentials: S.EmptyRequest,
  setProjectCredentials: S.ProjectCredentialsRequest,
  getReceipt: S.GenerationIdRequest,
  getControlImage: S.ControlImageRequest,
  reproduceGeneration: S.GenerationIdRequest,
  getSettings: S.EmptyRequest,
  updateSettings: S.UpdateSettingsRequest,
  probeGpuDevices: S.ProbeGpuDevicesRequest,
} satisfies Record<ApiMethodName, z.ZodType>);

export const API_METHOD_NAMES = Object.freeze(Object.keys(apiMethods) as ApiMethodName[]);

/** What a client holds: the API plus an event subscription. */
export interface AtelierClient extends AtelierApi {
  onEvent(listener: (event: AtelierEvent) => void): () => void;
}

/** Wire envelope of a call result, shared by IPC and WebSocket. */
export type ApiResult<T = unknown> = { ok: true; value: T } | { ok: false; error: ApiErrorShape };

export class AtelierApiError extends Error {
  constructor(
    readonly code: ApiErrorCode,
    message: string,
    readonly issues?: { path: string; message: string }[],
  ) {
    super(message);
    this.name = 'AtelierApiError';
  }
  toShape(): ApiErrorShape {
    return { code: this.code, message: this.message, ...(this.issues ? { issues: this.issues } : {}) };
  }
}
