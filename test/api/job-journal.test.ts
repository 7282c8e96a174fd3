/**
 * Jobs survive the server (issue 14, item 7): what was queued or running when the backend stopped
 * comes back after a restart as `interrupted`, with its parameters, in its own project, and
 * retryJob runs it again with the same seed.
 */
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { createApiClient } from '../../common/api/client';
import { AtelierApiError, type AtelierClient, type AtelierEvent } from '../../common/api/contract';
import { createDispatcher } from '../../main/api/dispatch';
import type { AtelierBackend } from '../../main/app/backend';
import { createBackend } from '../../main/app/create-backend';
import { FileJobJournal } from '../../main/app/job-journal';

async function start(home: string): Promise<{ backend: AtelierBackend; client: AtelierClient }> {
  const backend = await createBackend({ userDataDir: home, imageUrlBase: '/' });
  const dispatch = createDispatcher(backend.api);
  return { backend, client: createApiClient({ call: (m, p) => dispatch(m, p), onEvent: (l) => backend.onEvent(l) }) };
}

function waitFor<T extends AtelierEvent['type']>(client: AtelierClient, type: T, jobId: string, timeoutMs = 60_000): Promise<Extract<AtelierEvent, { type: T }>> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${type} for ${jobId}`)), timeoutMs);
    const off = client.onEvent((e) => {
      if (e.type === 'job:failed' && e.jobId === jobId) {
        clearTimeout(timer);
        off();
        reject(new Error(e.error.message));
      }
      if (e.type === type && 'jobId' in e && e.jobId === jobId) {
        clearTimeout(timer);
        off();
        resolve(e as Extract<AtelierEvent, { type: T }>);
      }
    });
  });
}

describe('jobs interrupted by a restart', () => {
  it('come back as interrupted with their parameters and project, and retry with the same seed', async () => {
    const home = mkdtempSync(join(tmpdir(), 'atelier-journal-'));
    const first = await start(home);
    const project = await first.client.createProject({ name: 'Client A' });
    const init = (await sharp({ create: { width: 64, height: 64, channels: 3, background: { r: 200, g: 30, b: 30 } } }).png().toBuffer()).toString('base64');
    const running = await first.client.generate({ prompt: 'a long render', steps: 400, seed: 21 });
    const queued = await first.client.generate({ prompt: 'a blue circle', steps: 3, seed: 22, initImage: { base64: init }, strength: 0.6 });
    await waitFor(first.client, 'job:progress', running.jobId);
    await first.backend.close();

    const second = await start(home);
    try {
      const jobs = await second.client.listJobs();
      const a = jobs.find((j) => j.jobId === running.jobId);
      const b = jobs.find((j) => j.jobId === queued.jobId);
      expect(a).toMatchObject({ state: 'interrupted', projectId: project.id, projectName: 'Client A', request: { prompt: 'a long render', seed: 21, steps: 400 } });
      expect(b).toMatchObject({ state: 'interrupted', request: { prompt: 'a blue circle', seed: 22, strength: 0.6 }, omittedInputs: { initImage: { bytes: expect.any(Number) } } });
      expect(a!.error?.message).toMatch(/Interrupted/);

      // Open another project: the retry still goes into Client A, with its init image.
      await second.client.createProject({ name: 'Client B' });
      const retried = await second.client.retryJob({ jobId: queued.jobId });
      expect(retried.seed).toBe(22);
      const done = await waitFor(second.client, 'job:done', retried.jobId);
      expect(done.projectId).toBe(project.id);
      expect(done.generations[0]).toMatchObject({ seed: 22, prompt: 'a blue circle', strength: 0.6 });
      expect((await second.client.listJobs()).some((j) => j.jobId === queued.jobId)).toBe(false);

      // Only interrupted jobs can be retried this way; twice is not found.
      const err = await second.client.retryJob({ jobId: queued.jobId }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(AtelierApiError);
      expect((err as AtelierApiError).code).toBe('not_found');
      await second.client.cancel({ jobId: retried.jobId });
    } finally {
      await second.backend.close();
    }
    // The long one was never retried: it is still there for the next start.
    expect(readdirSync(join(home, 'jobs')).filter((n) => n.endsWith('.json'))).toEqual([`${running.jobId}.json`]);
  });

  it('drops unreadable journal entries and half-written files instead of failing to start', () => {
    const dir = mkdtempSync(join(tmpdir(), 'atelier-journal-files-'));
    const journal = new FileJobJournal(dir);
    journal.record({ jobId: 'job-ok', request: { prompt: 'x', negativePrompt: '', width: 64, height: 64, steps: 2, guidanceScale: 1, guidanceRescale: 0, seed: 1, rng: 'cpu', batchSize: 1 }, queuedAt: 1 });
    writeFileSync(join(dir, 'job-bad.json'), '{"jobId": "job-bad", "request": ');
    writeFileSync(join(dir, 'job-x.json.tmp-123'), '{}');
    writeFileSync(join(dir, 'job-weird.json'), JSON.stringify({ jobId: '../escape', request: { prompt: 'x' } }));
    expect(journal.load().map((e) => e.jobId)).toEqual(['job-ok']);
    expect(readdirSync(dir).sort()).toEqual(['job-ok.json']);
  });
});
