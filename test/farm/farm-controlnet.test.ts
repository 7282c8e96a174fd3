/**
 * ControlNet jobs on the render farm: the coordinator names each unit's graph by content (sha256), a
 * worker that holds it runs its own copy, one that does not leaves the job, and with no holder left
 * the job fails with "no worker has the ControlNets". Images are compared byte for byte with a
 * single-machine run. Real pieces: redis-server, built CLI processes, an exported fixture model with a
 * ControlNet-capable UNet (controlnet/, the Amuse layout) and a fixture ControlNet graph.
 */
import { cpSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openControlNetStore } from '../../main/app/controlnet-resolve';
import { createRuntime, type Runtime } from '../../main/app/runtime';
import { readWorkers } from '../../main/farm/worker-registry';
import { squareImage } from '../engine/controlnet/helpers';
import { cleanupAll, localPixels, REPO_ROOT, startCoordinator, startRedis, startWorker, tempDir, within, type Coordinator, type RedisHandle, type WorkerProc } from './helpers';

const MODEL = 'cn-fixture';
const CONTROLNET = 'fixture-edges';
const FIX = join(REPO_ROOT, 'test', 'fixtures');

/** A models folder with the ControlNet-capable fixture model, and (withControlNet) the fixture ControlNet. */
function modelsDir(dir: string, withControlNet: boolean): string {
  mkdirSync(dir, { recursive: true });
  cpSync(join(FIX, 'models', 'sd15-diffusers'), join(dir, MODEL), { recursive: true });
  cpSync(join(FIX, 'controlnet', 'unet-additional'), join(dir, MODEL, 'controlnet'), { recursive: true });
  if (withControlNet) cpSync(join(FIX, 'controlnet', 'cn-named'), join(dir, 'controlnets', CONTROLNET), { recursive: true });
  return dir;
}

let redis: RedisHandle;
let coordinator: Coordinator;
let holder: WorkerProc;
let reference: Runtime;
let probe: Redis;
let hash: string;
let controlPng: string;

const request = (seed: number, control = true) => ({
  modelId: MODEL,
  prompt: 'a photo of a cat, highly detailed',
  seed,
  steps: 4,
  width: 64,
  height: 64,
  ...(control ? { controlNets: [{ model: CONTROLNET, image: { base64: controlPng }, weight: 1.5 }] } : {}),
});

async function referencePixels(seed: number): Promise<Buffer> {
  return (await localPixels(reference, request(seed)))[0];
}

beforeAll(async () => {
  const square = squareImage(64, 64);
  controlPng = (await sharp(Buffer.from(square.rgb), { raw: { width: 64, height: 64, channels: 3 } }).png().toBuffer()).toString('base64');
  redis = await startRedis();
  probe = new Redis(redis.url, { maxRetriesPerRequest: null });
  probe.on('error', () => undefined);
  const home = tempDir('atelier-farm-cn-coord-');
  modelsDir(join(home, 'models'), true);
  coordinator = await startCoordinator(redis.url, { home, env: { ATELIER_FARM_NO_WORKER_MS: '3000' } });
  [holder] = await Promise.all([
    startWorker(redis.url, 'with-cn', { models: modelsDir(tempDir('atelier-farm-cn-a-'), true) }),
    startWorker(redis.url, 'no-cn', { models: modelsDir(tempDir('atelier-farm-cn-b-'), false) }),
  ]);
  const refHome = tempDir('atelier-farm-cn-ref-');
  modelsDir(join(refHome, 'models'), true);
  reference = createRuntime({ userDataDir: refHome });
  reference.settings.update({ provider: 'cpu' });
  const listed = await openControlNetStore(join(refHome, 'models')).list();
  hash = listed.controlNets.find((c) => c.name === CONTROLNET)!.hash;
}, 120_000);

afterAll(async () => {
  await reference?.close();
  probe?.disconnect();
  await cleanupAll();
});

describe('render farm: ControlNet', () => {
  it('announces the ControlNets a worker holds, by content hash', async () => {
    const workers = Object.fromEntries((await readWorkers(probe)).map((w) => [w.name, w]));
    expect(workers['with-cn'].controlNets).toContainEqual({ name: CONTROLNET, hash });
    expect(workers['no-cn'].controlNets?.some((c) => c.hash === hash)).toBe(false);
  });

  it('runs ControlNet jobs only where the graph is, identical to one machine, with the unit recorded', async () => {
    const seeds = [9000, 9001];
    const ids: string[] = [];
    for (const seed of seeds) ids.push((await coordinator.client.generate(request(seed))).jobId);
    const done = await Promise.all(ids.map((id) => coordinator.waitJob(id, 90_000)));
    const counts = Object.fromEntries((await readWorkers(probe)).map((w) => [w.name, w.jobsDone]));
    expect(counts).toMatchObject({ 'with-cn': 2, 'no-cn': 0 });
    for (const [i, d] of done.entries()) {
      const g = d.generations[0];
      expect((await coordinator.pixels(g)).equals(await referencePixels(seeds[i])), `seed ${seeds[i]}`).toBe(true);
      expect(g.controlNets?.[0]).toMatchObject({ model: CONTROLNET, modelHash: hash, weight: 1.5 });
    }
    // Without the unit, the same seed is another picture (the control did something).
    const plain = await coordinator.waitJob((await coordinator.client.generate(request(9000, false))).jobId, 60_000);
    expect((await coordinator.pixels(plain.generations[0])).equals(await coordinator.pixels(done[0].generations[0]))).toBe(false);
  });

  it('fails a ControlNet job with "no worker has the ControlNets" once no live worker holds the graph', async () => {
    holder.child.kill('SIGTERM');
    await within(30_000, 'with-cn leaves', holder.exited);
    const { jobId } = await coordinator.client.generate(request(9100));
    await expect(coordinator.waitJob(jobId, 30_000)).rejects.toThrow(new RegExp(`no worker has the ControlNets of this job with model ${MODEL} .*no-cn: it does not hold ControlNet ${CONTROLNET} \\(${hash.slice(0, 12)}`));
  });
});
