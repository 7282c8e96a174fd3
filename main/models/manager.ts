/**
 * ModelManager: the one object the backend needs to expose model management over the API —
 * catalog + installed list + downloads + import/remove, with events shaped for the UI
 * (`download-progress` matches the API's `model:download-progress` event).
 */
import { EventEmitter } from 'node:events';
import { defaultCatalogPath, entryDownloadBytes, findCatalogEntry, loadCatalog, pickVariant, variantChoices, type Catalog, type CatalogEntry, type ExecutionProviderName } from './catalog';
import { DownloadError, ModelDownloader, type DownloadJob, type DownloadProgress, type DownloadResult, type DownloadState } from './downloader';
import { HubClient, HubError, parseRepoRef } from './hub-client';
import { assertSafeModelId, slugifyModelId } from './manifest';
import { ModelStore, type ImportOptions, type InstalledModel } from './model-store';
import { PlanError, planCatalogPull, planRepoPull, type PullPlan } from './plan';
import { removeSharedInstall, sharedInstallEntry, sharedInstallPresent, sharedInstallTarget } from './shared-installs';
import { FolderSizeCache } from './size-cache';

export interface ModelManagerOptions {
  /** The user's models folder; a function so a settings change takes effect on the next call. */
  modelsDir: string | (() => string);
  catalogPath?: string;
  demoModelDir?: string;
  endpoint?: string;
  token?: string;
  /** The engine's loader, run on pipelines before they are installed or imported. */
  validate?: (folder: string) => Promise<void>;
  concurrency?: number;
  freeBytes?: (dir: string) => Promise<number>;
  retryBaseMs?: number;
  /** Where listed model folders keep their measured sizes (default: a cache of its own). */
  folderSizes?: FolderSizeCache;
}

export interface DownloadProgressEvent {
  modelId: string;
  state: DownloadState;
  bytesDone: number;
  bytesTotal: number;
  rateBps: number;
  /** Milliseconds left; -1 when unknown. */
  etaMs: number;
  /** Catalog models: the build being downloaded. */
  variant?: string;
}

/** Every catalog kind is listed; annotator and ControlNet entries install into shared folders (catalog.ts INSTALL_ROOTS). */
type ListedKind = CatalogEntry['kind'];

export interface CatalogItem {
  id: string;
  name: string;
  kind: ListedKind;
  /** `controlnet-unet`: the catalog id of the base model it installs into. */
  forModel?: string;
  repo?: string;
  family: string;
  precision: string;
  providers: string[];
  license: string;
  description: string;
  downloadBytes: number;
  sizeApprox: boolean;
  estimates: CatalogEntry['estimates'];
  bundled: boolean;
  installed: boolean;
  /** A partial download exists and `pull` would resume it. */
  resumable: boolean;
  /** State of a download running now, if any. */
  downloading?: DownloadState;
  /** 'hub-tree': the file list, sizes and sha256 are read from the hub at download. */
  filesFrom: 'catalog' | 'hub-tree';
  /** The builds a pull can choose from ('generic' first); absent when the entry has no variants. */
  variants?: { id: string; precision: string; providers: string[]; repo?: string }[];
  /** The build installed, from the model's manifest. */
  installedVariant?: string;
}

/** A download that failed and was not retried or cancelled yet: listed with its reason so the UI can offer Retry (also after a reload). */
export interface FailedDownload {
  modelId: string;
  /** What was pulled (catalog id, owner/name or URL): a retry pulls it again. */
  source: string;
  code: string;
  message: string;
  /** Partial files were kept: a retry continues where it stopped. */
  resumable: boolean;
  bytesDone: number;
  bytesTotal: number;
  failedAt: number;
  /** Catalog models: the build that was being pulled, and why. */
  variant?: string;
  variantReason?: string;
}

type PullOptions = {
  revision?: string;
  id?: string;
  token?: string;
  /** Catalog models: a variant id, 'generic' or 'auto' (default): the build for `provider`. */
  variant?: string;
  /** The provider models will run on (settings.provider, 'auto' resolved); picks the variant. Default 'cpu'. */
  provider?: ExecutionProviderName;
};

export interface ModelManagerEvents {
  'download-progress': [DownloadProgressEvent];
  'download-finished': [{ modelId: string; model: InstalledModel }];
  'download-failed': [{ modelId: string; code: string; message: string; resumable: boolean }];
  changed: [];
}

export class ModelManager extends EventEmitter<ModelManagerEvents> {
  readonly #opts: ModelManagerOptions;
  readonly #jobs = new Map<string, DownloadJob>();
  /** The catalog build each running download pulls (for listings made while it runs). */
  readonly #variants = new Map<string, { id: string; reason: string }>();
  /** Failed downloads by model id, with what to pull again (kept for this process's life). */
  readonly #failed = new Map<string, FailedDownload & { options: PullOptions }>();
  #catalog: Promise<Catalog> | undefined;
  /** Model folder sizes, so listing models doesn't walk every folder each time; cleared on every change made here. */
  readonly #sizes: FolderSizeCache;
  /** The listing running now, shared by every listInstalled() call until it settles. */
  #listing: { dir: string; models: Promise<InstalledModel[]> } | undefined;

  constructor(options: ModelManagerOptions) {
    super();
    this.#opts = options;
    this.#sizes = options.folderSizes ?? new FolderSizeCache();
  }

  /** Models were installed, imported, removed or a download ended: forget kept sizes, then tell listeners. */
  #changed(): void {
    this.#sizes.invalidate();
    this.#listing = undefined;
    this.emit('changed');
  }

  get modelsDir(): string {
    return typeof this.#opts.modelsDir === 'function' ? this.#opts.modelsDir() : this.#opts.modelsDir;
  }

  catalog(): Promise<Catalog> {
    this.#catalog ??= loadCatalog(this.#opts.catalogPath ?? defaultCatalogPath());
    return this.#catalog;
  }

  store(): ModelStore {
    return new ModelStore({ modelsDir: this.modelsDir, demoModelDir: this.#opts.demoModelDir, validate: this.#opts.validate, freeBytes: this.#opts.freeBytes, sizes: this.#sizes });
  }

  #hub(token?: string): HubClient {
    return new HubClient({ endpoint: this.#opts.endpoint, token: token ?? this.#opts.token });
  }

  #dl(hub: HubClient): ModelDownloader {
    const validate = this.#opts.validate;
    return new ModelDownloader({
      modelsDir: this.modelsDir,
      hub,
      ...(validate ? { validate: async (folder: string, info: { kind: string }) => (info.kind === 'pipeline' ? validate(folder) : undefined) } : {}),
      ...(this.#opts.concurrency ? { concurrency: this.#opts.concurrency } : {}),
      ...(this.#opts.freeBytes ? { freeBytes: this.#opts.freeBytes } : {}),
      ...(this.#opts.retryBaseMs !== undefined ? { retryBaseMs: this.#opts.retryBaseMs } : {}),
      progressIntervalMs: 250,
    });
  }

  /**
   * Installed models. Calls made while a listing is already running share it (twenty clients asking
   * at once read the folders once); a change made here starts the next listing afresh, so a list
   * asked for after an import, removal or download returned always includes it.
   */
  listInstalled(): Promise<InstalledModel[]> {
    const dir = this.modelsDir; // a settings change to another folder never joins the old folder's listing
    let listing = this.#listing?.dir === dir ? this.#listing : undefined;
    if (!listing) {
      const entry = { dir, models: this.store().list() };
      listing = this.#listing = entry;
      const clear = () => {
        if (this.#listing === entry) this.#listing = undefined;
      };
      entry.models.then(clear, clear);
    }
    return listing.models.then((models) => models.slice());
  }

  /** Catalog entries with their install / partial-download / running state. */
  async listCatalog(): Promise<CatalogItem[]> {
    const [catalog, installed] = await Promise.all([this.catalog(), this.listInstalled()]);
    const installedIds = new Set(installed.map((m) => m.catalogId ?? m.id));
    const installedVariants = new Map(installed.filter((m) => m.variant).map((m) => [m.catalogId ?? m.id, m.variant!]));
    const probe = new ModelDownloader({ modelsDir: this.modelsDir });
    const listed = catalog.models;
    return Promise.all(
      listed.map(async (m) => ({
        id: m.id,
        name: m.name,
        kind: m.kind,
        ...(m.repo ? { repo: m.repo } : {}),
        family: m.family,
        precision: m.precision,
        providers: m.providers,
        license: m.license,
        description: m.description,
        downloadBytes: entryDownloadBytes(m),
        sizeApprox: m.filesFrom === 'hub-tree' || m.files.some((f) => f.sizeApprox === true),
        filesFrom: m.filesFrom ?? 'catalog',
        ...(m.variants?.length ? { variants: variantChoices(m) } : {}),
        ...(installedVariants.has(m.id) ? { installedVariant: installedVariants.get(m.id)! } : {}),
        estimates: m.estimates,
        bundled: m.bundled === true,
        ...(m.forModel ? { forModel: m.forModel } : {}),
        // Shared-folder installs (annotators/<kind>, controlnets/<name>) are not model folders: their folder says;
        // a ControlNet UNet is installed when its base model's folder holds controlnet/model.onnx.
        installed: m.bundled === true || installedIds.has(m.id) || sharedInstallPresent(m, this.modelsDir, installed),
        resumable: !m.bundled && (await probe.hasStaging(m.id)),
        ...(this.#jobs.has(m.id) ? { downloading: this.#jobs.get(m.id)!.state } : {}),
      })),
    );
  }

  /**
   * What a pull of a catalog id, `owner/name` or hub URL would download, checked before any big
   * byte moves (the UI shows this before the user confirms).
   */
  async plan(what: string, options: PullOptions = {}): Promise<PullPlan> {
    const hub = this.#hub(options.token);
    const entry = findCatalogEntry(await this.catalog().catch(() => ({ version: 1 as const, models: [] })), what);
    if (entry && !entry.bundled && (entry.variants?.length || (options.variant && options.variant !== 'auto'))) {
      // The build for the provider models will run on, unless the user chose one.
      const picked = pickVariant(entry, options.provider ?? 'cpu', options.variant);
      const plan = await planCatalogPull(picked.entry, hub, options);
      plan.variant = { id: picked.variant, reason: picked.reason };
      plan.request.manifest = { ...plan.request.manifest, variant: picked.variant, variantReason: picked.reason };
      return plan;
    }
    if (entry) {
      // Where a ControlNet UNet goes is known only once its base model is found installed.
      const baseFolder = entry.kind === 'controlnet-unet' ? sharedInstallTarget(entry, this.modelsDir, await this.listInstalled()) : undefined;
      const plan = await planCatalogPull(entry, hub, options);
      if (baseFolder) plan.request.installTo = baseFolder;
      if (entry.filesFrom === 'hub-tree') plan.request.manifest = { ...plan.request.manifest, filesFrom: 'hub-tree' };
      return plan;
    }
    if (!parseRepoRef(what)) throw new PlanError(`"${what}" is neither a catalog id nor a hub repo (owner/name or https://huggingface.co/owner/name)`);
    return planRepoPull(what, hub, options);
  }

  /** Plan and start (or resume) a download; resolves once it is running, with the job. */
  async pull(what: string, options: PullOptions = {}): Promise<{ modelId: string; job: DownloadJob; plan: PullPlan }> {
    // A chosen id that cannot be a folder name is refused before anything reaches the network.
    if (options.id !== undefined) assertSafeModelId(options.id);
    let plan: PullPlan;
    try {
      plan = await this.plan(what, options);
    } catch (err) {
      // Could not even plan it (offline, hub trouble): keep a failed row so Retry is offered later too.
      if (err instanceof HubError && (err.code === 'offline' || err.code === 'network' || err.code === 'http')) {
        const modelId = await this.#idFor(what, options);
        if (modelId && !this.#jobs.has(modelId)) {
          this.#failed.set(modelId, { modelId, source: what, options, code: err.code, message: err.message, resumable: false, bytesDone: 0, bytesTotal: 0, failedAt: Date.now() });
        }
      }
      throw err;
    }
    const modelId = plan.request.id;
    const running = this.#jobs.get(modelId);
    if (running) return { modelId, job: running, plan };
    const job = this.#dl(this.#hub(options.token)).start(plan.request);
    this.#jobs.set(modelId, job);
    if (plan.variant) this.#variants.set(modelId, plan.variant);
    else this.#variants.delete(modelId);
    this.#failed.delete(modelId);
    const variant = plan.variant ? { variant: plan.variant.id } : {};
    const report = (p: DownloadProgress) =>
      this.emit('download-progress', { modelId, state: p.state, bytesDone: p.bytesDone, bytesTotal: p.bytesTotal, rateBps: Math.round(p.rate), etaMs: p.etaSeconds === undefined ? -1 : Math.round(p.etaSeconds * 1000), ...variant });
    job.on('progress', report);
    job.done.then(
      async (result: DownloadResult) => {
        this.#jobs.delete(modelId);
        // The finished model's entry (and a re-download's folder) is measured afresh.
        this.#sizes.invalidate();
        this.#listing = undefined;
        const model = (await this.store().get(result.id)) ?? sharedFolderModel(result);
        this.emit('download-finished', { modelId, model });
        this.#changed();
      },
      (err: unknown) => {
        this.#jobs.delete(modelId);
        const e = err as DownloadError;
        if (e.code !== 'cancelled' && e.code !== 'aborted') {
          const p = job.progress();
          const chosen = plan.variant ? { variant: plan.variant.id, variantReason: plan.variant.reason } : {};
          this.#failed.set(modelId, { modelId, source: what, options, code: e.code ?? 'error', message: e.message, resumable: e.stagingKept ?? false, bytesDone: p.bytesDone, bytesTotal: p.bytesTotal, failedAt: Date.now(), ...chosen });
        }
        this.emit('download-failed', { modelId, code: e.code ?? 'error', message: e.message, resumable: e.stagingKept ?? false });
        this.#changed();
      },
    );
    return { modelId, job, plan };
  }

  /** The catalog build a running download pulls, and why it was chosen. */
  runningVariant(modelId: string): { id: string; reason: string } | undefined {
    return this.#jobs.has(modelId) ? this.#variants.get(modelId) : undefined;
  }

  /** Progress of every running download. */
  downloads(): DownloadProgress[] {
    return [...this.#jobs.values()].map((j) => j.progress());
  }

  /** Downloads that failed and were neither retried nor cancelled since, newest first. */
  failedDownloads(): FailedDownload[] {
    return [...this.#failed.values()].map(({ options: _o, ...row }) => row).sort((a, b) => b.failedAt - a.failedAt);
  }

  /** The model id a pull of `what` would install under (without asking the hub). */
  async #idFor(what: string, options: PullOptions): Promise<string | undefined> {
    if (options.id) return options.id;
    const entry = findCatalogEntry(await this.catalog().catch(() => ({ version: 1 as const, models: [] })), what);
    if (entry) return entry.id;
    const ref = parseRepoRef(what);
    return ref ? slugifyModelId(ref.repo.split('/')[1]) : undefined;
  }

  pause(modelId: string): void {
    this.#job(modelId).pause();
  }
  /** Resumes a paused download; a failed one is pulled again (partial files, if kept, are resumed). */
  async resume(modelId: string): Promise<void> {
    const failed = this.#failed.get(modelId);
    if (failed && !this.#jobs.has(modelId)) {
      await this.pull(failed.source, failed.options);
      return;
    }
    this.#job(modelId).resume();
  }
  /** Stops a running download and deletes its partial files; for a failed one, forgets it and deletes them. */
  async cancel(modelId: string): Promise<void> {
    if (!this.#jobs.has(modelId) && this.#failed.has(modelId)) {
      this.#failed.delete(modelId);
      await new ModelDownloader({ modelsDir: this.modelsDir }).discard(modelId);
      this.#changed();
      return;
    }
    this.#job(modelId).cancel();
  }

  #job(modelId: string): DownloadJob {
    const job = this.#jobs.get(modelId);
    if (!job) throw new DownloadError(`no download of "${modelId}" is running`, 'not-found', true);
    return job;
  }

  async importFolder(folder: string, options: ImportOptions = {}): Promise<InstalledModel> {
    const model = await this.store().importFolder(folder, options);
    this.#changed();
    return model;
  }

  async remove(modelId: string): Promise<void> {
    if (this.#jobs.has(modelId)) throw new DownloadError(`"${modelId}" is downloading; cancel the download instead`, 'in-progress', true);
    // An annotator, ControlNet or ControlNet UNet the catalog installed: its own folder goes.
    if (await this.removeShared(modelId)) return;
    await this.store().remove(modelId);
    this.#changed();
  }

  /** Removes a catalog annotator / ControlNet / ControlNet UNet install; the folder removed, or null when `modelId` is none. */
  async removeShared(modelId: string): Promise<string | null> {
    const entry = sharedInstallEntry(await this.catalog().catch(() => ({ version: 1 as const, models: [] })), modelId);
    const removed = entry ? await removeSharedInstall(entry, this.modelsDir, await this.listInstalled()) : null;
    if (removed) this.#changed();
    return removed;
  }

  /** App shutdown: stop every download, keeping partial files for the next start. */
  async close(): Promise<void> {
    const jobs = [...this.#jobs.values()];
    for (const j of jobs) j.abort();
    await Promise.all(jobs.map((j) => j.done.catch(() => {})));
  }
}

/** An annotator or ControlNet installed into a shared folder (the model store lists only `<modelsDir>/<id>/`). */
function sharedFolderModel(result: DownloadResult): InstalledModel {
  const m = result.manifest;
  return {
    id: result.id,
    name: m.name,
    kind: m.kind,
    source: 'download',
    path: result.path,
    folder: result.path,
    bundled: false,
    status: 'ok',
    sizeBytes: result.bytesTotal,
    ...(m.family ? { family: m.family } : {}),
    ...(m.catalogId ? { catalogId: m.catalogId } : {}),
    ...(m.repo ? { repo: m.repo } : {}),
    ...(m.revision ? { revision: m.revision } : {}),
  };
}
