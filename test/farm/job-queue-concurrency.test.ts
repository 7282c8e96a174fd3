/**
 * The seam the render farm uses in the studio's JobQueue: `concurrency` > 1 starts several jobs at
 * once, in queue order and synchronously (the farm hands results back in that order), caps how many
 * run, and cancels a running job by its id. Concurrency 1 (the local engine) is covered by
 * test/app/job-queue.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { AtelierApiError, type AtelierEvent } from '../../common/api/contract';
import { GenerateRequest } from '../../common/api/schemas';
import { JobQueue, type JobRunner } from '../../main/app/job-queue';

function setup(concurrency: number) {
  const started: string[] = [];
  const cancelled: string[] = [];
  const gates = new Map<string, { resolve(): void; reject(e: Error): void }>();
  const runner: JobRunner = {
    cancelRunning: (jobId) => {
      cancelled.push(jobId);
      gates.get(jobId)?.reject(new AtelierApiError('cancelled', 'cancelled'));
    },
    run(ctx) {
      started.push(ctx.request.prompt);
      return new Promise((resolve, reject) => gates.set(ctx.jobId, { resolve: () => resolve({ generations: [], provider: 'cpu', timings: {} }), reject }));
    },
  };
  const events: AtelierEvent[] = [];
  const queue = new JobQueue(runner, (e) => events.push(e), (err) => (err instanceof AtelierApiError ? err.toShape() : { code: 'internal', message: String(err) }), { concurrency });
  const add = (prompt: string) => queue.enqueue(GenerateRequest.parse({ prompt }));
  /** Waits (bounded, on microtasks) until the runner has been entered `n` times. */
  const untilStarted = async (n: number) => {
    for (let i = 0; i < 100 && started.length < n; i++) await Promise.resolve();
    expect(started.length).toBe(n);
  };
  return { queue, events, add, started, cancelled, gates, untilStarted };
}

describe('JobQueue with concurrency (render farm)', () => {
  it('starts up to `concurrency` jobs at once, in queue order, and the next as one ends', async () => {
    const { add, started, gates, untilStarted, queue } = setup(3);
    const ids = ['a', 'b', 'c', 'd', 'e'].map(add);
    await untilStarted(3);
    expect(started).toEqual(['a', 'b', 'c']);
    expect(queue.list().filter((j) => j.state === 'running').map((j) => j.jobId)).toEqual(ids.slice(0, 3));
    gates.get(ids[1])!.resolve();
    await untilStarted(4);
    expect(started[3]).toBe('d');
    for (const id of ids.slice(0, 4)) gates.get(id)?.resolve();
    await untilStarted(5);
    gates.get(ids[4])!.resolve();
    await queue.idle();
    expect(queue.list().every((j) => j.state === 'done')).toBe(true);
  });

  it('cancels the running job it is asked to, by id, and counts running jobs ahead of waiting ones', async () => {
    const { add, cancelled, events, untilStarted, queue } = setup(2);
    const [a, b, c] = ['a', 'b', 'c'].map(add);
    await untilStarted(2);
    expect(events.find((e) => e.type === 'job:queued' && e.jobId === c)).toMatchObject({ position: 2 });
    expect(queue.cancel(b)).toBe(true);
    expect(cancelled).toEqual([b]);
    await untilStarted(3);
    expect(queue.get(b)?.state).toBe('cancelled');
    expect(queue.get(a)?.state).toBe('running');
  });
});
