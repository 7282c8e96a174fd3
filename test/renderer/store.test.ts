import { describe, expect, it } from 'vitest';
import { createAtelierStore } from '../../renderer/state/store';
import { compareIds } from '../../renderer/state/compare-slice';
import { createBridgeTransport, webSocketUrl, type AtelierBridge } from '../../renderer/api/connect';
import { createApiClient } from '../../common/api/client';
import { API_METHOD_NAMES } from '../../common/api/contract';
import { createFakeClient, record } from './fake-client';

async function ready(opts?: Parameters<typeof createFakeClient>[0]) {
  const fake = createFakeClient(opts);
  const store = createAtelierStore(fake.client);
  await store.getState().init();
  await new Promise((r) => setTimeout(r, 0)); // history + jobs load in the background
  return { fake, store, s: () => store.getState() };
}

describe('startup', () => {
  it('becomes ready after system info and models, picking the default model and its defaults', async () => {
    const { s } = await ready();
    expect(s().appState).toBe('ready');
    expect(s().systemInfo?.executionProviders[0]?.name).toBe('cpu');
    expect(s().params).toMatchObject({ modelId: 'demo', width: 64, height: 64, steps: 8, guidanceScale: 4 });
  });
  it('warms the default model in the background to learn its execution provider', async () => {
    const { fake, s } = await ready();
    expect(fake.callsTo('loadModel')).toEqual([{ modelId: 'demo', provider: 'auto' }]);
    expect(s().loadedModel?.provider).toBe('cpu');
  });
  it('reports an error state when the engine is unreachable', async () => {
    const fake = createFakeClient();
    fake.client.getSystemInfo = () => Promise.reject(new Error('Could not connect to the Atelier server'));
    const store = createAtelierStore(fake.client);
    await store.getState().init();
    expect(store.getState().appState).toBe('error');
    expect(store.getState().startupError).toMatch(/connect/);
  });
});

describe('jobs', () => {
  it('generates from the form with a random seed and streams progress, preview and result', async () => {
    const { fake, s } = await ready();
    s().setParams({ prompt: 'a cat' });
    const jobId = await s().generate();
    expect(jobId).toBe('job1');
    expect(fake.callsTo('generate')[0]).toMatchObject({ prompt: 'a cat', seed: -1, modelId: 'demo', width: 64 });
    expect(s().params.seed).toBe(1000); // the seed the engine drew is shown

    fake.emit({ type: 'job:progress', jobId: 'job1', step: 3, total: 8, elapsedMs: 30, etaMs: 50 });
    fake.emit({ type: 'job:preview', jobId: 'job1', step: 3, width: 64, height: 64, dataUrl: 'data:image/png;base64,xx' });
    expect(s().jobs.job1).toMatchObject({ state: 'running', step: 3, total: 8, etaMs: 50, previewUrl: 'data:image/png;base64,xx' });

    const gen = record({ id: 'new', prompt: 'a cat', seed: 1000 });
    fake.emit({ type: 'job:done', jobId: 'job1', generations: [gen], provider: 'cpu', timings: {} });
    expect(s().jobs.job1).toMatchObject({ state: 'done', generationIds: ['new'], previewUrl: null });
    expect(s().historyOrder[0]).toBe('new');
    expect(s().viewingId).toBe('new');
    expect(s().loadedModel?.provider).toBe('cpu');
  });

  it('uses the locked seed', async () => {
    const { fake, s } = await ready();
    s().setParams({ seed: 7, seedLocked: true });
    await s().generate();
    expect(fake.callsTo('generate')[0]).toMatchObject({ seed: 7 });
  });

  it('accepts events that arrive before generate() resolves', async () => {
    const { fake, s } = await ready();
    fake.emit({ type: 'job:progress', jobId: 'job1', step: 1, total: 8, elapsedMs: 1, etaMs: 9 });
    await s().generate();
    expect(s().jobOrder).toEqual(['job1']);
    expect(s().jobs.job1).toMatchObject({ state: 'running', step: 1, origin: 'workspace' });
    expect(s().jobs.job1!.request).not.toBeNull();
  });

  it('cancels, retries failed jobs and surfaces failures as toasts', async () => {
    const { fake, s } = await ready();
    await s().generate();
    await s().cancelJob('job1');
    expect(fake.callsTo('cancel')).toEqual([{ jobId: 'job1' }]);
    fake.emit({ type: 'job:failed', jobId: 'job1', error: { code: 'model_error', message: 'Out of memory: lower the size' } });
    expect(s().jobs.job1!.state).toBe('failed');
    expect(s().toasts.at(-1)).toMatchObject({ kind: 'error', message: 'Out of memory: lower the size' });
    const again = await s().retryJob('job1');
    expect(again).toBe('job2');
    expect(fake.callsTo('generate')[1]).toEqual(fake.callsTo('generate')[0]);
  });

  it('puts jobs that existed before startup ahead of ones started since', async () => {
    const fake = createFakeClient();
    let releaseJobs!: () => void;
    const gate = new Promise<void>((r) => (releaseJobs = r));
    fake.client.listJobs = async () => {
      await gate;
      return [{ jobId: 'old', state: 'done', request: { prompt: 'x', negativePrompt: '', width: 64, height: 64, steps: 4, guidanceScale: 5, guidanceRescale: 0, seed: 3, rng: 'cpu', batchSize: 1 }, step: 4, total: 4, generationIds: ['g'] }];
    };
    const store = createAtelierStore(fake.client);
    await store.getState().init();
    await store.getState().generate();
    releaseJobs();
    await new Promise((r) => setTimeout(r, 0));
    expect(store.getState().jobOrder).toEqual(['old', 'job1']);
    expect(store.getState().jobs.old).toMatchObject({ origin: 'external', state: 'done', seed: 3 });
  });

  it('clears finished jobs but keeps running and failed ones', async () => {
    const { fake, s } = await ready();
    await s().generate();
    await s().generate();
    await s().generate();
    fake.emit({ type: 'job:done', jobId: 'job1', generations: [], provider: 'cpu', timings: {} });
    fake.emit({ type: 'job:failed', jobId: 'job2', error: { code: 'internal', message: 'x' } });
    s().clearFinishedJobs();
    expect(s().jobOrder).toEqual(['job2', 'job3']);
  });
});

describe('history', () => {
  const many = Array.from({ length: 5 }, (_, i) => record({ id: `h${i}`, seed: i }));

  it('pages with the cursor', async () => {
    const { fake, s } = await ready({ history: many, pageSize: 2 });
    expect(s().historyOrder).toEqual(['h0', 'h1']);
    await s().loadHistory();
    await s().loadHistory();
    expect(s().historyOrder).toEqual(['h0', 'h1', 'h2', 'h3', 'h4']);
    expect(s().nextCursor).toBeNull();
    expect(fake.callsTo('queryHistory').map((q) => (q as { cursor?: string }).cursor)).toEqual([undefined, '2', '4']);
  });

  it('searches from the first page', async () => {
    const hist = [record({ id: 'a', prompt: 'red fox' }), record({ id: 'b', prompt: 'blue whale' })];
    const { s } = await ready({ history: hist });
    await s().setHistorySearch('whale');
    expect(s().historyOrder).toEqual(['b']);
  });

  it('double-click loads parameters with the seed locked', async () => {
    const { s } = await ready();
    s().loadParamsFrom(record({ prompt: 'old', seed: 99, guidanceScale: 9, scheduler: 'DDIMScheduler' }));
    expect(s().params).toMatchObject({ prompt: 'old', seed: 99, seedLocked: true, guidanceScale: 9, scheduler: 'DDIMScheduler' });
  });

  it('vary keeps parameters, draws a new seed and links the parent', async () => {
    const { fake, s } = await ready({ history: [record({ id: 'p', seed: 5, prompt: 'x' })] });
    await s().vary('p');
    expect(fake.callsTo('generate')[0]).toMatchObject({ prompt: 'x', seed: -1, parentId: 'p' });
  });

  it('rates optimistically and deletes', async () => {
    const { fake, s } = await ready({ history: many });
    await s().updateGeneration('h1', { rating: 4 });
    expect(s().records.h1!.rating).toBe(4);
    expect(fake.callsTo('updateGeneration')).toEqual([{ id: 'h1', rating: 4 }]);
    s().setSelection(['h1', 'h2']);
    await s().deleteGeneration('h1');
    expect(s().historyOrder).not.toContain('h1');
    expect(s().selection).toEqual(['h2']);
  });

  it('rolls back a failed update and explains it', async () => {
    const { fake, s } = await ready({ history: many });
    fake.client.updateGeneration = () => Promise.reject(new Error('disk full'));
    await s().updateGeneration('h1', { rating: 4 });
    expect(s().records.h1!.rating).toBe(0);
    expect(s().toasts.at(-1)?.message).toBe('disk full');
  });
});

describe('compare', () => {
  const many = Array.from({ length: 6 }, (_, i) => record({ id: `h${i}`, seed: i }));

  it('selects with toggle and shift-range; Compare takes the first 16 of a larger selection', async () => {
    const { s } = await ready({ history: many });
    s().selectInHistory('h1', 'single');
    expect(s().viewingId).toBe('h1');
    s().selectInHistory('h3', 'toggle');
    expect(s().selection).toEqual(['h1', 'h3']);
    s().selectInHistory('h3', 'toggle');
    expect(s().selection).toEqual(['h1']);
    s().selectInHistory('h1', 'single');
    s().selectInHistory('h4', 'range');
    expect(s().selection).toEqual(['h1', 'h2', 'h3', 'h4']);
    // A library selection may be large (Ctrl+A, then tag, move or trash them all); Compare shows 16.
    s().setSelection(Array.from({ length: 20 }, (_, i) => `x${i}`));
    expect(s().selection).toHaveLength(20);
    expect(compareIds(s().selection)).toEqual(Array.from({ length: 16 }, (_, i) => `x${i}`));
  });

  it('moves focus without wrapping around and rates/flags the focused image', async () => {
    const { fake, s } = await ready({ history: many });
    s().setSelection(['h0', 'h2', 'h4']);
    s().toggleCompare(true);
    expect(s().compareLayout).toBe('grid');
    s().moveCompareFocus(-1);
    expect(s().compareFocus).toBe(0); // no wrap from the first to the last
    s().moveCompareFocus(5);
    expect(s().compareFocus).toBe(2); // nor past the last
    await s().rateFocused(3);
    expect(fake.callsTo('updateGeneration')).toEqual([{ id: 'h4', rating: 3 }]);
    await s().flagFocused('pick');
    await s().flagFocused('pick'); // toggles back
    expect(fake.callsTo('updateGeneration').slice(1)).toEqual([
      { id: 'h4', flag: 'pick' },
      { id: 'h4', flag: 'none' },
    ]);
    s().toggleLabels();
    expect(s().showLabels).toBe(false);
  });
});

describe('winner stays A/B', () => {
  it('runs the champion against each challenger and picks the winner', async () => {
    const many = ['a', 'b', 'c'].map((id, i) => record({ id, seed: i }));
    const { fake, s } = await ready({ history: many });
    s().setSelection(['a', 'b', 'c']);
    s().toggleCompare(true);
    s().setCompareLayout('ab');
    expect(s().ab).toMatchObject({ champion: 'a', challengers: ['b', 'c'], round: 1, total: 2 });
    await s().chooseAb('right');
    expect(s().ab).toMatchObject({ champion: 'b', challengers: ['c'], round: 2, done: false });
    await s().rateFocused(5); // rates the champion
    await s().chooseAb('left');
    expect(s().ab).toMatchObject({ champion: 'b', done: true });
    expect(fake.callsTo('updateGeneration')).toEqual([
      { id: 'b', rating: 5 },
      { id: 'b', flag: 'pick' },
    ]);
    s().setCompareLayout('grid');
    expect(s().ab).toBeNull();
  });
});

describe('lineage', () => {
  it('walks parents up and lists children', async () => {
    const hist = [
      record({ id: 'root', parentId: null }),
      record({ id: 'mid', parentId: 'root', seed: 2 }),
      record({ id: 'leaf', parentId: 'mid', seed: 3 }),
      record({ id: 'kid', parentId: 'leaf', seed: 4 }),
    ];
    const { s } = await ready({ history: hist });
    await s().loadLineage('leaf');
    expect(s().lineage?.ancestors.map((r) => r.id)).toEqual(['root', 'mid']);
    expect(s().lineage?.children.map((r) => r.id)).toEqual(['kid']);
  });
});

describe('variants', () => {
  it('enqueues one job per axis value with the parent link and collects results', async () => {
    const { fake, s } = await ready({ history: [record({ id: 'src', prompt: 'a street', seed: 3 })] });
    const groupId = await s().runVariants('src', 'lighting', ['golden hour', 'blue hour']);
    const reqs = fake.callsTo('generate') as { prompt: string; parentId: string; seed: number }[];
    expect(reqs.map((r) => r.prompt)).toEqual(['a street, golden hour', 'a street, blue hour']);
    expect(reqs.every((r) => r.parentId === 'src' && r.seed === 3)).toBe(true);
    fake.emit({ type: 'job:done', jobId: 'job2', generations: [record({ id: 'v2' })], provider: 'cpu', timings: {} });
    expect(s().variantGenerationIds(groupId!)).toEqual(['v2']);
    expect(s().viewingId).toBeNull(); // variant results don't hijack the viewer
  });
});

describe('transports', () => {
  it('builds the WebSocket URL and forwards the token', () => {
    expect(webSocketUrl({ protocol: 'http:', host: '127.0.0.1:5000', search: '' })).toBe('ws://127.0.0.1:5000/api/ws');
    expect(webSocketUrl({ protocol: 'https:', host: 'h', search: '?token=a b' })).toBe('wss://h/api/ws?token=a%20b');
  });

  it('calls the preload bridge per method and unwraps results', async () => {
    const seen: string[] = [];
    const bridge = Object.fromEntries(
      API_METHOD_NAMES.map((m) => [m, async (p: unknown) => (seen.push(m), m === 'cancel' ? { ok: false, error: { code: 'not_found', message: 'no such job' } } : { ok: true, value: p ?? m })]),
    ) as unknown as AtelierBridge;
    bridge.onEvent = () => () => undefined;
    const client = createApiClient(createBridgeTransport(bridge));
    expect(await client.listModels()).toBe('listModels');
    await expect(client.cancel({ jobId: 'x' })).rejects.toThrow('no such job');
    expect(seen).toEqual(['listModels', 'cancel']);
  });
});
