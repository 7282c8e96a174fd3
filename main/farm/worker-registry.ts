/**
 * Who is in the farm: each worker keeps a short-lived announcement in Redis (refreshed every
 * HEARTBEAT_MS, expiring after HEARTBEAT_TTL_MS), so a machine that is switched off or killed drops
 * out of the list by itself, without anyone having to notice and clean up.
 */
import type { Redis } from 'ioredis';
import { HEARTBEAT_TTL_MS, WORKERS_SET, workerKey, type FarmWorkerInfo } from './protocol';

export async function announceWorker(redis: Redis, info: FarmWorkerInfo): Promise<void> {
  await redis.multi().sadd(WORKERS_SET, info.name).set(workerKey(info.name), JSON.stringify(info), 'PX', HEARTBEAT_TTL_MS).exec();
}

export async function withdrawWorker(redis: Redis, name: string): Promise<void> {
  await redis.multi().srem(WORKERS_SET, name).del(workerKey(name)).exec();
}

/** Live workers, by name; names whose announcement expired are dropped from the set. */
export async function readWorkers(redis: Redis): Promise<FarmWorkerInfo[]> {
  const names = (await redis.smembers(WORKERS_SET)).sort();
  if (names.length === 0) return [];
  const values = await redis.mget(...names.map(workerKey));
  const live: FarmWorkerInfo[] = [];
  const gone: string[] = [];
  names.forEach((name, i) => {
    const v = values[i];
    if (!v) return void gone.push(name);
    try {
      live.push(JSON.parse(v) as FarmWorkerInfo);
    } catch {
      gone.push(name);
    }
  });
  if (gone.length) await redis.srem(WORKERS_SET, ...gone);
  return live;
}
