/**
 * One contract suite, two transports: everything a renderer can do must behave identically over
 * Electron IPC and over WebSocket, against the real backend (real engine worker, real SQLite
 * library, the bundled demo model).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import sharp from 'sharp';
import { AtelierApiError, type AtelierEvent } from '../../common/api/contract';
import { createHarness, type Harness, type TransportName } from './transports';

function waitForEvent<T extends AtelierEvent['type']>(
  h: Harness,
  type: T,
  jobId: string,
  timeoutMs = 60_000,
): Promise<Extract<AtelierEvent, { type: T }>> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${type} for ${jobId} within ${timeoutMs} ms`)), timeoutMs);
    const off = h.client.onEvent((e) => {
      if (e.type === 'job:failed' && e.jobId === jobId && type !== 'job:failed') {
        clearTimeout(timer);
        off();
        reject(new Error(`job failed: ${e.error.message}`));
      }
      if (e.type === type && 'jobId' in e && e.jobId === jobId) {
        clearTimeout(timer);
        off();
        resolve(e as Extract<AtelierEvent, { type: T }>);
      }
    });
  });
}

async function expectApiError(p: Promise<unknown>, code: string): Promise<AtelierApiError> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(AtelierApiError);
  expect((err as AtelierApiError).code).toBe(code);
  return err as AtelierApiError;
}

describe.each<TransportName>(['ipc', 'websocket'])('AtelierApi contract over %s', (kind) => {
  let h: Harness;
  beforeAll(async () => {
    h = await createHarness(kind);
  });
  afterAll(async () => {
    await h?.close();
  });

  it('reports system info with the execution providers onnxruntime-node offers', async () => {
    const info = await h.client.getSystemInfo();
    expect(info.executionProviders.map((p) => p.name)).toContain('cpu');
    expect(info.transport).toBe(kind);
    expect(info.userDataDir).toBe(h.home);
  });

  it('lists the bundled demo model as default', async () => {
    const models = await h.client.listModels();
    expect(models.find((m) => m.id === 'atelier-demo')).toMatchObject({ source: 'bundled' });
    expect((await h.client.getSettings()).defaultModelId).toBe('atelier-demo');
  });

  it('rejects invalid payloads with a typed error naming the field', async () => {
    const err = await expectApiError(h.client.generate({ prompt: 'x', width: 65 } as never), 'invalid_request');
    expect(err.issues?.[0]).toMatchObject({ path: 'width', message: expect.stringMatching(/multiple of 8/) });
    await expectApiError(h.client.generate({ prompt: 'x', steps: 0 }), 'invalid_request');
    await expectApiError(h.client.generate({ prompt: 'x', bogus: 1 } as never), 'invalid_request');
    await expectApiError(h.client.generate(null as never), 'invalid_request');
    await expectApiError(h.client.cancel({} as never), 'invalid_request');
    await expectApiError(h.client.updateSettings({ previewEvery: -3 }), 'invalid_request');
    // The demo UNet halves its latent twice: 72 px is a multiple of 8 but not of 32.
    const sized = await expectApiError(h.client.generate({ prompt: 'x', width: 72 }), 'invalid_request');
    expect(sized.message).toMatch(/multiples of 32/);
  });

  it('refuses unknown methods at the transport level', async () => {
    // Over IPC the bridge has no generic channel: the method simply does not exist there.
    const r = await h.transport.call('dropDatabase' as never, {});
    expect(r).toMatchObject({ ok: false, error: { code: 'unknown_method' } });
  });

  it('refuses unknown models by id and never resolves folder paths', async () => {
    await expectApiError(h.client.generate({ prompt: 'x', modelId: 'no-such-model' }), 'not_found');
    await expectApiError(h.client.loadModel({ modelId: '/etc' }), 'not_found');
  });

  it('generates with progress events, stores the image and serves it by id', async () => {
    const events: AtelierEvent[] = [];
    const off = h.client.onEvent((e) => events.push(e));
    const { jobId, seed } = await h.client.generate({ prompt: 'a large red circle on a blue background', seed: 42, steps: 6, width: 64, height: 64 });
    expect(seed).toBe(42);
    const done = await waitForEvent(h, 'job:done', jobId);
    off();
    const progress = events.filter((e): e is Extract<AtelierEvent, { type: 'job:progress' }> => e.type === 'job:progress' && e.jobId === jobId);
    // Progress is throttled (fast models outrun the relay) but always ends on the last step, in order.
    expect(progress.length).toBeGreaterThanOrEqual(1);
    expect(progress.at(-1)).toMatchObject({ step: progress.at(-1)!.total });
    expect(progress.map((p) => p.step)).toEqual([...progress.map((p) => p.step)].sort((a, b) => a - b));
    expect(events.some((e) => e.type === 'job:preview' && e.jobId === jobId)).toBe(true);
    expect(done.generations).toHaveLength(1);
    const g = done.generations[0];
    expect(g).toMatchObject({ seed: 42, steps: 6, width: 64, height: 64, prompt: 'a large red circle on a blue background', provider: 'cpu' });
    expect(g.imageUrl).toBe(kind === 'ipc' ? `atelier://image/${g.id}` : `/image/${g.id}`);

    const img = await h.fetchImage(g.imageUrl);
    expect(img.status).toBe(200);
    expect(img.contentType).toMatch(/image\/png/);
    const meta = await sharp(img.bytes).metadata();
    expect([meta.width, meta.height]).toEqual([64, 64]);
    expect((await h.fetchImage(g.thumbUrl)).status).toBe(200);

    const page = await h.client.queryHistory({ limit: 10 });
    expect(page.items.map((i) => i.id)).toContain(g.id);
    const found = await h.client.queryHistory({ search: 'circl' });
    expect(found.items.map((i) => i.id)).toContain(g.id);
    expect((await h.client.listJobs()).find((j) => j.jobId === jobId)).toMatchObject({ state: 'done', generationIds: [g.id] });
  });

  it('runs img2img and inpainting from a stored generation, recording lineage', async () => {
    const { items } = await h.client.queryHistory({ limit: 1 });
    const source = items[0];
    const run = async (req: Parameters<typeof h.client.generate>[0]) => {
      const { jobId } = await h.client.generate(req);
      return (await waitForEvent(h, 'job:done', jobId)).generations[0];
    };
    const varied = await run({ prompt: 'a large yellow circle on a blue background', initImage: { generationId: source.id }, strength: 0.5, steps: 8, seed: 4 });
    expect(varied.parentId).toBe(source.id);
    expect((await h.client.queryHistory({ parentId: source.id })).items.map((i) => i.id)).toContain(varied.id);

    // Repaint the right half only: the left half must come back byte-identical.
    const maskRaw = Buffer.alloc(64 * 64);
    for (let y = 0; y < 64; y++) maskRaw.fill(255, y * 64 + 32, y * 64 + 64);
    const maskPng = await sharp(maskRaw, { raw: { width: 64, height: 64, channels: 1 } }).png().toBuffer();
    const painted = await run({ prompt: 'a small green star', initImage: { generationId: source.id }, mask: { base64: maskPng.toString('base64') }, maskBlur: 0, steps: 8, seed: 5 });
    expect(painted.parentId).toBe(source.id);
    const pixels = async (url: string) => (await sharp((await h.fetchImage(url)).bytes).removeAlpha().raw().toBuffer());
    const [before, after] = [await pixels(source.imageUrl), await pixels(painted.imageUrl)];
    const leftHalf = (b: Buffer) => Buffer.concat(Array.from({ length: 64 }, (_, y) => b.subarray(y * 64 * 3, y * 64 * 3 + 32 * 3)));
    expect(leftHalf(after).equals(leftHalf(before))).toBe(true);
    expect(after.equals(before)).toBe(false);

    await expectApiError(h.client.generate({ prompt: 'x', initImage: { base64: Buffer.from('not an image').toString('base64') } }).then(async ({ jobId }) => {
      const failed = await waitForEvent(h, 'job:failed', jobId);
      throw new AtelierApiError(failed.error.code, failed.error.message);
    }), 'invalid_request');
    await expectApiError(h.client.generate({ prompt: 'x', mask: { base64: maskPng.toString('base64') } }), 'invalid_request');
  });

  it('organises boards, lineage, trash, export and import', async () => {
    const { items } = await h.client.queryHistory({ limit: 50 });
    const child = items.find((i) => i.parentId);
    expect(child).toBeDefined();
    const lineage = await h.client.getLineage({ id: child!.id });
    expect(lineage.ancestors.map((a) => a.id)).toEqual([child!.parentId]);
    expect((await h.client.getLineage({ id: child!.parentId! })).children.map((c) => c.id)).toContain(child!.id);

    const board = await h.client.createBoard({ name: 'Warm light' });
    const filled = await h.client.setBoardMembership({ boardId: board.id, ids: items.map((i) => i.id), member: true });
    expect(filled.itemCount).toBe(items.length);
    expect((await h.client.queryHistory({ boardId: board.id })).items).toHaveLength(items.length);
    expect((await h.client.renameBoard({ boardId: board.id, name: 'Golden hour' })).name).toBe('Golden hour');
    await expectApiError(h.client.setBoardMembership({ boardId: board.id, ids: ['missing'], member: true }), 'not_found');

    const exported = await h.client.exportGenerations({ boardId: board.id, to: `${h.home}/export-${kind}.zip` });
    expect(exported.count).toBe(items.length);
    const folder = await h.client.exportGenerations({ ids: [child!.id], to: `${h.home}/export-${kind}` });
    const { readdirSync } = await import('node:fs');
    const png = readdirSync(folder.path).find((f) => f.endsWith('.png'))!;
    const imported = await h.client.importImages({ paths: [`${folder.path}/${png}`, `${h.home}/nope.png`] });
    expect(imported.imported[0]).toMatchObject({ prompt: child!.prompt, seed: child!.seed });
    expect(imported.skipped.map((s) => s.path)).toEqual([`${h.home}/nope.png`]);
    await expectApiError(h.client.exportGenerations({ to: `${h.home}/x` } as never), 'invalid_request');

    await h.client.deleteGeneration({ id: child!.id });
    expect((await h.client.queryHistory({ trashed: true })).items.map((i) => i.id)).toEqual([child!.id]);
    expect((await h.client.restoreGeneration({ id: child!.id })).id).toBe(child!.id);
    expect((await h.client.queryHistory({})).items.map((i) => i.id)).toContain(child!.id);
    expect(await h.client.deleteBoard({ boardId: board.id })).toEqual({ deleted: true });
    expect(await h.client.listBoards()).toEqual([]);
  });

  it('rates, flags, tags and trashes a generation', async () => {
    const { items } = await h.client.queryHistory({ limit: 1 });
    const id = items[0].id;
    const updated = await h.client.updateGeneration({ id, rating: 4, flag: 'pick', tags: ['warm', 'keeper'], notes: 'nice' });
    expect(updated).toMatchObject({ rating: 4, flag: 'pick', notes: 'nice' });
    expect([...updated.tags].sort()).toEqual(['keeper', 'warm']);
    expect((await h.client.queryHistory({ minRating: 4 })).items.map((i) => i.id)).toContain(id);
    expect(await h.client.deleteGeneration({ id })).toEqual({ deleted: true });
    expect((await h.client.queryHistory({})).items.map((i) => i.id)).not.toContain(id);
    await expectApiError(h.client.getGeneration({ id: 'nope' }), 'not_found');
  });

  it('cancels a running job promptly and a queued one without running it', async () => {
    const { jobId } = await h.client.generate({ prompt: 'a small green star', steps: 500, seed: 1 });
    const { jobId: queued } = await h.client.generate({ prompt: 'queued behind', steps: 5, seed: 2 });
    let cancelRequestedAt = 0;
    let stepAtCancel = 0;
    const off = h.client.onEvent((e) => {
      if (e.type === 'job:progress' && e.jobId === jobId && e.step >= 2 && !cancelRequestedAt) {
        cancelRequestedAt = performance.now();
        stepAtCancel = e.step;
        void h.client.cancel({ jobId });
      }
    });
    const cancelled = waitForEvent(h, 'job:cancelled', jobId);
    expect(await h.client.cancel({ jobId: queued })).toEqual({ cancelled: true });
    await cancelled;
    const latencyMs = performance.now() - cancelRequestedAt;
    off();
    const jobs = await h.client.listJobs();
    const job = jobs.find((j) => j.jobId === jobId)!;
    expect(job.state).toBe('cancelled');
    expect(job.step).toBeGreaterThanOrEqual(stepAtCancel);
    expect(job.step).toBeLessThan(job.total);
    expect(latencyMs).toBeLessThan(2000);
    expect(jobs.find((j) => j.jobId === queued)).toMatchObject({ state: 'cancelled', step: 0 });
    expect(await h.client.cancel({ jobId })).toEqual({ cancelled: false });
  });

  it('reorders waiting jobs: a moved job runs first, the running one cannot move', async () => {
    const { jobId: running } = await h.client.generate({ prompt: 'a long job', steps: 500, seed: 1 });
    const { jobId: first } = await h.client.generate({ prompt: 'queued first', steps: 2, seed: 2 });
    const { jobId: second } = await h.client.generate({ prompt: 'queued second', steps: 2, seed: 3 });
    const finished: string[] = [];
    const off = h.client.onEvent((e) => {
      if (e.type === 'job:done') finished.push(e.jobId);
    });
    const announced = new Promise<number>((resolve) => {
      const stop = h.client.onEvent((e) => {
        if (e.type === 'job:queued' && e.jobId === second) {
          stop();
          resolve(e.position);
        }
      });
    });
    expect(await h.client.moveJob({ jobId: second, position: 0 })).toEqual({ moved: true });
    expect(await announced).toBe(1); // right behind the running job
    await waitForEvent(h, 'job:progress', running);
    expect(await h.client.moveJob({ jobId: running, position: 1 })).toEqual({ moved: false });
    expect(await h.client.moveJob({ jobId: 'job-missing', position: 0 })).toEqual({ moved: false });
    await expectApiError(h.client.moveJob({ jobId: second, position: -1 }), 'invalid_request');
    await h.client.cancel({ jobId: running });
    await waitForEvent(h, 'job:done', first);
    off();
    expect(finished.filter((id) => id === first || id === second)).toEqual([second, first]);
    expect(await h.client.moveJob({ jobId: first, position: 0 })).toEqual({ moved: false });
  });

  it('manages projects', async () => {
    const initial = await h.client.listProjects();
    expect(initial.filter((p) => p.isCurrent)).toHaveLength(1);
    const created = await h.client.createProject({ name: 'Client A' });
    expect(created).toMatchObject({ name: 'Client A', isCurrent: true });
    expect((await h.client.queryHistory({})).items).toEqual([]);
    const renamed = await h.client.renameProject({ projectId: created.id, name: 'Client A — final' });
    expect(renamed.name).toBe('Client A — final');
    const back = await h.client.openProject({ projectId: initial[0].id });
    expect(back.isCurrent).toBe(true);
    // The registry stamps every open, so the switcher's "Recent" comes from the server, not the browser.
    expect(new Date(created.lastOpenedAt!).toISOString()).toBe(created.lastOpenedAt);
    expect(back.lastOpenedAt! > created.lastOpenedAt!).toBe(true);
    const listed = await h.client.listProjects();
    expect(listed.find((p) => p.id === back.id)?.lastOpenedAt).toBe(back.lastOpenedAt);
    expect(listed.find((p) => p.id === created.id)?.lastOpenedAt).toBe(created.lastOpenedAt);
    await expectApiError(h.client.openProject({ projectId: 'missing' }), 'not_found');
  });
});
