/**
 * The one Atelier API contract: every method the renderer (or any client) may call, and every
 * event the Node side pushes. Implemented once on the Node side (main/app/atelier-service.ts),
 * reached through Electron IPC (preload) or WebSocket (server mode) — same interface either way.
 */
import type { GenerationParams } from '../params/generation';
import type { ModelDoctorReport } from '../model-doctor';
import type { ExecutionProviderName } from '../providers';
import type { z } from 'zod';
import * as S from './schemas';

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

export interface ModelSummary {
  id: string;
  name: string;
  family: string;
  source: 'bundled' | 'installed' | 'imported';
  sizeBytes: number;
  description?: string;
  defaults?: { steps?: number; guidanceScale?: number; scheduler?: string; width?: number; height?: number };
  /** Width and height must be multiples of this (when the model's UNet needs more than 8). */
  sizeMultiple?: number;
  /** Largest A1111 "Clip skip" its text encoder can run (1: only the default); absent when unknown. */
  clipSkipMax?: number;
  /**
   * Whether ControlNet units can run on it: its own UNet takes ControlNet residual inputs, or the
   * folder ships a ControlNet-capable UNet as `controlnet/model.onnx`. Lets the studio refuse
   * ControlNet before queueing instead of the job failing; read from the graphs' headers (no
   * session). Absent when unknown (graphs unreadable): clients must not warn then.
   */
  controlNetCapable?: boolean;
}

/** An installed LoRA (`<modelsDir>/loras/<name>.safetensors`), as the studio's picker and A1111 clients list it. */
export interface LoraSummary {
  /** What `<lora:name:w>` in a prompt refers to (the file name without `.safetensors`). */
  name: string;
  /** A1111's short hash: the first 12 hex digits of the addnet hash (as `Lora hashes` in infotext). */
  hash: string;
  /** Base model family read from the file's header; null when it cannot be told. */
  baseFamily: 'sd1' | 'sd2' | 'sdxl' | null;
  /** kohya's `ss_network_dim`, when the file records it. */
  rank?: number;
  sizeBytes: number;
  /** Whether an embedded thumbnail or a sidecar preview image exists. */
  hasPreview: boolean;
}

/** An installed ControlNet (`<modelsDir>/controlnets/<name>/model.onnx` or `<modelsDir>/controlnets/<name>.onnx`). */
export interface ControlNetSummary {
  /** What a generate request's `controlNets[].model` names. */
  name: string;
  /** sha256 (hex) of its model.onnx, as recorded with each image. */
  hash: string;
  /** Base family its graph fits (from its inputs: 768-wide text states = sd1, 1024 = sd2, SDXL extra inputs = sdxl); null when unknown. */
  baseFamily: 'sd1' | 'sd2' | 'sdxl' | null;
  /** What kind of control image it takes, from its config or name (canny, depth, pose, …); null when unknown. */
  controlType: string | null;
  /** The annotator that makes its control image from a photo, when one fits its type. */
  suggestedAnnotator: 'canny' | 'depth' | 'pose' | null;
  sizeBytes: number;
}

export interface LoadedModelInfo {
  modelId: string;
  family: string;
  provider: string;
  fallbacks: { provider: string; reason: string }[];
  scheduler: string;
  loadMs: number;
  /** The GPU index the model runs on (CUDA/DirectML `deviceId`, from settings.gpuDeviceId); absent on other providers. */
  deviceId?: number;
}

/** `probeGpuDevices`: which GPU indices can start a session on a provider (onnxruntime-node cannot list DXGI adapters, so each index is tried). */
export interface GpuProbeReport {
  provider: string;
  /** false: the provider cannot run here at all (`reason` says why); `devices` is then empty. */
  available: boolean;
  reason?: string;
  devices: { deviceId: number; ok: boolean; reason?: string }[];
}

/** One build of a catalog model, as the Models view's variant choice lists it. */
export interface CatalogVariantSummary {
  /** A variant id, or 'generic' for the entry's own files. */
  id: string;
  precision: string;
  providers: string[];
  repo?: string;
}

export interface CatalogModel {
  id: string;
  name: string;
  /**
   * `controlnet` installs into `controlnets/<id>/`, `annotator` into `annotators/<kind>/` (ControlNet
   * preprocessors), `controlnet-unet` into the installed `forModel`'s folder as `controlnet/`.
   */
  kind: 'pipeline' | 'vae-decoder' | 'upscaler' | 'controlnet' | 'annotator' | 'controlnet-unet';
  /** `controlnet-unet` entries: the catalog id of the base model (installed first) whose ControlNet-capable UNet this is. */
  forModel?: string;
  repo?: string;
  family: string;
  precision: string;
  providers: string[];
  license: string;
  description: string;
  downloadBytes: number;
  sizeApprox: boolean;
  estimates?: { diskBytes?: number; memoryBytes?: number; vramBytes?: number; [k: string]: unknown };
  bundled: boolean;
  installed: boolean;
  resumable: boolean;
  downloading?: string;
  /** 'hub-tree': the entry names a repo and its diffusers-ONNX layout; the file list, sizes and sha256 are read from the hub at download. */
  filesFrom?: 'catalog' | 'hub-tree';
  /** The builds a pull can choose from ('generic' first), when the entry has provider-specific variants. */
  variants?: CatalogVariantSummary[];
  /** The variant installed (from its manifest), when installed from the catalog. */
  installedVariant?: string;
}

export interface DownloadSummary {
  modelId: string;
  state: string;
  bytesDone: number;
  bytesTotal: number;
  rateBps: number;
  etaMs: number;
  /** Set on a failed download (state 'failed'): why, in one sentence. Failed rows stay listed until retried or cancelled. */
  error?: ApiErrorShape;
  /** A failed download whose partial files were kept: Retry continues where it stopped. */
  resumable?: boolean;
  /** What was asked for (catalog id, owner/name or hub URL): what Retry pulls again. */
  source?: string;
  /** Catalog models: the build being downloaded, and why it was chosen. */
  variant?: string;
  variantReason?: string;
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

export interface ImageMetadataInfo {
  source: string;
  prompt?: string;
  negativePrompt?: string;
  params: Record<string, string | number>;
  warnings: string[];
  /** The file's content credentials (C2PA), checked with the official c2pa-rs reader. */
  c2pa?: CredentialsInfo;
}

export interface CredentialSignerInfo {
  commonName?: string;
  issuer?: string;
  serialNumber?: string;
  time?: string;
  /** Signed with this installation's (or its configured studio's) certificate. */
  ownCertificate?: boolean;
}

/** Content credentials (C2PA) of an image: `valid`, `invalid` (tampered or broken), `absent`; `unknown` where the reader cannot run. */
export interface CredentialsInfo {
  state: 'valid' | 'invalid' | 'absent' | 'unknown';
  signer?: CredentialSignerInfo;
  /** e.g. "Atelier 0.1.0". */
  generator?: string;
  /** The image or one of its parents declares AI generation (IPTC digital source type). */
  aiGenerated: boolean;
  digitalSourceType?: string;
  actions: string[];
  model?: { id?: string; hash?: string; family?: string };
  /** 'full' or 'ai-only' for Atelier's own manifests. */
  disclosure?: string;
  /** The disclosed generation parameters (absent when only the fact of AI generation is disclosed). */
  parameters?: Record<string, unknown>;
  /** Parents, nearest first. */
  chain: { title?: string; relationship?: string; generator?: string; signer?: CredentialSignerInfo; actions: string[]; aiGenerated: boolean; state: 'valid' | 'invalid' | 'unknown'; problems: string[] }[];
  problems: string[];
  /** The signer's certificate is on no trust list (true for every self-signed installation certificate). */
  untrusted: boolean;
  warnings: string[];
}

/** A reproducibility receipt: the image regenerated from its own parameters and compared pixel by pixel. */
export interface ReproducibilityReceipt {
  v: 1;
  generationId?: string;
  /** sha256 of the file that was reproduced. */
  fileSha256: string;
  result: 'identical' | 'different';
  /** Mean and largest absolute difference per RGB channel value (0–255); 0 / 0 when identical. */
  meanAbsDiff: number;
  maxDiff: number;
  width: number;
  height: number;
  modelId: string;
  modelHash: string;
  /** Provider the original was made with, and the one that reproduced it. */
  originalProvider: string;
  provider: string;
  paramsSource: string;
  reproducedAt: string;
  appVersion: string;
  note?: string;
}

export type ApiErrorCode =
  | 'invalid_request'
  | 'unknown_method'
  | 'not_found'
  | 'model_error'
  | 'cancelled'
  | 'busy'
  | 'unauthorized'
  | 'internal';

export interface ApiErrorShape {
  code: ApiErrorCode;
  message: string;
  /** Field-level problems for invalid_request. */
  issues?: { path: string; message: string }[];
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
