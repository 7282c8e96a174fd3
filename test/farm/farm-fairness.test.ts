/**
 * Per-project fairness on a real farm (one worker, so order is visible): a project's batch queued
 * first does not make another project's single image wait behind all of it, and each project's
 * images still land in the order they were queued.
 */
import { afterAll, describe, expect, it } from 'vitest';
import type { AtelierEvent } from '../../common/api/contract';
import { cleanupAll, startCoordinator, startRedis, startWorker } from './helpers';

afterAll(cleanupAll);

const request = (seed: number) => ({ prompt: 'a green circle', seed, steps: 10, width: 64, height: 64 });

describe('render farm: fairness between projects', () => {
  it("runs another project's single image before most of a long batch", async () => {
    const redis = await startRedis();
    const studio = await startCoordinator(redis.url);
    await startWorker(redis.url, 'w-fair');
    const batch: string[] = [];
    for (let i = 0; i < 8; i++) batch.push((await studio.client.generate(request(6000 + i))).jobId);
    // Another project, queued after the whole batch.
    await studio.client.createProject({ name: 'Client B' });
    const single = (await studio.client.generate(request(6100))).jobId;
    await Promise.all([...batch, single].map((id) => studio.waitJob(id, 120_000)));
    const done = studio.events.filter((e): e is Extract<AtelierEvent, { type: 'job:done' }> => e.type === 'job:done').map((e) => e.jobId);
    // FIFO would make it 9th; fair queuing gives it the next free turn (2nd or 3rd).
    expect(done.indexOf(single), done.join(' ')).toBeLessThanOrEqual(3);
    // The batch's own images still land in the order it was queued.
    expect(done.filter((id) => id !== single)).toEqual(batch);
  });
});
