/**
 * Queue order: waiting jobs run in the order the user leaves them after moveJob; the running job
 * and finished jobs never move; every reorder re-announces the waiting jobs' places.
 */
import { describe, expect, it } from 'vitest';
import type { AtelierEvent } from '../../common/api/contract';
import { GenerateRequest } from '../../common/api/schemas';
import { JobQueue, type JobRunner } from '../../main/app/job-queue';

/** A runner whose jobs finish only when the test releases them, recording the start order. */
function gatedRunner() {
  const started: string[] = [];
  const gates = new Map<string, () => void>();
  const runner: JobRunner = {
    cancelRunning() {},
    async run(ctx) {
      started.push(ctx.request.prompt);
      await new Promise<void>((resolve) => gates.set(ctx.request.prompt, resolve));
      return { generations: [], provider: 'cpu', timings: {} };
    },
  };
  const release = async (prompt: string) => {
    // The runner is entered on a microtask after enqueue/finish; wait until it is.
    while (!gates.has(prompt)) await new Promise((r) => setTimeout(r, 0));
    gates.get(prompt)!();
  };
  return { runner, started, release };
}

function setup() {
  const events: AtelierEvent[] = [];
  const gated = gatedRunner();
  const queue = new JobQueue(gated.runner, (e) => events.push(e), () => ({ code: 'internal', message: 'x' }));
  const add = (prompt: string) => queue.enqueue(GenerateRequest.parse({ prompt }));
  return { queue, events, add, ...gated };
}

describe('JobQueue.move', () => {
  it('runs waiting jobs in their new order', async () => {
    const { queue, add, started, release } = setup();
    const running = add('running');
    await new Promise((r) => setTimeout(r, 0)); // let it start
    const a = add('a');
    const b = add('b');
    const c = add('c');
    expect(queue.waitingOrder()).toEqual([a, b, c]);

    expect(queue.move(c, 0)).toBe(true);
    expect(queue.waitingOrder()).toEqual([c, a, b]);
    expect(queue.move(a, 99)).toBe(true); // past the end = last
    expect(queue.waitingOrder()).toEqual([c, b, a]);
    expect(queue.list().map((j) => j.jobId)).toEqual([running, c, b, a]); // what a reloading client sees

    for (const p of ['running', 'c', 'b', 'a']) await release(p);
    await queue.idle();
    expect(started).toEqual(['running', 'c', 'b', 'a']);
    expect(queue.move(running, 0)).toBe(false);
  });

  it('refuses the running job and unknown ids, and re-announces positions after a move', async () => {
    const { queue, add, events, release } = setup();
    const running = add('running');
    await new Promise((r) => setTimeout(r, 0)); // let it start
    const a = add('a');
    const b = add('b');
    expect(queue.move(running, 1)).toBe(false);
    expect(queue.move('job-nope', 0)).toBe(false);

    events.length = 0;
    expect(queue.move(b, 0)).toBe(true);
    // One ahead of both (the running job): b is 1st in line behind it, a 2nd.
    expect(events).toEqual([
      { type: 'job:queued', jobId: b, position: 1 },
      { type: 'job:queued', jobId: a, position: 2 },
    ]);

    // A cancelled job leaves the line; the others keep their order.
    queue.cancel(b);
    expect(queue.waitingOrder()).toEqual([a]);
    expect(queue.move(b, 0)).toBe(false);
    for (const p of ['running', 'a']) await release(p);
    await queue.idle();
  });
});
