/** Boards, tags and export in the store: the actions call the API and keep the strip consistent. */
import { describe, expect, it } from 'vitest';
import type { BoardSummary } from '../../common/api/contract';
import { addTag } from '../../renderer/state/boards-slice';
import { createAtelierStore } from '../../renderer/state/store';
import { createFakeClient, record } from './fake-client';

async function withBoards() {
  const fake = createFakeClient({ history: [record({ id: 'a', tags: ['warm'] }), record({ id: 'b' })] });
  const boards: BoardSummary[] = [];
  const calls: { method: string; req: unknown }[] = [];
  Object.assign(fake.client, {
    listBoards: async () => boards.map((b) => ({ ...b })),
    createBoard: async (req: { name: string }) => {
      calls.push({ method: 'createBoard', req });
      const b = { id: `b${boards.length + 1}`, name: req.name, itemCount: 0 };
      boards.push(b);
      return { ...b };
    },
    setBoardMembership: async (req: { boardId: string; ids: string[]; member: boolean }) => {
      calls.push({ method: 'setBoardMembership', req });
      const b = boards.find((x) => x.id === req.boardId)!;
      b.itemCount += req.member ? req.ids.length : -req.ids.length;
      return { ...b };
    },
    deleteBoard: async (req: { boardId: string }) => {
      boards.splice(boards.findIndex((b) => b.id === req.boardId), 1);
      return { deleted: true };
    },
    exportGenerations: async (req: { ids: string[]; to: string }) => {
      calls.push({ method: 'exportGenerations', req });
      return { path: req.to, count: req.ids.length };
    },
  });
  const store = createAtelierStore(fake.client);
  await store.getState().init();
  await new Promise((r) => setTimeout(r, 0));
  return { fake, calls, s: () => store.getState() };
}

describe('boards', () => {
  it('creates a board holding the selection and filters the history by it', async () => {
    const { s, calls, fake } = await withBoards();
    expect(s().boardsLoaded).toBe(true);
    const id = await s().createBoard('Keepers', ['a', 'b']);
    expect(s().boards).toEqual([{ id, name: 'Keepers', itemCount: 2 }]);
    expect(calls.map((c) => c.method)).toEqual(['createBoard', 'setBoardMembership']);
    await s().setHistoryFilter({ boardId: id! });
    expect(fake.callsTo('queryHistory').at(-1)).toMatchObject({ boardId: id });
    // A new generation is on no board: it must not appear while a board is shown.
    s().addGenerations([record({ id: 'new' })]);
    expect(s().historyOrder).not.toContain('new');
    // Deleting the shown board goes back to all images.
    await s().deleteBoard(id!);
    expect(s().historyFilter.boardId).toBeUndefined();
    expect(s().boards).toEqual([]);
  });

  it('edits tags through updateGeneration and drops an untagged image from a tag filter', async () => {
    const { s, fake } = await withBoards();
    expect(addTag(['Warm'], ' warm ')).toEqual(['Warm']);
    expect(addTag(['warm'], 'keeper')).toEqual(['warm', 'keeper']);
    await s().setHistoryFilter({ tag: 'warm' });
    await s().setTags('a', []);
    expect(fake.callsTo('updateGeneration').at(-1)).toEqual({ id: 'a', tags: [] });
    expect(s().records.a?.tags).toEqual([]);
    expect(s().historyOrder).not.toContain('a');
  });

  it('exports the given ids and reports path and count', async () => {
    const { s, calls } = await withBoards();
    const r = await s().exportGenerations(['a', 'b'], '/tmp/out.zip', 'png');
    expect(r).toEqual({ path: '/tmp/out.zip', count: 2 });
    expect(calls.at(-1)).toEqual({ method: 'exportGenerations', req: { ids: ['a', 'b'], to: '/tmp/out.zip', format: 'png' } });
    expect(s().toasts.at(-1)).toMatchObject({ title: 'Exported 2 images', message: '/tmp/out.zip' });
  });
});
