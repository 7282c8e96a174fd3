/** The bound store's shape: one interface per slice, combined into `AtelierState`. */
import type { ModelDoctorReport } from '../../common/model-doctor';
import type {
  ApiErrorShape,
  AtelierEvent,
  BoardSummary,
  CatalogModel,
  CredentialsInfo,
  GenerationRecord,
  GpuProbeReport,
  ImageMetadataInfo,
  JobState,
  ProjectSummary,
  LoadedModelInfo,
  ModelSummary,
  MoveReport,
  ExportDownload,
  ReproducibilityReceipt,
  SystemInfo,
} from '../../common/api/contract';
import type { GenerateRequest, Settings } from '../../common/api/schemas';
import type { AbState } from '../lib/ab';
import type { InitImageState } from '../lib/init-image';
import type { Margins } from '../lib/outpaint';
import type { VariantAxis } from '../lib/presets';
import type { View } from '../lib/view-transform';
import type { ThumbSize } from '../lib/library-prefs';
import type { ControlNetSummary, FarmStatus, LoraSummary } from '../../common/api/contract';
import type { ControlImage, ControlUnitState, PendingControlImage, StructureLock } from '../lib/control-units';
import type { VariantOptions } from '../lib/variants';
import type { RequestedParams } from '../../common/params/generation';

/** Installed LoRAs for the picker (loras-slice.ts). */
export interface LorasSlice {
  /** null until first loaded. */
  loras: LoraSummary[] | null;
  /** Why the last listLoras failed (a sentence), or null. */
  lorasError: string | null;
  /** Lists the installed LoRAs again (the picker calls it when opened). */
  refreshLoras(): Promise<void>;
}

/** ControlNet units of the workspace and the installed ControlNets (control-slice.ts, renderer/lib/control-units.ts). */
export interface ControlSlice {
  /** null until first listed. */
  controlNets: ControlNetSummary[] | null;
  /** Why the last listControlNets failed (a sentence), or null. */
  controlNetsError: string | null;
  refreshControlNets(): Promise<void>;
  /** In the order they are sent; at most CONTROL_UNITS_MAX. */
  controlUnits: ControlUnitState[];
  /** Adds a unit (the first ControlNet that fits the model, its suggested annotator), optionally with an image; returns its key, or null at the limit. */
  addControlUnit(image?: ControlImage | null): string | null;
  updateControlUnit(key: string, patch: Partial<Omit<ControlUnitState, 'key'>>): void;
  /** Picks another ControlNet: the annotator follows its suggestion. */
  chooseControlNet(key: string, name: string): void;
  removeControlUnit(key: string): void;
  /** "Use current image": the viewed generation becomes the unit's control image. */
  useGenerationForControl(key: string, record: GenerationRecord): void;
  /** Replaces every unit (restore parameters, workspace memory). */
  setControlUnits(units: ControlUnitState[]): void;
  /**
   * Restore parameters: loads the opened-file images the project keeps (`getControlImage`) into the
   * units still waiting for them; returns what did not load, one phrase each (never rejects).
   */
  restoreControlImages(pending: readonly PendingControlImage[]): Promise<string[]>;
}

/** The render farm (`atelier serve --farm`): live workers and which worker runs each job (farm-slice.ts). */
export interface FarmSlice {
  /** null until loaded; `enabled: false` when the studio runs jobs on its own engine. */
  farm: FarmStatus | null;
  /** jobId → the farm worker that runs (or ran) it. */
  jobWorkers: Record<string, string>;
  /** Loads the farm status and follows its events until the returned function is called. */
  watchFarm(): () => void;
}

export type AppState = 'loading' | 'ready' | 'error';

export interface SystemSlice {
  appState: AppState;
  startupError: string | null;
  systemInfo: SystemInfo | null;
  models: ModelSummary[];
  loadedModel: LoadedModelInfo | null;
  modelLoading: boolean;
  settings: Settings | null;
  /** Fetches system info, models, settings, history and jobs; subscribes to events. */
  init(): Promise<void>;
  /** Merges the server's job list into the queue (new jobs first; known ones take the server's state). */
  syncJobs(): Promise<void>;
  /** After a reconnect: reloads models, projects, history, boards and jobs. */
  resync(): Promise<void>;
  selectModel(modelId: string): Promise<void>;
  /** Saves machine-wide settings (preview decoder, low-memory mode…); the reply replaces `settings`. */
  updateSettings(patch: Partial<Settings>): Promise<void>;
  /** Which GPU indices start a session on a CUDA/DirectML provider (default: the settings' provider); rejects with the API error. */
  probeGpuDevices(provider?: Settings['provider']): Promise<GpuProbeReport>;
}

/** The studio's form: the request side of the one parameter schema (same names), plus form-only state. */
export type WorkspaceParams = RequestedParams & {
  modelId: string;
  /** Locked: generate with `seed` (-1 until a seed is known: typed, rolled, or reported by the engine). Unlocked: a new random seed each time. */
  seedLocked: boolean;
  batchSize: number;
};

export interface WorkspaceSlice {
  params: WorkspaceParams;
  setParams(patch: Partial<WorkspaceParams>): void;
  /**
   * Double-click in history: copy an image's parameters into the form (seed locked). Resolves once the
   * ControlNet units' opened-file images have loaded from the project; the toast says what came back then.
   */
  loadParamsFrom(record: GenerationRecord): Promise<void>;
  applyModelDefaults(model: ModelSummary): void;
  rollSeed(): void;
  /** Builds the request from the form and enqueues it. */
  generate(): Promise<string | null>;
  /** img2img source (with strength and optional inpainting mask); null = text-to-image. */
  initImage: InitImageState | null;
  /** Mask painting mode in the viewer (only meaningful with an init image). */
  maskEditing: boolean;
  maskBrush: number;
  maskErase: boolean;
  /** "Use as init image": also views it and sizes the form to it. */
  setInitImage(record: GenerationRecord): void;
  updateInit(patch: Partial<InitImageState>): void;
  clearInit(): void;
  setMaskEditing(on: boolean): void;
  /** Outpainting margins (null = off); the form's size follows the grown canvas. */
  setOutpaint(margins: Margins | null): void;
  setMaskTool(patch: { maskBrush?: number; maskErase?: boolean }): void;
}

export type JobOrigin = 'workspace' | 'vary' | 'variant' | 'retry' | 'upscale' | 'external';

export interface JobView {
  jobId: string;
  state: JobState;
  request: GenerateRequest | null;
  origin: JobOrigin;
  step: number;
  total: number;
  elapsedMs: number;
  etaMs: number | null;
  previewUrl: string | null;
  previewStep: number;
  error: ApiErrorShape | null;
  generationIds: string[];
  seed: number | null;
  position: number | null;
  /** Set for upscale jobs (their `request` only describes them for display). */
  upscale?: { generationId: string; factor: 2 | 4 };
  /** The project the job saves into (the one it was submitted from). */
  projectId?: string;
  /** The server listed this job without its inline init image/mask (it keeps them only while the job runs). */
  inputsOmitted?: boolean;
  projectName?: string;
}

export interface JobsSlice {
  jobs: Record<string, JobView>;
  jobOrder: string[];
  enqueue(request: GenerateRequest, origin: JobOrigin): Promise<string | null>;
  cancelJob(jobId: string): Promise<void>;
  retryJob(jobId: string): Promise<string | null>;
  /** Queues an upscale of a generation; the result becomes a child image and is shown when done. */
  upscaleImage(id: string, factor: 2 | 4): Promise<string | null>;
  /** Moves a waiting job to `index` among the waiting jobs (0 = runs next); optimistic. */
  moveJob(jobId: string, index: number): Promise<void>;
  clearFinishedJobs(): void;
  /** Applies a pushed event (jobs, model loads). */
  handleEvent(event: AtelierEvent): void;
}

export interface HistoryFilter {
  minRating?: number;
  flag?: 'pick' | 'reject' | 'none';
  boardId?: string;
  tag?: string;
  /** Show the project's trash (deleted images) instead of its live history. */
  trashed?: boolean;
}

export interface HistorySlice {
  records: Record<string, GenerationRecord>;
  historyOrder: string[];
  nextCursor: string | null;
  historyLoading: boolean;
  historySearch: string;
  historyFilter: HistoryFilter;
  setHistoryFilter(filter: HistoryFilter): Promise<void>;
  loadHistory(reset?: boolean): Promise<void>;
  setHistorySearch(search: string): Promise<void>;
  addGenerations(records: GenerationRecord[]): void;
  updateGeneration(id: string, patch: { rating?: number; flag?: 'pick' | 'reject' | 'none'; tags?: string[] }): Promise<void>;
  /** Moves an image to the project's trash (restorable until the trash is emptied). */
  deleteGeneration(id: string): Promise<void>;
  /** Brings images back from the trash into the live history. */
  restoreGenerations(ids: string[]): Promise<void>;
  /** Permanently deletes everything in the trash. */
  emptyTrash(): Promise<void>;
  /** Shows an image in the viewer and selects it in the history strip (clearing filters that hide it). */
  reveal(id: string): Promise<void>;
  /** Same parameters, new seed, parentId = this image. */
  vary(id: string): Promise<string | null>;
}

export type CompareLayout = 'side' | 'swipe' | 'grid' | 'ab';
/** Compare shows the first 16 selected images. */
export const MAX_COMPARE = 16;
/** A selection may hold this many images (Ctrl/Cmd+A): what one batch API call accepts. */
export const MAX_SELECTION = 10_000;

export interface CompareSlice {
  compareMode: boolean;
  /** Selected generation ids, in selection order (the compare set). */
  selection: string[];
  /** Anchor of Shift-click ranges. */
  selectionAnchor: string | null;
  compareLayout: CompareLayout;
  compareView: View;
  compareFocus: number;
  showLabels: boolean;
  swipe: number;
  /** Winner-stays A/B run over the selection (layout 'ab'). */
  ab: AbState | null;
  /** Synchronised loupe: on/off, and the hovered point in normalised image coordinates. */
  loupe: boolean;
  loupePoint: { u: number; v: number } | null;
  toggleCompare(on?: boolean): void;
  startAb(): void;
  chooseAb(winner: 'left' | 'right'): Promise<void>;
  toggleLoupe(): void;
  setLoupePoint(p: { u: number; v: number } | null): void;
  selectInHistory(id: string, mode: 'single' | 'toggle' | 'range'): void;
  setSelection(ids: string[]): void;
  setCompareLayout(layout: CompareLayout): void;
  setCompareView(view: View): void;
  moveCompareFocus(delta: number): void;
  setCompareFocus(index: number): void;
  toggleLabels(): void;
  setSwipe(x: number): void;
  rateFocused(rating: number): Promise<void>;
  flagFocused(flag: 'pick' | 'reject'): Promise<void>;
}

export interface Toast {
  id: number;
  /** info/success close by themselves after a few seconds; errors stay until dismissed. */
  kind: 'error' | 'info' | 'success';
  title: string;
  message: string;
  /** One button on the toast (e.g. Undo); running it also dismisses the toast. */
  action?: { label: string; run(): void };
  /** How many identical toasts this one stands for (shown as ×N instead of stacking copies). */
  count?: number;
}

/** A number field whose text is not a valid value: the form keeps its last valid value meanwhile. */
export interface FieldError {
  /** One sentence, e.g. "Width must be a multiple of 8." */
  message: string;
  /** Shown next to the field (after blur/Enter or a refused Generate); before that only Generate knows. */
  shown: boolean;
}

export interface UiSlice {
  viewingId: string | null;
  /** Follow the newest running job in the viewer until the user picks an image. */
  followJobs: boolean;
  viewerView: View;
  toasts: Toast[];
  variantExplorerOpen: boolean;
  /** Bumped by reveal(): the history strip scrolls to and focuses `viewingId`. */
  revealNonce: number;
  view(id: string | null): void;

  setViewerView(view: View): void;
  pushToast(t: Omit<Toast, 'id' | 'count'>): void;
  dismissToast(id: number): void;
  reportError(title: string, err: unknown): void;
  /** Number fields whose text is invalid, by field id. */
  fieldErrors: Record<string, FieldError>;
  setFieldError(field: string, error: FieldError | null): void;
  /** The empty-prompt question is open under the Generate button. */
  emptyPromptConfirm: boolean;
  /**
   * Generate from the UI (button, Ctrl/Cmd+Enter): refuses while a field is invalid (showing the
   * field errors), asks first when the prompt is empty (unless `allowEmptyPrompt`), else generate().
   */
  requestGenerate(opts?: { allowEmptyPrompt?: boolean }): Promise<string | null>;
  cancelEmptyPrompt(): void;
  setVariantExplorerOpen(open: boolean): void;
}

export interface VariantCell {
  label: string;
  jobId: string | null;
  error: string | null;
  /** The cell's image once its job is done (kept with the source, so the grid reopens after a reload). */
  generationId?: string | null;
  thumbUrl?: string;
}

export interface VariantGroup {
  id: string;
  sourceId: string;
  /** The column axis (the only one of a one-axis grid). */
  axis: VariantAxis;
  /** The row axis of an X/Y grid, e.g. lighting × reflection; null for one axis. */
  axis2?: VariantAxis | null;
  xLabels?: string[];
  yLabels?: string[];
  /** Set when the grid locks the composition (img2img from the source at this strength). */
  lockStrength: number | null;
  /** Set when the grid locks the structure (the source's edges or depth through this ControlNet). */
  structure?: { lock: StructureLock; controlNet: string } | null;
  /** Row-major: cell (x, y) is `cells[y * xLabels.length + x]`. */
  cells: VariantCell[];
}

export interface VariantsSlice {
  variantGroups: VariantGroup[];
  /** `lockStrength`: lock composition (img2img from the source at that strength); `second`: the row axis of an X/Y grid. */
  runVariants(
    sourceId: string,
    axis: VariantAxis,
    values: string[],
    count?: number,
    options?: { lockStrength?: number; second?: { axis: VariantAxis; values: string[] }; structure?: VariantOptions['structure'] },
  ): Promise<string | null>;
  /** Generation ids produced so far by a group, in grid order. */
  variantGenerationIds(groupId: string): string[];
  /** Brings back the grids kept with a source image (after a reload or a project switch). */
  restoreVariants(sourceId: string): void;
  /** Fetches generations not loaded in the history yet (a restored grid's cells), for thumbnails and Compare. */
  ensureRecords(ids: string[]): Promise<void>;
}

export interface ProjectsSlice {
  /** Each with the server's `lastOpenedAt`, from which the switcher's "Recent" group is derived. */
  projects: ProjectSummary[];
  loadProjects(): Promise<void>;
  createProject(name: string): Promise<void>;
  openProject(projectId: string): Promise<void>;
  /** Called when the current project changed (by us or another window): reset project-bound state. */
  onProjectChanged(project: ProjectSummary): void;
}

export interface ImportSlice {
  /** Metadata read from a dropped image, offered to the user until applied or dismissed. */
  importOffer: (ImageMetadataInfo & { fileName: string }) | null;
  importImage(fileName: string, base64: string): Promise<void>;
  applyImport(): void;
  dismissImport(): void;
}

export interface DownloadView {
  modelId: string;
  state: string;
  bytesDone: number;
  bytesTotal: number;
  rateBps: number;
  etaMs: number;
  error: string | null;
  resumable: boolean;
  /** What was pulled (a failed row's Retry pulls it again). */
  source?: string;
  /** Catalog models: the build being downloaded, and why it was chosen. */
  variant?: string;
  variantReason?: string;
}

export interface DoctorModelParams {
  modelId: string;
  provider?: 'auto' | 'cuda' | 'dml' | 'coreml' | 'webgpu' | 'cpu';
  width?: number;
  height?: number;
}

export interface ModelManagerSlice {
  modelsViewOpen: boolean;
  catalog: CatalogModel[];
  downloads: Record<string, DownloadView>;
  importResult: { ok: boolean; message: string } | null;
  setModelsViewOpen(open: boolean): void;
  refreshModels(): Promise<void>;
  /** `variant`: a catalog build id, 'generic', or 'auto'/absent for the build made for the provider the app runs on. */
  pullModel(source: string, variant?: string): Promise<void>;
  pauseDownload(modelId: string): Promise<void>;
  resumeDownload(modelId: string): Promise<void>;
  cancelDownload(modelId: string): Promise<void>;
  removeModel(modelId: string): Promise<void>;
  importModel(folder: string, mode: 'reference' | 'copy'): Promise<void>;
  /** The model doctor for one model (the Models view's Check panel); rejects with the API error. */
  doctorModel(req: DoctorModelParams): Promise<ModelDoctorReport>;
  handleModelEvent(event: AtelierEvent): void;
}

export interface Lineage {
  id: string;
  /** Oldest first, ending with the image's parent. */
  ancestors: GenerationRecord[];
  children: GenerationRecord[];
}

export interface LineageSlice {
  showLineage: boolean;
  lineage: Lineage | null;
  toggleLineage(on?: boolean): void;
  loadLineage(id: string): Promise<void>;
}

export interface BoardsSlice {
  boards: BoardSummary[];
  boardsLoaded: boolean;
  loadBoards(): Promise<void>;
  /** Creates a board (optionally with images in it); resolves to its id. */
  createBoard(name: string, addIds?: string[]): Promise<string | null>;
  renameBoard(boardId: string, name: string): Promise<void>;
  deleteBoard(boardId: string): Promise<void>;
  setBoardMembership(boardId: string, ids: string[], member: boolean): Promise<void>;
  setTags(id: string, tags: string[]): Promise<void>;
  /** Writes the images to a folder or .zip on the machine running Atelier; toasts path and count. */
  exportGenerations(ids: string[], to: string, format: 'png' | 'jpeg' | 'webp'): Promise<{ path: string; count: number } | null>;
}

/** Library work at studio scale: whole-selection actions, keyboard culling, projects, moving images. */
export interface LibrarySlice {
  thumbSize: ThumbSize;
  setThumbSize(size: ThumbSize): void;
  /** Rating an image from the keyboard steps on to the next one (never from the last back to the first). */
  autoAdvance: boolean;
  setAutoAdvance(on: boolean): void;
  /** Ctrl/Cmd+A: select every image loaded in the strip. */
  selectAll(): void;
  /** Esc: select nothing (the viewer keeps its image). */
  clearSelection(): void;
  /** 1–5 / 0 from the keyboard on the viewed (workspace) or focused (compare) image, then auto-advance. */
  rateAndAdvance(rating: number): Promise<void>;
  /** Moves images to the trash with one call (Delete key), with Undo; the viewer steps to the next image. */
  trashGenerations(ids: string[]): Promise<void>;
  /** Adds / removes tags on many images at once. */
  tagGenerations(ids: string[], add: string[], remove: string[]): Promise<void>;
  /** Moves images (files, tags, lineage among them) to another project; they leave this strip. */
  moveGenerations(ids: string[], projectId: string): Promise<MoveReport | null>;
  renameProject(projectId: string, name: string): Promise<boolean>;
  archiveProject(projectId: string, archived: boolean): Promise<boolean>;
  deleteProject(projectId: string): Promise<boolean>;
  /** Server mode: the export as a .zip for the browser to download (the caller starts the download). */
  prepareExportDownload(ids: string[], format: 'png' | 'jpeg' | 'webp'): Promise<ExportDownload | null>;
  /** Content credentials (C2PA) of stored images, verified by the server, by generation id (filled on demand). */
  credentials: Record<string, CredentialsInfo>;
  /** Asks the server to verify these images' credentials (a few at a time; each image once). */
  ensureCredentials(ids: string[]): void;
  /** The strip shows every image, only images with content credentials, or only ones whose credentials verify. */
  credentialsFilter: CredentialsFilter;
  setCredentialsFilter(filter: CredentialsFilter): void;
  /** Reproducibility receipts of this session's reproductions (and stored ones looked up), by generation id. */
  receipts: Record<string, ReproducibilityReceipt>;
  /** Generation ids being reproduced now. */
  reproducing: string[];
  /** Regenerates the image from its own parameters and reports whether the pixels match bit for bit. */
  reproduceGeneration(id: string): Promise<ReproducibilityReceipt | null>;
  /** Looks up the receipt stored beside an image (from the CLI or an earlier session). */
  loadReceipt(id: string): Promise<void>;
}

export type CredentialsFilter = 'all' | 'present' | 'verified';

export type AtelierState = ControlSlice & LorasSlice & FarmSlice & LibrarySlice & BoardsSlice & ModelManagerSlice & LineageSlice & ProjectsSlice & ImportSlice & SystemSlice & WorkspaceSlice & JobsSlice & HistorySlice & CompareSlice & UiSlice & VariantsSlice;
