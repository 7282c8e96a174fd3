/**
 * Load and soak (issue 15), shared by `npm run bench -- soak` (bench/soak.ts, full size, results in
 * docs/BENCHMARKS.md) and its reduced form in `npm test` (test/engine/soak.test.ts):
 *
 * - soak: N consecutive generations through the real backend (API → queue → engine process →
 *   library), all in one engine process; after each, the engine's resident memory, its open file
 *   descriptors, the API process's and the files in the (private) temp folder.
 * - load: M concurrent WebSocket clients reading the API (history, jobs, system info, models,
 *   projects, settings) as fast as they can while the engine is busy with a long generation; the
 *   latency of every call.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createApiClient } from '../common/api/client';
import type { AtelierClient, AtelierEvent, GenerationRecord } from '../common/api/contract';
import { createDispatcher } from '../main/api/dispatch';
import type { AtelierBackend } from '../main/app/backend';
import { createBackend } from '../main/app/create-backend';
import { startServer } from '../main/server/server';
import { engineProcessPids } from '../test/helpers/engine-process';

const MB = 1024 * 1024;
const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

export interface SoakSample {
  generation: number;
  engineRssMB: number;
  engineFds: number;
  apiRssMB: number;
  apiFds: number;
  tempFiles: number;
  ms: number;
}

export interface SoakResult {
  generations: number;
  size: number;
  steps: number;
  samples: SoakSample[];
  enginePids: number[];
  /** After generation `baselineAt`: the reference for the drift. */
  baselineAt: number;
  baseline: SoakSample;
  rssMinMB: number;
  rssMaxMB: number;
  /** Largest deviation from the baseline after it, in percent (signed: the worse side). */
  rssDriftPct: number;
  engineFdGrowth: number;
  apiFdGrowth: number;
  tempFileGrowth: number;
  totalMs: number;
}

function statusField(pid: number, field: string): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : 0;
}

function fdCount(pid: number | 'self'): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

/**
 * Open descriptors that stay open: the fewest of a few reads 20 ms apart, so a file the process
 * happens to have open at the instant of one read (its own /proc/self/status memory report, every
 * 200 ms) does not count as growth.
 */
async function steadyFdCount(pid: number | 'self'): Promise<number> {
  let n = fdCount(pid);
  for (let i = 0; i < 3; i++) {
    await new Promise((r) => setTimeout(r, 20));
    n = Math.min(n, fdCount(pid));
  }
  return n;
}

function countFiles(dir: string): number {
  let n = 0;
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    n += statSync(p).isDirectory() ? countFiles(p) + 1 : 1;
  }
  return n;
}

export function generateOne(client: AtelierClient, req: Parameters<AtelierClient['generate']>[0]): Promise<GenerationRecord> {
  return new Promise((resolve, reject) => {
    let jobId = '';
    const early: AtelierEvent[] = [];
    const settle = (e: AtelierEvent) => {
      if (e.type === 'job:done' && e.jobId === jobId) {
        off();
        resolve(e.generations[0]);
      } else if ((e.type === 'job:failed' || e.type === 'job:cancelled') && e.jobId === jobId) {
        off();
        reject(new Error(e.type === 'job:failed' ? e.error.message : 'cancelled'));
      }
    };
    const off = client.onEvent((e) => (jobId ? settle(e) : early.push(e)));
    client.generate(req).then((r) => {
      jobId = r.jobId;
      for (const e of early.splice(0)) settle(e);
    }, reject);
  });
}

export interface Harness {
  backend: AtelierBackend;
  client: AtelierClient;
  home: string;
  temp: string;
  close(): Promise<void>;
}

/**
 * A real backend in a temporary home. TMPDIR points at a private folder first, so the engine process
 * (which inherits it) and this process write their temporary files where they can be counted.
 */
export async function startHarness(): Promise<Harness> {
  const home = mkdtempSync(join(tmpdir(), 'atelier-soak-'));
  const temp = join(home, 'tmp');
  mkdirSync(temp);
  const previousTmp = process.env.TMPDIR;
  process.env.TMPDIR = temp;
  const backend = await createBackend({ userDataDir: join(home, 'data'), imageUrlBase: '/' });
  const dispatch = createDispatcher(backend.api);
  const client = createApiClient({ call: (m, p) => dispatch(m, p), onEvent: (l) => backend.onEvent(l) });
  return {
    backend,
    client,
    home,
    temp,
    async close() {
      await backend.close();
      if (previousTmp === undefined) delete process.env.TMPDIR;
      else process.env.TMPDIR = previousTmp;
      rmSync(home, { recursive: true, force: true });
    },
  };
}

export async function runSoak(h: Harness, opts: { generations: number; size?: number; steps?: number; baselineAt?: number; log?: (line: string) => void }): Promise<SoakResult> {
  const size = opts.size ?? 64;
  const steps = opts.steps ?? 8;
  const baselineAt = opts.baselineAt ?? Math.min(20, Math.max(1, Math.floor(opts.generations / 10)));
  const log = opts.log ?? (() => undefined);
  await h.client.loadModel({ modelId: 'atelier-demo', provider: 'cpu' });
  const samples: SoakSample[] = [];
  const pids = new Set<number>();
  const started = performance.now();
  for (let i = 1; i <= opts.generations; i++) {
    const t0 = performance.now();
    await generateOne(h.client, { prompt: `a small ${['red', 'yellow', 'blue', 'green'][i % 4]} ${['circle', 'square', 'triangle'][i % 3]} on a purple background`, width: size, height: size, steps, seed: i, modelId: 'atelier-demo' });
    const ms = performance.now() - t0;
    const engines = engineProcessPids(process.pid);
    if (engines.length !== 1) throw new Error(`expected one engine process after generation ${i}, found ${engines.length}`);
    const pid = engines[0];
    pids.add(pid);
    const s: SoakSample = { generation: i, engineRssMB: statusField(pid, 'VmRSS'), engineFds: await steadyFdCount(pid), apiRssMB: process.memoryUsage.rss() / MB, apiFds: await steadyFdCount('self'), tempFiles: countFiles(h.temp), ms };
    samples.push(s);
    if (i === 1 || i % 20 === 0 || i === opts.generations) log(`  generation ${i}: engine ${s.engineRssMB.toFixed(0)} MB, ${s.engineFds} fds; API ${s.apiRssMB.toFixed(0)} MB, ${s.apiFds} fds; temp files ${s.tempFiles}; ${ms.toFixed(0)} ms`);
  }
  const baseline = samples[baselineAt - 1];
  const after = samples.slice(baselineAt);
  const rss = after.map((s) => s.engineRssMB);
  const rssMinMB = Math.min(...rss, baseline.engineRssMB);
  const rssMaxMB = Math.max(...rss, baseline.engineRssMB);
  const up = (rssMaxMB - baseline.engineRssMB) / baseline.engineRssMB;
  const down = (rssMinMB - baseline.engineRssMB) / baseline.engineRssMB;
  const last = samples[samples.length - 1];
  return {
    generations: opts.generations,
    size,
    steps,
    samples,
    enginePids: [...pids],
    baselineAt,
    baseline,
    rssMinMB,
    rssMaxMB,
    rssDriftPct: 100 * (Math.abs(up) >= Math.abs(down) ? up : down),
    engineFdGrowth: Math.max(...after.map((s) => s.engineFds), baseline.engineFds) - baseline.engineFds,
    apiFdGrowth: last.apiFds - baseline.apiFds,
    tempFileGrowth: Math.max(...after.map((s) => s.tempFiles), baseline.tempFiles) - baseline.tempFiles,
    totalMs: performance.now() - started,
  };
}

export interface LoadResult {
  clients: number;
  seconds: number;
  calls: number;
  errors: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
  byMethod: Record<string, { calls: number; p95: number }>;
  /** The method with the slowest p95, and the p95 of all the other calls. */
  slowest: string;
  p95WithoutSlowest: number;
  /** Steps the busy generation made while the clients read (the engine really was busy). */
  engineSteps: number;
}


/** Runs bench/soak-clients.ts (through tsx) and returns what it measured. */
function runClients(url: string, origin: string, clients: number, seconds: number): Promise<{ byMethod: Record<string, number[]>; errors: number }> {
  const tsxCli = join(ROOT, 'node_modules', 'tsx', 'dist', 'cli.mjs');
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [tsxCli, join(ROOT, 'bench', 'soak-clients.ts'), url, origin, String(clients), String(seconds)], { maxBuffer: 256 * 1024 * 1024, timeout: (seconds + 120) * 1000 }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`load clients failed: ${err.message}\n${stderr}`));
      try {
        resolve(JSON.parse(stdout.trim().split('\n').pop()!));
      } catch (e) {
        reject(new Error(`load clients printed no result: ${(e as Error).message}\n${stdout.slice(-500)}\n${stderr.slice(-2000)}`));
      }
    });
  });
}

function percentile(sorted: number[], p: number): number {
  if (!sorted.length) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

/** M WebSocket clients read the API for `seconds` while one long generation keeps the engine busy. */
export async function runLoad(h: Harness, opts: { clients: number; seconds: number; busySize?: number; /** false: the engine idles (the API's own baseline). */ busy?: boolean; log?: (line: string) => void }): Promise<LoadResult> {
  const log = opts.log ?? (() => undefined);
  const server = await startServer({ backend: h.backend, host: '127.0.0.1', port: 0, token: null, rendererDir: join(h.home, 'no-renderer') });
  // Several long jobs back to back: the engine stays busy for the whole run, whatever this CPU's speed.
  const busyJobs: string[] = [];
  const lastStep = new Map<string, number>();
  let steps = 0;
  let firstStep!: () => void;
  const stepping = new Promise<void>((r) => (firstStep = r));
  const off = h.client.onEvent((e) => {
    if (e.type === 'job:progress' && busyJobs.includes(e.jobId)) {
      steps += Math.max(0, e.step - (lastStep.get(e.jobId) ?? 0));
      lastStep.set(e.jobId, e.step);
      firstStep();
    }
  });
  try {
    await h.client.loadModel({ modelId: 'atelier-demo', provider: 'cpu' });
    for (let i = 0; opts.busy !== false && i < Math.max(2, Math.ceil(opts.seconds / 10)); i++) {
      busyJobs.push((await h.client.generate({ prompt: `a long render keeping the engine busy ${i}`, width: opts.busySize ?? 256, height: opts.busySize ?? 256, steps: 500, seed: i + 1, modelId: 'atelier-demo' })).jobId);
    }
    if (opts.busy !== false) await stepping;
    const stepsAtStart = steps;
    const wsUrl = server.url.replace(/^http/, 'ws').replace(/\/(\?.*)?$/, '/api/ws');
    const origin = new URL(server.url).origin;
    log(`  ${opts.clients} clients (in a process of their own) reading for ${opts.seconds} s while the engine generates`);
    const out = await runClients(wsUrl, origin, opts.clients, opts.seconds);
    const perMethod = new Map(Object.entries(out.byMethod));
    const latencies = [...perMethod.values()].flat();
    const errors = out.errors;
    const engineSteps = steps - stepsAtStart;
    latencies.sort((a, b) => a - b);
    const byMethod: LoadResult['byMethod'] = {};
    for (const [m, l] of perMethod) {
      l.sort((a, b) => a - b);
      byMethod[m] = { calls: l.length, p95: percentile(l, 95) };
    }
    const slowest = Object.entries(byMethod).sort((a, b) => b[1].p95 - a[1].p95)[0]?.[0] ?? '';
    const others = [...perMethod].filter(([m]) => m !== slowest).flatMap(([, l]) => l).sort((a, b) => a - b);
    return { clients: opts.clients, seconds: opts.seconds, calls: latencies.length, errors, p50: percentile(latencies, 50), p95: percentile(latencies, 95), p99: percentile(latencies, 99), max: latencies[latencies.length - 1] ?? 0, byMethod, slowest, p95WithoutSlowest: percentile(others, 95), engineSteps };
  } finally {
    off();
    for (const jobId of busyJobs.reverse()) await h.client.cancel({ jobId }).catch(() => undefined);
    await server.close();
  }
}
