/**
 * A job belongs to the project it was submitted from: switching projects while it runs (or waits)
 * must not move its images into the newly opened project — not in the library, not on disk.
 */
import { mkdtempSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { AtelierEvent } from '../../common/api/contract';
import { useInProcessApi } from '../helpers/in-process-api';

const api = useInProcessApi(mkdtempSync(join(tmpdir(), 'atelier-job-project-')));

/** Every PNG below a project folder (images and thumbnails), so "on disk too" is checked, not just rows. */
function pngFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...pngFiles(p));
    else if (name.endsWith('.png')) out.push(p);
  }
  return out;
}

function waitForJobs(jobIds: string[], timeoutMs = 120_000): Promise<Map<string, Extract<AtelierEvent, { type: 'job:done' }>>> {
  const done = new Map<string, Extract<AtelierEvent, { type: 'job:done' }>>();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`jobs not done within ${timeoutMs} ms`)), timeoutMs);
    const off = api.client.onEvent((e) => {
      if (e.type === 'job:failed' && jobIds.includes(e.jobId)) reject(new Error(e.error.message));
      if (e.type !== 'job:done' || !jobIds.includes(e.jobId)) return;
      done.set(e.jobId, e);
      if (done.size === jobIds.length) {
        clearTimeout(timer);
        off();
        resolve(done);
      }
    });
  });
}

describe('a job saves into the project it was submitted from', () => {
  it('keeps a running batch and a queued job in Client A after switching to Client B', async () => {
    const { client } = api;
    const a = await client.createProject({ name: 'Client A' });
    const b = await client.createProject({ name: 'Client B' });
    await client.openProject({ projectId: a.id });

    // Long enough that the switch below happens while the first job is still running.
    const first = await client.generate({ prompt: 'a red square on a white background', steps: 120, batchSize: 3, seed: 7 });
    const second = await client.generate({ prompt: 'a blue circle on a black background', steps: 10, seed: 8 });
    const finished = waitForJobs([first.jobId, second.jobId]);
    await client.openProject({ projectId: b.id });

    const rows = await client.listJobs();
    for (const id of [first.jobId, second.jobId]) {
      expect(rows.find((j) => j.jobId === id)).toMatchObject({ projectId: a.id, projectName: 'Client A' });
    }
    expect(rows.find((j) => j.jobId === first.jobId)?.state).toBe('running');

    const done = await finished;
    expect(done.get(first.jobId)!.projectId).toBe(a.id);
    expect(done.get(first.jobId)!.generations).toHaveLength(3);
    expect(done.get(second.jobId)!.projectId).toBe(a.id);

    // Client B (still open) got nothing, in the library or on disk.
    expect((await client.queryHistory({ limit: 50 })).items).toHaveLength(0);
    expect(pngFiles(b.path)).toHaveLength(0);

    await client.openProject({ projectId: a.id });
    const history = await client.queryHistory({ limit: 50 });
    expect(history.items.map((g) => g.id).sort()).toEqual([...done.get(first.jobId)!.generations, ...done.get(second.jobId)!.generations].map((g) => g.id).sort());
    expect(pngFiles(a.path).length).toBeGreaterThanOrEqual(4);
  });

  it('upscales into the source image\'s project after a switch', async () => {
    const { client } = api;
    const a = (await client.listProjects()).find((p) => p.name === 'Client A')!;
    const b = (await client.listProjects()).find((p) => p.name === 'Client B')!;
    await client.openProject({ projectId: a.id });
    const source = (await client.queryHistory({ limit: 1 })).items[0]!;
    const { jobId } = await client.upscaleImage({ generationId: source.id, factor: 2 });
    const finished = waitForJobs([jobId]);
    await client.openProject({ projectId: b.id });
    const done = (await finished).get(jobId)!;
    expect(done.projectId).toBe(a.id);
    expect((await client.queryHistory({ limit: 50 })).items).toHaveLength(0);
    await client.openProject({ projectId: a.id });
    expect((await client.getGeneration({ id: done.generations[0].id })).parentId).toBe(source.id);
  });
});
