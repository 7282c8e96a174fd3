/** An in-memory AtelierClient for store tests: records calls, lets tests push events. */
import { API_METHOD_NAMES, AtelierApiError, type AtelierClient, type AtelierEvent, type GenerationRecord, type HistoryPage } from '../../common/api/contract';

export function record(over: Partial<GenerationRecord> = {}): GenerationRecord {
  const id = over.id ?? 'g1';
  return {
    id,
    imageUrl: `/image/${id}`,
    thumbUrl: `/thumb/${id}`,
    width: 64,
    height: 64,
    prompt: 'a lighthouse',
    negativePrompt: '',
    seed: 1,
    rng: 'cpu',
    steps: 8,
    guidanceScale: 5,
    clipSkip: 1,
    scheduler: 'EulerDiscreteScheduler',
    modelId: 'demo',
    modelFamily: 'sd15',
    provider: 'cpu',
    parentId: null,
    rating: 0,
    flag: 'none',
    tags: [],
    notes: '',
    createdAt: '2026-01-01T00:00:00Z',
    timings: {},
    ...over,
  };
}

export type Calls = { method: string; payload: unknown }[];

export function createFakeClient(opts: { history?: GenerationRecord[]; pageSize?: number } = {}) {
  const calls: Calls = [];
  const listeners = new Set<(e: AtelierEvent) => void>();
  let history = [...(opts.history ?? [])];
  // Like the server's registry: every open stamps a strictly later lastOpenedAt.
  let clock = 0;
  const opened = () => new Date(Date.UTC(2026, 0, 1) + ++clock * 1000).toISOString();
  const projects = [{ id: 'p1', name: 'Default', path: '/projects/default', isCurrent: true, lastOpenedAt: opened() as string | null }];
  let nextJob = 1;
  let nextSeed = 1000;
  const log = (method: string, payload?: unknown) => calls.push({ method, payload });

  const partial: Partial<AtelierClient> = {
    onEvent(l) {
      listeners.add(l);
      return () => listeners.delete(l);
    },
    async getSystemInfo() {
      log('getSystemInfo');
      return { appVersion: '0.1.0', platform: 'linux', arch: 'x64', executionProviders: [{ name: 'cpu', bundled: true }], transport: 'in-process', userDataDir: '/tmp/x', loadedModel: null };
    },
    async listModels() {
      log('listModels');
      return [
        { id: 'big', name: 'Big', family: 'sdxl', source: 'installed', sizeBytes: 7e9, defaults: { width: 1024, height: 1024 } },
        { id: 'demo', name: 'Demo', family: 'sd15', source: 'bundled', sizeBytes: 1e6, defaults: { width: 64, height: 64, steps: 8, guidanceScale: 4, scheduler: 'EulerDiscreteScheduler' } },
      ];
    },
    async loadModel(req) {
      log('loadModel', req);
      return { modelId: req.modelId, family: 'sd15', provider: 'cpu', fallbacks: [], scheduler: 'EulerDiscreteScheduler', loadMs: 5 };
    },
    async unloadModel() {
      return { unloaded: true };
    },
    async generate(req) {
      log('generate', req);
      const jobId = `job${nextJob++}`;
      return { jobId, seed: req.seed != null && req.seed >= 0 ? req.seed : nextSeed++ };
    },
    async cancel(req) {
      log('cancel', req);
      return { cancelled: true };
    },
    async retryJob(req) {
      log('retryJob', req);
      return { jobId: `job${nextJob++}`, seed: 7 };
    },
    async listJobs() {
      log('listJobs');
      return [];
    },
    async listProjects() {
      return projects.map((p) => ({ ...p }));
    },
    async createProject(req) {
      log('createProject', req);
      const p = { id: `p${projects.length + 1}`, name: req.name, path: `/projects/${req.name}`, isCurrent: false, lastOpenedAt: null };
      projects.push(p);
      return { ...p };
    },
    async openProject(req) {
      log('openProject', req);
      const target = projects.find((p) => p.id === req.projectId);
      if (!target) throw new AtelierApiError('not_found', `No project ${req.projectId}`);
      for (const p of projects) p.isCurrent = p === target;
      target.lastOpenedAt = opened();
      history = [];
      return { ...target };
    },
    async renameProject() {
      throw new Error('not implemented');
    },
    async queryHistory(req): Promise<HistoryPage> {
      log('queryHistory', req);
      const size = opts.pageSize ?? req.limit ?? 100;
      const start = req.cursor ? Number(req.cursor) : 0;
      const items = history.filter((r) => (!req.search || r.prompt.includes(req.search)) && (!req.parentId || r.parentId === req.parentId)).slice(start, start + size);
      const end = start + items.length;
      return { items, nextCursor: end < history.length && items.length === size ? String(end) : null };
    },
    async getGeneration(req) {
      return history.find((r) => r.id === req.id)!;
    },
    async updateGeneration(req) {
      log('updateGeneration', req);
      const r = history.find((x) => x.id === req.id) ?? record({ id: req.id });
      const { id: _id, ...patch } = req;
      const updated = { ...r, ...patch } as GenerationRecord;
      history = history.map((x) => (x.id === req.id ? updated : x));
      return updated;
    },
    async deleteGeneration(req) {
      log('deleteGeneration', req);
      history = history.filter((x) => x.id !== req.id);
      return { deleted: true };
    },
    async readImageMetadata() {
      return { source: 'none', params: {}, warnings: [] };
    },
    async getSettings() {
      return { provider: 'auto', modelsDir: '/m', defaultModelId: 'demo', previewEvery: 1, lowMemory: false };
    },
    async updateSettings() {
      throw new Error('not implemented');
    },
  };

  // Methods this fake does not model reject, so the fake keeps compiling as the contract grows.
  for (const method of API_METHOD_NAMES) {
    (partial as Record<string, unknown>)[method] ??= async () => {
      throw new AtelierApiError('internal', `fake client: ${method} not implemented`);
    };
  }
  const client = partial as AtelierClient;

  return {
    client,
    calls,
    emit(e: AtelierEvent) {
      for (const l of listeners) l(e);
    },
    callsTo(method: string) {
      return calls.filter((c) => c.method === method).map((c) => c.payload);
    },
  };
}
