import { describe, expect, it } from 'vitest';
import { paramsFromMetadata } from '../../renderer/state/import-slice';
import { createAtelierStore } from '../../renderer/state/store';
import { createFakeClient, record } from './fake-client';

describe('paramsFromMetadata', () => {
  it('maps A1111 infotext keys onto workspace parameters', () => {
    const p = paramsFromMetadata({
      prompt: 'a cat',
      negativePrompt: 'blurry',
      params: { Steps: 25, Sampler: 'Euler a', 'CFG scale': 7, Seed: 1234, Size: '512x768' },
    });
    expect(p).toEqual({
      prompt: 'a cat',
      negativePrompt: 'blurry',
      steps: 25,
      scheduler: 'EulerAncestralDiscreteScheduler',
      guidanceScale: 7,
      seed: 1234,
      seedLocked: true,
      width: 512,
      height: 768,
    });
  });
  it('accepts our own key names and ignores unknown samplers', () => {
    expect(paramsFromMetadata({ params: { guidanceScale: '4.5', scheduler: 'DDIMScheduler', width: 64, height: 64, rng: 'cuda' } })).toEqual({
      guidanceScale: 4.5,
      scheduler: 'DDIMScheduler',
      width: 64,
      height: 64,
      rng: 'cuda',
    });
    expect(paramsFromMetadata({ params: { Sampler: 'Mystery 9000' } })).toEqual({});
  });
});

describe('import and projects in the store', () => {
  async function ready(opts?: Parameters<typeof createFakeClient>[0]) {
    const fake = createFakeClient(opts);
    const store = createAtelierStore(fake.client);
    await store.getState().init();
    await new Promise((r) => setTimeout(r, 0));
    return { fake, s: () => store.getState() };
  }

  it('offers recognised metadata and applies it on request', async () => {
    const { fake, s } = await ready();
    fake.client.readImageMetadata = async () => ({ source: 'a1111', prompt: 'old prompt', params: { Steps: 30, Seed: 9 }, warnings: [] });
    await s().importImage('x.png', 'AAAA');
    expect(s().importOffer?.fileName).toBe('x.png');
    s().applyImport();
    expect(s().importOffer).toBeNull();
    expect(s().params).toMatchObject({ prompt: 'old prompt', steps: 30, seed: 9, seedLocked: true });
  });

  it('switching project clears project-bound state and reloads history', async () => {
    const { fake, s } = await ready({ history: [record({ id: 'a' })] });
    expect(s().historyOrder).toEqual(['a']);
    s().setSelection(['a']);
    await s().createProject('Shoot 2');
    expect(fake.callsTo('createProject')).toEqual([{ name: 'Shoot 2' }]);
    expect(fake.callsTo('openProject')).toEqual([{ projectId: 'p2' }]);
    expect(s().selection).toEqual([]);
    await new Promise((r) => setTimeout(r, 0));
    expect(s().projects.find((p) => p.isCurrent)?.name).toBe('Shoot 2');
    expect(s().historyOrder).toEqual([]);
    await s().openProject('nope');
    expect(s().toasts.at(-1)).toMatchObject({ kind: 'error', message: 'No project nope' });
  });

  it('passes rating and flag filters to queryHistory and keeps new images out of a filtered view', async () => {
    const { fake, s } = await ready();
    await s().setHistoryFilter({ minRating: 3 });
    expect(fake.callsTo('queryHistory').at(-1)).toMatchObject({ minRating: 3 });
    s().addGenerations([record({ id: 'fresh', rating: 0 })]);
    expect(s().historyOrder).not.toContain('fresh');
    expect(s().records.fresh).toBeDefined();
  });
});
