/**
 * `reproduceGeneration` over the API (real backend, bundled demo model, CPU): a studio generation
 * regenerates bit-identically from the parameters in its own file, the receipt is stored beside it
 * (getReceipt and the file in receipts/), reproductions take their turn with queued jobs (a job
 * queued during a reproduction still finishes, and both results are right), and what cannot be
 * reproduced says why.
 */
import fs, { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { projectDirOfImage, receiptPath } from '../../main/provenance';
import { generateOne, useInProcessApi } from '../helpers/in-process-api';

const home = mkdtempSync(path.join(tmpdir(), 'atelier-reproduce-api-'));
const api = useInProcessApi(home);
const PROMPT = 'a yellow circle at the top on a purple background';

describe('reproduceGeneration', () => {
  it('a fresh generation reproduces bit-identically; the receipt is stored beside the image', async () => {
    const g = await generateOne(api.client, { prompt: PROMPT, steps: 4, seed: 21 });
    const r = await api.client.reproduceGeneration({ id: g.id });
    expect(r).toMatchObject({ v: 1, result: 'identical', meanAbsDiff: 0, maxDiff: 0, width: g.width, height: g.height, modelId: 'atelier-demo', provider: 'cpu', paramsSource: 'atelier', generationId: g.id });
    expect(r.modelHash).toBe(g.modelHash);
    expect(await api.client.getReceipt({ id: g.id })).toEqual(r);
    const file = (await api.backend.resolveImage(g.id, 'image'))!;
    const stored = JSON.parse(fs.readFileSync(receiptPath(projectDirOfImage(file)!, g.id), 'utf8'));
    expect(stored).toEqual(r);
  });

  it('takes its turn with the queue: a job queued during a reproduction finishes, and both are right', async () => {
    const g = await generateOne(api.client, { prompt: PROMPT, steps: 6, seed: 22 });
    const reproducing = api.client.reproduceGeneration({ id: g.id });
    const queued = generateOne(api.client, { prompt: 'a blue square at the bottom on a white background', steps: 6, seed: 23 });
    const [r, other] = await Promise.all([reproducing, queued]);
    expect(r.result).toBe('identical');
    // The job made in between is itself reproducible: nothing of the reproduction leaked into it.
    expect((await api.client.reproduceGeneration({ id: other.id })).result).toBe('identical');
  });

  it('says why when it cannot: unknown id, an upscale, a trashed image', async () => {
    await expect(api.client.reproduceGeneration({ id: 'nope' })).rejects.toMatchObject({ code: 'not_found' });
    const g = await generateOne(api.client, { prompt: PROMPT, steps: 4, seed: 24 });
    const up = await new Promise<string>((resolve, reject) => {
      let jobId = '';
      const off = api.client.onEvent((e) => {
        if (e.type === 'job:done' && e.jobId === jobId) {
          off();
          resolve(e.generations[0].id);
        } else if (e.type === 'job:failed' && e.jobId === jobId) {
          off();
          reject(new Error(e.error.message));
        }
      });
      api.client.upscaleImage({ generationId: g.id, factor: 2 }).then((j) => (jobId = j.jobId), reject);
    });
    await expect(api.client.reproduceGeneration({ id: up })).rejects.toMatchObject({ code: 'invalid_request', message: expect.stringMatching(/upscale of another generation/) });
    await api.client.deleteGeneration({ id: g.id });
    await expect(api.client.reproduceGeneration({ id: g.id })).rejects.toMatchObject({ code: 'not_found' });
  });
});
