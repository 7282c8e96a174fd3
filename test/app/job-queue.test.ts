/**
 * Queue order: waiting jobs run in the order the user leaves them after moveJob; the running job
 * and finished jobs never move; every reorder re-announces the waiting jobs' places.
 */
import { describe, expect, it } from 'vitest';
import { AtelierApiError, type AtelierEvent } from '../../common/api/contract';
import { GenerateRequest } from '../../common/api/schemas';
import { JobQueue, MAX_WAITING_JOBS, type JobRunner } from '../../main/app/job-queue';

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
    for (let i = 0; i < 1000 && !gates.has(prompt); i++) await new Promise((r) => setTimeout(r, 0));
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

/** A runner that keeps what it was given and finishes each job when released (or at once). */
function recordingRunner(opts: { hold?: boolean } = {}) {
  const seen: { init?: string; mask?: string }[] = [];
  const gates: (() => void)[] = [];
  const runner: JobRunner = {
    cancelRunning() {},
    async run(ctx) {
      const init = ctx.request.initImage && 'base64' in ctx.request.initImage ? ctx.request.initImage.base64 : undefined;
      seen.push({ init, mask: ctx.request.mask?.base64 });
      if (opts.hold) await new Promise<void>((resolve) => gates.push(resolve));
      return { generations: [], provider: 'cpu', timings: {} };
    },
  };
  return { runner, seen, gates };
}

/** Cancels what waits and lets the running job finish (the fake runner ignores cancel). */
async function drain(queue: JobQueue, gates: (() => void)[]): Promise<void> {
  const done = queue.cancelAll();
  for (let i = 0; i < 100 && gates.length === 0; i++) await new Promise((r) => setTimeout(r, 0));
  gates.forEach((g) => g());
  await done;
}

describe('JobQueue memory (issue 15, item 5)', () => {
  // 4 MB of base64 per image: far larger than any summary should be.
  const big = 'A'.repeat(4 * 1024 * 1024);
  const img2img = (prompt: string) => GenerateRequest.parse({ prompt, initImage: { base64: big }, mask: { base64: big.slice(0, 1000) }, strength: 0.5 });

  it('runs jobs with their full inputs but lists (and keeps, once finished) only summaries', async () => {
    const { runner, seen, gates } = recordingRunner({ hold: true });
    const queue = new JobQueue(runner, () => undefined, () => ({ code: 'internal', message: 'x' }));
    const ids = ['a', 'b', 'c'].map((p) => queue.enqueue(img2img(p)));
    const byRef = queue.enqueue(GenerateRequest.parse({ prompt: 'ref', initImage: { generationId: 'gen-1' } }));

    // Waiting and running jobs: the listing never echoes the base64.
    const listed = queue.list();
    expect(JSON.stringify(listed).length).toBeLessThan(10_000);
    expect(listed.find((j) => j.jobId === ids[1])).toMatchObject({
      state: 'queued',
      request: { prompt: 'b', strength: 0.5 },
      omittedInputs: { initImage: { bytes: 3 * 1024 * 1024 }, mask: { bytes: 750 } },
    });
    expect(listed[1].request.initImage).toBeUndefined();
    expect(listed[1].request.mask).toBeUndefined();
    // A reference to a generation is small and stays; nothing was omitted.
    const ref = listed.find((j) => j.jobId === byRef)!;
    expect(ref.request.initImage).toEqual({ generationId: 'gen-1' });
    expect(ref.omittedInputs).toBeUndefined();
    expect(JSON.stringify(queue.get(ids[0])).length).toBeLessThan(5_000);

    // The runner still gets every byte.
    for (let i = 0; i < 4; i++) {
      for (let t = 0; t < 1000 && gates.length <= i; t++) await new Promise((r) => setTimeout(r, 0));
      gates[i]();
    }
    await queue.idle();
    expect(seen.map((s) => s.init?.length)).toEqual([big.length, big.length, big.length, undefined]);
    expect(seen[0].mask).toBe(big.slice(0, 1000));

    // Finished jobs hold nothing but their summary: no base64 left anywhere on the job object.
    const jobs = (queue as unknown as { jobs: Map<string, object> }).jobs;
    for (const id of ids) {
      const stored = JSON.stringify(jobs.get(id));
      expect(stored.length).toBeLessThan(5_000);
      expect(stored).not.toContain('AAAAAAAA');
    }
    expect(queue.list().map((j) => j.state)).toEqual(['done', 'done', 'done', 'done']);
  });

  it('drops the inputs of jobs cancelled while waiting', async () => {
    const { runner, gates } = recordingRunner({ hold: true });
    const queue = new JobQueue(runner, () => undefined, () => ({ code: 'internal', message: 'x' }));
    queue.enqueue(GenerateRequest.parse({ prompt: 'running' }));
    const waiting = queue.enqueue(img2img('waiting'));
    expect(queue.cancel(waiting)).toBe(true);
    const stored = JSON.stringify((queue as unknown as { jobs: Map<string, object> }).jobs.get(waiting));
    expect(stored.length).toBeLessThan(5_000);
    await drain(queue, gates);
  });

  it(`refuses more than ${MAX_WAITING_JOBS} waiting jobs with a typed busy error, and accepts again once one leaves`, async () => {
    const { runner, gates } = recordingRunner({ hold: true });
    const queue = new JobQueue(runner, () => undefined, () => ({ code: 'internal', message: 'x' }));
    queue.enqueue(GenerateRequest.parse({ prompt: 'running' }));
    await new Promise((r) => setTimeout(r, 0)); // it starts: the rest wait
    const waiting: string[] = [];
    for (let i = 0; i < MAX_WAITING_JOBS; i++) waiting.push(queue.enqueue(GenerateRequest.parse({ prompt: `w${i}` })));
    expect(queue.waitingOrder()).toHaveLength(MAX_WAITING_JOBS);

    let refused: unknown;
    try {
      queue.enqueue(GenerateRequest.parse({ prompt: 'one too many' }));
    } catch (err) {
      refused = err;
    }
    expect(refused).toBeInstanceOf(AtelierApiError);
    expect((refused as AtelierApiError).code).toBe('busy');
    expect((refused as AtelierApiError).message).toMatch(new RegExp(`queue is full: ${MAX_WAITING_JOBS} jobs are waiting`));
    expect(queue.waitingOrder()).toHaveLength(MAX_WAITING_JOBS);

    queue.cancel(waiting[0]);
    expect(() => queue.enqueue(GenerateRequest.parse({ prompt: 'fits again' }))).not.toThrow();

    await drain(queue, gates);
  });

  it('refuses a job whose inline images would push the waiting jobs past their byte budget', async () => {
    const { runner, gates } = recordingRunner({ hold: true });
    const queue = new JobQueue(runner, () => undefined, () => ({ code: 'internal', message: 'x' }), { maxWaitingInlineBytes: 3 * big.length });
    queue.enqueue(img2img('running'));
    await new Promise((r) => setTimeout(r, 0)); // running jobs do not count against the budget
    const a = queue.enqueue(img2img('a'));
    queue.enqueue(img2img('b'));
    expect(() => queue.enqueue(img2img('c'))).toThrow(/queue is full: waiting jobs already hold/);
    // Small jobs still fit, and a cancelled job gives its share back.
    expect(() => queue.enqueue(GenerateRequest.parse({ prompt: 'text only' }))).not.toThrow();
    queue.cancel(a);
    expect(() => queue.enqueue(img2img('c'))).not.toThrow();
    await drain(queue, gates);
  });
});

describe('JobQueue.cancelAll (issue 15, item 8)', () => {
  it('ends within its timeout even when the running job ignores the cancel', async () => {
    const runner: JobRunner = { cancelRunning() {}, run: () => new Promise(() => undefined) }; // never ends
    const queue = new JobQueue(runner, () => undefined, () => ({ code: 'internal', message: 'x' }));
    queue.enqueue(GenerateRequest.parse({ prompt: 'stuck' }));
    const waiting = queue.enqueue(GenerateRequest.parse({ prompt: 'waiting' }));
    await new Promise((r) => setTimeout(r, 0));
    const started = Date.now();
    expect(await queue.cancelAll(200)).toBe(false);
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(queue.get(waiting)?.state).toBe('cancelled');
  });

  it('reports true when everything stopped', async () => {
    let cancel!: () => void;
    const runner: JobRunner = {
      cancelRunning: () => cancel(),
      run: () => new Promise((_, reject) => (cancel = () => reject(Object.assign(new Error('stopped'), { name: 'CancelledError' })))),
    };
    const queue = new JobQueue(runner, () => undefined, (err) => ({ code: (err as Error).name === 'CancelledError' ? 'cancelled' : 'internal', message: 'x' }));
    const id = queue.enqueue(GenerateRequest.parse({ prompt: 'running' }));
    await new Promise((r) => setTimeout(r, 0));
    expect(await queue.cancelAll(5_000)).toBe(true);
    expect(queue.get(id)?.state).toBe('cancelled');
  });
});
