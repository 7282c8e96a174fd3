/** `atelier worker --farm redis://…`: this machine joins a render farm as a worker (main/farm/worker.ts). */
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { defaultUserDataDir } from '../app/paths';
import { createRuntime } from '../app/runtime';
import { FarmWorker, parseFarmUrl, type FarmWorkerOptions } from '../farm';

export const WORKER_USAGE = `atelier worker --farm redis://[:PASSWORD@]HOST[:6379][/DB] [--name N] [--provider P] [--models DIR] [--home DIR]
                [--coordinator-url URL] [--farm-token T]
  --farm      the studio's Redis (rediss:// for TLS); the same URL as \`atelier serve --farm\`
  --name      name shown in the studio's Farm panel (default: hostname-pid)
  --provider  execution provider: auto, cpu, cuda, directml, coreml, webgpu (default: settings, normally auto)
  --models    models folder to serve from (default: the data folder's; the bundled demo model is always there)
  --home      data folder (default: the platform's app data folder, or $ATELIER_HOME)
  --coordinator-url  where to upload results too large for Redis (default: the URL the coordinator publishes)
  --farm-token       the coordinator's farm token for those uploads (default: the one it publishes)
  The worker never writes a library: it returns images to the coordinator, which saves them.
  $ATELIER_FARM_LOCK_MS (default 30000) bounds how long a killed worker's job waits before another takes it.
  $ATELIER_FARM_REDIS_RESULT_MAX: results above this many characters are uploaded over HTTP (default 8 MiB; 0: all).
  $ATELIER_FARM_FREE_MEMORY_MB: the free memory this worker announces and fits jobs against (default: the system's).`;

/** An http(s) URL given on the command line, or a clear error. */
export function checkHttpUrl(value: string, flag: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new Error(`${flag} must be a URL such as http://studio:7865/, got "${value}"`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`${flag} must start with http:// or https://, got "${value}"`);
  return url.href;
}

/** The farm's environment knobs for a worker (also the studio's own with serve --local-worker). */
export function farmWorkerEnv(env = process.env): Pick<FarmWorkerOptions, 'lockDurationMs' | 'redisResultMaxChars' | 'freeMemoryBytes'> {
  const num = (name: string, min: number) => {
    const raw = env[name];
    if (raw === undefined || raw === '') return undefined;
    const n = Number(raw);
    if (!Number.isFinite(n) || n < min) throw new Error(`$${name} must be a number of at least ${min}, got "${raw}"`);
    return n;
  };
  const lock = num('ATELIER_FARM_LOCK_MS', 500);
  const redisMax = num('ATELIER_FARM_REDIS_RESULT_MAX', 0);
  const freeMB = num('ATELIER_FARM_FREE_MEMORY_MB', 0);
  return { ...(lock !== undefined ? { lockDurationMs: lock } : {}), ...(redisMax !== undefined ? { redisResultMaxChars: redisMax } : {}), ...(freeMB !== undefined ? { freeMemoryBytes: freeMB * 1024 * 1024 } : {}) };
}

export async function runWorker(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      farm: { type: 'string' },
      name: { type: 'string' },
      provider: { type: 'string' },
      models: { type: 'string' },
      home: { type: 'string' },
      'coordinator-url': { type: 'string' },
      'farm-token': { type: 'string' },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (values.help) {
    console.log(WORKER_USAGE);
    return 0;
  }
  if (!values.farm) throw new Error(`--farm is required: the coordinator's Redis URL.\n\n${WORKER_USAGE}`);
  const farm = parseFarmUrl(values.farm);
  const knobs = farmWorkerEnv();
  const coordinatorUrl = values['coordinator-url'] === undefined ? undefined : checkHttpUrl(values['coordinator-url'], '--coordinator-url');
  const runtime = createRuntime({ userDataDir: values.home ?? defaultUserDataDir() });
  if (values.models) {
    // For this process only: a worker must not rewrite the studio's settings on the same machine.
    const modelsDir = resolve(values.models);
    const get = runtime.settings.get.bind(runtime.settings);
    runtime.settings.get = () => ({ ...get(), modelsDir });
  }
  let worker: FarmWorker;
  try {
    worker = await FarmWorker.start({
      farm,
      runtime,
      ...knobs,
      ...(values.name ? { name: values.name } : {}),
      ...(values.provider ? { provider: values.provider } : {}),
      ...(coordinatorUrl ? { coordinatorUrl } : {}),
      ...(values['farm-token'] ? { farmToken: values['farm-token'] } : {}),
    });
  } catch (err) {
    await runtime.close();
    throw err;
  }
  console.log(`Atelier farm worker ${worker.name} joined ${farm.display}`);
  await new Promise<void>((done) => {
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) return;
      stopping = true;
      console.log(`\n${signal}: finishing the running job and leaving the farm…`);
      worker
        .close()
        .then(() => runtime.close())
        .catch((err) => console.error(err))
        .finally(() => {
          // Closed what it could; a reconnect timer to a Redis that is gone must not keep the process alive.
          setTimeout(() => process.exit(process.exitCode ?? 0), 2000).unref();
          done();
        });
    };
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
  });
  return 0;
}
