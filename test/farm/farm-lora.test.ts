/**
 * `<lora:…>` prompts on the render farm: the coordinator names the LoRA by content (addnet hash),
 * a worker that holds the file merges it at load as the local engine does, one that does not leaves
 * the job. Images are compared byte for byte with a single-machine run of the same prompt and seed,
 * and the record names the LoRA (`Lora hashes`). Real pieces: redis-server, built CLI processes.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRuntime, type Runtime } from '../../main/app/runtime';
import { readWorkers } from '../../main/farm/worker-registry';
import { LoraStore } from '../../main/models/lora-store';
import { writeDemoLora } from '../helpers/lora-files';
import { cleanupAll, localPixels, startCoordinator, startRedis, startWorker, tempDir, within, type Coordinator, type RedisHandle, type WorkerProc } from './helpers';

const LORA = 'demo-style';
const request = (seed: number, lora = true) => ({ prompt: `a small yellow circle on a purple background${lora ? ` <lora:${LORA}:0.8>` : ''}`, seed, steps: 8, width: 64, height: 64 });

/** A models folder (or a data folder's models/) holding the demo LoRA. */
function withLora(modelsDir: string): string {
  mkdirSync(join(modelsDir, 'loras'), { recursive: true });
  writeDemoLora(join(modelsDir, 'loras', `${LORA}.safetensors`));
  return modelsDir;
}

let redis: RedisHandle;
let coordinator: Coordinator;
let holder: WorkerProc;
let reference: Runtime;
let probe: Redis;
let hash: string;

async function referencePixels(seed: number): Promise<Buffer> {
  return (await localPixels(reference, request(seed)))[0];
}

beforeAll(async () => {
  redis = await startRedis();
  probe = new Redis(redis.url, { maxRetriesPerRequest: null });
  probe.on('error', () => undefined);
  const home = tempDir('atelier-farm-lora-coord-');
  withLora(join(home, 'models'));
  coordinator = await startCoordinator(redis.url, { home, env: { ATELIER_FARM_NO_WORKER_MS: '3000' } });
  const models = withLora(tempDir('atelier-farm-lora-models-'));
  [holder] = await Promise.all([startWorker(redis.url, 'with-lora', { models }), startWorker(redis.url, 'no-lora')]);
  const refHome = tempDir('atelier-farm-lora-ref-');
  withLora(join(refHome, 'models'));
  reference = createRuntime({ userDataDir: refHome });
  reference.settings.update({ provider: 'cpu' });
  hash = (await new LoraStore(join(refHome, 'models')).find(LORA))!.hash;
}, 120_000);

afterAll(async () => {
  await reference?.close();
  probe?.disconnect();
  await cleanupAll();
});

describe('render farm: LoRAs', () => {
  it('announces the LoRAs a worker holds, by content hash', async () => {
    const workers = Object.fromEntries((await readWorkers(probe)).map((w) => [w.name, w]));
    expect(workers['with-lora'].loras).toEqual([{ name: LORA, hash }]);
    expect(workers['no-lora'].loras).toEqual([]);
  });

  it('runs <lora:…> jobs only where the file is, merged as on one machine', async () => {
    const seeds = [8000, 8001, 8002];
    const ids: string[] = [];
    for (const seed of seeds) ids.push((await coordinator.client.generate(request(seed))).jobId);
    const done = await Promise.all(ids.map((id) => coordinator.waitJob(id, 90_000)));
    const counts = Object.fromEntries((await readWorkers(probe)).map((w) => [w.name, w.jobsDone]));
    expect(counts).toMatchObject({ 'with-lora': 3, 'no-lora': 0 });
    for (const [i, d] of done.entries()) {
      const g = d.generations[0];
      expect((await coordinator.pixels(g)).equals(await referencePixels(seeds[i])), `seed ${seeds[i]}`).toBe(true);
      const png = Buffer.from(await (await fetch(new URL(g.imageUrl, coordinator.url))).arrayBuffer()).toString('latin1');
      expect(png).toContain(`Lora hashes: "${LORA}: ${hash.slice(0, 12)}"`);
    }
    // A plain job runs on either worker (the one that merged the LoRA loads the model without it).
    const plain = await coordinator.waitJob((await coordinator.client.generate(request(8000, false))).jobId, 60_000);
    expect((await coordinator.pixels(plain.generations[0])).equals(await coordinator.pixels(done[0].generations[0]))).toBe(false);
  });

  it('fails a <lora:…> job with "no worker has the LoRAs" once no live worker holds the file', async () => {
    holder.child.kill('SIGTERM');
    await within(30_000, 'with-lora leaves', holder.exited);
    const { jobId } = await coordinator.client.generate(request(8100));
    await expect(coordinator.waitJob(jobId, 30_000)).rejects.toThrow(new RegExp(`no worker has the LoRAs of this job with model atelier-demo .*no-lora: it does not hold LoRA ${LORA} \\(${hash.slice(0, 12)}`));
  });
});
