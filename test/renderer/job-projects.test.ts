/**
 * The studio's side of "a job belongs to the project it was submitted from": rows name their
 * project, a finished job's images appear only in that project's history, switching with jobs
 * running says where they will land, and jobs listed without their inline images cannot be
 * retried as something else.
 */
import { describe, expect, it } from 'vitest';
import { createAtelierStore } from '../../renderer/state/store';
import { createFakeClient } from './fake-client';

async function ready() {
  const fake = createFakeClient();
  const store = createAtelierStore(fake.client);
  await store.getState().init();
  await new Promise((r) => setTimeout(r, 0));
  return { fake, s: () => store.getState() };
}

const record = (id: string) => ({
  id,
  imageUrl: `/image/${id}`,
  thumbUrl: `/thumb/${id}`,
  width: 64,
  height: 64,
  prompt: 'p',
  negativePrompt: '',
  seed: 1,
  rng: 'cpu' as const,
  steps: 4,
  guidanceScale: 1.3,
  clipSkip: 1,
  scheduler: 'DDIMScheduler',
  modelId: 'atelier-demo',
  modelFamily: 'sd1',
  provider: 'cpu',
  parentId: null,
  rating: 0,
  flag: 'none' as const,
  tags: [],
  notes: '',
  createdAt: new Date(0).toISOString(),
  timings: {},
});

describe('jobs and projects in the studio', () => {
  it('names the project on the row, warns on a switch, and keeps results out of the other project', async () => {
    const { fake, s } = await ready();
    const first = s().projects.find((p) => p.isCurrent)!;
    const jobId = (await s().enqueue({ prompt: 'long' }, 'workspace'))!;
    expect(s().jobs[jobId]).toMatchObject({ projectId: first.id, projectName: first.name });

    await s().createProject('Client B');
    const warning = s().toasts.find((t) => t.title === 'Jobs still running');
    expect(warning?.message).toContain(first.name);

    const before = s().historyOrder.length;
    fake.emit({ type: 'job:done', jobId, generations: [record('gen-a')], provider: 'cpu', timings: {}, projectId: first.id });
    expect(s().jobs[jobId]!.state).toBe('done');
    expect(s().records['gen-a']).toBeUndefined();
    expect(s().historyOrder.length).toBe(before);

    // A job of the open project does show up.
    const b = s().projects.find((p) => p.isCurrent)!;
    const second = (await s().enqueue({ prompt: 'here' }, 'workspace'))!;
    fake.emit({ type: 'job:done', jobId: second, generations: [record('gen-b')], provider: 'cpu', timings: {}, projectId: b.id });
    expect(s().records['gen-b']).toBeDefined();
  });

  it('refuses to retry a job whose init image the server no longer keeps', async () => {
    const fake = createFakeClient();
    fake.client.listJobs = async () => [
      {
        jobId: 'old',
        state: 'failed',
        request: { prompt: 'x', negativePrompt: '', width: 64, height: 64, steps: 4, guidanceScale: 5, guidanceRescale: 0, seed: 3, rng: 'cpu', batchSize: 1, strength: 0.5 },
        omittedInputs: { initImage: { bytes: 1000 } },
        step: 0,
        total: 4,
        generationIds: [],
      },
    ];
    const store = createAtelierStore(fake.client);
    await store.getState().init();
    await new Promise((r) => setTimeout(r, 0));
    expect(store.getState().jobs.old).toMatchObject({ inputsOmitted: true });
    expect(await store.getState().retryJob('old')).toBeNull();
    expect(fake.callsTo('generate')).toHaveLength(0);
    expect(store.getState().toasts.some((t) => t.title === 'Cannot retry here')).toBe(true);
  });
});
