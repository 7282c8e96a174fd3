/**
 * UI development harness: the real server (main/server) over a mock backend that "generates"
 * seeded gradient images step by step, so the studio can be exercised and screenshotted without
 * the ONNX engine. Run: npx tsx test/renderer/mock-studio.ts  (prints "serving at <url>").
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32, deflateSync } from 'node:zlib';
import { API_METHOD_NAMES, AtelierApiError, type AtelierApi, type AtelierEvent, type GenerationRecord, type JobSummary } from '../../common/api/contract';
import type { AtelierBackend } from '../../main/app/backend';
import { startServer } from '../../main/server/server';

function png(width: number, height: number, rgb: Uint8Array): Buffer {
  const chunk = (type: string, data: Buffer) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const td = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(td) >>> 0);
    return Buffer.concat([len, td, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8;
  ihdr[9] = 2;
  const raw = Buffer.alloc((width * 3 + 1) * height);
  for (let y = 0; y < height; y++) Buffer.from(rgb.buffer, rgb.byteOffset + y * width * 3, width * 3).copy(raw, y * (width * 3 + 1) + 1);
  return Buffer.concat([Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]), chunk('IHDR', ihdr), chunk('IDAT', deflateSync(raw)), chunk('IEND', Buffer.alloc(0))]);
}

function hash(s: string): number {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619);
  return h >>> 0;
}

function render(w: number, h: number, seed: number, prompt: string, cfg: number, t: number): Uint8Array {
  const out = new Uint8Array(w * h * 3);
  const hp = hash(prompt);
  const cx = ((seed % 97) / 97) * w;
  const cy = (((seed >>> 8) % 89) / 89) * h;
  let noise = seed ^ 0x9e3779b9;
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      noise = Math.imul(noise ^ (noise >>> 15), 2246822507) >>> 0;
      const n = ((noise & 255) - 128) * (1 - t);
      const d = Math.hypot(x - cx, y - cy) / Math.max(w, h);
      const i = (y * w + x) * 3;
      out[i] = Math.max(0, Math.min(255, ((hp & 255) * (1 - d) + cfg * 8 + n) | 0));
      out[i + 1] = Math.max(0, Math.min(255, (((hp >>> 8) & 255) * (y / h) + n) | 0));
      out[i + 2] = Math.max(0, Math.min(255, (((hp >>> 16) & 255) * (x / w) * (1 - d) + 40 + n) | 0));
    }
  return out;
}

export function createMockBackend(stepMs = 60): AtelierBackend {
  const dir = mkdtempSync(join(tmpdir(), 'atelier-mock-'));
  const listeners = new Set<(e: AtelierEvent) => void>();
  const emit = (e: AtelierEvent) => listeners.forEach((l) => l(e));
  const projects = [{ id: 'p1', name: 'Default', path: dir, isCurrent: true }];
  const byProject = new Map<string, GenerationRecord[]>([['p1', []]]);
  let records: GenerationRecord[] = byProject.get('p1')!;
  const jobs = new Map<string, JobSummary & { cancelled?: boolean }>();
  const queue: string[] = [];
  let running = false;
  let n = 0;

  const runNext = async () => {
    if (running) return;
    const jobId = queue.shift();
    if (!jobId) return;
    running = true;
    const job = jobs.get(jobId)!;
    job.state = 'running';
    const r = job.request;
    const start = Date.now();
    for (let step = 1; step <= r.steps && !job.cancelled; step++) {
      await new Promise((res) => setTimeout(res, stepMs));
      job.step = step;
      const elapsedMs = Date.now() - start;
      emit({ type: 'job:progress', jobId, step, total: r.steps, elapsedMs, etaMs: (elapsedMs / step) * (r.steps - step) });
      const preview = png(r.width, r.height, render(r.width, r.height, r.seed, r.prompt, r.guidanceScale, step / r.steps));
      emit({ type: 'job:preview', jobId, step, width: r.width, height: r.height, dataUrl: `data:image/png;base64,${preview.toString('base64')}` });
    }
    if (job.cancelled) {
      job.state = 'cancelled';
      emit({ type: 'job:cancelled', jobId });
    } else {
      const generations: GenerationRecord[] = [];
      for (let b = 0; b < r.batchSize; b++) {
        const id = `m${++n}`;
        const seed = (r.seed + b) >>> 0;
        writeFileSync(join(dir, `${id}.png`), png(r.width, r.height, render(r.width, r.height, seed, r.prompt, r.guidanceScale, 1)));
        const rec: GenerationRecord = {
          id, imageUrl: `/image/${id}`, thumbUrl: `/thumb/${id}`, width: r.width, height: r.height, prompt: r.prompt,
          negativePrompt: r.negativePrompt, seed, rng: r.rng, steps: r.steps, guidanceScale: r.guidanceScale,
          scheduler: r.scheduler ?? 'EulerDiscreteScheduler', modelId: r.modelId ?? 'demo', modelFamily: 'sd15', provider: 'cpu',
          parentId: r.parentId ?? null, rating: 0, flag: 'none', tags: [], notes: '', createdAt: new Date().toISOString(), timings: { totalMs: Date.now() - start },
        };
        records.unshift(rec);
        generations.push(rec);
      }
      job.state = 'done';
      job.generationIds = generations.map((g) => g.id);
      emit({ type: 'job:done', jobId, generations, provider: 'cpu', timings: {} });
    }
    running = false;
    void runNext();
  };

  const partialApi: Partial<AtelierApi> = {
    async getSystemInfo() {
      return { appVersion: '0.1.0-mock', platform: process.platform, arch: process.arch, executionProviders: [{ name: 'cpu', bundled: true }], transport: 'websocket', userDataDir: dir };
    },
    async listModels() {
      return [{ id: 'demo', name: 'Demo (64×64)', family: 'sd15', source: 'bundled', sizeBytes: 3_200_000, defaults: { width: 64, height: 64, steps: 12, guidanceScale: 4, scheduler: 'EulerDiscreteScheduler' } }];
    },
    async loadModel(req) {
      const model = { modelId: req.modelId, family: 'sd15', provider: 'cpu', fallbacks: [], scheduler: 'EulerDiscreteScheduler', loadMs: 12 };
      emit({ type: 'model:loaded', model });
      return model;
    },
    async unloadModel() { return { unloaded: true }; },
    async generate(req) {
      const jobId = `j${++n}`;
      const seed = req.seed != null && req.seed >= 0 ? req.seed : Math.floor(Math.random() * 2 ** 32);
      const request = { negativePrompt: '', width: 64, height: 64, steps: 20, guidanceScale: 5, guidanceRescale: 0, rng: 'cpu' as const, batchSize: 1, ...req, seed };
      jobs.set(jobId, { jobId, state: 'queued', request, step: 0, total: request.steps, generationIds: [] });
      queue.push(jobId);
      emit({ type: 'job:queued', jobId, position: queue.length - 1 });
      setTimeout(() => void runNext(), 0);
      return { jobId, seed };
    },
    async cancel({ jobId }) {
      const job = jobs.get(jobId);
      if (!job) return { cancelled: false };
      job.cancelled = true;
      const qi = queue.indexOf(jobId);
      if (qi >= 0) {
        queue.splice(qi, 1);
        job.state = 'cancelled';
        emit({ type: 'job:cancelled', jobId });
      }
      return { cancelled: true };
    },
    async listJobs() { return [...jobs.values()]; },
    async listProjects() { return projects.map((p) => ({ ...p })); },
    async createProject(req) {
      const p = { id: `p${projects.length + 1}`, name: req.name, path: join(dir, req.name), isCurrent: false };
      projects.push(p);
      byProject.set(p.id, []);
      return { ...p };
    },
    async openProject({ projectId }) {
      const target = projects.find((p) => p.id === projectId)!;
      for (const p of projects) p.isCurrent = p === target;
      records = byProject.get(projectId)!;
      emit({ type: 'project:changed', project: { ...target } });
      return { ...target };
    },
    async renameProject(req) { return { id: req.projectId, name: req.name, path: dir, isCurrent: true }; },
    async queryHistory(req) {
      const items = records.filter(
        (r) =>
          (!req.search || r.prompt.toLowerCase().includes(req.search.toLowerCase())) &&
          (req.minRating === undefined || r.rating >= req.minRating) &&
          (req.flag === undefined || r.flag === req.flag),
      );
      const start = req.cursor ? Number(req.cursor) : 0;
      const limit = req.limit ?? 100;
      const page = items.slice(start, start + limit);
      return { items: page, nextCursor: start + limit < items.length ? String(start + limit) : null };
    },
    async getGeneration({ id }) { return records.find((r) => r.id === id)!; },
    async updateGeneration(req) {
      const r = records.find((x) => x.id === req.id)!;
      Object.assign(r, Object.fromEntries(Object.entries(req).filter(([k, v]) => k !== 'id' && v !== undefined)));
      return r;
    },
    async deleteGeneration({ id }) {
      const i = records.findIndex((r) => r.id === id);
      if (i >= 0) records.splice(i, 1);
      return { deleted: i >= 0 };
    },
    async readImageMetadata() { return { source: 'none', params: {}, warnings: [] }; },
    async getSettings() { return { provider: 'auto', modelsDir: dir, defaultModelId: 'demo', previewEvery: 1, lowMemory: false }; },
    async updateSettings(req) { return { provider: 'auto', modelsDir: dir, defaultModelId: 'demo', previewEvery: 1, lowMemory: false, ...req }; },
  };

  for (const method of API_METHOD_NAMES) {
    (partialApi as Record<string, unknown>)[method] ??= async () => {
      throw new AtelierApiError('internal', `The mock studio does not implement ${method}`);
    };
  }
  const api = partialApi as AtelierApi;

  return {
    api,
    onEvent(l) {
      listeners.add(l);
      return () => listeners.delete(l);
    },
    async resolveImage(id) {
      return [...byProject.values()].some((list) => list.some((r) => r.id === id)) ? join(dir, `${id}.png`) : null;
    },
    async close() {},
  };
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop()!)) {
  const server = await startServer({
    backend: createMockBackend(Number(process.env.MOCK_STEP_MS ?? 60)),
    host: '127.0.0.1',
    port: Number(process.env.PORT ?? 0),
    token: null,
    rendererDir: join(process.cwd(), 'dist', 'renderer'),
  });
  console.log(`serving at ${server.url}`);
}
