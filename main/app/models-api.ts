/** The model slice of the API: installed models, loading, the hub catalog, downloads, import and removal. */
import type { AtelierApi } from '../../common/api/contract';
import { toApiError } from './api-errors';
import type { EventBus } from './event-bus';
import type { Runtime } from './runtime';

export type ModelsApi = Pick<
  AtelierApi,
  'listModels' | 'loadModel' | 'unloadModel' | 'listCatalog' | 'pullModel' | 'pauseDownload' | 'resumeDownload' | 'cancelDownload' | 'listDownloads' | 'importModel' | 'removeModel'
>;

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
      const { modelId, plan } = await modelManager.pull(req.source, { revision: req.revision, id: req.id, token: req.token });
      const bytesTotal = plan.request.files.reduce((sum, f) => sum + (f.size ?? f.sizeHint ?? 0), 0);
      return { modelId, bytesTotal };
    },
    async pauseDownload(req) {
      modelManager.pause(req.modelId);
      return { ok: true };
    },
    async resumeDownload(req) {
      modelManager.resume(req.modelId);
      return { ok: true };
    },
    async cancelDownload(req) {
      modelManager.cancel(req.modelId);
      return { ok: true };
    },
    async listDownloads() {
      return modelManager.downloads().map((p) => ({
        modelId: p.id,
        state: p.state,
        bytesDone: p.bytesDone,
        bytesTotal: p.bytesTotal,
        rateBps: Math.round(p.rate),
        etaMs: p.etaSeconds === undefined ? -1 : Math.round(p.etaSeconds * 1000),
      }));
    },
    async importModel(req) {
      const installed = await modelManager.importFolder(req.folder, { mode: req.mode, id: req.id, name: req.name });
      const { folder: _f, ...summary } = await models.resolve(installed.id);
      return summary;
    },
    async removeModel(req) {
      if (engine.loadedModel && engine.loadedModel.folder === (await models.resolve(req.modelId)).folder) await engine.unload();
      await modelManager.remove(req.modelId);
      return { removed: true };
    },
  };
}
