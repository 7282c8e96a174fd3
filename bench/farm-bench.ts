/**
 * Render farm throughput: the same batch of demo-model images (64×64) on one machine without the
 * farm, then through `atelier serve --farm` with 1 and with 2 CPU workers (real redis-server, real
 * processes, built CLI). Reports images/s, the 2-worker speed-up and the farm's overhead per job:
 * the latency of one job on an idle farm minus the same job on a plain studio (local engine), and
 * the batch time per job with 1 worker minus the plain studio's. Then the large-result path: one
 * job's latency with every result uploaded over HTTP (ATELIER_FARM_REDIS_RESULT_MAX=0) against the
 * same through Redis, and the upload route's throughput for a 64 MiB body on loopback. Also one
 * request of batchSize BATCH (a single studio job): on the farm it is split into one job per image.
 *
 *   npm run bench -- farm [--images 24] [--steps 20] [--no-write]
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cpus, loadavg, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { COORDINATOR_KEY, type FarmCoordinatorEndpoint } from '../main/farm/protocol';
import { cleanupAll, REPO_ROOT, startCoordinator, startRedis, startWorker, type Coordinator } from '../test/farm/helpers';
import { writeBenchmarkSection } from './benchmarks-doc';

const { values } = parseArgs({ options: { images: { type: 'string', default: '24' }, steps: { type: 'string', default: '20' }, 'no-write': { type: 'boolean', default: false } } });
const IMAGES = Number(values.images);
const STEPS = Number(values.steps);
const LATENCY_RUNS = 5;
/** One request's batch size (the API's maximum is 16). */
const BATCH = 12;
const req = (seed: number) => ({ prompt: 'a small yellow circle at the top on a purple background', seed, steps: STEPS, width: 64, height: 64 });
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

// The farm runs the built CLI: build the Node side from the current sources first.
const build = spawnSync(process.execPath, [join(REPO_ROOT, 'scripts', 'build-node.mjs')], { cwd: REPO_ROOT, stdio: 'inherit' });
if (build.status !== 0) throw new Error('build:node failed');

/** Everything that starts processes: cleaned up (killed, temp folders removed) even when a step fails. */
async function measure() {
  // 1. One machine, no farm: a plain `atelier serve` on the local engine, driven the same way.
  const studio = await startCoordinator(null);
  // Previews off on both sides: the comparison is generation and saving, not preview decoding.
  await studio.client.updateSettings({ previewEvery: 0 });
  const loadAtStart = loadavg()[0];
  async function batch(c: Coordinator, base: number): Promise<number> {
    const start = performance.now();
    const ids: string[] = [];
    for (let i = 0; i < IMAGES; i++) ids.push((await c.client.generate(req(base + i))).jobId);
    await Promise.all(ids.map((id) => c.waitJob(id, 600_000)));
    return performance.now() - start;
  }

  /** One request of batchSize BATCH, the time until its images are saved. */
  async function oneRequest(c: Coordinator, seed: number): Promise<number> {
    const start = performance.now();
    const { jobId } = await c.client.generate({ ...req(seed), batchSize: BATCH });
    await c.waitJob(jobId, 600_000);
    return performance.now() - start;
  }

  async function latency(c: Coordinator, base: number): Promise<number[]> {
    const out: number[] = [];
    for (let i = 0; i < LATENCY_RUNS; i++) {
      const start = performance.now();
      const { jobId } = await c.client.generate(req(base + i));
      await c.waitJob(jobId, 120_000);
      out.push(performance.now() - start);
    }
    return out;
  }

  await batch(studio, 7000); // warm-up: the studio's engine loads the model
  const localLatency = await latency(studio, 10);
  const localBatchMs = await batch(studio, 100);
  const localRequestMs = await oneRequest(studio, 150);
  studio.proc.child.kill('SIGTERM');
  await studio.proc.exited;

  // 2. The farm: coordinator + 1 worker, then a second worker.
  const redis = await startRedis();
  const coordinator = await startCoordinator(redis.url);
  await coordinator.client.updateSettings({ previewEvery: 0 });
  const w1 = await startWorker(redis.url, 'bench-w1');
  await batch(coordinator, 5000); // warm-up: w1 loads the model
  const farmLatency = await latency(coordinator, 200);
  const farm1Ms = await batch(coordinator, 300);
  const farm1RequestMs = await oneRequest(coordinator, 350);
  const w2 = await startWorker(redis.url, 'bench-w2');
  await batch(coordinator, 6000); // warm-up: w2 loads the model
  const farm2Ms = await batch(coordinator, 400);
  const farm2RequestMs = await oneRequest(coordinator, 450);

  // 3. Large results: one worker that uploads every result over HTTP, then the route itself.
  for (const w of [w1, w2]) w.child.kill('SIGTERM');
  await Promise.all([w1.exited, w2.exited]);
  await startWorker(redis.url, 'bench-http', { env: { ATELIER_FARM_REDIS_RESULT_MAX: '0' } });
  await batch(coordinator, 8000); // warm-up
  const httpLatency = await latency(coordinator, 600);
  const probe = new Redis(redis.url, { maxRetriesPerRequest: 3 });
  const endpoint = JSON.parse((await probe.get(COORDINATOR_KEY)) ?? '{}') as FarmCoordinatorEndpoint;
  probe.disconnect();
  const body = randomBytes(64 * 1024 * 1024);
  const uploadMs: number[] = [];
  for (let i = 0; i < 3; i++) {
    const start = performance.now();
    const res = await fetch(new URL(`api/farm/results/bench-upload-${i}`, endpoint.url), { method: 'PUT', headers: { Authorization: `Bearer ${endpoint.token}` }, body });
    if (res.status !== 201) throw new Error(`upload answered ${res.status}`);
    uploadMs.push(performance.now() - start);
  }
  await cleanupAll();
  return { localLatency, localBatchMs, farmLatency, farm1Ms, farm2Ms, httpLatency, uploadMs, loadAtStart, localRequestMs, farm1RequestMs, farm2RequestMs };
}

let results: Awaited<ReturnType<typeof measure>>;
try {
  results = await measure();
} finally {
  await cleanupAll();
}
const { localLatency, localBatchMs, farmLatency, farm1Ms, farm2Ms, httpLatency, uploadMs, loadAtStart, localRequestMs, farm1RequestMs, farm2RequestMs } = results;

const ips = (ms: number) => (IMAGES / (ms / 1000)).toFixed(2);
const overheadLatency = median(farmLatency) - median(localLatency);
const overheadBatch = farm1Ms / IMAGES - localBatchMs / IMAGES;
const machine = `${cpus().length}× ${cpus()[0]?.model.trim() ?? 'CPU'}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}, ${process.platform}/${process.arch}`;
const date = new Date().toISOString().slice(0, 10);
const section = `## Render farm

\`npm run bench -- farm\` (bench/farm-bench.ts): ${IMAGES} demo-model images, 64×64, ${STEPS} steps, CPU; a
redis-server of its own on loopback, the built \`atelier serve --farm\` coordinator and \`atelier worker --farm\`
processes on the same machine, previews off in both. Measured ${date} on ${machine};
load average ${loadAtStart.toFixed(1)} at the start and ${loadavg()[0].toFixed(1)} at the end (other work shared the cores).

Both worker processes and the coordinator share this one machine's cores, so the 1 vs 2 worker comparison here is a
floor for what two real machines give.

| Setup | ${IMAGES} images | Images/s | Per image |
|---|---|---|---|
| One machine, no farm (\`atelier serve\`, local engine) | ${(localBatchMs / 1000).toFixed(2)} s | ${ips(localBatchMs)} | ${(localBatchMs / IMAGES).toFixed(0)} ms |
| Farm, 1 CPU worker | ${(farm1Ms / 1000).toFixed(2)} s | ${ips(farm1Ms)} | ${(farm1Ms / IMAGES).toFixed(0)} ms |
| Farm, 2 CPU workers | ${(farm2Ms / 1000).toFixed(2)} s | ${ips(farm2Ms)} | ${(farm2Ms / IMAGES).toFixed(0)} ms |

- 2 workers vs 1: **${(farm1Ms / farm2Ms).toFixed(2)}×** throughput (ideal on two machines: ~2× minus the overhead below).
- One request of batchSize ${BATCH} (one studio job; the farm splits it into one run of consecutive images per live worker,
  byte-identical to the one-machine batch): one machine ${(localRequestMs / 1000).toFixed(2)} s (one batched UNet call per step), farm with 1 worker
  ${(farm1RequestMs / 1000).toFixed(2)} s, with 2 workers ${(farm2RequestMs / 1000).toFixed(2)} s: **${(farm1RequestMs / farm2RequestMs).toFixed(2)}×** for 2 vs 1.
- Overhead per job, one job on an idle farm vs the plain studio (median of ${LATENCY_RUNS}): **${overheadLatency.toFixed(0)} ms**
  (${median(farmLatency).toFixed(0)} ms vs ${median(localLatency).toFixed(0)} ms: queueing in Redis, the worker's pick-up, progress and the
  deflated pixels through BullMQ; both sides save into the project library the same way).
- Overhead per job in a batch, 1 worker vs the local studio: **${overheadBatch.toFixed(0)} ms** (both save every image into the
  project with its record and C2PA manifest; the farm adds the Redis round trips). It can come out negative: on the
  farm the worker generates the next image while the coordinator encodes, signs and saves the last one, where the
  plain studio does both in turn. On this shared 2-core machine, differences of a few tens of ms are within run-to-run noise.
- Results over HTTP (every result uploaded to the coordinator, \`ATELIER_FARM_REDIS_RESULT_MAX=0\`): one job on an idle farm
  **${median(httpLatency).toFixed(0)} ms** vs ${median(farmLatency).toFixed(0)} ms through Redis (median of ${LATENCY_RUNS}; the upload's PUT, SHA-256 and file,
  then the coordinator's read). The upload route takes a 64 MiB body in **${median(uploadMs).toFixed(0)} ms**
  (${(64 / (median(uploadMs) / 1000)).toFixed(0)} MiB/s on loopback, median of 3: streamed to disk with its SHA-256).
`;
console.log(section);
if (!values['no-write']) console.log(`wrote ${writeBenchmarkSection('## Render farm', section)}`);
process.exit(0);
