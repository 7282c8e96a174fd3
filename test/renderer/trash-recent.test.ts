/** The history's trash (delete → restore, empty) and recent projects, in the store. */
import { describe, expect, it } from 'vitest';
import { recentProjects } from '../../renderer/lib/recent-projects';
import type { ProjectSummary } from '../../common/api/contract';
import { createAtelierStore } from '../../renderer/state/store';
import { createFakeClient, record } from './fake-client';

async function ready(history = [record({ id: 'a' }), record({ id: 'b' })]) {
  const fake = createFakeClient({ history });
  const trash = new Set<string>();
  Object.assign(fake.client, {
    deleteGeneration: async (req: { id: string }) => {
      trash.add(req.id);
      return { deleted: true };
    },
    restoreGeneration: async (req: { id: string }) => {
      trash.delete(req.id);
      return history.find((r) => r.id === req.id)!;
    },
    emptyTrash: async () => {
      const purged = trash.size;
      trash.clear();
      return { purged };
    },
  });
  const store = createAtelierStore(fake.client);
  await store.getState().init();
  await new Promise((r) => setTimeout(r, 0));
  return { fake, trash, s: () => store.getState() };
}

describe('trash', () => {
  it('delete moves to the trash and says so; the trash view asks for trashed rows and keeps new images out', async () => {
    const { fake, trash, s } = await ready();
    s().setSelection(['a']);
    await s().deleteGeneration('a');
    expect(trash.has('a')).toBe(true);
    expect(s().historyOrder).toEqual(['b']);
    expect(s().selection).toEqual([]);
    expect(s().toasts.at(-1)).toMatchObject({ title: 'Moved to trash' });

    await s().setHistoryFilter({ trashed: true });
    expect(fake.callsTo('queryHistory').at(-1)).toMatchObject({ trashed: true });
    s().addGenerations([record({ id: 'fresh' })]);
    expect(s().historyOrder).not.toContain('fresh');
  });

  it('restores the chosen images out of the trash view, and empties the trash', async () => {
    const { trash, s } = await ready();
    await s().deleteGeneration('a');
    await s().deleteGeneration('b');
    await s().setHistoryFilter({ trashed: true });
    s().setSelection([]);
    await s().restoreGenerations(['a']);
    expect(trash.has('a')).toBe(false);
    expect(s().historyOrder).not.toContain('a');
    expect(s().toasts.at(-1)).toMatchObject({ title: 'Restored', message: '1 image back in the history.' });

    await s().emptyTrash();
    expect(trash.size).toBe(0);
    expect(s().toasts.at(-1)).toMatchObject({ title: 'Trash emptied', message: '1 image deleted for good.' });
  });

  it('the "Moved to trash" toast undoes the delete', async () => {
    const { fake, trash, s } = await ready();
    await s().deleteGeneration('a');
    const toast = s().toasts.at(-1)!;
    expect(toast.action?.label).toBe('Undo');
    const queries = fake.callsTo('queryHistory').length;
    toast.action!.run();
    await new Promise((r) => setTimeout(r, 0));
    expect(trash.has('a')).toBe(false);
    expect(fake.callsTo('queryHistory').length).toBeGreaterThan(queries);
  });

  it('reports a failed restore as a readable toast', async () => {
    const { fake, s } = await ready();
    fake.client.restoreGeneration = () => Promise.reject(new Error('No generation x in this project'));
    await s().restoreGenerations(['x']);
    expect(s().toasts.at(-1)).toMatchObject({ kind: 'error', title: 'Could not restore the image', message: 'No generation x in this project' });
  });
});

describe('recent projects', () => {
  const project = (id: string, lastOpenedAt: string | null, isCurrent = false): ProjectSummary => ({ id, name: id, path: `/p/${id}`, isCurrent, lastOpenedAt });

  it('orders by the server\'s lastOpenedAt, leaves out the current and never-opened projects, bounded', () => {
    const projects = [
      project('old', '2026-01-01T10:00:00.000Z'),
      project('current', '2026-01-03T10:00:00.000Z', true),
      project('never', null),
      project('newer', '2026-01-02T10:00:00.000Z'),
      project('newest', '2026-01-02T10:00:00.001Z'),
    ];
    expect(recentProjects(projects).map((p) => p.id)).toEqual(['newest', 'newer', 'old']);
    expect(recentProjects(projects, 2).map((p) => p.id)).toEqual(['newest', 'newer']);
  });

  it('follows the startup project and each switch through the stamps the API returns', async () => {
    const { s } = await ready();
    expect(recentProjects(s().projects)).toEqual([]);
    await s().createProject('Shoot 2');
    expect(s().projects.find((p) => p.isCurrent)?.id).toBe('p2');
    expect(recentProjects(s().projects).map((p) => p.id)).toEqual(['p1']);
    await s().createProject('Shoot 3');
    expect(recentProjects(s().projects).map((p) => p.id)).toEqual(['p2', 'p1']);
    // Straight from openProject's reply, before the follow-up listProjects answers.
    await s().openProject('p1');
    expect(recentProjects(s().projects).map((p) => p.id)).toEqual(['p3', 'p2']);
  });
});
