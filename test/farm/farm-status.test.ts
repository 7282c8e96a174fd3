/**
 * `atelier serve --farm … --local-worker`: the studio's own engine joins the farm as a worker, and
 * the Farm panel's data (getFarmStatus, `farm:workers`, `job:worker`) names it. A studio without
 * --farm answers `enabled: false`.
 */
import { hostname } from 'node:os';
import { afterAll, describe, expect, it } from 'vitest';
import type { AtelierEvent, FarmWorkerSummary } from '../../common/api/contract';
import { cleanupAll, startCoordinator, startRedis, startWorker, within } from './helpers';

afterAll(cleanupAll);

type WorkersEvent = Extract<AtelierEvent, { type: 'farm:workers' }>;
type JobWorkerEvent = Extract<AtelierEvent, { type: 'job:worker' }>;
type PreviewEvent = Extract<AtelierEvent, { type: 'job:preview' }>;

describe('render farm status', () => {
  it('lists the studio as a worker with --local-worker and says which worker ran a job', async () => {
    const redis = await startRedis();
    const studio = await startCoordinator(redis.url, { args: ['--local-worker'] });
    const name = `${hostname()}-studio`;
    const { jobId } = await studio.client.generate({ prompt: 'a red square', seed: 7, steps: 4, width: 64, height: 64 });
    await studio.waitJob(jobId, 60_000);
    const ran = await studio.waitEvent((e): e is JobWorkerEvent => e.type === 'job:worker' && e.jobId === jobId, 10_000);
    expect(ran.worker).toBe(name);
    const announced = await studio.waitEvent((e): e is WorkersEvent => e.type === 'farm:workers' && e.workers.some((w) => w.name === name && w.jobsDone === 1), 15_000);
    const me = announced.workers.find((w) => w.name === name) as FarmWorkerSummary;
    expect(me.models.map((m) => m.id)).toContain('atelier-demo');
    expect(me.busy).toBe(false);
    const status = await studio.client.getFarmStatus();
    expect(status).toMatchObject({ enabled: true, redis: redis.url });
    expect(status.workers.map((w) => w.name)).toContain(name);
  });

  it('streams live previews from the worker through Redis to the studio, shrunk to fit', async () => {
    const redis = await startRedis();
    const studio = await startCoordinator(redis.url);
    await startWorker(redis.url, 'w-preview');
    // 320² on the demo model: a UNet step takes long enough on CPU for several progress reports,
    // and its preview (the approximation, 40² — or TAESD at full size) comes through as sent.
    const { jobId } = await studio.client.generate({ prompt: 'a yellow circle on a grey background', seed: 11, steps: 8, width: 320, height: 320 });
    await studio.waitJob(jobId, 90_000);
    const previews = studio.events.filter((e): e is PreviewEvent => e.type === 'job:preview' && e.jobId === jobId);
    expect(previews.length).toBeGreaterThanOrEqual(1);
    for (const p of previews) {
      expect(p.dataUrl).toMatch(/^data:image\/(png|jpeg|webp);base64,/);
      expect(Math.max(p.width, p.height)).toBeLessThanOrEqual(256);
      expect(p.step).toBeGreaterThanOrEqual(1);
      expect(p.step).toBeLessThanOrEqual(8);
    }
  });

  it('coordinator and worker still exit promptly on SIGTERM when Redis is gone', async () => {
    const redis = await startRedis();
    const studio = await startCoordinator(redis.url);
    const worker = await startWorker(redis.url, 'w-bye');
    await redis.stop();
    const started = Date.now();
    studio.proc.child.kill('SIGTERM');
    worker.child.kill('SIGTERM');
    const timed = (exited: Promise<number | null>) => exited.then((code) => ({ code, ms: Date.now() - started }));
    const [a, b] = await within(40_000, 'both exit', Promise.all([timed(studio.proc.exited), timed(worker.exited)]));
    expect([a.code, b.code]).toEqual([0, 0]);
    // Each bounded on its own: nothing waits for a Redis that will not answer.
    expect({ coordinator: a.ms < 10_000, worker: b.ms < 10_000 }, `coordinator ${a.ms} ms, worker ${b.ms} ms`).toEqual({ coordinator: true, worker: true });
  });

  it('answers enabled: false without --farm', async () => {
    const studio = await startCoordinator(null);
    expect(await studio.client.getFarmStatus()).toEqual({ enabled: false, redis: null, workers: [] });
  });
});
