/**
 * Library work at studio scale, through the API over a real server (WebSocket + HTTP): tags on many
 * images at once, search by tag / seed / model / scheduler besides prompt words, one-call trash,
 * moving images to another project with their files and lineage, archiving and deleting projects,
 * and server-mode export as a browser download from `/export/<token>`.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AtelierApiError, type GenerationRecord } from '../../common/api/contract';
import { generateOne } from '../helpers/in-process-api';
import { createHarness, type Harness } from './transports';

let h: Harness;
const made: Record<string, GenerationRecord> = {};

beforeAll(async () => {
  h = await createHarness('websocket');
  made.fox = await generateOne(h.client, { prompt: 'a red fox in snow', steps: 2, seed: 1111 });
  made.whale = await generateOne(h.client, { prompt: 'a blue whale, 1999 poster', steps: 2, seed: 2222, scheduler: 'EulerAncestralDiscreteScheduler' });
  made.foxKid = await generateOne(h.client, { prompt: 'a red fox in snow, closer', steps: 2, seed: 3333, parentId: made.fox.id });
  made.cat = await generateOne(h.client, { prompt: 'a grey cat on a roof', steps: 2, seed: 4444 });
});
afterAll(async () => {
  await h?.close();
});

const ids = (items: { id: string }[]) => items.map((r) => r.id).sort();

async function rejects(p: Promise<unknown>, code: string): Promise<AtelierApiError> {
  const err = (await p.then(() => null, (e: unknown) => e)) as AtelierApiError;
  expect(err).toBeInstanceOf(AtelierApiError);
  expect(err.code).toBe(code);
  return err;
}

describe('tags on a multi-selection', () => {
  it('adds and removes tags on many images in one call', async () => {
    const { records } = await h.client.setTags({ ids: [made.fox.id, made.whale.id, made.cat.id], add: ['hero', 'client'] });
    expect(records.map((r) => r.tags)).toEqual([['client', 'hero'], ['client', 'hero'], ['client', 'hero']]);
    const after = await h.client.setTags({ ids: [made.cat.id, made.whale.id], remove: ['client'] });
    expect(after.records.map((r) => r.tags)).toEqual([['hero'], ['hero']]);
    expect((await h.client.getGeneration({ id: made.fox.id })).tags).toEqual(['client', 'hero']);
    await rejects(h.client.setTags({ ids: [made.fox.id, 'NOPE'], add: ['x'] }), 'not_found');
    expect((await h.client.getGeneration({ id: made.fox.id })).tags).toEqual(['client', 'hero']); // nothing changed
    await rejects(h.client.setTags({ ids: [made.fox.id] }), 'invalid_request');
  });
});

describe('search by tag, seed, model and scheduler', () => {
  const search = async (q: string) => ids((await h.client.queryHistory({ search: q })).items);

  it('finds images by tag (tag: or #), seed (seed: or a bare number), model and scheduler, combined with prompt words', async () => {
    expect(await search('tag:client')).toEqual([made.fox.id]);
    expect(await search('#hero')).toEqual(ids([made.fox, made.whale, made.cat]));
    expect(await search('#hero fox')).toEqual([made.fox.id]);
    expect(await search('seed:2222')).toEqual([made.whale.id]);
    expect(await search('3333')).toEqual([made.foxKid.id]);
    // A number no image has as its seed is looked up in the prompts.
    expect(await search('1999')).toEqual([made.whale.id]);
    expect(await search('model:demo')).toEqual(ids([made.fox, made.whale, made.foxKid, made.cat]));
    expect(await search('model:nothing-like-it')).toEqual([]);
    expect(await search('scheduler:"euler a"')).toEqual([made.whale.id]);
    expect(await search('sampler:EulerAncestralDiscreteScheduler whale')).toEqual([made.whale.id]);
    expect(await search('scheduler:"euler a" fox')).toEqual([]);
  });
});

describe('trash many at once', () => {
  it('moves a selection to the trash with one call and brings it back', async () => {
    const extra = await generateOne(h.client, { prompt: 'a spare shot', steps: 2, seed: 5555 });
    const extra2 = await generateOne(h.client, { prompt: 'a spare shot again', steps: 2, seed: 5556 });
    expect(await h.client.trashGenerations({ ids: [extra.id, extra2.id] })).toEqual({ trashed: 2 });
    expect(ids((await h.client.queryHistory({ trashed: true })).items)).toEqual(ids([extra, extra2]));
    await rejects(h.client.trashGenerations({ ids: ['NOPE'] }), 'not_found');
    await h.client.restoreGeneration({ id: extra.id });
    await h.client.restoreGeneration({ id: extra2.id });
    await h.client.trashGenerations({ ids: [extra.id, extra2.id] });
    await h.client.emptyTrash();
  });
});

describe('export as a browser download (server mode)', () => {
  it('builds a zip on the server side and serves it from /export/<token> as an attachment', async () => {
    const before = existsSync(join(h.home, 'exports')) ? readdirSync(join(h.home, 'exports')).length : 0;
    const r = await h.client.prepareExportDownload({ ids: [made.fox.id, made.cat.id] });
    expect(r).toMatchObject({ count: 2, url: expect.stringMatching(/^\/export\/[0-9a-f]{48}$/), fileName: expect.stringMatching(/\.zip$/) });
    const res = await h.fetchImage(r.url);
    expect(res.status).toBe(200);
    expect(res.bytes.subarray(0, 2).toString('latin1')).toBe('PK');
    expect(res.bytes.length).toBe(r.bytes);
    const listing = res.bytes.toString('latin1');
    expect(listing).toContain('manifest.json');
    expect(listing).toContain(`${made.fox.id}.png`);
    // Nothing was written into the user's folders on the server.
    expect(existsSync(join(h.home, 'exports')) ? readdirSync(join(h.home, 'exports')).length : 0).toBe(before);
    expect((await h.fetchImage('/export/' + 'f'.repeat(48))).status).toBe(404);
    expect((await h.fetchImage('/export/..%2F..%2Fetc%2Fpasswd')).status).toBe(404);
  });
});

describe('moving images between projects', () => {
  it('moves images with their files, tags and the lineage between them; the rest stays', async () => {
    const here = (await h.client.listProjects()).find((p) => p.isCurrent)!;
    const other = await h.client.createProject({ name: 'Client B' });
    await h.client.openProject({ projectId: here.id });
    const report = await h.client.moveGenerations({ ids: [made.fox.id, made.foxKid.id], projectId: other.id });
    expect(report).toEqual({ moved: 2, projectId: other.id, projectName: 'Client B', cutLinks: 0 });
    await rejects(h.client.getGeneration({ id: made.fox.id }), 'not_found');
    expect(ids((await h.client.queryHistory({})).items)).toEqual(ids([made.whale, made.cat]));

    await h.client.openProject({ projectId: other.id });
    const fox = await h.client.getGeneration({ id: made.fox.id });
    expect(fox).toMatchObject({ prompt: 'a red fox in snow', seed: 1111, tags: ['client', 'hero'] });
    const lineage = await h.client.getLineage({ id: made.foxKid.id });
    expect(lineage.ancestors.map((r) => r.id)).toEqual([made.fox.id]);
    const img = await h.fetchImage(fox.imageUrl);
    expect(img.status).toBe(200);
    expect(img.bytes.subarray(1, 4).toString('latin1')).toBe('PNG');
    // The image files now live in B's folder, not in A's.
    const pngsUnder = (dir: string): string[] =>
      readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? pngsUnder(join(dir, e.name)) : e.name.endsWith('.png') ? [e.name] : []));
    expect(pngsUnder(other.path)).toHaveLength(2);
    expect(pngsUnder(here.path)).toHaveLength(2);

    // A child moved without its parent: the link is cut and counted.
    await h.client.openProject({ projectId: here.id });
    const kid = await generateOne(h.client, { prompt: 'a grey cat on a roof, closer', steps: 2, seed: 6666, parentId: made.cat.id });
    expect((await h.client.moveGenerations({ ids: [kid.id], projectId: other.id })).cutLinks).toBe(1);
    await rejects(h.client.moveGenerations({ ids: [made.cat.id], projectId: here.id }), 'invalid_request');
    await rejects(h.client.moveGenerations({ ids: ['NOPE'], projectId: other.id }), 'not_found');
  });
});

describe('project archive and delete', () => {
  it('archives (not the open one), unarchives, and deletes a project folder; deleting the open one opens another', async () => {
    const keep = (await h.client.listProjects()).find((p) => p.isCurrent)!;
    const old = await h.client.createProject({ name: 'Old shoot' }); // now open
    await rejects(h.client.archiveProject({ projectId: old.id, archived: true }), 'invalid_request');
    await h.client.openProject({ projectId: keep.id });
    const archived = await h.client.archiveProject({ projectId: old.id, archived: true });
    expect(archived.archivedAt).toEqual(expect.any(String));
    expect((await h.client.listProjects()).find((p) => p.id === old.id)?.archivedAt).toEqual(archived.archivedAt);
    expect((await h.client.archiveProject({ projectId: old.id, archived: false })).archivedAt).toBeNull();

    const r = await h.client.deleteProject({ projectId: old.id });
    expect(r).toMatchObject({ deleted: true, current: { id: keep.id, isCurrent: true } });
    expect(existsSync(old.path)).toBe(false);
    expect((await h.client.listProjects()).some((p) => p.id === old.id)).toBe(false);

    const doomed = await h.client.createProject({ name: 'Doomed' }); // open
    const events: string[] = [];
    const off = h.client.onEvent((e) => e.type === 'project:changed' && events.push(e.project.id));
    const gone = await h.client.deleteProject({ projectId: doomed.id });
    off();
    expect(gone.current.id).not.toBe(doomed.id);
    expect(gone.current.isCurrent).toBe(true);
    expect(events).toEqual([gone.current.id]);
    expect(existsSync(doomed.path)).toBe(false);
    await rejects(h.client.deleteProject({ projectId: doomed.id }), 'not_found');
  });
});
