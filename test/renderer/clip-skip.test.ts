/** Clip skip in the studio: the form sends it (only above its default), and every reuse path keeps it. */
import { describe, expect, it } from 'vitest';
import { toInfotext, viewerMetaLine } from '../../renderer/lib/infotext';
import { diffParams, edgeLabel } from '../../renderer/lib/param-diff';
import { baseRequest } from '../../renderer/lib/variants';
import { paramsFromMetadata } from '../../renderer/state/import-slice';
import { createAtelierStore } from '../../renderer/state/store';
import { DEFAULT_PARAMS, requestFromParams } from '../../renderer/state/workspace-slice';
import { createFakeClient, record } from './fake-client';

async function ready(opts?: Parameters<typeof createFakeClient>[0]) {
  const fake = createFakeClient(opts);
  const store = createAtelierStore(fake.client);
  await store.getState().init();
  await new Promise((r) => setTimeout(r, 0)); // history + jobs load in the background
  return { fake, s: store.getState };
}

describe('clip skip in the workspace', () => {
  it('defaults to 1, which the request leaves out; 2–12 are sent', () => {
    expect(DEFAULT_PARAMS.clipSkip).toBe(1);
    expect(requestFromParams({ ...DEFAULT_PARAMS, prompt: 'x' })).not.toHaveProperty('clipSkip');
    expect(requestFromParams({ ...DEFAULT_PARAMS, prompt: 'x', clipSkip: 2 })).toMatchObject({ clipSkip: 2 });
  });

  it('load parameters, vary and variants keep the source clip skip', async () => {
    const source = record({ id: 'p', clipSkip: 2, seed: 5 });
    const { fake, s } = await ready({ history: [source] });
    s().loadParamsFrom(source);
    expect(s().params.clipSkip).toBe(2);
    s().loadParamsFrom(record({ id: 'q', clipSkip: 1 }));
    expect(s().params.clipSkip).toBe(1);
    await s().vary('p');
    expect(fake.callsTo('generate')[0]).toMatchObject({ clipSkip: 2, parentId: 'p' });
    expect(baseRequest(record({ clipSkip: 1 }))).not.toHaveProperty('clipSkip');
  });

  it('compare labels and lineage edges show a clip skip difference', () => {
    const labels = diffParams([record({ clipSkip: 1 }), record({ clipSkip: 2 })]);
    expect(labels[1]).toEqual([{ field: 'clipSkip', label: 'Clip skip', value: '2' }]);
    expect(edgeLabel(record({ clipSkip: 1 }), record({ clipSkip: 2 }))).toBe('Clip skip 2');
    expect(diffParams([record(), record({ id: 'other' })])).toEqual([[], []]);
  });

  it('dropped metadata and copied parameters carry it in A1111 terms', () => {
    expect(paramsFromMetadata({ params: { Steps: 20, 'Clip skip': 2 } })).toEqual({ steps: 20, clipSkip: 2 });
    expect(paramsFromMetadata({ params: { clipSkip: 3 } })).toEqual({ clipSkip: 3 });
    expect(paramsFromMetadata({ params: { 'Clip skip': 0 } })).toEqual({});
    expect(toInfotext(record({ clipSkip: 2 }))).toMatch(/, Clip skip: 2$/);
    expect(toInfotext(record({ clipSkip: 1 }))).not.toMatch(/Clip skip/);
  });

  it('the viewer\'s info line shows it only above 1', () => {
    const r = record({ width: 64, height: 48, seed: 7, steps: 8, guidanceScale: 4, scheduler: 'EulerDiscreteScheduler', provider: 'cpu' });
    expect(viewerMetaLine({ ...r, clipSkip: 1 })).toBe('64×48 · seed 7 · 8 steps · CFG 4 · EulerDiscrete · cpu');
    expect(viewerMetaLine({ ...r, clipSkip: 2 })).toBe('64×48 · seed 7 · 8 steps · CFG 4 · EulerDiscrete · clip skip 2 · cpu');
  });
});
