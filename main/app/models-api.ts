/** The model slice of the API: installed models, loading, the hub catalog, downloads, import and removal. */
import type { AtelierApi, LoraSummary } from '../../common/api/contract';
import { isExecutionProviderName, type ExecutionProviderName } from '../../common/providers';
import { doctorModel, listExecutionProviders, providerLooksUsable, removeWorkingCopiesOf } from '../engine';
import { LoraStore, type LoraEntry } from '../models/lora-store';
import { isInside } from '../models/model-store';
import { loraCacheDir } from './lora-resolve';
import { controlNetSummaryOf, openControlNetStore } from './controlnet-resolve';
import { toApiError } from './api-errors';
import type { EventBus } from './event-bus';
import type { Runtime } from './runtime';

export type ModelsApi = Pick<
  AtelierApi,
  'listModels' | 'loadModel' | 'unloadModel' | 'listCatalog' | 'pullModel' | 'pauseDownload' | 'resumeDownload' | 'cancelDownload' | 'listDownloads' | 'importModel' | 'removeModel' | 'doctorModel' | 'listLoras' | 'listControlNets'
>;

/** A1111 shows the first 12 digits of the addnet hash (`Lora hashes`). */
export const LORA_SHORT_HASH_LENGTH = 12;

export function loraSummaryOf(entry: LoraEntry): LoraSummary {
  return {
    name: entry.name,
    hash: entry.hash.slice(0, LORA_SHORT_HASH_LENGTH),
    baseFamily: entry.base,
    ...(entry.rank !== undefined ? { rank: entry.rank } : {}),
    sizeBytes: entry.sizeBytes,
    hasPreview: entry.preview !== undefined,
  };
}

/** Forwards the model manager's download and install events to the API's listeners. */
export function forwardModelEvents(runtime: Runtime, bus: EventBus): void {
  const { modelManager } = runtime;
  modelManager.on('download-progress', (p) => bus.emit({ type: 'model:download-progress', ...p }));
  modelManager.on('download-finished', ({ modelId }) => bus.emit({ type: 'model:download-finished', modelId }));
  modelManager.on('download-failed', ({ modelId, code, message, resumable }) =>
    bus.emit({
      type: 'model:download-failed',
      modelId,
      resumable,
      // A user's cancel keeps its own code, so clients can drop the row instead of showing a failure.
      error: code === 'cancelled' ? { code: 'cancelled', message } : toApiError(Object.assign(new Error(message), { name: 'DownloadError', code })).toShape(),
    }),
  );
  modelManager.on('changed', () => bus.emit({ type: 'models:changed' }));
}

export function createModelsApi(runtime: Runtime): ModelsApi {
  const { modelManager, models, engine, generation, settings } = runtime;
  return {
    async listLoras() {
      const { loras } = await new LoraStore(settings.get().modelsDir).list();
      return loras.map(loraSummaryOf);
    },
    async listControlNets() {
      const { controlNets } = await openControlNetStore(settings.get().modelsDir).list();
      return controlNets.map(controlNetSummaryOf);
    },
    async listModels() {
      return (await models.list()).map(({ folder: _f, ...summary }) => summary);
    },
    async loadModel(req) {
      return generation.loadModel(await models.resolve(req.modelId), req.provider ?? settings.get().provider);
    },
    async unloadModel() {
      const had = engine.loadedModel !== null;
      await engine.unload();
      return { unloaded: had };
    },
    async listCatalog() {
      return modelManager.listCatalog();
    },
    async pullModel(req) {
      const provider = runProvider(settings.get().provider, engine.loadedModel?.provider);
      const { modelId, plan } = await modelManager.pull(req.source, { revision: req.revision, id: req.id, token: req.token, variant: req.variant, provider });
      const bytesTotal = plan.request.files.reduce((sum, f) => sum + (f.size ?? f.sizeHint ?? 0), 0);
      return { modelId, bytesTotal, ...(plan.variant ? { variant: plan.variant.id, variantReason: plan.variant.reason } : {}) };
    },
    async pauseDownload(req) {
      modelManager.pause(req.modelId);
      return { ok: true };
    },
    async resumeDownload(req) {
      await modelManager.resume(req.modelId); // a failed download is pulled again (Retry)
      return { ok: true };
    },
    async cancelDownload(req) {
      await modelManager.cancel(req.modelId); // a failed one is forgotten, its partial files deleted
      return { ok: true };
    },
    async listDownloads() {
      return downloadRows(modelManager);
    },
    async importModel(req) {
      const installed = await modelManager.importFolder(req.folder, { mode: req.mode, id: req.id, name: req.name });
      const { folder: _f, ...summary } = await models.resolve(installed.id);
      return summary;
    },
    async doctorModel(req) {
      const { folder, defaults } = await models.resolve(req.modelId);
      // 'auto': the provider the loaded model runs on, else the setting; never a probe session in this process.
      const auto = req.provider === 'auto' || req.provider === undefined;
      const provider = auto ? ((engine.loadedModel?.provider as typeof req.provider | undefined) ?? settings.get().provider) : req.provider;
      return doctorModel(folder, { provider, probe: false, target: req.modelId, width: req.width ?? defaults?.width, height: req.height ?? defaults?.height, batch: req.batch });
    },
    async removeModel(req) {
      // Resolved first: an unknown (or malformed) id is the client's mistake → not_found, never "internal".
      // A catalog annotator, ControlNet or ControlNet UNet is no model of its own: its folder goes.
      const entry = await models.resolve(req.modelId).catch(async (err: unknown) => {
        const removed = await modelManager.removeShared(req.modelId);
        if (!removed) throw err;
        // A base model whose ControlNet UNet went: its cached session must not outlive the file.
        if (engine.loadedModel && isInside(removed, engine.loadedModel.folder)) await engine.unload();
        return null;
      });
      if (entry === null) return { removed: true };
      if (engine.loadedModel && engine.loadedModel.folder === entry.folder) await engine.unload();
      // Its LoRA merges (working copies keyed by the graphs' paths) go with it: found only while the folder exists.
      removeWorkingCopiesOf(entry.folder, loraCacheDir(settings.get().modelsDir));
      await modelManager.remove(req.modelId);
      return { removed: true };
    },
  };
}

/**
 * The provider models will run on, for picking a catalog build: the setting, and for 'auto' the
 * provider the loaded model runs on, else the first this build reports that looks usable (checked
 * without creating a session: this is the API process).
 */
export function runProvider(setting: string, loaded?: string): ExecutionProviderName {
  if (setting !== 'auto' && isExecutionProviderName(setting)) return setting;
  if (loaded && isExecutionProviderName(loaded)) return loaded;
  return listExecutionProviders().find((p) => providerLooksUsable(p.name).ok)?.name ?? 'cpu';
}

function variantFields(v: { id: string; reason: string } | undefined): { variant?: string; variantReason?: string } {
  return v ? { variant: v.id, variantReason: v.reason } : {};
}

/** Running downloads, then failed ones (with why, and whether Retry resumes) until retried or cancelled. */
function downloadRows(modelManager: Runtime['modelManager']) {
  const running = modelManager.downloads().map((p) => ({
    modelId: p.id,
    state: p.state,
    bytesDone: p.bytesDone,
    bytesTotal: p.bytesTotal,
    rateBps: Math.round(p.rate),
    etaMs: p.etaSeconds === undefined ? -1 : Math.round(p.etaSeconds * 1000),
    ...variantFields(modelManager.runningVariant(p.id)),
  }));
  // Failed downloads stay listed so a reloaded window still offers Retry.
  const failed = modelManager.failedDownloads()
    .filter((f) => !running.some((r) => r.modelId === f.modelId))
    .map((f) => ({
      modelId: f.modelId,
      state: 'failed',
      bytesDone: f.bytesDone,
      bytesTotal: f.bytesTotal,
      rateBps: 0,
      etaMs: -1,
      error: toApiError(Object.assign(new Error(f.message), { name: 'DownloadError', code: f.code })).toShape(),
      resumable: f.resumable,
      source: f.source,
      ...(f.variant ? { variant: f.variant, ...(f.variantReason ? { variantReason: f.variantReason } : {}) } : {}),
    }));
  return [...running, ...failed];
}
