import type { StateCreator } from 'zustand';
import type { AtelierClient, JobSummary } from '../../common/api/contract';
import type { AtelierState, JobView, SystemSlice } from './types';

export const createSystemSlice =
  (client: AtelierClient): StateCreator<AtelierState, [], [], SystemSlice> =>
  (set, get) => ({
    appState: 'loading',
    startupError: null,
    systemInfo: null,
    models: [],
    loadedModel: null,
    modelLoading: false,
    settings: null,

    probeGpuDevices(provider) {
      return client.probeGpuDevices(provider ? { provider } : {});
    },

    async init() {
      client.onEvent((event) => get().handleEvent(event));
      try {
        const [systemInfo, models] = await Promise.all([client.getSystemInfo(), client.listModels()]);
        set({ systemInfo, models });
        const settings = await client.getSettings().catch(() => null);
        set({ settings });
        const preferred =
          models.find((m) => m.id === settings?.defaultModelId) ?? models.find((m) => m.source === 'bundled') ?? models[0];
        if (preferred) get().applyModelDefaults(preferred);
        set({ appState: 'ready' });
      } catch (err) {
        set({ appState: 'error', startupError: err instanceof Error ? err.message : String(err) });
        return;
      }
      // Non-blocking extras: the UI is usable while these arrive.
      void get().loadHistory(true);
      void get().loadBoards();
      void get().loadProjects();
      // Warm the default model so the picker shows the execution provider actually in use.
      const modelId = get().params.modelId;
      if (modelId) void get().selectModel(modelId);
      void get().syncJobs();
    },

    async syncJobs() {
      let jobs: Awaited<ReturnType<AtelierClient['listJobs']>>;
      try {
        jobs = await client.listJobs();
      } catch {
        return;
      }
      set((s) => {
        // Jobs from before this page loaded (or from another window) are older than any we
        // started since, so they go first. Known ones take the server's word for their state
        // (after a reconnect: done meanwhile, or interrupted by a restart).
        const known = s.jobs;
        const older = jobs.filter((j) => !known[j.jobId]);
        const updated = Object.fromEntries(
          jobs
            .filter((j) => known[j.jobId] && known[j.jobId]!.state !== j.state)
            .map((j) => [j.jobId, { ...known[j.jobId]!, state: j.state, step: j.step, total: j.total, error: j.error ?? null, generationIds: j.generationIds, previewUrl: null, position: null }]),
        );
        // A job this page saw running that the server no longer lists ended while we were away.
        const listed = new Set(jobs.map((j) => j.jobId));
        const lost = Object.fromEntries(
          Object.values(known)
            .filter((j) => (j.state === 'running' || j.state === 'queued') && !listed.has(j.jobId))
            .map((j) => [j.jobId, { ...j, state: 'interrupted' as const, previewUrl: null, position: null, error: { code: 'internal' as const, message: 'The server restarted and no longer knows this job.' } }]),
        );
        return {
          jobs: {
            ...Object.fromEntries(older.map((j) => [j.jobId, jobViewOf(j)])),
            ...known,
            ...updated,
            ...lost,
          },
          jobOrder: [...older.map((j) => j.jobId), ...s.jobOrder.filter((id) => !older.some((j) => j.jobId === id))],
        };
      });
    },

    async resync() {
      // Back after a lost connection (server restart): everything may have changed meanwhile.
      try {
        const [systemInfo, models] = await Promise.all([client.getSystemInfo(), client.listModels()]);
        set({ systemInfo, models });
      } catch (err) {
        get().reportError('Reconnected, but could not reload the studio', err);
        return;
      }
      void get().loadProjects();
      void get().loadHistory(true);
      void get().loadBoards();
      await get().syncJobs();
    },

    async updateSettings(patch) {
      // Optimistic, so controls follow the click at once; the server's reply (or the old value) wins.
      const before = get().settings;
      if (before) set({ settings: { ...before, ...patch } });
      try {
        set({ settings: await client.updateSettings(patch) });
      } catch (err) {
        set({ settings: before });
        get().reportError('Could not save settings', err);
      }
    },

    async selectModel(modelId) {
      const model = get().models.find((m) => m.id === modelId);
      if (model) get().applyModelDefaults(model);
      set({ modelLoading: true });
      try {
        const loadedModel = await client.loadModel({ modelId, provider: get().settings?.provider ?? 'auto' });
        set({ loadedModel });
      } catch (err) {
        get().reportError(`Could not load ${model?.name ?? modelId}`, err);
      } finally {
        set({ modelLoading: false });
      }
    },
  });

/** A server-listed job as the queue shows it (started elsewhere, or before this page loaded). */
function jobViewOf(j: JobSummary): JobView {
  return {
    jobId: j.jobId,
    state: j.state,
    request: j.request,
    origin: 'external',
    step: j.step,
    total: j.total,
    elapsedMs: 0,
    etaMs: null,
    previewUrl: null,
    previewStep: 0,
    error: j.error ?? null,
    generationIds: j.generationIds,
    seed: j.request.seed >= 0 ? j.request.seed : null,
    position: null,
    ...(j.upscale ? { upscale: { generationId: j.upscale.generationId, factor: j.upscale.factor } } : {}),
    ...(j.projectId ? { projectId: j.projectId, projectName: j.projectName } : {}),
    ...(j.omittedInputs ? { inputsOmitted: true } : {}),
  };
}
