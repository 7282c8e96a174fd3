/**
 * The render farm with real pieces: a redis-server of its own, the built `atelier serve --farm`
 * coordinator and two `atelier worker --farm` processes (CPU, demo model, 64×64). Every image that
 * lands in the coordinator's project is compared byte for byte with a single-machine run of the same
 * seed (GenerationService in this process, the local engine).
 *
 * The scenarios share one farm and run in order: 12 jobs over both workers; one request of batchSize 12
 * split into one run per worker; a model only
 * one worker holds; Redis restarted mid-batch; a worker SIGKILLed mid-job; no worker for a model.
 */
import { cpSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GenerationRecord } from '../../common/api/contract';
import { createRuntime, type Runtime } from '../../main/app/runtime';
import { readWorkers } from '../../main/farm/worker-registry';
import { cleanupAll, localPixels, secondModelFolder, startCoordinator, startRedis, startWorker, tempDir, within, type Coordinator, type RedisHandle, type WorkerProc } from './helpers';

const PROMPT = 'a small yellow circle at the top on a purple background';
const STEPS = 12;
const request = (seed: number, extra: Record<string, unknown> = {}) => ({ prompt: PROMPT, seed, steps: STEPS, width: 64, height: 64, ...extra });
/** Short locks so a killed worker's job is taken over within seconds (production default: 30 s). */
const WORKER_ENV = { ATELIER_FARM_LOCK_MS: '3000' };
const SECOND_MODEL = 'demo-farm-b';

let redis: RedisHandle;
let coordinator: Coordinator;
let w1: WorkerProc;
let w2: WorkerProc;
let reference: Runtime;
let probe: Redis;

/** A single-machine run of the same request: the local engine through the same GenerationService. */
async function referencePixels(seed: number): Promise<Buffer> {
  return (await localPixels(reference, request(seed)))[0];
}

async function submit(seeds: number[], extra: Record<string, unknown> = {}): Promise<string[]> {
  const ids: string[] = [];
  for (const seed of seeds) ids.push((await coordinator.client.generate(request(seed, extra))).jobId);
  return ids;
}

async function expectIdentical(generations: GenerationRecord[], seeds: number[]): Promise<void> {
  expect(generations.map((g) => g.seed)).toEqual(seeds);
  for (const [i, g] of generations.entries()) {
    const got = await coordinator.pixels(g);
    expect(got.equals(await referencePixels(seeds[i])), `seed ${seeds[i]} differs from the single-machine image`).toBe(true);
  }
}

async function jobsDone(): Promise<Record<string, number>> {
  return Object.fromEntries((await readWorkers(probe)).map((w) => [w.name, w.jobsDone]));
}

beforeAll(async () => {
  redis = await startRedis();
  probe = new Redis(redis.url, { maxRetriesPerRequest: null, retryStrategy: (n) => Math.min(n * 100, 1000) });
  probe.on('error', () => undefined);
  // The coordinator holds the second model too (it resolves ids and hashes); only w2 can run it.
  const home = tempDir('atelier-farm-coord-');
  const models = secondModelFolder(SECOND_MODEL);
  mkdirSync(join(home, 'models'), { recursive: true });
  cpSync(join(models, SECOND_MODEL), join(home, 'models', SECOND_MODEL), { recursive: true });
  coordinator = await startCoordinator(redis.url, { home, env: { ATELIER_FARM_NO_WORKER_MS: '3000' } });
  [w1, w2] = await Promise.all([startWorker(redis.url, 'w1', { env: WORKER_ENV }), startWorker(redis.url, 'w2', { env: WORKER_ENV, models })]);
  reference = createRuntime({ userDataDir: tempDir('atelier-farm-ref-') });
  reference.settings.update({ provider: 'cpu' });
}, 120_000);

afterAll(async () => {
  await reference?.close();
  probe?.disconnect();
  await cleanupAll();
});

describe('render farm (Redis + BullMQ, real processes)', () => {
  it('splits a 12-image batch across both workers; images land in order and match a single-machine run', async () => {
    const seeds = Array.from({ length: 12 }, (_, i) => 1000 + i);
    const ids = await submit(seeds);
    const done = await Promise.all(ids.map((id) => coordinator.waitJob(id, 90_000)));
    // Saved in the order the jobs were queued (one project), whichever worker finished first.
    const doneOrder = coordinator.events.filter((e) => e.type === 'job:done' && ids.includes(e.jobId)).map((e) => (e as { jobId: string }).jobId);
    expect(doneOrder).toEqual(ids);
    const counts = await jobsDone();
    expect(counts.w1, JSON.stringify(counts)).toBeGreaterThan(0);
    expect(counts.w2, JSON.stringify(counts)).toBeGreaterThan(0);
    expect(counts.w1 + counts.w2).toBe(12);
    const generations = done.map((d) => d.generations[0]);
    expect(generations.every((g) => g.modelId === 'atelier-demo' && g.provider === 'cpu' && g.steps === STEPS)).toBe(true);
    await expectIdentical(generations, seeds);
  });

  it('splits one request of batchSize 12 into a run per worker (6 + 6), identical to a one-machine batch of 12', async () => {
    // An ancestral scheduler draws the whole batch's noise every step: images 6–11 alone are only right
    // with the batch's own noise slice (batchMember), which is what this checks end to end.
    const extra = { batchSize: 12, scheduler: 'EulerAncestralDiscreteScheduler' };
    // The split follows the workers the coordinator has seen: wait until it lists both.
    const deadline = Date.now() + 20_000;
    while ((await coordinator.client.getFarmStatus()).workers.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    const before = await jobsDone();
    const [id] = await submit([5000], extra);
    const done = await coordinator.waitJob(id, 120_000);
    const after = await jobsDone();
    expect({ w1: after.w1 - before.w1, w2: after.w2 - before.w2 }).toEqual({ w1: 1, w2: 1 });
    expect(done.generations.map((g) => g.batchIndex)).toEqual(Array.from({ length: 12 }, (_, i) => i));
    const local = await localPixels(reference, request(5000, extra));
    expect(local).toHaveLength(12);
    for (const [i, g] of done.generations.entries()) {
      expect((await coordinator.pixels(g)).equals(local[i]), `image ${i} of the batch differs from the one-machine batch`).toBe(true);
    }
  });

  it('cancelling a split batch stops every image of it, queued or running', async () => {
    const before = await jobsDone();
    const [id] = await submit([6000], { batchSize: 16, steps: 500, width: 128, height: 128 });
    await coordinator.waitEvent((e): e is Extract<typeof e, { type: 'job:worker' }> => e.type === 'job:worker' && e.jobId === id, 60_000);
    await coordinator.client.cancel({ jobId: id });
    await expect(coordinator.waitJob(id, 30_000)).rejects.toThrow(/cancelled/);
    // Both workers idle again within a bounded time, having finished far fewer than 8 images.
    const deadline = Date.now() + 30_000;
    let workers = await readWorkers(probe);
    while (workers.some((w) => w.busy) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 200));
      workers = await readWorkers(probe);
    }
    expect(workers.filter((w) => w.busy).map((w) => w.name)).toEqual([]);
    // Two runs of 8 images at 500 steps, 128²: neither can have finished before the cancel.
    const after = await jobsDone();
    expect(after.w1 - before.w1 + (after.w2 - before.w2)).toBe(0);
  });

  it('gives a job for a model only one worker holds to that worker', async () => {
    const before = await jobsDone();
    const [id] = await submit([4000], { modelId: SECOND_MODEL });
    const done = await coordinator.waitJob(id, 60_000);
    const after = await jobsDone();
    expect(after.w2 - before.w2).toBe(1);
    expect(after.w1).toBe(before.w1);
    expect(done.generations[0].modelId).toBe(SECOND_MODEL);
    // Same weights as the demo (plus a note file): the same pixels.
    await expectIdentical(done.generations, [4000]);
  });

  it('survives a Redis restart mid-batch: nothing acknowledged is lost, images identical', async () => {
    const seeds = Array.from({ length: 8 }, (_, i) => 2000 + i);
    const ids = await submit(seeds);
    await coordinator.waitJob(ids[1], 60_000);
    await redis.stop();
    await redis.restart();
    const done = await Promise.all(ids.map((id) => coordinator.waitJob(id, 90_000)));
    await expectIdentical(
      done.map((d) => d.generations[0]),
      seeds,
    );
  });

  it('finishes a batch identically when a worker is SIGKILLed mid-job (stalled job moves to the other worker)', async () => {
    const seeds = Array.from({ length: 6 }, (_, i) => 3000 + i);
    const marker = w1.output().length;
    const ids = await submit(seeds, { steps: STEPS });
    // Wait until w1 has started one of these jobs, then kill it without warning.
    const running = (await w1.waitFor(/running (job-\S+)/, 60_000, marker))[1];
    expect(ids).toContain(running);
    w1.child.kill('SIGKILL');
    await w1.exited;
    // BullMQ's stalled-job check hands the killed job to w2 (lock 3 s here): same job, same seed.
    await w2.waitFor(new RegExp(`running ${running} `), 60_000);
    const done = await Promise.all(ids.map((id) => coordinator.waitJob(id, 90_000)));
    await expectIdentical(
      done.map((d) => d.generations[0]),
      seeds,
    );
  });

  it('fails a job with "no worker has model X" once no live worker holds it', async () => {
    w2.child.kill('SIGTERM');
    await within(30_000, 'w2 leaves', w2.exited);
    const [id] = await submit([4001], { modelId: SECOND_MODEL });
    await expect(coordinator.waitJob(id, 30_000)).rejects.toThrow(new RegExp(`no worker has model ${SECOND_MODEL}`));
    const failed = coordinator.events.find((e) => e.type === 'job:failed' && e.jobId === id);
    expect(failed).toMatchObject({ error: { code: 'model_error' } });
  });
});
