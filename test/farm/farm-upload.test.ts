/**
 * Large results over HTTP: with ATELIER_FARM_REDIS_RESULT_MAX=0 every result (even the demo model's
 * 64×64) is uploaded by the worker to the coordinator's /api/farm/results/<id> with the farm token
 * the coordinator published in Redis, and only a reference travels through BullMQ. Real pieces:
 * redis-server, the built `atelier serve --farm` and `atelier worker --farm` processes.
 *
 * In order: two uploading workers share a batch, every image identical to a single-machine run;
 * the route's refusals (no token, wrong token, too large); the same seed through Redis (a worker
 * without the override) gives the same bytes as through HTTP; a worker with a wrong --farm-token
 * fails its job with a message that says so, instead of leaving it hanging.
 */
import { existsSync, readdirSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GenerationRecord } from '../../common/api/contract';
import { createRuntime, type Runtime } from '../../main/app/runtime';
import { COORDINATOR_KEY, type FarmCoordinatorEndpoint } from '../../main/farm/protocol';
import { readWorkers } from '../../main/farm/worker-registry';
import { cleanupAll, localPixels, startCoordinator, startRedis, startWorker, tempDir, within, type Coordinator, type RedisHandle } from './helpers';

const PROMPT = 'a small yellow circle at the top on a purple background';
const request = (seed: number) => ({ prompt: PROMPT, seed, steps: 12, width: 64, height: 64 });
const UPLOAD_ALL = { ATELIER_FARM_REDIS_RESULT_MAX: '0' };

let redis: RedisHandle;
let coordinator: Coordinator;
let reference: Runtime;
let probe: Redis;

async function referencePixels(seed: number): Promise<Buffer> {
  return (await localPixels(reference, request(seed)))[0];
}

async function generate(seeds: number[]): Promise<GenerationRecord[]> {
  const ids: string[] = [];
  for (const seed of seeds) ids.push((await coordinator.client.generate(request(seed))).jobId);
  const done = await Promise.all(ids.map((id) => coordinator.waitJob(id, 90_000)));
  return done.map((d) => d.generations[0]);
}

/** A raw PUT to the upload route (node:http: the test sets Content-Length itself). */
function put(path: string, headers: Record<string, string | number>, body: Buffer | null): Promise<{ status: number; text: string }> {
  const base = new URL(coordinator.url);
  return within(
    10_000,
    `PUT ${path}`,
    new Promise((resolve, reject) => {
      const req = httpRequest({ host: base.hostname, port: base.port, path, method: 'PUT', headers }, (res) => {
        let text = '';
        res.on('data', (d: Buffer) => (text += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      });
      req.on('error', reject);
      if (body) req.end(body);
      else req.flushHeaders();
    }),
  );
}

beforeAll(async () => {
  redis = await startRedis();
  probe = new Redis(redis.url, { maxRetriesPerRequest: null });
  probe.on('error', () => undefined);
  coordinator = await startCoordinator(redis.url);
  reference = createRuntime({ userDataDir: tempDir('atelier-farm-upload-ref-') });
  reference.settings.update({ provider: 'cpu' });
}, 120_000);

afterAll(async () => {
  await reference?.close();
  probe?.disconnect();
  await cleanupAll();
});

describe('render farm: results over an authenticated HTTP upload', () => {
  let viaHttp: GenerationRecord[] = [];

  it('two workers upload every result; images match a single-machine run and the upload folder is emptied', async () => {
    const endpoint = JSON.parse((await probe.get(COORDINATOR_KEY)) ?? '{}') as FarmCoordinatorEndpoint;
    expect(endpoint.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    expect(endpoint.token.length).toBeGreaterThanOrEqual(32);
    const [w1, w2] = await Promise.all([startWorker(redis.url, 'up1', { env: UPLOAD_ALL }), startWorker(redis.url, 'up2', { env: UPLOAD_ALL })]);
    const seeds = Array.from({ length: 8 }, (_, i) => 6000 + i);
    viaHttp = await generate(seeds);
    const counts = Object.fromEntries((await readWorkers(probe)).map((w) => [w.name, w.jobsDone]));
    expect(counts.up1, JSON.stringify(counts)).toBeGreaterThan(0);
    expect(counts.up2, JSON.stringify(counts)).toBeGreaterThan(0);
    const uploads = (w1.output() + w2.output()).match(/uploaded \d+ bytes for job-/g) ?? [];
    expect(uploads.length).toBe(seeds.length);
    for (const [i, g] of viaHttp.entries()) expect((await coordinator.pixels(g)).equals(await referencePixels(seeds[i])), `seed ${seeds[i]}`).toBe(true);
    // Each upload is removed once its image is saved (the ticket settles just after job:done).
    const dir = join(coordinator.home, 'farm-results');
    expect(existsSync(dir)).toBe(true);
    await within(10_000, 'upload folder empties', (async () => {
      while (readdirSync(dir).length > 0) await new Promise((r) => setTimeout(r, 100));
    })());
    w1.child.kill('SIGTERM');
    w2.child.kill('SIGTERM');
    await Promise.all([within(30_000, 'up1 leaves', w1.exited), within(30_000, 'up2 leaves', w2.exited)]);
  });

  it('refuses an upload without the farm token, with a wrong one (401) and one too large (413)', async () => {
    const { token } = JSON.parse((await probe.get(COORDINATOR_KEY)) ?? '{}') as FarmCoordinatorEndpoint;
    const path = '/api/farm/results/test-upload-0001';
    const body = Buffer.from('{}');
    expect(await put(path, { 'Content-Length': body.length }, body)).toMatchObject({ status: 401, text: 'Missing or wrong farm token' });
    expect(await put(path, { 'Content-Length': body.length, Authorization: 'Bearer not-the-farm-token' }, body)).toMatchObject({ status: 401 });
    expect(await put(path, { 'Content-Length': body.length, Authorization: `Bearer ${token}x` }, body)).toMatchObject({ status: 401 });
    expect((await put(path, { 'Content-Length': 500 * 1024 * 1024, Authorization: `Bearer ${token}` }, null)).status).toBe(413);
    expect((await put(path, { 'Content-Length': body.length, Authorization: `Bearer ${token}`, 'X-Content-SHA256': '0'.repeat(64) }, body)).status).toBe(400);
    // Nothing refused reached the folder.
    expect(readdirSync(join(coordinator.home, 'farm-results'))).toEqual([]);
  });

  it('gives the same bytes through Redis as through HTTP', async () => {
    const w = await startWorker(redis.url, 'via-redis');
    const [g] = await generate([6000]);
    expect(w.output()).not.toMatch(/uploaded/);
    expect((await coordinator.pixels(g)).equals(await coordinator.pixels(viaHttp[0]))).toBe(true);
    w.child.kill('SIGTERM');
    await within(30_000, 'via-redis leaves', w.exited);
  });

  it('fails the job with a clear message when the worker has the wrong farm token', async () => {
    const w = await startWorker(redis.url, 'bad-token', { env: UPLOAD_ALL, args: ['--farm-token', 'wrong-token-0123456789'] });
    const { jobId } = await coordinator.client.generate(request(6100));
    await expect(coordinator.waitJob(jobId, 60_000)).rejects.toThrow(/refused the farm token \(401/);
    // Refused at once: a wrong token is not something a retry fixes.
    expect(w.output().match(/running job-/g)?.length).toBe(1);
  });
});
