/**
 * Workers leave jobs they lack memory for. "small" is told it has 64 MB free
 * (ATELIER_FARM_FREE_MEMORY_MB), less than the engine host's memory guard estimates even a 64×64
 * demo image needs; "big" has this machine's real free memory. Every job ends on "big"; once "big"
 * leaves, a job fails with "no worker has enough memory" (and the guard's reason) instead of waiting
 * forever. Real pieces: redis-server, the built coordinator and worker processes.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readWorkers } from '../../main/farm/worker-registry';
import { cleanupAll, startCoordinator, startRedis, startWorker, within, type Coordinator, type RedisHandle, type WorkerProc } from './helpers';

const request = (seed: number) => ({ prompt: 'a red square on a green background', seed, steps: 8, width: 64, height: 64 });

let redis: RedisHandle;
let coordinator: Coordinator;
let small: WorkerProc;
let big: WorkerProc;
let probe: Redis;

beforeAll(async () => {
  redis = await startRedis();
  probe = new Redis(redis.url, { maxRetriesPerRequest: null });
  probe.on('error', () => undefined);
  coordinator = await startCoordinator(redis.url, { env: { ATELIER_FARM_NO_WORKER_MS: '3000' } });
  [small, big] = await Promise.all([startWorker(redis.url, 'small', { env: { ATELIER_FARM_FREE_MEMORY_MB: '64' } }), startWorker(redis.url, 'big')]);
}, 120_000);

afterAll(async () => {
  probe?.disconnect();
  await cleanupAll();
});

describe('render farm: free memory', () => {
  it('announces the free memory it fits jobs against', async () => {
    const workers = Object.fromEntries((await readWorkers(probe)).map((w) => [w.name, w]));
    expect(workers.small.freeMemoryBytes).toBe(64 * 1024 * 1024);
    expect(workers.big.freeMemoryBytes).toBeGreaterThan(64 * 1024 * 1024);
  });

  it('leaves every job to the worker with memory enough', async () => {
    const ids: string[] = [];
    for (const seed of [7000, 7001, 7002, 7003]) ids.push((await coordinator.client.generate(request(seed))).jobId);
    await Promise.all(ids.map((id) => coordinator.waitJob(id, 90_000)));
    const counts = Object.fromEntries((await readWorkers(probe)).map((w) => [w.name, w.jobsDone]));
    expect(counts).toMatchObject({ small: 0, big: 4 });
    expect(small.output()).not.toMatch(/running job-/);
    expect(small.output()).toMatch(/small: leaves job-\S+ for another worker: This 64×64 generation needs about .* but only 64 MB is available/);
  });

  it('fails a job with "no worker has enough memory" once no live worker can fit it', async () => {
    big.child.kill('SIGTERM');
    await within(30_000, 'big leaves', big.exited);
    const { jobId } = await coordinator.client.generate(request(7100));
    await expect(coordinator.waitJob(jobId, 30_000)).rejects.toThrow(/no worker has enough memory for atelier-demo .* at 64×64: .*small: This 64×64 generation needs about/);
    expect(coordinator.events.find((e) => e.type === 'job:failed' && e.jobId === jobId)).toMatchObject({ error: { code: 'invalid_request' } });
    expect(small.output()).not.toMatch(/running job-/);
  });
});
