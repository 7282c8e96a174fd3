import type { StateCreator } from 'zustand';
import type { AtelierClient } from '../../common/api/contract';
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
          downloads: downloads
            ? Object.fromEntries(downloads.map((d) => [d.modelId, { ...d, error: s.downloads[d.modelId]?.error ?? null, resumable: true }]))
            : s.downloads,
        }));
      },

      async pullModel(source) {
        await act(`Could not download ${source}`, async () => {
          const { modelId, bytesTotal } = await client.pullModel({ source });
          patchDownload(modelId, { bytesTotal, state: 'downloading', error: null });
        })();
      },
      pauseDownload: (modelId) => act('Could not pause the download', async () => {
        await client.pauseDownload({ modelId });
        patchDownload(modelId, { state: 'paused' });
      })(),
      resumeDownload: (modelId) => act('Could not resume the download', async () => {
        await client.resumeDownload({ modelId });
        patchDownload(modelId, { state: 'downloading', error: null });
      })(),
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
