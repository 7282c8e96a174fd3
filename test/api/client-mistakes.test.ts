/**
 * Issue 15, item 12: a client's mistakes come back as `invalid_request` / `not_found` naming what
 * was wrong — never `internal` — and a generate request that names something that does not exist
 * (model, parent, init image) is refused before it is queued, not after the generation ran.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AtelierApiError } from '../../common/api/contract';
import { generateOne, useInProcessApi } from '../helpers/in-process-api';

const api = useInProcessApi(mkdtempSync(join(tmpdir(), 'atelier-mistakes-')));
const UNKNOWN_ID = '01ZZZZZZZZZZZZZZZZZZZZZZZZ';

async function codeOf(p: Promise<unknown>): Promise<{ code: string; message: string }> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err, 'the call should have been refused').toBeInstanceOf(AtelierApiError);
  const e = err as AtelierApiError;
  expect(e.code).not.toBe('internal');
  return { code: e.code, message: e.message };
}

describe('client mistakes', () => {
  it('a history cursor that was not handed out is invalid_request', async () => {
    const { client } = api;
    for (const cursor of ['garbage', 't.', 't.abc.def', 's.', 's.-1', 'x.1', '../../etc', 't.1.a b', 's.99999999999999999999999']) {
      const r = await codeOf(client.queryHistory({ cursor }));
      expect(r.code, cursor).toBe('invalid_request');
      expect(r.message).toMatch(/cursor/);
    }
  });

  it('a cursor of the wrong kind of page (history vs search) is invalid_request', async () => {
    const { client } = api;
    expect((await codeOf(client.queryHistory({ cursor: 's.5' }))).code).toBe('invalid_request');
    expect((await codeOf(client.queryHistory({ cursor: 't.1.ABC', search: 'circle' }))).code).toBe('invalid_request');
  });

  it('generate with an unknown model, parent or init image is refused before it is queued', async () => {
    const { client } = api;
    const before = (await client.listJobs()).length;
    const base = { prompt: 'a small yellow circle', width: 64, height: 64, steps: 2 };
    expect(await codeOf(client.generate({ ...base, modelId: 'no-such-model' }))).toMatchObject({ code: 'not_found', message: expect.stringMatching(/no-such-model/) });
    expect(await codeOf(client.generate({ ...base, parentId: UNKNOWN_ID }))).toMatchObject({ code: 'not_found', message: expect.stringMatching(/parentId/) });
    expect(await codeOf(client.generate({ ...base, initImage: { generationId: UNKNOWN_ID } }))).toMatchObject({ code: 'not_found', message: expect.stringMatching(/initImage/) });
    expect(await codeOf(client.upscaleImage({ generationId: UNKNOWN_ID, factor: 2 }))).toMatchObject({ code: 'not_found' });
    expect((await client.listJobs()).length).toBe(before);
  });

  it('a known parent and init image are accepted (and recorded)', async () => {
    const { client } = api;
    const parent = await generateOne(client, { prompt: 'a small yellow circle', width: 64, height: 64, steps: 2, seed: 1 });
    const child = await generateOne(client, { prompt: 'a small red circle', width: 64, height: 64, steps: 2, seed: 2, parentId: parent.id });
    expect(child.parentId).toBe(parent.id);
    const varied = await generateOne(client, { prompt: 'a small red circle', width: 64, height: 64, steps: 2, seed: 3, initImage: { generationId: parent.id }, strength: 0.5 });
    expect(varied.parentId).toBe(parent.id);
  });
});
