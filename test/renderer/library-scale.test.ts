/**
 * Library work at studio scale, in the store: Ctrl+A / Esc selection beyond the compare cap,
 * culling that steps on after a rating without wrapping from the last image to the first, one-call
 * trash and tags for a selection, moving images away, the switcher listing each project once, the
 * search box's field terms, and failed downloads that keep their Retry after a reload.
 */
import { describe, expect, it } from 'vitest';
import type { DownloadSummary, ProjectSummary } from '../../common/api/contract';
import { parseHistorySearch, recordMatchesSearch } from '../../common/history-search';
import { switcherGroups } from '../../renderer/lib/recent-projects';
import { setLibraryPrefsStorage } from '../../renderer/lib/library-prefs';
import { createAtelierStore } from '../../renderer/state/store';
import { createFakeClient, record } from './fake-client';

async function ready(opts?: Parameters<typeof createFakeClient>[0]) {
  const fake = createFakeClient(opts);
  const store = createAtelierStore(fake.client);
  await store.getState().init();
  await new Promise((r) => setTimeout(r, 0));
  return { fake, store, s: () => store.getState() };
}

const history = Array.from({ length: 20 }, (_, i) => record({ id: `h${i}`, seed: i, prompt: `image ${i}` }));

describe('selection', () => {
  it('Ctrl+A selects every loaded image, more than Compare shows; Esc selects none and keeps the viewer', async () => {
    const { s } = await ready({ history });
    s().selectInHistory('h3', 'single');
    s().selectAll();
    expect(s().selection).toHaveLength(20);
    expect(s().viewingId).toBe('h3');
    s().clearSelection();
    expect(s().selection).toEqual([]);
    expect(s().viewingId).toBe('h3');
  });
});

describe('culling', () => {
  it('a rating in the workspace steps to the next image, and the last one stays (no wrap to the first)', async () => {
    const { fake, s } = await ready({ history: history.slice(0, 3) });
    s().selectInHistory('h0', 'single');
    await s().rateAndAdvance(4);
    expect(fake.callsTo('updateGeneration')).toEqual([{ id: 'h0', rating: 4 }]);
    expect(s().viewingId).toBe('h1');
    await s().rateAndAdvance(2);
    expect(s().viewingId).toBe('h2');
    await s().rateAndAdvance(5);
    expect(s().viewingId).toBe('h2'); // the last image: culling stops here
    expect(fake.callsTo('updateGeneration')).toEqual([
      { id: 'h0', rating: 4 },
      { id: 'h1', rating: 2 },
      { id: 'h2', rating: 5 },
    ]);
    await s().rateAndAdvance(0); // clearing a rating does not move on
    expect(s().viewingId).toBe('h2');
  });

  it('in Compare the focus steps to the next tile and stays on the last; auto-advance can be switched off', async () => {
    setLibraryPrefsStorage(null);
    const { fake, s } = await ready({ history });
    s().setSelection(['h0', 'h1', 'h2']);
    s().toggleCompare(true);
    await s().rateAndAdvance(3);
    expect(s().compareFocus).toBe(1);
    await s().rateAndAdvance(3);
    await s().rateAndAdvance(1);
    expect(s().compareFocus).toBe(2);
    expect(fake.callsTo('updateGeneration')).toEqual([
      { id: 'h0', rating: 3 },
      { id: 'h1', rating: 3 },
      { id: 'h2', rating: 1 },
    ]);
    s().setAutoAdvance(false);
    s().setCompareFocus(0);
    await s().rateAndAdvance(5);
    expect(s().compareFocus).toBe(0);
  });
});

describe('whole-selection actions', () => {
  it('Delete trashes a selection with one call, the viewer moves on, and Undo restores them', async () => {
    const { fake, s } = await ready({ history: history.slice(0, 5) });
    fake.client.trashGenerations = async (req) => {
      fake.calls.push({ method: 'trashGenerations', payload: req });
      return { trashed: req.ids.length };
    };
    fake.client.restoreGeneration = async (req) => {
      fake.calls.push({ method: 'restoreGeneration', payload: req });
      return record({ id: req.id });
    };
    s().selectInHistory('h1', 'single');
    s().selectInHistory('h2', 'toggle');
    await s().trashGenerations(s().selection);
    expect(fake.callsTo('trashGenerations')).toEqual([{ ids: ['h1', 'h2'] }]);
    expect(s().historyOrder).toEqual(['h0', 'h3', 'h4']);
    expect(s().viewingId).toBe('h3');
    const toast = s().toasts.at(-1)!;
    expect(toast.message).toMatch(/2 images/);
    toast.action!.run();
    await new Promise((r) => setTimeout(r, 0));
    expect(fake.callsTo('restoreGeneration')).toEqual([{ id: 'h1' }, { id: 'h2' }]);
  });

  it('tags a multi-selection with one call, and drops images that lose the filtered tag', async () => {
    const { fake, s } = await ready({ history: history.slice(0, 3) });
    fake.client.setTags = async (req) => {
      fake.calls.push({ method: 'setTags', payload: req });
      return { records: req.ids.map((id) => record({ id, tags: (req.add ?? []).length ? ['hero'] : [] })) };
    };
    await s().tagGenerations(['h0', 'h1'], ['hero', ' Hero ', ''], []);
    expect(fake.callsTo('setTags')).toEqual([{ ids: ['h0', 'h1'], add: ['Hero'], remove: [] }]);
    expect(s().records.h0!.tags).toEqual(['hero']);
    expect(s().records.h2!.tags).toEqual([]);
    await s().setHistoryFilter({ tag: 'hero' });
    // The fake ignores the tag filter: put the two tagged images in the strip as the server would.
    s().setSelection([]);
    await s().tagGenerations(['h0'], [], ['hero']);
    expect(s().historyOrder).not.toContain('h0');
  });

  it('moves images to another project: they leave the strip and the toast names the project and the cut links', async () => {
    const { fake, s } = await ready({ history: history.slice(0, 3) });
    fake.client.moveGenerations = async (req) => {
      fake.calls.push({ method: 'moveGenerations', payload: req });
      return { moved: req.ids.length, projectId: req.projectId, projectName: 'Client B', cutLinks: 1 };
    };
    s().selectInHistory('h0', 'single');
    const report = await s().moveGenerations(['h0', 'h1'], 'p2');
    expect(report).toMatchObject({ moved: 2, projectName: 'Client B' });
    expect(s().historyOrder).toEqual(['h2']);
    expect(s().toasts.at(-1)).toMatchObject({ title: 'Moved to “Client B”', message: expect.stringMatching(/2 images.*1 lineage link/) });
  });
});

describe('project switcher', () => {
  const p = (id: string, over: Partial<ProjectSummary> = {}): ProjectSummary => ({ id, name: id.toUpperCase(), path: `/p/${id}`, isCurrent: false, lastOpenedAt: null, ...over });

  it('lists each project exactly once: open, recent, others; archived ones stay out', () => {
    const projects = [
      p('a', { isCurrent: true, lastOpenedAt: '2026-01-05T00:00:00.000Z' }),
      p('b', { lastOpenedAt: '2026-01-04T00:00:00.000Z' }),
      p('c', { lastOpenedAt: '2026-01-03T00:00:00.000Z' }),
      p('d'),
      p('e', { archivedAt: '2026-01-02T00:00:00.000Z', lastOpenedAt: '2026-01-06T00:00:00.000Z' }),
      p('b', { lastOpenedAt: '2026-01-04T00:00:00.000Z' }), // a list that names one twice
    ];
    const g = switcherGroups(projects);
    expect(g.current?.id).toBe('a');
    expect(g.recent.map((x) => x.id)).toEqual(['b', 'c']);
    expect(g.others.map((x) => x.id)).toEqual(['d']);
    const shown = [g.current!.id, ...g.recent.map((x) => x.id), ...g.others.map((x) => x.id)];
    expect(new Set(shown).size).toBe(shown.length);
  });
});

describe('search terms', () => {
  it('reads tag:, #tag, seed:, a bare number, model: and quoted scheduler: terms besides prompt words', () => {
    expect(parseHistorySearch('tag:"golden hour" fox seed:42 model:sd15 scheduler:"euler a"')).toEqual({
      text: 'fox',
      tag: 'golden hour',
      seed: 42,
      model: 'sd15',
      scheduler: 'euler a',
    });
    expect(parseHistorySearch('#hero')).toMatchObject({ text: '', tag: 'hero' });
    expect(parseHistorySearch('1234')).toMatchObject({ text: '1234', bareNumber: 1234 });
    expect(parseHistorySearch('tag:')).toEqual({ text: '' });
    const r = { prompt: 'a red fox in snow', seed: 42, modelId: 'sd15', scheduler: 'EulerAncestralDiscreteScheduler', tags: ['Hero'] };
    expect(recordMatchesSearch(r, parseHistorySearch('#hero fo'))).toBe(true);
    expect(recordMatchesSearch(r, parseHistorySearch('42'))).toBe(true);
    expect(recordMatchesSearch(r, parseHistorySearch('seed:41'))).toBe(false);
    expect(recordMatchesSearch(r, parseHistorySearch('tag:keeper'))).toBe(false);
  });

  it('a fresh image joins the strip under a tag:/seed: search only when it fits', async () => {
    const { s } = await ready({ history: [] });
    await s().setHistorySearch('seed:7');
    s().addGenerations([record({ id: 'n1', seed: 7, prompt: 'x' }), record({ id: 'n2', seed: 8, prompt: 'seed' })]);
    expect(s().historyOrder).toEqual(['n1']);
  });
});

describe('failed downloads', () => {
  it('come back from the server after a reload with their reason, and Retry pulls them again', async () => {
    const failed: DownloadSummary = {
      modelId: 'taesd', state: 'failed', bytesDone: 0, bytesTotal: 0, rateBps: 0, etaMs: -1,
      error: { code: 'model_error', message: 'No connection to huggingface.co — you appear to be offline' }, resumable: false, source: 'taesd',
    };
    const fake = createFakeClient();
    let listed: DownloadSummary[] = [failed];
    fake.client.listCatalog = async () => [];
    fake.client.listDownloads = async () => listed;
    fake.client.resumeDownload = async (req) => {
      fake.calls.push({ method: 'resumeDownload', payload: req });
      listed = [{ ...failed, state: 'downloading', error: undefined }];
      return { ok: true };
    };
    // A fresh store = a reloaded window: nothing but what the server lists.
    const store = createAtelierStore(fake.client);
    await store.getState().init();
    await store.getState().refreshModels();
    expect(store.getState().downloads.taesd).toMatchObject({ state: 'failed', error: failed.error!.message, resumable: false, source: 'taesd' });
    await store.getState().resumeDownload('taesd');
    expect(fake.callsTo('resumeDownload')).toEqual([{ modelId: 'taesd' }]);
    expect(store.getState().downloads.taesd).toMatchObject({ state: 'downloading', error: null });
  });

  it('a pull that fails at once (offline) shows the failed row the server kept', async () => {
    const fake = createFakeClient();
    fake.client.listCatalog = async () => [];
    let listed: DownloadSummary[] = [];
    fake.client.listDownloads = async () => listed;
    fake.client.pullModel = async () => {
      listed = [{ modelId: 'taesd', state: 'failed', bytesDone: 0, bytesTotal: 0, rateBps: 0, etaMs: -1, error: { code: 'model_error', message: 'No connection to huggingface.co — you appear to be offline' }, resumable: false, source: 'taesd' }];
      throw new Error('No connection to huggingface.co — you appear to be offline');
    };
    const store = createAtelierStore(fake.client);
    await store.getState().init();
    await store.getState().pullModel('taesd');
    expect(store.getState().downloads.taesd).toMatchObject({ state: 'failed', error: 'No connection to huggingface.co — you appear to be offline' });
    expect(store.getState().toasts.at(-1)?.message).toBe('No connection to huggingface.co — you appear to be offline');
  });
});
