/**
 * The coordinator killed mid-batch (SIGKILL: no goodbye) while its worker keeps finishing tasks into
 * Redis. Started again on the same data folder, it resumes the interrupted jobs and adopts their
 * BullMQ jobs: the finished results are saved, and nothing is generated twice.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { cleanupAll, startCoordinator, startRedis, startWorker, tempDir } from './helpers';

afterAll(cleanupAll);

const SEEDS = [5100, 5101, 5102, 5103, 5104];
const request = (seed: number) => ({ prompt: 'a blue triangle on a white background', seed, steps: 12, width: 64, height: 64 });

describe('render farm: coordinator restart', () => {
  it('saves results that finished in Redis while it was down, without running them again', async () => {
    const redis = await startRedis();
    const home = tempDir('atelier-farm-restart-');
    const first = await startCoordinator(redis.url, { home });
    const worker = await startWorker(redis.url, 'w-restart');
    const ids: string[] = [];
    for (const seed of SEEDS) ids.push((await first.client.generate(request(seed))).jobId);
    await first.waitJob(ids[0], 60_000);
    first.proc.child.kill('SIGKILL');
    await first.proc.exited;
    // The worker carries on: every task ends in Redis with nobody collecting it.
    await worker.waitFor(new RegExp(`(finished job-\\S+[\\s\\S]*){${SEEDS.length}}`), 90_000);

    const second = await startCoordinator(redis.url, { home });
    const resumed = Number((await second.proc.waitFor(/resumed (\d+) interrupted jobs/, 10_000))[1]);
    expect(resumed).toBeGreaterThanOrEqual(1);
    expect(resumed).toBeLessThanOrEqual(SEEDS.length - 1);
    const jobs = (await second.client.listJobs()).filter((j) => j.state !== 'interrupted');
    expect(jobs.length).toBe(resumed);
    await Promise.all(jobs.map((j) => second.waitJob(j.jobId, 30_000)));

    const history = await second.client.queryHistory({ limit: 50 });
    expect(history.items.map((g) => g.seed).sort()).toEqual(SEEDS);
    // Each task ran once: adopted results were saved, not recomputed.
    expect(worker.output().match(/running job-/g)?.length).toBe(SEEDS.length);
    expect(second.proc.output()).toMatch(/adopts job-/);
  });
});
