/**
 * The coordinator killed mid-batch (SIGKILL: no goodbye) while its worker keeps finishing tasks into
 * Redis. Started again on the same data folder, it resumes the interrupted jobs and adopts their
 * BullMQ jobs: the finished results are saved, and nothing is generated twice. Twice: results through
 * Redis, and results uploaded over HTTP (kept in the coordinator's data folder until saved).
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cleanupAll, startCoordinator, startRedis, startWorker, tempDir } from './helpers';

afterAll(cleanupAll);

const SEEDS = [5100, 5101, 5102, 5103, 5104];
// The first image is quick; the others take long enough on CPU (a few hundred ms each) that the
// coordinator is surely killed while the worker still has most of them to finish.
const request = (seed: number, i: number) =>
  i === 0 ? { prompt: 'a blue triangle on a white background', seed, steps: 12, width: 64, height: 64 } : { prompt: 'a blue triangle on a white background', seed, steps: 30, width: 128, height: 128 };

const PATHS: [string, Record<string, string>][] = [
  ['through Redis', {}],
  ['uploaded over HTTP', { ATELIER_FARM_REDIS_RESULT_MAX: '0' }],
];

describe.each(PATHS)('render farm: coordinator restart, results %s', (path, workerEnv) => {
  it('saves results that finished while it was down, without running them again', async () => {
    const redis = await startRedis();
    const home = tempDir('atelier-farm-restart-');
    const first = await startCoordinator(redis.url, { home });
    const worker = await startWorker(redis.url, 'w-restart', { env: workerEnv });
    const ids: string[] = [];
    for (const [i, seed] of SEEDS.entries()) ids.push((await first.client.generate(request(seed, i))).jobId);
    await first.waitJob(ids[0], 60_000);
    // Killed once the worker has started the second task: the rest finish while nobody collects them.
    await worker.waitFor(/running job-[\s\S]*running job-/, 60_000);
    first.proc.child.kill('SIGKILL');
    await first.proc.exited;
    if (path === 'through Redis') {
      // The worker carries on: every task ends in Redis with nobody collecting it.
      await worker.waitFor(new RegExp(`(finished job-\\S+[\\s\\S]*){${SEEDS.length}}`), 90_000);
    } else {
      // An upload cannot reach a coordinator that is down: the worker tries again (asking Redis
      // where to each time) until the next coordinator, on another port with another token, is up.
      await worker.waitFor(/upload of job-\S+ failed \(cannot reach the coordinator/, 60_000);
    }

    const second = await startCoordinator(redis.url, { home });
    const resumed = Number((await second.proc.waitFor(/resumed (\d+) interrupted jobs/, 10_000))[1]);
    expect(resumed).toBeGreaterThanOrEqual(1);
    expect(resumed).toBeLessThanOrEqual(SEEDS.length - 1);
    const jobs = (await second.client.listJobs()).filter((j) => j.state !== 'interrupted');
    expect(jobs.length).toBe(resumed);
    // (Over HTTP the worker may be between two tries of an upload when the coordinator comes back.)
    await Promise.all(jobs.map((j) => second.waitJob(j.jobId, 60_000))).catch((err: Error) => {
      throw new Error(`${err.message}\n--- worker:\n${worker.output()}\n--- coordinator:\n${second.proc.output()}`);
    });

    const history = await second.client.queryHistory({ limit: 50 });
    expect(history.items.map((g) => g.seed).sort()).toEqual(SEEDS);
    // Each task ran once: adopted results were saved, not recomputed.
    expect(worker.output().match(/running job-/g)?.length).toBe(SEEDS.length);
    expect(second.proc.output()).toMatch(/adopts job-/);
    if (path === 'uploaded over HTTP') {
      expect(worker.output().match(/uploaded \d+ bytes for job-/g)?.length).toBe(SEEDS.length);
      // Every upload after the restart was read and removed once saved (the ticket settles just after
      // job:done). The first job's may stay: SIGKILL can land between its save and that removal, like
      // its completed BullMQ job; both expire (a day in Redis, two in the folder).
      const dir = join(home, 'farm-results');
      const later = () => readdirSync(dir).filter((f) => !f.startsWith(ids[0]));
      for (let i = 0; i < 100 && later().length > 0; i++) await new Promise((r) => setTimeout(r, 100));
      expect(later()).toEqual([]);
    }
  });
});
