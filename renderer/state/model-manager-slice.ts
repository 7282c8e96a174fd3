import type { StateCreator } from 'zustand';
import type { AtelierClient, DownloadSummary } from '../../common/api/contract';
import { describeError } from './ui-slice';
import type { AtelierState, DownloadView, ModelManagerSlice } from './types';

export const createModelManagerSlice =
  (client: AtelierClient): StateCreator<AtelierState, [], [], ModelManagerSlice> =>
  (set, get) => {
    const patchDownload = (modelId: string, patch: Partial<DownloadView>) =>
      set((s) => {
        const base: DownloadView = s.downloads[modelId] ?? {
          modelId,
          state: 'queued',
          bytesDone: 0,
          bytesTotal: 0,
          rateBps: 0,
          etaMs: -1,
          error: null,
          resumable: true,
        };
        return { downloads: { ...s.downloads, [modelId]: { ...base, ...patch } } };
      });
    /** The server's list: running downloads and failed ones (kept there until retried or cancelled, so a reload still shows Retry). */
    const fromServer = (downloads: DownloadSummary[], prev: Record<string, DownloadView>): Record<string, DownloadView> =>
      Object.fromEntries(
        downloads.map((d) => [
          d.modelId,
          {
            modelId: d.modelId,
            state: d.state,
            bytesDone: d.bytesDone,
            bytesTotal: d.bytesTotal,
            rateBps: d.rateBps,
            etaMs: d.etaMs,
            error: d.error?.message ?? (d.state === 'failed' ? (prev[d.modelId]?.error ?? null) : null),
            resumable: d.resumable ?? true,
            ...(d.source ? { source: d.source } : {}),
            ...(d.variant ? { variant: d.variant, ...(d.variantReason ? { variantReason: d.variantReason } : {}) } : {}),
          },
        ]),
      );
    const refreshDownloads = async () => {
      const downloads = await client.listDownloads().catch(() => null);
      if (downloads) set((s) => ({ downloads: fromServer(downloads, s.downloads) }));
    };
    const act = (title: string, fn: () => Promise<unknown>) => async () => {
      try {
        await fn();
      } catch (err) {
        get().reportError(title, err);
      }
    };

    return {
      modelsViewOpen: false,
      catalog: [],
      downloads: {},
      importResult: null,

      setModelsViewOpen(modelsViewOpen) {
        set({ modelsViewOpen, importResult: null });
        if (modelsViewOpen) void get().refreshModels();
      },

      async refreshModels() {
        const [models, catalog, downloads] = await Promise.all([
          client.listModels().catch(() => null),
          client.listCatalog().catch((err) => (get().reportError('Could not load the model catalog', err), null)),
          client.listDownloads().catch(() => null),
        ]);
        set((s) => ({
          models: models ?? s.models,
          catalog: catalog ?? s.catalog,
          downloads: downloads ? fromServer(downloads, s.downloads) : s.downloads,
        }));
      },

      async pullModel(source, variant) {
        try {
          const { modelId, bytesTotal, variant: chosen, variantReason } = await client.pullModel({ source, ...(variant && variant !== 'auto' ? { variant } : {}) });
          patchDownload(modelId, { bytesTotal, state: 'downloading', error: null, ...(chosen ? { variant: chosen, ...(variantReason ? { variantReason } : {}) } : {}) });
        } catch (err) {
          get().reportError(`Could not download ${source}`, err);
          // A pull that failed before any byte moved (offline…) is listed as failed, with Retry.
          await refreshDownloads();
        }
      },
      pauseDownload: (modelId) => act('Could not pause the download', async () => {
        await client.pauseDownload({ modelId });
        patchDownload(modelId, { state: 'paused' });
      })(),
      async resumeDownload(modelId) {
        const retrying = get().downloads[modelId]?.state === 'failed';
        try {
          await client.resumeDownload({ modelId });
          patchDownload(modelId, { state: 'downloading', error: null });
        } catch (err) {
          get().reportError(retrying ? `Could not retry the download of ${modelId}` : 'Could not resume the download', err);
          if (retrying) await refreshDownloads();
        }
      },
      cancelDownload: (modelId) => act('Could not cancel the download', async () => {
        await client.cancelDownload({ modelId });
        set((s) => {
          const downloads = { ...s.downloads };
          delete downloads[modelId];
          return { downloads };
        });
      })(),
      removeModel: (modelId) => act('Could not remove the model', async () => {
        await client.removeModel({ modelId });
        await get().refreshModels();
      })(),

      async importModel(folder, mode) {
        try {
          const model = await client.importModel({ folder, mode });
          set({ importResult: { ok: true, message: `Imported ${model.name} (${model.family}).` } });
          await get().refreshModels();
        } catch (err) {
          set({ importResult: { ok: false, message: describeError(err) } });
        }
      },

      doctorModel(req) {
        return client.doctorModel(req);
      },

      handleModelEvent(event) {
        switch (event.type) {
          case 'model:download-progress':
            patchDownload(event.modelId, {
              state: event.state,
              bytesDone: event.bytesDone,
              bytesTotal: event.bytesTotal,
              rateBps: event.rateBps,
              etaMs: event.etaMs,
              error: null,
              ...(event.variant ? { variant: event.variant } : {}),
            });
            break;
          case 'model:download-finished':
            set((s) => {
              const downloads = { ...s.downloads };
              delete downloads[event.modelId];
              return { downloads };
            });
            get().pushToast({ kind: 'info', title: 'Download finished', message: `${event.modelId} is installed.` });
            void get().refreshModels();
            break;
          case 'model:download-failed':
            if (event.error.code === 'cancelled') {
              // A cancel (from here or another window) is not a failure: the row just goes away.
              set((s) => {
                const downloads = { ...s.downloads };
                delete downloads[event.modelId];
                return { downloads };
              });
              break;
            }
            patchDownload(event.modelId, { state: 'failed', error: event.error.message, resumable: event.resumable });
            get().pushToast({ kind: 'error', title: `Download of ${event.modelId} failed`, message: event.error.message });
            break;
          case 'models:changed':
            void client.listModels().then((models) => set({ models })).catch(() => undefined);
            break;
          default:
            break;
        }
      },
    };
  };
