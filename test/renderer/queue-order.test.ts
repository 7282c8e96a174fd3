/** The renderer's view of the queue order and its optimistic reorder. */
import { describe, expect, it } from 'vitest';
import { createAtelierStore } from '../../renderer/state/store';
import { waitingJobIds } from '../../renderer/state/jobs-slice';
import { createFakeClient, record } from './fake-client';
import { jobLabel } from '../../common/params/upscale-job-display';

async function withQueue() {
  const fake = createFakeClient();
  const moves: unknown[] = [];
  let moved = true;
  fake.client.moveJob = async (req) => (moves.push(req), { moved });
  const store = createAtelierStore(fake.client);
  await store.getState().init();
  const s = () => store.getState();
  for (const prompt of ['running', 'a', 'b', 'c']) await s().enqueue({ prompt }, 'workspace');
  fake.emit({ type: 'job:progress', jobId: 'job1', step: 1, total: 20, elapsedMs: 5, etaMs: 100 });
  ['job2', 'job3', 'job4'].forEach((jobId, i) => fake.emit({ type: 'job:queued', jobId, position: i + 1 }));
  return { fake, s, moves, refuse: () => (moved = false) };
}

describe('queue order', () => {
  it('lists waiting jobs by announced position, unannounced ones last in submission order', () => {
    const jobs = {
      x: { state: 'queued', position: 3 },
      y: { state: 'queued', position: null },
      z: { state: 'queued', position: 1 },
      r: { state: 'running', position: null },
      w: { state: 'queued', position: null },
    } as never;
    expect(waitingJobIds({ jobs, jobOrder: ['r', 'x', 'y', 'z', 'w'] })).toEqual(['z', 'x', 'y', 'w']);
  });

  it('moves a job optimistically and tells the server the index among waiting jobs', async () => {
    const { s, moves } = await withQueue();
    expect(waitingJobIds(s())).toEqual(['job2', 'job3', 'job4']);
    await s().moveJob('job4', 0);
    expect(waitingJobIds(s())).toEqual(['job4', 'job2', 'job3']);
    expect(moves).toEqual([{ jobId: 'job4', position: 0 }]);
    await s().moveJob('job1', 0); // running: not a waiting job, nothing to send
    await s().moveJob('job2', 1); // already there
    expect(moves).toHaveLength(1);
  });

  it('follows the server when it re-announces positions, and says so when a job had already started', async () => {
    const { s, fake, refuse } = await withQueue();
    refuse();
    await s().moveJob('job3', 0);
    expect(s().toasts.at(-1)).toMatchObject({ title: 'Not moved' });
    // The server's word wins.
    ['job2', 'job4', 'job3'].forEach((jobId, i) => fake.emit({ type: 'job:queued', jobId, position: i + 1 }));
    expect(waitingJobIds(s())).toEqual(['job2', 'job4', 'job3']);
  });
});

describe('upscale jobs', () => {
  it('queues an upscale of the source, shown with its size, and retry as an upscale, not a generation', async () => {
    const fake = createFakeClient();
    const upscales: unknown[] = [];
    let n = 0;
    fake.client.upscaleImage = async (req) => (upscales.push(req), { jobId: `up${++n}` });
    const store = createAtelierStore(fake.client);
    await store.getState().init();
    const s = () => store.getState();
    s().addGenerations([record({ id: 'src', width: 64, height: 32, prompt: 'a kettle' })]);
    expect(await s().upscaleImage('src', 2)).toBe('up1');
    // The server's display rule (common/params/upscale-job-display.ts): the source at its new size; the row says "Upscale 2×".
    expect(s().jobs.up1).toMatchObject({ origin: 'upscale', request: { width: 128, height: 64, prompt: 'a kettle', upscale: 2, parentId: 'src' } });
    expect(jobLabel(s().jobs.up1!.request, s().jobs.up1!.upscale)).toBe('Upscale 2× · a kettle');
    fake.emit({ type: 'job:failed', jobId: 'up1', error: { code: 'internal', message: 'boom' } });
    const generates = fake.callsTo('generate').length;
    expect(await s().retryJob('up1')).toBe('up2');
    expect(upscales).toEqual([{ generationId: 'src', factor: 2 }, { generationId: 'src', factor: 2 }]);
    expect(fake.callsTo('generate')).toHaveLength(generates);
  });
});
