/**
 * Reload and reconnect lose nothing (issue 14, item 7): the workspace is kept per project across
 * page reloads, and the server-mode transport reconnects by itself and the store resyncs.
 */
import { describe, expect, it } from 'vitest';
import { createReconnectingTransport } from '../../common/api/ws-client';
import type { WebSocketLike } from '../../common/api/ws-protocol';
import { memoryStorage } from '../../renderer/lib/workspace-memory';
import { createAtelierStore } from '../../renderer/state/store';
import { createFakeClient } from './fake-client';

async function storeWith(storage: ReturnType<typeof memoryStorage>, fake = createFakeClient()) {
  const store = createAtelierStore(fake.client, { workspaceStorage: storage });
  await store.getState().init();
  await new Promise((r) => setTimeout(r, 0));
  return { fake, s: () => store.getState() };
}

describe('workspace per project across reloads', () => {
  it('brings back prompt and parameters of the open project after a reload, and each project keeps its own', async () => {
    const storage = memoryStorage();
    const before = await storeWith(storage);
    before.s().setParams({ prompt: 'a red cube lit from the left', negativePrompt: 'blurry', steps: 33, guidanceScale: 2.5, seed: 1234, seedLocked: true, batchSize: 3 });
    await before.s().createProject('Client B');
    await new Promise((r) => setTimeout(r, 0));
    before.s().setParams({ prompt: 'client b prompt' });

    // "Reload": a new store over the same storage and server; Client B is the open project now.
    const after = await storeWith(storage, before.fake);
    expect(after.s().params).toMatchObject({ prompt: 'client b prompt' });
    await after.s().openProject(after.s().projects.find((p) => p.name !== 'Client B')!.id);
    await new Promise((r) => setTimeout(r, 0));
    expect(after.s().params).toMatchObject({ prompt: 'a red cube lit from the left', negativePrompt: 'blurry', steps: 33, guidanceScale: 2.5, seed: 1234, seedLocked: true, batchSize: 3 });
  });

  it('ignores a corrupt saved workspace', async () => {
    const storage = memoryStorage();
    storage.setItem('atelier.workspace.v1:p1', '{not json');
    const { s } = await storeWith(storage);
    expect(s().appState).toBe('ready');
  });
});

/** A scripted socket: the test opens and closes it; sent calls are answered by `answer`. */
class FakeSocket implements WebSocketLike {
  readyState = 0;
  private readonly handlers = new Map<string, ((ev: unknown) => void)[]>();
  constructor(private readonly answer: (id: number, method: string) => unknown) {}
  addEventListener(type: string, listener: (ev: never) => void): void {
    this.handlers.set(type, [...(this.handlers.get(type) ?? []), listener as (ev: unknown) => void]);
  }
  fire(type: string, ev: unknown = {}): void {
    for (const h of this.handlers.get(type) ?? []) h(ev);
  }
  open(): void {
    this.readyState = 1;
    this.fire('open');
  }
  drop(): void {
    this.readyState = 3;
    this.fire('close', { code: 1006 });
  }
  send(data: string): void {
    const { id, method } = JSON.parse(data) as { id: number; method: string };
    queueMicrotask(() => this.fire('message', { data: JSON.stringify({ id, result: { ok: true, value: this.answer(id, method) } }) }));
  }
  close(): void {
    this.drop();
  }
}

describe('reconnecting transport', () => {
  it('fails calls while down, reconnects with backoff, keeps event listeners, reports status', async () => {
    const sockets: FakeSocket[] = [];
    const status: string[] = [];
    const transport = createReconnectingTransport({
      open: () => {
        const s = new FakeSocket((_id, method) => `${method} via socket ${sockets.length}`);
        sockets.push(s);
        return s;
      },
      onStatus: (st) => status.push(st),
      delaysMs: [5, 10],
    });
    const events: unknown[] = [];
    transport.onEvent((e) => events.push(e));
    sockets[0].open();
    expect(await transport.call('listJobs', undefined)).toEqual({ ok: true, value: 'listJobs via socket 1' });

    sockets[0].drop();
    expect(status).toEqual(['disconnected']);
    expect(await transport.call('listJobs', undefined)).toMatchObject({ ok: false, error: { message: expect.stringMatching(/closed/) } });

    // First attempt fails (server still down), the second succeeds.
    for (let i = 0; i < 100 && sockets.length < 2; i++) await new Promise((r) => setTimeout(r, 2));
    sockets[1].drop();
    for (let i = 0; i < 100 && sockets.length < 3; i++) await new Promise((r) => setTimeout(r, 2));
    sockets[2].open();
    expect(status).toEqual(['disconnected', 'connected']);
    expect(await transport.call('listJobs', undefined)).toEqual({ ok: true, value: 'listJobs via socket 3' });
    sockets[2].fire('message', { data: JSON.stringify({ event: { type: 'models:changed' } }) });
    expect(events).toEqual([{ type: 'models:changed' }]);
    transport.close();
  });

  it('resyncs the queue after a reconnect: jobs the restarted server lists as interrupted show so', async () => {
    const storage = memoryStorage();
    const { fake, s } = await storeWith(storage);
    const jobId = (await s().enqueue({ prompt: 'long' }, 'workspace'))!;
    fake.emit({ type: 'job:progress', jobId, step: 1, total: 100, elapsedMs: 10, etaMs: 1000 });
    expect(s().jobs[jobId]!.state).toBe('running');
    fake.client.listJobs = async () => [
      { jobId, state: 'interrupted', request: { prompt: 'long', negativePrompt: '', width: 64, height: 64, steps: 100, guidanceScale: 5, guidanceRescale: 0, seed: 9, rng: 'cpu', batchSize: 1 }, step: 0, total: 100, generationIds: [], error: { code: 'internal', message: 'Interrupted' } },
    ];
    await s().resync();
    expect(s().jobs[jobId]).toMatchObject({ state: 'interrupted', request: { prompt: 'long' } });
    const retried = await s().retryJob(jobId);
    expect(retried).not.toBeNull();
    expect(fake.callsTo('retryJob')).toEqual([{ jobId }]);
    expect(s().jobs[jobId]).toBeUndefined();
    expect(s().jobs[retried!]).toMatchObject({ request: { prompt: 'long' }, origin: 'retry' });
  });
});
